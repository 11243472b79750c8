//! `nix-hooks`: a git pre-commit validator for Nix + Yarn v1 repositories that catches a
//! stale fetchYarnDeps hash soundly (by the staged lockfile's SHA-256, no Nix needed)
//! and in milliseconds. Logic lives in `common`; this is CLI and presentation.

mod bench;
mod cert_loading;
mod envrc;
mod install;
mod pre_commit;
mod recompute;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit codes shared by every subcommand.
pub mod exit {
    pub const OK: u8 = 0;
    /// A check failed (stale hash, syntax error, invalid flake.lock, ...).
    pub const FAILED: u8 = 1;
    /// Bad input: unreadable config or record, a lockfile the record names is missing.
    pub const BAD_INPUT: u8 = 2;
    /// A hash could not be recomputed (tarball cache miss offline, fetch failure).
    pub const CANNOT_VERIFY: u8 = 3;
}

#[derive(Parser)]
#[command(
    name = "nix-hooks",
    version,
    about = "Git hooks that keep Nix dependency hashes in step with yarn.lock and pnpm-lock.yaml",
    long_about = "Git hooks that keep Nix dependency hashes in step with yarn.lock and pnpm-lock.yaml.\n\n\
        `nix-hooks pre-commit` checks the STAGED content (the git index, never the working tree): \
        every lockfile named in the hash record (.nix/yarn-deps.toml), and every yarn.lock or \
        pnpm-lock.yaml the commit adds or changes, must have the SHA-256 recorded there, staged .nix files must parse, a staged flake.lock must be valid; \
        dependency changes in package.json without yarn.lock, and flake inputs changes without \
        flake.lock, are warned about. Neither Nix nor the network is needed, except that a hash kept \
        in a .nix file ([[in-place]]) is recomputed from update-yarn-hash's tarball cache.\n\n\
        Setup: `nix-hooks install` once per clone (worktrees share it); `--fix` repairs a stale record.\n\n\
        Configuration: .nix/hooks.toml in the working tree (optional; keys: record, lockfiles, [checks] with \
        stale-hash, nix-syntax, flake-lock, flake-inputs, package-json, unrecorded-lockfile = \"fail\" | \"warn\" | \"off\", \
        and [[in-place]] lockfile + nix-file for hashes kept in a .nix file).\n\n\
        Without nix-hooks on PATH the installed hook lets the commit through after one line; \
        `git config nixci.hook.strict true` or NIX_HOOKS_STRICT=1 makes that an error.\n\n\
        Skip once: `git commit --no-verify`, or NIX_HOOKS_SKIP=1.",
    after_help = "Exit codes: 0 ok (warnings allowed; for `install`, also when it only prints the \
        line to add to a hook it must not rewrite), 1 a check failed (`install`/`uninstall`: \
        nothing changed, a decision is yours), 2 bad input (config, record, missing lockfile, \
        not a git repository), 3 a hash could not be recomputed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the staged content; what the installed git hook runs.
    PreCommit(pre_commit::Args),
    /// One warning line when a lockfile's recorded hash is stale; for direnv's .envrc, never fails.
    Envrc(envrc::Args),
    /// Install the pre-commit hook (idempotent; chains to an existing hook).
    Install(install::InstallArgs),
    /// Remove exactly what `install` added, restoring a chained hook.
    Uninstall,
    /// Time `nix-hooks pre-commit` on a temporary repository (for `cargo xtask bench`).
    Bench(bench::Args),
}

fn main() -> ExitCode {
    // The child `--fix` runs is no subcommand, so clap never offers it to a typo.
    if std::env::args_os().nth(1).as_deref() == Some(recompute::CHILD_ARG.as_ref()) {
        let child = recompute::Child::parse_from(std::env::args_os().skip(1));
        return finish(recompute::run(&child.args));
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::PreCommit(args) => {
            cert_loading::defer_for_this_process();
            pre_commit::run(&args)
        }
        Command::Envrc(args) => Ok(envrc::run(&args)),
        Command::Install(args) => install::install(&args),
        Command::Uninstall => install::uninstall(),
        Command::Bench(args) => bench::run(&args),
    };
    finish(result)
}

fn finish(result: anyhow::Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let message = common::error_text::chain(e.as_ref());
            eprintln!("nix-hooks: error: {}", common::redact::text(&message));
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

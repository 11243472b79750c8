//! `cargo xtask <task>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! Tasks: `ci` (everything CI checks), `bench` (benchmarks, writes BENCHMARKS.md),
//! `nix-check` (the Nix side: parse, format, lint, workflow and process-compose checks),
//! `reference-tools` (what the fetchPnpmDeps reference replay runs, at nixpkgs' versions).

mod atomic_file;
mod bench;
mod ci;
mod dev_services;
mod example_copy;
mod install_check;
mod native_rebuild;
mod nix_check;
mod nix_eval;
mod nix_lint;
mod nix_shell_snippets;
mod node_modules_links;
mod pnpm_example;
mod process_compose;
mod reference_tools;
mod sha256;
mod source_build;
mod text_position;
#[cfg(test)]
mod tidy;
mod tool_install;
mod workflow;

use std::env;
use std::path::PathBuf;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    forget_cargo_run_environment();
    let args: Vec<String> = env::args().skip(1).collect();
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    match args.first().map(String::as_str) {
        Some("ci") => ci::run(&sh),
        Some("bench") => bench::run(&sh, &args[1..]),
        Some("nix-check") => nix_check::run(&sh),
        Some("dev-services") => dev_services::run(&sh),
        Some("reference-tools") => reference_tools::run(&sh),
        Some("--help") | Some("-h") | None => {
            println!("{HELP}");
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`\n\n{HELP}"),
    }
}

pub(crate) const HELP: &str = "\
cargo xtask <task>

Tasks:
  ci            fmt --check, clippy -D warnings, every test, cargo install --path of each tool,
                nix-check, dev-services (what CI runs), each step announced as it starts
  bench         benchmarks on Ghost's lockfile (downloads ~387 MB) and the pnpm fixtures beside the
                fetchPnpmDeps replay (~290 MB per round of replays), rewrites BENCHMARKS.md
  bench pnpm [--fixture DIR --fetcher-version N --pnpm VERSION [--node MAJOR] [--replay-pnpm PATH|VERSION] [--replay-node PATH]]
                the pnpm part alone (the pnpm 10 fixtures, or the one project given): rewrites
                only BENCHMARKS.md's update-pnpm-hash section
  nix-check     the Nix side: parse, nixpkgs-fmt, deadnix, lints, flake.lock, workflow
                (check-jsonschema + shellcheck), process-compose.yaml, pure-eval tests
  dev-services  start MySQL, Redis and the app as .nix/process-compose.yaml says (Debian
                packages; installs them as root when missing) and time them to all-ready
  reference-tools
                pnpm (npm), GNU tar 1.35, zstd 1.5.7, jq 1.8.2 (Debian source) at nixpkgs'
                versions, into ~/.cache/nixci-tools, for the fetchPnpmDeps reference replay";

/// `cargo xtask` is `cargo run`, which gives this process the package's `CARGO_*`
/// variables. The cargo commands xtask starts would inherit them, and build scripts that
/// watch one (ring watches `CARGO_MANIFEST_DIR`) would then rebuild, and again on the
/// next `cargo test` typed by hand: every warm run recompiled ring, reqwest and every
/// workspace crate twice. Without them, xtask's cargo and a hand-typed one agree.
fn forget_cargo_run_environment() {
    const SET_BY_CARGO_RUN: [&str; 5] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
    ];
    for (name, _) in env::vars_os() {
        let name = name.to_string_lossy();
        if SET_BY_CARGO_RUN.contains(&name.as_ref()) || name.starts_with("CARGO_PKG_") {
            // Single-threaded: nothing else reads the environment yet.
            env::remove_var(name.as_ref());
        }
    }
}

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

//! The command-line layer `update-yarn-hash` and `update-pnpm-hash` share.
//!
//! Both tools have one contract: record a fixed-output hash in `.nix/yarn-deps.toml`,
//! `--check` it in milliseconds, `--check --full`, `--print`, `--nix-file`,
//! `--materialize`, `--offline`, `--json`, and the same exit codes. That contract is
//! written once here, over [`Ecosystem`]; each binary holds only its own flags, its
//! help text and its `Ecosystem` impl (what it computes, and how it names things).

mod context;
mod ecosystem;
mod failure;
pub mod lockfile_kind;
mod nix_file_mode;
mod record_mode;
mod report;

use std::process::ExitCode;

pub mod args;
pub use args::{parse, FetchArgs, ModeArgs};
pub use context::Lockfile;
pub use ecosystem::{Computed, Ecosystem, Settings};
pub use failure::{Failure, Outcome};

use context::Context;

/// Runs the mode the arguments select and turns the result into the exit code,
/// printing a failure on stderr.
pub fn main<E: Ecosystem>(eco: &E, modes: &ModeArgs, fetch: &FetchArgs) -> ExitCode {
    match run(eco, modes, fetch) {
        Ok(outcome) => outcome.exit_code(),
        Err(failure) => {
            // Messages quote lockfile keys and URLs, which may hold credentials.
            let message = common::error_text::chain(failure.error.as_ref());
            let message = common::redact::text(&message);
            eprintln!("error: {message}");
            if fetch.json {
                println!("{}", report::error_json::<E>(&message, failure.code));
            }
            failure.exit_code()
        }
    }
}

/// `word` as a POSIX shell reads it back: bare when safe, else single-quoted.
pub fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./@+-:=,%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn run<E: Ecosystem>(eco: &E, modes: &ModeArgs, fetch: &FetchArgs) -> Result<Outcome, Failure> {
    let ctx = Context::new(eco, modes, fetch)?;
    if modes.print {
        return record_mode::print(&ctx);
    }
    if let Some(dir) = &modes.materialize {
        return record_mode::materialize(&ctx, dir);
    }
    if modes.prune {
        return record_mode::prune(&ctx);
    }
    match (&modes.nix_file, modes.check) {
        (Some(nix_file), check) => nix_file_mode::run(&ctx, nix_file, check),
        (None, true) if modes.full => record_mode::check_full(&ctx),
        (None, true) => record_mode::check(&ctx),
        (None, false) => record_mode::update(&ctx),
    }
}

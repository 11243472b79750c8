//! `update-yarn-hash`: CLI and presentation over `common::yarn::prefetch`.

mod cli;
mod failure;
mod lockfiles;
mod nix_file_mode;
mod record_mode;
mod report;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::failure::{Failure, Outcome};
use crate::lockfiles::Context;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(failure) => {
            // Messages quote lockfile keys and URLs, which may hold credentials.
            let message = format!("{:#}", failure.error);
            eprintln!("error: {}", common::redact::text(&message));
            failure.exit_code()
        }
    }
}

fn run(cli: &Cli) -> Result<Outcome, Failure> {
    let ctx = Context::from_cli(cli)?;
    if cli.print {
        return record_mode::print(&ctx);
    }
    if let Some(dir) = &cli.materialize {
        return record_mode::materialize(&ctx, dir);
    }
    match (&cli.nix_file, cli.check) {
        (Some(nix_file), check) => nix_file_mode::run(&ctx, nix_file, check),
        (None, true) if cli.full => record_mode::check_full(&ctx),
        (None, true) => record_mode::check(&ctx),
        (None, false) => record_mode::update(&ctx),
    }
}

//! `update-pnpm-hash`: its flags and help, and pnpm behind the CLI layer both hash
//! tools share (`hash-cli`).

mod cli;
mod pnpm;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::pnpm::Pnpm;

fn main() -> ExitCode {
    let cli: Cli = hash_cli::parse(&cli::HELP);
    let pnpm = Pnpm {
        fetcher_version: cli.fetcher_version,
        pnpm: cli.pnpm.clone(),
        node: cli.node,
    };
    hash_cli::main(&pnpm, &cli.modes, &cli.fetch)
}

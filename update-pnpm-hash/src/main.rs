//! `update-pnpm-hash`: its flags and help, and pnpm behind the CLI layer both hash
//! tools share (`hash-cli`).

mod cli;
mod pnpm;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::pnpm::Pnpm;

// pnpm's store is digested on several threads at once; glibc's per-thread arenas kept
// what each had freed, and a cold Ghost run peaked at 510-630 MB RSS (350-410 MB with
// mimalloc, same speed; measured side by side).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli: Cli = hash_cli::parse(&cli::HELP);
    let pnpm = Pnpm {
        fetcher_version: cli.fetcher_version,
        pnpm: cli.pnpm.clone(),
        node: cli.node,
        workspaces: (cli.no_workspace || !cli.workspace.is_empty()).then(|| cli.workspace.clone()),
    };
    hash_cli::main(&pnpm, &cli.modes, &cli.fetch)
}

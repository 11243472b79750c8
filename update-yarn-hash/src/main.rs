//! `update-yarn-hash`: its flags and help, and Yarn v1 behind the CLI layer both hash
//! tools share (`hash-cli`).

mod cli;
mod yarn;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::yarn::Yarn;

fn main() -> ExitCode {
    let cli: Cli = hash_cli::parse(&cli::HELP);
    let yarn = Yarn {
        fixup_lockfile: cli.fixup_lockfile.clone(),
    };
    hash_cli::main(&yarn, &cli.modes, &cli.fetch)
}

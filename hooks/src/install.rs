//! `nix-hooks install` and `nix-hooks uninstall`.

use anyhow::{Context, Result};
use common::git::git_index::open_repository;
use common::hook::hook_install::{self, InstallError, Installed, Uninstalled};

use crate::exit;

#[derive(clap::Args)]
pub struct InstallArgs {
    /// Install into a core.hooksPath outside this repository, or replace a delegate you edited.
    #[arg(long)]
    force: bool,
}

pub fn install(args: &InstallArgs) -> Result<u8> {
    let repo = open_repository()?;
    let bin = std::env::current_exe().context("cannot locate the nix-hooks binary")?;
    match hook_install::install(&repo, &bin, args.force) {
        Ok(Installed::New { hook }) => eprintln!("nix-hooks: installed {}", hook.display()),
        Ok(Installed::Updated { hook }) => eprintln!("nix-hooks: updated {}", hook.display()),
        Ok(Installed::Unchained { hook }) => eprintln!(
            "nix-hooks: {} is the project's shim again (the delegate in front of it ran nix-hooks twice); already installed",
            hook.display()
        ),
        Ok(Installed::AlreadyInstalled { hook }) => {
            eprintln!("nix-hooks: already installed at {}", hook.display())
        }
        Ok(Installed::Chained { hook, chained }) => eprintln!(
            "nix-hooks: installed {}; your existing hook now lives at {} and runs first",
            hook.display(),
            chained.display()
        ),
        // The hook belongs to the project or a hook manager: nothing to do but add a
        // line there, which is advice, not a failure.
        Err(e @ (InstallError::TrackedHooksDir(_) | InstallError::CannotChain { .. })) => {
            eprintln!("nix-hooks: nothing installed: {e}");
        }
        Err(e) => {
            eprintln!("nix-hooks: error: {e}");
            return Ok(exit::FAILED);
        }
    }
    Ok(exit::OK)
}

pub fn uninstall() -> Result<u8> {
    let repo = open_repository()?;
    let outcome = match hook_install::uninstall(&repo) {
        Ok(outcome) => outcome,
        Err(e) => {
            eprintln!("nix-hooks: error: {e}");
            return Ok(exit::FAILED);
        }
    };
    match outcome {
        Uninstalled::Removed { hook } => eprintln!("nix-hooks: removed {}", hook.display()),
        Uninstalled::Restored { hook } => eprintln!(
            "nix-hooks: removed the nix-hooks delegate; your previous hook is back at {}",
            hook.display()
        ),
        Uninstalled::NotInstalled { hook } => {
            eprintln!(
                "nix-hooks: not installed ({} is not ours); nothing to do",
                hook.display()
            )
        }
    }
    Ok(exit::OK)
}

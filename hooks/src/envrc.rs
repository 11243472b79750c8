//! `nix-hooks envrc`: the check for direnv's `.envrc`. It reads the working tree (what
//! the shell about to load will build), prints at most one warning line, and always
//! exits 0 so a stale hash never breaks the shell.

use std::path::Path;

use common::git::git_index::StagedRepo;
use common::hook::hooks_config::{HooksConfig, DEFAULT_CONFIG_PATH};
use common::hook::staged_checks::{
    known_through_links, record_command, record_lockfiles, unrecorded, LOCKFILE_NAMES,
};
use common::record::hash_record::{Freshness, HashRecord};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_: &Args) -> u8 {
    if let Some(warning) = check().unwrap_or_else(Some) {
        eprintln!("nix-hooks: warning: {warning}");
    }
    crate::exit::OK
}

/// `Ok(Some(line))` when something is stale, `Err(line)` when the check itself could not run.
fn check() -> Result<Option<String>, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current directory: {e}"))?;
    let Some(root) = cwd.ancestors().find(|d| d.join(".git").exists()) else {
        return Ok(None);
    };
    let config = HooksConfig::load(&root.join(DEFAULT_CONFIG_PATH)).map_err(first_line)?;
    let record = HashRecord::load(&root.join(&config.record)).map_err(first_line)?;
    let known = record_lockfiles(&config, record.as_ref());
    // A tracked lockfile the record does not know builds with no checked hash at all.
    let new = match StagedRepo::discover(root) {
        Ok(repo) => {
            let tracked = repo.tracked_named(LOCKFILE_NAMES);
            unrecorded(&config, &known_through_links(&repo, &known), &tracked)
        }
        Err(_) => Vec::new(),
    };
    if !new.is_empty() {
        let commands: Vec<String> = new
            .iter()
            .map(|l| record_command(l, &|p| std::fs::read(root.join(p)).ok()).to_string())
            .collect();
        return Ok(Some(format!(
            "{} {} no recorded dependency hash in {}: run {}",
            new.join(", "),
            if new.len() == 1 { "has" } else { "have" },
            config.record,
            commands.join(" and ")
        )));
    }
    let mut stale = Vec::new();
    for lockfile in known {
        let Ok(bytes) = std::fs::read(root.join(Path::new(&lockfile))) else {
            stale.push(format!("{lockfile} (missing)"));
            continue;
        };
        let fresh = record
            .as_ref()
            .is_some_and(|r| r.freshness(&lockfile, &bytes) == Freshness::Fresh);
        if !fresh {
            stale.push(lockfile);
        }
    }
    if stale.is_empty() {
        return Ok(None);
    }
    let pnpm = |l: &String| l.rsplit('/').next().is_some_and(|n| n == "pnpm-lock.yaml");
    let mut tools = Vec::new();
    if stale.iter().any(|l| !pnpm(l)) {
        tools.push("`update-yarn-hash`");
    }
    if stale.iter().any(pnpm) {
        tools.push("`update-pnpm-hash`");
    }
    let what = if stale.iter().any(pnpm) {
        "dependency"
    } else {
        "yarn"
    };
    Ok(Some(format!(
        "stale {what} hash for {}: run {} (the Nix build would use the old dependencies)",
        stale.join(", "),
        tools.join(" and ")
    )))
}

fn first_line(e: impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

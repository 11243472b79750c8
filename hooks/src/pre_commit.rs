//! `nix-hooks pre-commit [--fix] [--quiet]`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use common::git::git_index::StagedRepo;
use common::hook::hooks_config::{HooksConfig, DEFAULT_CONFIG_PATH};
use common::hook::record_fix::{fix_record, PnpmTarget};
use common::hook::staged_checks::{check_staged, FindingKind, Report, Severity};

use crate::exit;
use crate::recompute::Recomputer;

#[derive(clap::Args)]
pub struct Args {
    /// Recompute stale record entries from the staged lockfiles and stage the record
    /// (only the record: other staged and unstaged changes are left alone).
    #[arg(long)]
    fix: bool,
    /// Print nothing on success (warnings and errors still go to stderr).
    #[arg(long, short)]
    quiet: bool,
    /// Print the result as one JSON object on stdout (exit codes unchanged).
    #[arg(long)]
    json: bool,
    /// The configuration file [default: .nix/hooks.toml at the repository root; optional].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Never download when a hash must be recomputed; a tarball cache miss fails instead.
    #[arg(long, env = "NIX_HOOKS_OFFLINE", value_parser = clap::builder::FalseyValueParser::new())]
    offline: bool,
    /// When recomputing, fetch URLs that start with FROM from TO instead (a registry
    /// mirror); repeatable. The hash still derives from the URLs in the lockfile.
    /// In a hook, where git passes no arguments: NIX_HOOKS_MIRROR="FROM=TO FROM2=TO2".
    #[arg(long, value_name = "FROM=TO", env = "NIX_HOOKS_MIRROR", value_delimiter = ' ', value_parser = crate::recompute::parse_mirror)]
    mirror: Vec<common::fetch::tarball_fetch::Mirror>,
}

/// The version of the JSON convention (docs/json.md) `--json` follows.
pub const JSON_VERSION: u32 = 1;

/// Environment variable that makes the hook pass without checking.
pub const SKIP_VAR: &str = "NIX_HOOKS_SKIP";

pub fn run(args: &Args) -> Result<u8> {
    match check(args) {
        Ok(code) => Ok(code),
        // Scripts reading --json get an object for bad input too, not just a stderr line.
        Err(e) if args.json => Ok(bad_input(args, &common::error_text::chain(e.as_ref()))),
        Err(e) => Err(e),
    }
}

/// Reports input the checks cannot work with (exit 2), as JSON under `--json`.
fn bad_input(args: &Args, message: &str) -> u8 {
    if !args.json {
        eprintln!("nix-hooks: error: {message}");
    } else {
        let value = serde_json::json!({
            "version": JSON_VERSION,
            "tool": "nix-hooks",
            "exit_code": exit::BAD_INPUT,
            "error": { "message": message, "exit_code": exit::BAD_INPUT },
        });
        println!("{value}");
    }
    exit::BAD_INPUT
}

fn check(args: &Args) -> Result<u8> {
    if std::env::var_os(SKIP_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        if !args.quiet {
            eprintln!("nix-hooks: skipped ({SKIP_VAR} is set)");
        }
        return Ok(exit::OK);
    }
    let mut repo = StagedRepo::open_from_env()?;
    let (config, config_name) = load_config(&repo, args.config.as_deref())?;
    let recomputer = Recomputer::new(
        args.offline,
        &args.mirror,
        !args.fix,
        args.quiet || args.json,
    );
    let recompute = |lockfile: &str, bytes: &[u8]| recomputer.hash(lockfile, bytes);
    let recompute_pnpm = |lockfile: &str, bytes: &[u8], target: &PnpmTarget<'_>| {
        recomputer.hash_pnpm(lockfile, bytes, target)
    };
    let mut report = match check_staged(&repo, &config, &config_name, &recompute) {
        Ok(r) => r,
        Err(e) => return Ok(bad_input(args, &e.to_string())),
    };
    if args.fix {
        let stale: Vec<String> = report
            .findings
            .iter()
            .filter_map(|f| match &f.kind {
                FindingKind::StaleRecord { lockfile } => Some(lockfile.clone()),
                _ => None,
            })
            .collect();
        if !stale.is_empty() {
            let outcome = match fix_record(&mut repo, &config, &stale, &recompute, &recompute_pnpm)
            {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("nix-hooks: error: --fix changed nothing: {e}");
                    return Ok(if e.is_bad_input() {
                        exit::BAD_INPUT
                    } else {
                        exit::CANNOT_VERIFY
                    });
                }
            };
            for (lockfile, hash) in &outcome.updated {
                eprintln!("nix-hooks: fixed: {lockfile} -> {hash}");
            }
            let where_ = if outcome.worktree_updated {
                "written and staged"
            } else {
                "staged (your working-tree copy has unstaged edits, so it was left alone)"
            };
            eprintln!(
                "nix-hooks: fixed: {} {where_}; nothing else was staged",
                config.record
            );
            report = check_staged(&repo, &config, &config_name, &recompute)
                .map_err(anyhow::Error::from)?;
        }
    }
    Ok(present(&report, args))
}

fn load_config(repo: &StagedRepo, explicit: Option<&Path>) -> Result<(HooksConfig, String)> {
    let path = match explicit {
        Some(p) => p.to_owned(),
        None => match repo.workdir() {
            Some(w) => w.join(DEFAULT_CONFIG_PATH),
            None => return Ok((HooksConfig::default(), DEFAULT_CONFIG_PATH.to_owned())),
        },
    };
    let name = explicit.map_or(DEFAULT_CONFIG_PATH.to_owned(), |p| p.display().to_string());
    // The default file is optional; one named on the command line must exist.
    if explicit.is_some() && !path.exists() {
        anyhow::bail!("--config {name}: no such file; check the path, or drop --config to use {DEFAULT_CONFIG_PATH}");
    }
    Ok((HooksConfig::load(&path)?, name))
}

fn present(report: &Report, args: &Args) -> u8 {
    let code = if !report.has_errors() {
        exit::OK
    } else if report.has_unverifiable() {
        exit::CANNOT_VERIFY
    } else {
        exit::FAILED
    };
    if args.json {
        println!("{}", json(report, code));
        return code;
    }
    for f in &report.findings {
        let label = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        eprintln!("nix-hooks: {label}: {}", f.message);
    }
    if code != exit::OK {
        eprintln!(
            "nix-hooks: commit rejected (skip once with `git commit --no-verify` or {SKIP_VAR}=1)"
        );
    } else if !args.quiet {
        let plural =
            |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        eprintln!(
            "nix-hooks: ok: {} lockfile {} fresh, {} .nix {} parsed",
            report.lockfiles_checked,
            plural(report.lockfiles_checked, "hash", "hashes"),
            report.nix_files_checked,
            plural(report.nix_files_checked, "file", "files"),
        );
    }
    code
}

/// `--json`: one object on stdout, for scripts and CI annotations.
fn json(report: &Report, code: u8) -> serde_json::Value {
    let findings: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            let (check, lockfile) = match &f.kind {
                FindingKind::StaleRecord { lockfile } => ("stale-hash", Some(lockfile)),
                FindingKind::StaleInPlace { lockfile, .. } => ("stale-hash", Some(lockfile)),
                FindingKind::Unverifiable { lockfile } => ("unverifiable", Some(lockfile)),
                FindingKind::RecordDeleted { .. } => ("stale-hash", None),
                FindingKind::NixSyntax => ("nix-syntax", None),
                FindingKind::FlakeLock => ("flake-lock", None),
                FindingKind::FlakeInputs => ("flake-inputs", None),
                FindingKind::PackageJson => ("package-json", None),
            };
            serde_json::json!({
                "check": check,
                "severity": match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "lockfile": lockfile,
                "message": f.message,
            })
        })
        .collect();
    serde_json::json!({
        "version": JSON_VERSION,
        "tool": "nix-hooks",
        "exit_code": code,
        "lockfiles_checked": report.lockfiles_checked,
        "nix_files_checked": report.nix_files_checked,
        "findings": findings,
    })
}

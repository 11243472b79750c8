//! `nix-hooks bench`: the hook's latency on a temporary repository holding a given
//! yarn.lock (Ghost's in `cargo xtask bench`), as a user's `git commit` pays it: a
//! fresh `nix-hooks pre-commit` process each run, median of N.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use common::nix::nix_hash::Sha256Hash;
use common::record::hash_record::{lock_sha256, HashRecord, RecordEntry, DEFAULT_RECORD_PATH};

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// The yarn.lock to commit into the temporary repository.
    #[arg(long, value_name = "PATH")]
    lockfile: PathBuf,
    /// Runs per case; the median is reported.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

struct Case {
    name: &'static str,
    expected_exit: i32,
    median: Duration,
}

pub fn run(args: &Args) -> Result<u8> {
    ensure!(args.runs > 0, "--runs must be at least 1");
    let lock = std::fs::read(&args.lockfile)
        .with_context(|| format!("cannot read {}", args.lockfile.display()))?;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"])?;
    std::fs::write(repo.join("yarn.lock"), &lock)?;
    write_record(repo, &lock)?;
    git(repo, &["add", "yarn.lock", DEFAULT_RECORD_PATH])?;
    git(repo, &["commit", "-q", "--no-verify", "-m", "bench"])?;

    let mut cases = Vec::new();
    // The common commit: some other file staged, the lockfile tracked and unchanged.
    std::fs::write(repo.join("README.md"), "bench\n")?;
    git(repo, &["add", "README.md"])?;
    cases.push(time_case(
        repo,
        "staged-unchanged",
        PRE_COMMIT,
        0,
        args.runs,
    )?);
    cases.push(time_case(repo, "envrc-fresh", &["envrc"], 0, args.runs)?);
    let mut changed = lock.clone();
    changed.extend_from_slice(b"\n# bench edit\n");
    std::fs::write(repo.join("yarn.lock"), &changed)?;
    git(repo, &["add", "yarn.lock"])?;
    // Lockfile staged, record not: the stale case the hook exists to catch.
    cases.push(time_case(
        repo,
        "staged-changed-stale",
        PRE_COMMIT,
        1,
        args.runs,
    )?);
    write_record(repo, &changed)?;
    git(repo, &["add", DEFAULT_RECORD_PATH])?;
    cases.push(time_case(
        repo,
        "staged-changed-fresh",
        PRE_COMMIT,
        0,
        args.runs,
    )?);

    print(args, lock.len(), &cases);
    Ok(exit::OK)
}

fn write_record(repo: &Path, lock: &[u8]) -> Result<()> {
    let mut record = HashRecord::default();
    record.entries.insert(
        "yarn.lock".into(),
        RecordEntry {
            lock_sha256: lock_sha256(lock),
            // Staleness is decided by lock-sha256 alone; the hash value is not consulted.
            hash: Sha256Hash::of(b"nix-hooks bench"),
            fetcher: Default::default(),
        },
    );
    let path = repo.join(DEFAULT_RECORD_PATH);
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(path, record.render())?;
    Ok(())
}

const PRE_COMMIT: &[&str] = &["pre-commit", "--quiet"];

fn time_case(
    repo: &Path,
    name: &'static str,
    args: &[&str],
    expected_exit: i32,
    runs: usize,
) -> Result<Case> {
    let exe = std::env::current_exe()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = Command::new(&exe)
            .args(args)
            .current_dir(repo)
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("NIX_HOOKS_SKIP")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        times.push(start.elapsed());
        if status.code() != Some(expected_exit) {
            bail!(
                "{name}: nix-hooks {} exited with {status}, expected {expected_exit}",
                args.join(" ")
            );
        }
    }
    times.sort();
    Ok(Case {
        name,
        expected_exit,
        median: times[times.len() / 2],
    })
}

fn print(args: &Args, lock_len: usize, cases: &[Case]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    if args.json {
        let cases: Vec<_> = cases
            .iter()
            .map(|c| format!("\"{}\":{:.2}", c.name, ms(c.median)))
            .collect();
        println!(
            "{{\"version\":{},\"tool\":\"nix-hooks\",\"exit_code\":0,\"lockfile_bytes\":{lock_len},\"runs\":{},\"median_ms\":{{{}}}}}",
            crate::pre_commit::JSON_VERSION,
            args.runs,
            cases.join(",")
        );
        return;
    }
    println!(
        "nix-hooks pre-commit, {} runs each, yarn.lock of {lock_len} bytes",
        args.runs
    );
    for c in cases {
        println!(
            "  {:<22} exit {}  median {:>8.2} ms",
            c.name,
            c.expected_exit,
            ms(c.median)
        );
    }
}

fn git(repo: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.invalid",
        ])
        .args(args)
        .current_dir(repo)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .context("cannot run git")?;
    ensure!(
        out.status.success(),
        "git {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

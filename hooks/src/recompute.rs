//! The full, slow path: a lockfile's fetchYarnDeps hash computed from its staged
//! bytes with `common::yarn::prefetch` (the same code as `update-yarn-hash`, sharing its
//! tarball cache), for `--fix` and for hashes kept in a `.nix` file; and for `--fix`, a
//! pnpm lockfile's fetchPnpmDeps hash with `common::pnpm::prefetch` (update-pnpm-hash's
//! code) over its staged project, exported to a temp directory the child runs in.
//!
//! It runs in a child `nix-hooks __recompute` with the original certificate environment
//! (see `cert_loading`), the staged bytes on stdin and the SRI hash on stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use common::fetch::tarball_cache::TarballCache;
use common::fetch::tarball_fetch::{FetchOptions, Mirror, NoProgress};
use common::hook::record_fix::PnpmTarget;
use common::hook::staged_checks::RecomputeFailure;
use common::nix::nix_hash::Sha256Hash;
use common::pnpm::prefetch as pnpm;
use common::pnpm::profile::Profile;
use common::yarn::prefetch::{PrefetchOptions, Prefetcher};

use crate::cert_loading;
use crate::exit;

/// The cache directory variable `update-yarn-hash --cache-dir` also reads.
const CACHE_VAR: &str = "UPDATE_YARN_HASH_CACHE";

/// Timeouts for a recompute inside a commit, where a stalled download stalls the user:
/// give up quickly and say so (exit 3) rather than retry for minutes.
const QUICK_CONNECT: Duration = Duration::from_secs(5);
const QUICK_READ: Duration = Duration::from_secs(10);
const QUICK_RETRIES: u32 = 1;

pub struct Recomputer {
    offline: bool,
    mirrors: Vec<String>,
    /// Short timeouts (the hook's check); `--fix`, asked for explicitly, keeps the defaults.
    quick: bool,
    quiet: bool,
}

impl Recomputer {
    pub fn new(offline: bool, mirrors: &[Mirror], quick: bool, quiet: bool) -> Self {
        let mirrors = mirrors
            .iter()
            .map(|m| format!("{}={}", m.from, m.to))
            .collect();
        Self {
            offline,
            mirrors,
            quick,
            quiet,
        }
    }

    /// `lockfile` is the path relative to the repository root, for messages.
    pub fn hash(&self, lockfile: &str, bytes: &[u8]) -> Result<Sha256Hash, RecomputeFailure> {
        self.announce("fetchYarnDeps", lockfile);
        self.run_child(lockfile, bytes, &[], None)
    }

    /// The fetchPnpmDeps hash of the staged project written under `target.root`.
    pub fn hash_pnpm(
        &self,
        lockfile: &str,
        bytes: &[u8],
        target: &PnpmTarget<'_>,
    ) -> Result<Sha256Hash, RecomputeFailure> {
        self.announce("fetchPnpmDeps", lockfile);
        let mut extra = vec![
            "--fetcher-version".to_owned(),
            target.fetcher_version.to_string(),
            "--pnpm".to_owned(),
            target.pnpm.to_owned(),
        ];
        if let Some(node) = target.node {
            extra.extend(["--node".to_owned(), node.to_string()]);
        }
        for w in target.workspaces {
            extra.extend(["--workspace".to_owned(), w.clone()]);
        }
        // Run inside the exported project, so messages name the repository's paths.
        self.run_child(lockfile, bytes, &extra, Some(target.root))
    }

    fn announce(&self, fetcher: &str, lockfile: &str) {
        if self.quiet {
            return;
        }
        let how = match (self.offline, self.quick) {
            (true, _) => "from the tarball cache only (offline)".to_owned(),
            (false, true) => format!(
                "from the tarball cache, downloading what is missing (timeouts {} s connect, {} s read, {QUICK_RETRIES} retry)",
                QUICK_CONNECT.as_secs(),
                QUICK_READ.as_secs()
            ),
            (false, false) => "from the tarball cache, downloading what is missing".to_owned(),
        };
        eprintln!("nix-hooks: recomputing the {fetcher} hash of {lockfile} {how}...");
    }

    fn run_child(
        &self,
        lockfile: &str,
        bytes: &[u8],
        extra: &[String],
        cwd: Option<&Path>,
    ) -> Result<Sha256Hash, RecomputeFailure> {
        let fail = |message: String| RecomputeFailure {
            message,
            bad_input: false,
        };
        let exe =
            std::env::current_exe().map_err(|e| fail(format!("cannot locate nix-hooks: {e}")))?;
        let mut cmd = Command::new(exe);
        cmd.args([CHILD_ARG, "--lockfile", lockfile])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
            // A relative cache directory means the caller's, not the temp project's.
            if let Some(cache) = std::env::var_os(CACHE_VAR).filter(|v| !v.is_empty()) {
                let cache = PathBuf::from(cache);
                if cache.is_relative() {
                    if let Ok(here) = std::env::current_dir() {
                        cmd.env(CACHE_VAR, here.join(cache));
                    }
                }
            }
        }
        if self.offline {
            cmd.arg("--offline");
        }
        if self.quick {
            cmd.arg("--quick");
        }
        for m in &self.mirrors {
            cmd.args(["--mirror", m]);
        }
        cert_loading::restore_for(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("cannot run nix-hooks __recompute: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped");
        let written = stdin.write_all(bytes);
        drop(stdin);
        let out = child
            .wait_with_output()
            .map_err(|e| fail(format!("nix-hooks __recompute: {e}")))?;
        if !out.status.success() {
            return Err(RecomputeFailure {
                message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                // The child's exit class survives: a malformed lockfile is bad input.
                bad_input: out.status.code() == Some(i32::from(exit::BAD_INPUT)),
            });
        }
        // A child that exited before reading everything already said why above.
        written.map_err(|e| {
            fail(format!(
                "cannot pass {lockfile} to nix-hooks __recompute: {e}"
            ))
        })?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .map_err(|e| fail(format!("nix-hooks __recompute printed {text:?}: {e}")))
    }
}

/// The first argument that makes `nix-hooks` the recompute child (not a subcommand, so
/// neither help nor clap's "did you mean" shows it).
pub const CHILD_ARG: &str = "__recompute";

#[derive(clap::Parser)]
#[command(name = "nix-hooks __recompute")]
pub struct Child {
    #[command(flatten)]
    pub args: Args,
}

#[derive(clap::Args)]
pub struct Args {
    /// The lockfile's path relative to the repository root (names it in errors); its
    /// bytes are read from stdin.
    #[arg(long, value_name = "PATH")]
    lockfile: String,
    #[arg(long)]
    offline: bool,
    /// Short timeouts and one retry (inside a commit).
    #[arg(long)]
    quick: bool,
    #[arg(long, value_name = "FROM=TO", value_parser = parse_mirror)]
    mirror: Vec<Mirror>,
    /// A pnpm lockfile: hash its project (in the current directory) for this target.
    #[arg(long, requires = "pnpm")]
    fetcher_version: Option<u32>,
    #[arg(long, requires = "fetcher_version")]
    pnpm: Option<String>,
    #[arg(long, requires = "fetcher_version")]
    node: Option<u32>,
    /// A pnpmWorkspaces entry of the target (repeatable).
    #[arg(long, requires = "fetcher_version")]
    workspace: Vec<String>,
}

/// `nix-hooks __recompute`: prints the fetchYarnDeps hash of the lockfile on stdin.
pub fn run(args: &Args) -> Result<u8> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read the lockfile from stdin")?;
    let cache_dir = std::env::var_os(CACHE_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(TarballCache::default_dir);
    let mut fetch = FetchOptions {
        mirrors: args.mirror.clone(),
        ..FetchOptions::default()
    };
    if args.quick {
        fetch.connect_timeout = QUICK_CONNECT;
        fetch.read_timeout = QUICK_READ;
        fetch.retries = QUICK_RETRIES;
    }
    if let (Some(fetcher_version), Some(pnpm)) = (args.fetcher_version, &args.pnpm) {
        let profile = match Profile::resolve(fetcher_version, pnpm, args.node)
            .map_err(|e| e.to_string())
            .and_then(|p| {
                p.with_workspaces(args.workspace.clone())
                    .map_err(|e| e.to_string())
            }) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{e}");
                return Ok(exit::BAD_INPUT);
            }
        };
        let result = pnpm::Prefetcher::new(pnpm::PrefetchOptions {
            cache_dir,
            fetch,
            offline: args.offline,
            recompute: false,
        })
        .and_then(|p| {
            p.hash(
                Path::new(&args.lockfile),
                &bytes,
                &profile,
                Arc::new(NoProgress),
            )
        });
        return Ok(report(
            result.map(|p| p.hash),
            pnpm::PrefetchError::is_bad_input,
        ));
    }
    let result = Prefetcher::new(PrefetchOptions {
        cache_dir,
        fetch,
        offline: args.offline,
        recompute: false,
    })
    .and_then(|p| p.hash(Path::new(&args.lockfile), &bytes, Arc::new(NoProgress)));
    Ok(report(
        result.map(|p| p.hash),
        common::yarn::prefetch::PrefetchError::is_bad_input,
    ))
}

/// Prints the hash (exit 0), or the error with its exit class.
fn report<E: std::fmt::Display>(result: Result<Sha256Hash, E>, bad_input: fn(&E) -> bool) -> u8 {
    match result {
        Ok(hash) => {
            println!("{}", hash.to_sri());
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            if bad_input(&e) {
                exit::BAD_INPUT
            } else {
                exit::CANNOT_VERIFY
            }
        }
    }
}

/// Parses `--mirror FROM=TO`.
pub fn parse_mirror(spec: &str) -> Result<Mirror, String> {
    Mirror::parse(spec).ok_or_else(|| {
        format!(
            "{spec:?} is not FROM=TO (e.g. https://registry.yarnpkg.com=https://npm.example.com)"
        )
    })
}

//! The command line: what users type, and the help that teaches it.

use std::path::PathBuf;

use clap::Parser;
use common::fetch::tarball_fetch::Mirror;

#[derive(Debug, Parser)]
#[command(
    name = "update-pnpm-hash",
    version,
    about = "Recompute nixpkgs' fetchPnpmDeps hash for pnpm-lock.yaml natively, and record it where the Nix code reads it.",
    long_about = "Recompute nixpkgs' fetchPnpmDeps hash for pnpm-lock.yaml natively (no Nix, no pnpm \
needed), byte for byte what Nix computes, and record it where the Nix code reads it.\n\n\
The target is explicit: --fetcher-version N --pnpm VERSION name the fetchPnpmDeps arguments \
(fetcherVersion, and the pnpm package: 10 for pnpm_10). They are stored in the record, so later \
runs and --check need not repeat them. By default it updates the hash record (.nix/yarn-deps.toml \
at the repository root, shared with update-yarn-hash) for every pnpm lockfile the record names, \
or for ./pnpm-lock.yaml at the root. Tarballs are cached by digest in the cache update-yarn-hash \
uses ($XDG_CACHE_HOME/update-yarn-hash), so a warm run needs no network.",
    // Each example's description on its own indented line, every line at most 80
    // columns: clap wraps at the terminal (100 without one) and would otherwise break a
    // description back to column 0.
    after_help = "\
Examples:
  update-pnpm-hash --fetcher-version 3 --pnpm 10
      record ./pnpm-lock.yaml's hash for pnpm_10, fetcherVersion 3
  update-pnpm-hash
      update every pnpm lockfile in the record (targets from the record)
  update-pnpm-hash --check
      exit 1 if a recorded hash is stale (milliseconds, no network)
  update-pnpm-hash --check --full --offline
      recompute from the cache and compare
  update-pnpm-hash --print --lockfile pnpm-lock.yaml \\
      --fetcher-version 3 --pnpm 10
      print only the SRI hash
  update-pnpm-hash --nix-file deps.nix --lockfile pnpm-lock.yaml \\
      --fetcher-version 3 --pnpm 10
      rewrite `hash = \"…\"` of its fetchPnpmDeps call in place
  update-pnpm-hash --materialize ./out
      write the fetchPnpmDeps output directory itself

Supported targets: --fetcher-version 3 --pnpm 10 (pnpm 10.34.5, GNU tar 1.35,
zstd 1.5.7, jq 1.8.2).

Exit codes:
  0  ok (hash recorded / up to date)
  1  stale: the recorded hash does not match the lockfile (--check)
  2  bad input: unreadable or malformed lockfile, record or .nix file, a
     lockfile pnpm would refuse under --frozen-lockfile, an unsupported target,
     bad arguments; also when the record or .nix file cannot be written
  3  fetch failure: download failed, --offline with tarballs missing from the
     cache, or the tarball cache itself is unusable"
)]
pub struct Cli {
    /// pnpm-lock.yaml to process; repeatable. Default: every pnpm lockfile named in the
    /// record, or pnpm-lock.yaml at the repository root.
    #[arg(long, value_name = "PATH")]
    pub lockfile: Vec<PathBuf>,

    /// fetchPnpmDeps' `fetcherVersion` [default: the record's]
    #[arg(long, value_name = "N")]
    pub fetcher_version: Option<u32>,

    /// The pnpm fetchPnpmDeps runs: a major (10, for nixpkgs' pnpm_10) or a full version
    /// [default: the record's]
    #[arg(long, value_name = "VERSION")]
    pub pnpm: Option<String>,

    /// The hash record to read and write [default: <repo root>/.nix/yarn-deps.toml]
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,

    /// In-place mode: rewrite the `hash = "…"` argument of the one fetchPnpmDeps call in
    /// this .nix file instead of updating the record.
    #[arg(long, value_name = "FILE", conflicts_with = "record")]
    pub nix_file: Option<PathBuf>,

    /// Exit 1 if a recorded hash is stale. Writes nothing and fetches nothing: it compares
    /// the lockfile's SHA-256 (and the target) with the record.
    #[arg(long)]
    pub check: bool,

    /// With --check: recompute the hash and compare it too (uses the tarball cache;
    /// downloads what is missing unless --offline; implies --recompute).
    #[arg(long, requires = "check")]
    pub full: bool,

    /// Hash the output again even if the same inputs were hashed before.
    #[arg(long)]
    pub recompute: bool,

    /// Print only the SRI hash on stdout (nothing else goes to stdout); write nothing.
    #[arg(long, conflicts_with_all = ["check", "materialize", "nix_file"])]
    pub print: bool,

    /// Write the fetchPnpmDeps output directory (.fetcher-version and
    /// pnpm-store.tar.zst) to DIR, which must not exist or be empty.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["check", "nix_file"])]
    pub materialize: Option<PathBuf>,

    /// Use the tarball cache only: on a miss, list what is missing (exit 3).
    #[arg(long)]
    pub offline: bool,

    /// Print a JSON report on stdout.
    #[arg(long, conflicts_with = "print")]
    pub json: bool,

    /// Print nothing but errors (with --check: one line when stale).
    #[arg(long, short)]
    pub quiet: bool,

    /// Downloads in flight at once.
    #[arg(long, short, value_name = "N", default_value_t = 64)]
    pub jobs: usize,

    /// Tarball cache directory, shared with update-yarn-hash
    /// [default: $XDG_CACHE_HOME/update-yarn-hash]
    #[arg(long, value_name = "DIR", env = "UPDATE_YARN_HASH_CACHE")]
    pub cache_dir: Option<PathBuf>,

    /// Fetch URLs that start with FROM from TO instead (a registry mirror); repeatable.
    #[arg(long, value_name = "FROM=TO", value_parser = parse_mirror)]
    pub mirror: Vec<Mirror>,

    /// Seconds without data before a download counts as timed out (it is then retried).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,

    /// Retries for timeouts, connection errors, truncated bodies and 5xx answers.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,
}

fn parse_mirror(spec: &str) -> Result<Mirror, String> {
    Mirror::parse(spec).ok_or_else(|| format!("expected FROM=TO, got {spec:?}"))
}

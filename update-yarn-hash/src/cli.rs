//! The command line: what users type, and the help that teaches it.

use std::path::PathBuf;

use clap::Parser;
use common::fetch::tarball_fetch::Mirror;

#[derive(Debug, Parser)]
#[command(
    name = "update-yarn-hash",
    version,
    about = "Recompute nixpkgs' fetchYarnDeps hash for yarn.lock natively, and record it where the Nix code reads it.",
    long_about = "Recompute nixpkgs' fetchYarnDeps hash for yarn.lock natively (no Nix needed), \
byte for byte what Nix computes, and record it where the Nix code reads it.\n\n\
By default it updates the hash record (.nix/yarn-deps.toml at the repository root) for every \
lockfile the record names, or for ./yarn.lock at the root when there is no record yet. The Nix \
code reads it with builtins.fromTOML. Tarballs are cached by digest under \
$XDG_CACHE_HOME/update-yarn-hash, so a warm run needs no network and a lockfile change downloads \
only the new tarballs.",
    // Each example's description on its own indented line, every line at most 80
    // columns: clap wraps at the terminal (100 without one) and would otherwise break a
    // description back to column 0.
    after_help = "\
Examples:
  update-yarn-hash
      update .nix/yarn-deps.toml for every recorded lockfile
  update-yarn-hash --lockfile example/yarn.lock
      add or update one lockfile's entry
  update-yarn-hash --check
      exit 1 if a recorded hash is stale (milliseconds, no network)
  update-yarn-hash --check --full --offline
      recompute from the cache and compare
  update-yarn-hash --print --lockfile yarn.lock
      print only the SRI hash
  update-yarn-hash --nix-file default.nix
      rewrite `hash = \"…\"` of its fetchYarnDeps call in place
  update-yarn-hash --materialize ./offline
      write the fetchYarnDeps output directory itself
  update-yarn-hash --materialize ./offline --fixup-lockfile yarn.offline.lock
      ... and a lockfile `yarn install --offline` can use

Exit codes:
  0  ok (hash recorded / up to date)
  1  stale: the recorded hash does not match the lockfile (--check)
  2  bad input: unreadable or malformed lockfile, record or .nix file, bad
     arguments; also when the record or .nix file cannot be written
  3  fetch failure: download or clone failed, --offline with tarballs missing
     from the cache, or the tarball cache itself is unusable"
)]
pub struct Cli {
    /// Lockfile to process; repeatable. Default: every lockfile named in the record, or
    /// yarn.lock at the repository root when there is no record.
    #[arg(long, value_name = "PATH")]
    pub lockfile: Vec<PathBuf>,

    /// The hash record to read and write [default: <repo root>/.nix/yarn-deps.toml]
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,

    /// In-place mode: rewrite the `hash = "…"` (or `sha256 = "…"`) argument of the one
    /// fetchYarnDeps call in this .nix file instead of updating the record.
    #[arg(long, value_name = "FILE", conflicts_with = "record")]
    pub nix_file: Option<PathBuf>,

    /// Exit 1 if a recorded hash is stale. Writes nothing and fetches nothing: it compares
    /// the lockfile's SHA-256 with the one recorded next to the hash.
    #[arg(long)]
    pub check: bool,

    /// With --check: recompute the hash and compare it too (uses the tarball cache;
    /// downloads what is missing unless --offline; implies --recompute).
    #[arg(long, requires = "check")]
    pub full: bool,

    /// Hash the output again even if the same lockfile and tarball digests were hashed
    /// before (the remembered result is otherwise reused: it cannot differ).
    #[arg(long)]
    pub recompute: bool,

    /// Print only the SRI hash on stdout (nothing else goes to stdout); write nothing.
    #[arg(long, conflicts_with_all = ["check", "materialize", "nix_file"])]
    pub print: bool,

    /// Write the fetchYarnDeps output directory (the tarballs and a copy of yarn.lock) to
    /// DIR, which must not exist or be empty.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["check", "nix_file"])]
    pub materialize: Option<PathBuf>,

    /// With --materialize: also write the lockfile rewritten to point into DIR (as
    /// nixpkgs' fixup-yarn-lock does), so `yarn install --offline` can use DIR as its
    /// offline mirror: `yarn config set yarn-offline-mirror DIR`.
    #[arg(long, value_name = "PATH", requires = "materialize")]
    pub fixup_lockfile: Option<PathBuf>,

    /// Use the tarball cache only: on a miss, list what is missing (exit 3).
    #[arg(long)]
    pub offline: bool,

    /// Print a JSON report on stdout.
    #[arg(long, conflicts_with = "print")]
    pub json: bool,

    /// Print nothing but errors (with --check: one warning line when stale).
    #[arg(long, short)]
    pub quiet: bool,

    /// Downloads in flight at once.
    #[arg(long, short, value_name = "N", default_value_t = 64)]
    pub jobs: usize,

    /// Tarball cache directory [default: $XDG_CACHE_HOME/update-yarn-hash]
    #[arg(long, value_name = "DIR", env = "UPDATE_YARN_HASH_CACHE")]
    pub cache_dir: Option<PathBuf>,

    /// Fetch URLs that start with FROM from TO instead (a registry mirror); repeatable.
    /// File names, and so the hash, still come from the URLs in the lockfile.
    #[arg(long, value_name = "FROM=TO", value_parser = parse_mirror)]
    pub mirror: Vec<Mirror>,

    /// Seconds without data before a download counts as timed out (it is then retried).
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,

    /// Retries for timeouts, connection errors, truncated bodies and 5xx answers.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub retries: u32,

    /// Longest wait between two attempts, in seconds: the backoff doubles up to it, and a
    /// server's Retry-After is honoured up to it.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub max_backoff: u64,

    /// Seconds one download may take in all, retries and waits included; a body that
    /// trickles in without ever hitting --timeout still stops here.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub deadline: u64,

    /// Largest tarball accepted, in bytes or with a K, M or G suffix (powers of 1024).
    /// A larger Content-Length fails before the download, a longer body as it passes.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_tarball_size: u64,
}

/// `1234`, `512K`, `100M`, `1G` (also `KiB`, `MiB`, `GiB`): bytes.
fn parse_size(spec: &str) -> Result<u64, String> {
    let digits = spec.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit: u64 = match &spec[digits.len()..] {
        "" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit {other:?}: use K, M or G (powers of 1024)"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a size such as 1G or 500M, got {spec:?}"))?;
    n.checked_mul(unit)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{spec:?} is not a usable size"))
}

fn parse_mirror(spec: &str) -> Result<Mirror, String> {
    Mirror::parse(spec).ok_or_else(|| format!("expected FROM=TO, got {spec:?}"))
}

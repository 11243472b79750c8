//! The flags both tools share, as two clap groups a binary flattens around its own
//! flags (so `--help` lists them where they read best), and the help text each
//! ecosystem words for itself.

use std::path::PathBuf;

use clap::{Args, Parser};
use common::fetch::tarball_fetch::Mirror;

/// Which lockfiles, which record, and which mode.
#[derive(Debug, Args)]
pub struct ModeArgs {
    /// Lockfile to process; repeatable (worded by each tool: see `Help`).
    #[arg(long, value_name = "PATH")]
    pub lockfile: Vec<PathBuf>,

    /// The hash record to read and write [default: <repo root>/.nix/yarn-deps.toml]
    #[arg(long, value_name = "PATH")]
    pub record: Option<PathBuf>,

    /// In-place mode (worded by each tool).
    #[arg(long, value_name = "FILE", conflicts_with = "record")]
    pub nix_file: Option<PathBuf>,

    /// Exit 1 if a recorded hash is stale. Writes nothing and fetches nothing: it compares
    /// the lockfile's SHA-256 with the one recorded next to the hash. With --nix-file,
    /// which records no digest, it recomputes the hash (from the cache when warm).
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

    /// Drop the record's entries whose lockfile no longer exists (this tool's entries
    /// only); hashes nothing, fetches nothing.
    #[arg(long, conflicts_with_all = ["check", "print", "materialize", "nix_file", "lockfile"])]
    pub prune: bool,

    /// When the record cannot be read, write it afresh instead of stopping: the lockfiles
    /// its table headers still name (or --lockfile), hashed again; the diff on stderr shows
    /// every line it drops.
    #[arg(long, conflicts_with_all = ["check", "print", "materialize", "nix_file"])]
    pub rewrite_record: bool,

    /// Write the output directory (worded by each tool).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["check", "nix_file"])]
    pub materialize: Option<PathBuf>,
}

/// Output and fetching.
#[derive(Debug, Args)]
pub struct FetchArgs {
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

/// The help of the shared flags whose wording names the ecosystem.
pub struct Help {
    pub lockfile: &'static str,
    pub nix_file: &'static str,
    pub materialize: &'static str,
}

/// Parses the command line of `C` (a binary's `Parser`, flattening [`ModeArgs`] and
/// [`FetchArgs`]) with `help` worded in.
pub fn parse<C: Parser>(help: &Help) -> C {
    let cmd = C::command()
        .mut_arg("lockfile", |a| a.help(help.lockfile))
        .mut_arg("nix_file", |a| a.help(help.nix_file))
        .mut_arg("materialize", |a| a.help(help.materialize));
    let mut matches = cmd.get_matches();
    C::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.exit())
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

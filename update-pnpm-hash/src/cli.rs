//! The command line: what users type, and the help that teaches it.

use clap::Parser;
use hash_cli::args::Help;
use hash_cli::{FetchArgs, ModeArgs};

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
  update-pnpm-hash --fetcher-version 3 --pnpm 10 --workspace ghost
      for fetchPnpmDeps { pnpmWorkspaces = [ \"ghost\" ]; }: recorded too

Supported targets: --fetcher-version 3 --pnpm 10 (pnpm 10.34.5, GNU tar 1.35,
zstd 1.5.7, jq 1.8.2); --fetcher-version 4 --pnpm 11 (pnpm 11.22.0) or
--pnpm 11.28.11, with --node 22 or 24 (11.28.11: 22) for lockfiles with
patchedDependencies, x86_64-linux.

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
    #[command(flatten)]
    pub modes: ModeArgs,

    /// fetchPnpmDeps' `fetcherVersion` [default: the record's]
    #[arg(long, value_name = "N")]
    pub fetcher_version: Option<u32>,

    /// The pnpm fetchPnpmDeps runs: a major (10, for nixpkgs' pnpm_10) or a full version
    /// [default: the record's]
    #[arg(long, value_name = "VERSION")]
    pub pnpm: Option<String>,

    /// The Node major nixpkgs' pnpm runs under (fetcherVersion 4): pnpm 11 writes it into
    /// the store for patched dependencies, so lockfiles with patchedDependencies need it
    /// [default: the record's]
    #[arg(long, value_name = "MAJOR")]
    pub node: Option<u32>,

    /// An entry of fetchPnpmDeps' `pnpmWorkspaces` (repeatable): the install is
    /// `pnpm install --filter=NAME`, so the store holds only what these workspace
    /// projects (and the root) need. `name`, `name...`, `./dir`, `{dir}` and `{dir}...`
    /// [default: the record's]
    #[arg(long, value_name = "NAME")]
    pub workspace: Vec<String>,

    /// Install every workspace project (no pnpmWorkspaces): clears a recorded
    /// --workspace selection
    #[arg(long, conflicts_with = "workspace")]
    pub no_workspace: bool,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// The shared flags' help, worded for pnpm.
pub const HELP: Help = Help {
    lockfile: "pnpm-lock.yaml to process; repeatable. Default: every pnpm lockfile named in the \
record, or pnpm-lock.yaml at the repository root",
    nix_file:
        "In-place mode: rewrite the `hash = \"…\"` argument of the one fetchPnpmDeps call in \
this .nix file instead of updating the record",
    materialize:
        "Write the fetchPnpmDeps output directory (.fetcher-version and pnpm-store.tar.zst) \
to DIR, which must not exist or be empty",
};

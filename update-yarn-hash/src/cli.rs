//! The command line: what users type, and the help that teaches it.

use std::path::PathBuf;

use clap::Parser;
use hash_cli::args::Help;
use hash_cli::{FetchArgs, ModeArgs};

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
    #[command(flatten)]
    pub modes: ModeArgs,

    /// With --materialize: also write the lockfile rewritten to point into DIR (as
    /// nixpkgs' fixup-yarn-lock does), so `yarn install --offline` can use DIR as its
    /// offline mirror: `yarn config set yarn-offline-mirror DIR`.
    #[arg(long, value_name = "PATH", requires = "materialize")]
    pub fixup_lockfile: Option<PathBuf>,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// The shared flags' help, worded for Yarn.
pub const HELP: Help = Help {
    lockfile: "Lockfile to process; repeatable. Default: every lockfile named in the record, or \
yarn.lock at the repository root when there is no record",
    nix_file:
        "In-place mode: rewrite the `hash = \"…\"` (or `sha256 = \"…\"`) argument of the one \
fetchYarnDeps call in this .nix file instead of updating the record",
    materialize:
        "Write the fetchYarnDeps output directory (the tarballs and a copy of yarn.lock) to \
DIR, which must not exist or be empty",
};

//! What differs between Yarn v1 and pnpm, and nothing else: what is computed, how the
//! record entry names its fetcher, and how messages name the tools.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::fetch::tarball_fetch::{DownloadStats, FetchOptions, FetchProgress};
use common::nix::nix_hash::Sha256Hash;
use common::record::fetcher_call::{FetcherCall, FoundCall};
use common::record::hash_record::Fetcher;

use crate::context::Lockfile;
use crate::failure::Failure;

/// How a prefetcher is to run, from the shared flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub cache_dir: PathBuf,
    pub fetch: FetchOptions,
    pub offline: bool,
    pub recompute: bool,
}

/// A computed hash and what the report says about it.
#[derive(Debug, Clone)]
pub struct Computed {
    pub hash: Sha256Hash,
    pub downloaded: DownloadStats,
    /// The hash was remembered from an earlier run over the same inputs.
    pub from_memo: bool,
    /// The record's view of the target it was computed for.
    pub fetcher: Fetcher,
    /// Files in the output besides the lockfile (Yarn).
    pub files: Option<usize>,
    /// Packages in the store (pnpm).
    pub packages: Option<usize>,
    /// Git repositories cloned (Yarn).
    pub git_cloned: Option<usize>,
    /// Warnings for stderr, each naming the lockfile and line.
    pub warnings: Vec<String>,
}

/// One ecosystem: Yarn v1 (`fetchYarnDeps`) or pnpm (`fetchPnpmDeps`).
pub trait Ecosystem {
    /// The binary's name, as `fix:` lines and hints spell it.
    const TOOL: &'static str;
    /// The lockfile's name, looked for at the repository root by default.
    const LOCKFILE_NAME: &'static str;
    /// The package manager that writes the lockfile (`yarn`, `pnpm`).
    const PACKAGE_MANAGER: &'static str;
    /// The lockfiles it reads.
    const KIND: crate::lockfile_kind::Kind;
    /// The fixed-output fetcher's call, for `--nix-file`.
    const CALL: FetcherCall;
    /// The attribute of that call that names the lockfile (`yarnLock`, `src`).
    const CALL_LOCKFILE_ATTR: &'static str;

    /// Whether a record entry belongs to this ecosystem.
    fn owns(fetcher: &Fetcher) -> bool;

    /// The lockfile a `--nix-file` call names, relative to the `.nix` file's directory.
    fn call_lockfile(call: &FoundCall) -> Option<PathBuf>;

    /// Whether the command line asks for another target than `recorded` holds.
    fn target_differs(&self, _recorded: &Fetcher) -> bool {
        false
    }

    /// This ecosystem as the `--nix-file` call configures it (pnpm: the call's
    /// `pnpmWorkspaces`), `None` when the call changes nothing; an error when the call
    /// and the command line disagree.
    fn for_call(&self, _call: &FoundCall) -> Result<Option<Self>, Failure>
    where
        Self: Sized,
    {
        Ok(None)
    }

    /// This tool's own flags that a `fix:` command must repeat (pnpm's target); for a
    /// lockfile not yet recorded (`unrecorded`, its path), what it must add.
    fn fix_flags(&self, _unrecorded: Option<&std::path::Path>) -> String {
        String::new()
    }

    /// The hash of `lockfile`'s output; `recorded` is its record entry's fetcher.
    fn hash(
        &self,
        settings: Settings,
        lockfile: &Lockfile,
        bytes: &[u8],
        recorded: Option<&Fetcher>,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Computed, Failure>;

    /// Writes the output directory itself to `dir`, and whatever goes with it.
    fn materialize(
        &self,
        settings: Settings,
        lockfile: &Lockfile,
        bytes: &[u8],
        recorded: Option<&Fetcher>,
        dir: &Path,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Computed, Failure>;

    /// The line `--materialize` ends with on stderr.
    fn materialized(&self, computed: &Computed, dir: &Path) -> String;
}

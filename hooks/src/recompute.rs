//! The full, slow path: a lockfile's fetchYarnDeps hash computed from its staged
//! bytes with `common::prefetch` (the same code as `update-yarn-hash`, sharing its
//! tarball cache), for `--fix` and for hashes kept in a `.nix` file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::nix_hash::Sha256Hash;
use common::prefetch::{PrefetchOptions, Prefetcher};
use common::tarball_cache::TarballCache;
use common::tarball_fetch::{FetchOptions, Mirror, NoProgress};

/// The cache directory variable `update-yarn-hash --cache-dir` also reads.
const CACHE_VAR: &str = "UPDATE_YARN_HASH_CACHE";

pub struct Recomputer {
    offline: bool,
    mirrors: Vec<Mirror>,
}

impl Recomputer {
    pub fn new(offline: bool, mirrors: Vec<Mirror>) -> Self {
        Self { offline, mirrors }
    }

    /// `lockfile` is the path relative to the repository root, for messages.
    pub fn hash(&self, lockfile: &str, bytes: &[u8]) -> Result<Sha256Hash, String> {
        let cache_dir = std::env::var_os(CACHE_VAR)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(TarballCache::default_dir);
        let prefetcher = Prefetcher::new(PrefetchOptions {
            cache_dir,
            fetch: FetchOptions {
                mirrors: self.mirrors.clone(),
                ..FetchOptions::default()
            },
            offline: self.offline,
        })
        .map_err(|e| e.to_string())?;
        prefetcher
            .hash(Path::new(lockfile), bytes, Arc::new(NoProgress))
            .map(|p| p.hash)
            .map_err(|e| e.to_string())
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

//! Yarn v1 as the shared CLI layer sees it: `common::yarn::prefetch` behind
//! [`Ecosystem`], fetchYarnDeps' names, and the warnings its model gives.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use common::atomic_write::write_atomic;
use common::fetch::tarball_fetch::FetchProgress;
use common::record::fetcher_call::{FetcherCall, FoundCall};
use common::record::hash_record::Fetcher;
use common::yarn::offline_cache::Note;
use common::yarn::prefetch::{PrefetchError, PrefetchOptions, Prefetched, Prefetcher};
use hash_cli::lockfile_kind::Kind;
use hash_cli::{Computed, Ecosystem, Failure, Lockfile, Settings};

pub struct Yarn {
    /// `--fixup-lockfile`: with `--materialize`, also write the lockfile pointing into it.
    pub fixup_lockfile: Option<PathBuf>,
}

impl Ecosystem for Yarn {
    const TOOL: &'static str = "update-yarn-hash";
    const LOCKFILE_NAME: &'static str = "yarn.lock";
    const PACKAGE_MANAGER: &'static str = "yarn";
    const KIND: Kind = Kind::YarnV1;
    const CALL: FetcherCall = FetcherCall::FetchYarnDeps;
    const CALL_LOCKFILE_ATTR: &'static str = "yarnLock";

    fn owns(fetcher: &Fetcher) -> bool {
        *fetcher == Fetcher::FetchYarnDeps
    }

    fn call_lockfile(call: &FoundCall) -> Option<PathBuf> {
        call.yarn_lock.as_ref().map(PathBuf::from)
    }

    fn hash(
        &self,
        settings: Settings,
        lockfile: &Lockfile,
        bytes: &[u8],
        _recorded: Option<&Fetcher>,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Computed, Failure> {
        let prefetched = prefetcher(settings)?
            .hash(&lockfile.path, bytes, progress)
            .map_err(failure)?;
        let mut computed = computed(&lockfile.key, prefetched);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            computed.warnings.push(format!(
                "{}: the lockfile is empty, so the output holds no dependencies (as fetchYarnDeps makes it); if that is not meant, run `yarn install`",
                lockfile.key
            ));
        }
        Ok(computed)
    }

    fn materialize(
        &self,
        settings: Settings,
        lockfile: &Lockfile,
        bytes: &[u8],
        _recorded: Option<&Fetcher>,
        dir: &Path,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Computed, Failure> {
        let prefetched = prefetcher(settings)?
            .materialize(&lockfile.path, bytes, dir, progress)
            .map_err(failure)?;
        if let Some(out) = &self.fixup_lockfile {
            let text = String::from_utf8_lossy(bytes);
            write_atomic(out, common::yarn::fixup_lockfile::fixup(&text).as_bytes())
                .with_context(|| format!("cannot write {}", out.display()))
                .map_err(Failure::bad_input)?;
        }
        Ok(computed(&lockfile.key, prefetched))
    }

    fn materialized(&self, computed: &Computed, dir: &Path) -> String {
        format!(
            "wrote {} files and yarn.lock to {}",
            computed.files.unwrap_or(0),
            dir.display()
        )
    }
}

fn prefetcher(s: Settings) -> Result<Prefetcher, Failure> {
    Prefetcher::new(PrefetchOptions {
        cache_dir: s.cache_dir,
        fetch: s.fetch,
        offline: s.offline,
        recompute: s.recompute,
    })
    .map_err(failure)
}

fn failure(e: PrefetchError) -> Failure {
    Failure::prefetch(e.is_bad_input(), e)
}

fn computed(key: &str, p: Prefetched) -> Computed {
    Computed {
        hash: p.hash,
        downloaded: p.downloaded,
        from_memo: p.from_memo,
        fetcher: Fetcher::FetchYarnDeps,
        files: Some(p.files),
        packages: None,
        git_cloned: Some(p.git_cloned),
        warnings: p.notes.iter().filter_map(|n| warning(key, n)).collect(),
    }
}

/// Entries upstream skips or cannot verify, said with the lockfile and line.
fn warning(lockfile: &str, note: &Note) -> Option<String> {
    Some(match note {
        Note::LocalPath { .. } => return None,
        Note::FileUrl { key, line } => {
            format!("{lockfile}:{line}: {key}: file: URL skipped, as fetchYarnDeps skips it")
        }
        Note::Unverified { key, line } => format!(
            "{lockfile}:{line}: {key}: no integrity and no #sha1 in the URL; downloaded unverified, as fetchYarnDeps does"
        ),
        Note::IgnoredFrom { line } => format!(
            "{lockfile}:{line}: yarn's parser stops at this indented line, so it and everything after it is ignored (by fetchYarnDeps too); re-run `yarn install` to rewrite the lockfile"
        ),
        Note::MergeConflict { line } => format!(
            "{lockfile}:{line}: merge-conflict markers; hashed as fetchYarnDeps hashes it (both sides merged, the later winning, and the file copied as it is), but yarn itself would rewrite it: resolve the conflict (re-run `yarn install`) and commit the result"
        ),
        Note::NotUtf8 { line } => format!(
            "{lockfile}:{line}: not UTF-8; hashed as fetchYarnDeps hashes it (each invalid byte sequence read, and copied into the output, as U+FFFD), but the file is damaged: re-run `yarn install` to rewrite it"
        ),
    })
}

//! fetchPnpmDeps, natively: a `pnpm-lock.yaml` in, the output's NAR hash out.
//!
//! Check the lockfile as pnpm 10's `--frozen-lockfile` does and plan the packages
//! ([`plan`](crate::pnpm::plan)), make sure every registry tarball is in the shared
//! tarball cache (downloading only what is missing), then stream: pnpm's store
//! ([`store`](crate::pnpm::store)) as tar entries into GNU tar's pax format
//! ([`pax_tar`](crate::archive::pax_tar)) into zstd 1.5.7's framing
//! ([`zstd_cli`](crate::archive::zstd_cli)). The compressed archive goes to an unnamed
//! temp file (the NAR needs its size before its bytes), then `$out`'s NAR
//! (`.fetcher-version`, `pnpm-store.tar.zst`) goes into SHA-256. The unpacked store is
//! never written to disk.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use sha2::{Digest, Sha256, Sha512};
use thiserror::Error;

use crate::archive::pax_tar::PaxTarWriter;
use crate::archive::zstd_cli;
use crate::fetch::integrity::{Hasher, Integrity};
use crate::fetch::nar_memo::NarMemo;
use crate::fetch::tarball_cache::{CacheError, Hit, TarballCache, Trust};
use crate::fetch::tarball_fetch::{
    self, listing, DownloadStats, FetchError, FetchOptions, FetchProgress, TarballRequest,
};
use crate::nix::nar::{HashingWriter, NarWriter};
use crate::nix::nix_hash::Sha256Hash;
use crate::pnpm::frozen_check::{self, FrozenError, PnpmRules};
use crate::pnpm::git_fetch::{self, GitFetchError};
use crate::pnpm::git_hosted;
use crate::pnpm::lockfile::{self, LineIndex, LockfileError};
use crate::pnpm::plan::{self, PlanError, PlannedPackage, Source};
use crate::pnpm::profile::{Profile, ProfileError};
use crate::pnpm::project_config::{self, ConfigError, ProjectConfig};
use crate::pnpm::runtime_archive;
use crate::pnpm::store::patch_file;
use crate::pnpm::store::side_effects::PackagePatch;
use crate::pnpm::store::{
    PackageTarball, Store, StoreError, StoreLayout, StoreSink, TarballSource,
};
use crate::pnpm::workspace_filter::{self, FilterError};

/// `$SOURCE_DATE_EPOCH` in a Nix build: the archive's `--mtime`.
const SOURCE_DATE_EPOCH: u64 = 315_532_800;
pub const STORE_ARCHIVE: &str = "pnpm-store.tar.zst";
pub const FETCHER_VERSION_FILE: &str = ".fetcher-version";
/// Pass 2 of the store gathers file contents in groups of this many bytes (two groups in
/// memory at once). Groups are read back from the spill file in order, so small ones cost
/// nothing; 128 MB groups put Ghost's peak RSS over 500 MB.
const MEMORY_BUDGET: usize = 32 << 20;

#[derive(Debug, Clone)]
pub struct PrefetchOptions {
    pub cache_dir: PathBuf,
    pub fetch: FetchOptions,
    /// Use the cache only; a miss is an error listing what is missing.
    pub offline: bool,
    /// Ignore remembered NAR hashes: verify every tarball and hash again.
    pub recompute: bool,
}

#[derive(Debug, Error)]
pub enum PrefetchError {
    #[error("{}:{error}", path.display())]
    Lockfile { path: PathBuf, error: LockfileError },
    #[error("{}: not UTF-8 (byte {offset}); a pnpm-lock.yaml is UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Frozen(#[from] FrozenError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A `--workspace` selector not emulated, or matching no project.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A patched package and a profile without the Node major its row names.
    #[error("{}: {error}", lockfile.display())]
    Node {
        lockfile: PathBuf,
        error: ProfileError,
    },
    #[error("{}:{line}: {key}: {message}", lockfile.display())]
    LocalTarball {
        lockfile: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}:{line}: {key}: {message}", lockfile.display())]
    Package {
        lockfile: PathBuf,
        line: usize,
        key: String,
        message: String,
        /// The package is wrong or not emulated (exit 2), not unreachable (exit 3).
        bad_input: bool,
    },
    #[error("{}:{line}: {key}: {message}, and --offline forbids cloning it; run without --offline once to fill the cache", lockfile.display())]
    OfflineGit {
        lockfile: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{}: {} of {total} tarballs are not in the tarball cache and --offline forbids fetching them:\n{}\nrun without --offline once to fill the cache", lockfile.display(), missing.len(), listing(missing))]
    Offline {
        lockfile: PathBuf,
        missing: Vec<String>,
        total: usize,
    },
    #[error("{}: {} download(s) failed:\n{}", lockfile.display(), errors.len(), listing(&errors.iter().map(ToString::to_string).collect::<Vec<_>>()))]
    Fetch {
        lockfile: PathBuf,
        errors: Vec<FetchError>,
    },
    #[error("{}: {source}", lockfile.display())]
    Store {
        lockfile: PathBuf,
        source: StoreError,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl PrefetchError {
    /// The project itself is wrong (exit 2), as opposed to the network or cache (exit 3).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Lockfile { .. }
                | Self::NotUtf8 { .. }
                | Self::Config(_)
                | Self::Frozen(_)
                | Self::Plan(_)
                | Self::Filter(_)
                | Self::Node { .. }
                | Self::LocalTarball { .. }
                | Self::Package {
                    bad_input: true,
                    ..
                }
                | Self::Store { .. }
        )
    }
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct Prefetched {
    pub hash: Sha256Hash,
    pub nar_size: u64,
    /// Packages in the store.
    pub packages: usize,
    pub downloaded: DownloadStats,
    /// The hash was remembered from an earlier computation over the same inputs.
    pub from_memo: bool,
}

/// A checked lockfile and its packages, each with the bytes that fill its store entry.
pub struct Planned {
    pub packages: Vec<PlannedPackage>,
    /// For `file:` tarballs: their SHA-512, computed here (they are local).
    local_digests: Vec<Option<[u8; 64]>>,
    /// pnpm 11's patched packages by pkgId (empty for pnpm 10, which stores no side
    /// effects: nixpkgs turns its side-effects cache off).
    patches: BTreeMap<String, PackagePatch>,
}

pub struct Prefetcher {
    cache: TarballCache,
    opts: PrefetchOptions,
}

impl Prefetcher {
    pub fn new(opts: PrefetchOptions) -> Result<Self, PrefetchError> {
        // Creates nothing on disk: the cache appears when something is written to it.
        let cache = TarballCache::open(&opts.cache_dir);
        Ok(Self { cache, opts })
    }

    /// The fetchPnpmDeps hash of the project whose `pnpm-lock.yaml` is `path` (its
    /// bytes `lock_bytes`), for `profile`.
    pub fn hash(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        profile: &Profile,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Prefetched, PrefetchError> {
        let planned = plan_for(path, lock_bytes, profile)?;
        let memo = NarMemo::new(self.cache.root());
        let key = memo_key(lock_bytes, profile, &planned);
        if let (Some((hash, nar_size)), false) = (memo.get(&key), self.opts.recompute) {
            return Ok(Prefetched {
                hash,
                nar_size,
                packages: planned.packages.len(),
                downloaded: DownloadStats::default(),
                from_memo: true,
            });
        }
        let (store, downloaded) = self.build_store(path, &planned, profile.layout, progress)?;
        // Beside the cache, which a project without packages never created.
        let mut archive = fs::create_dir_all(self.cache.root())
            .and_then(|()| tempfile::tempfile_in(self.cache.root()))
            .map_err(|source| PrefetchError::Io {
                path: self.cache.root().to_owned(),
                source,
            })?;
        write_store_archive(path, &store, &mut archive)?;
        // Freeing the store (its spill file's gigabyte of page cache, the maps) takes a
        // tenth of a second that can pass beside the hash, which is one core's work.
        let hashed = std::thread::scope(|scope| {
            scope.spawn(move || drop(store));
            out_nar_hash(profile, &mut archive)
        });
        let (hash, nar_size) = hashed.map_err(|source| PrefetchError::Io {
            path: self.cache.root().to_owned(),
            source,
        })?;
        // Only an optimisation: a read-only cache must not fail the run.
        let _ = memo.put(&key, &hash, nar_size);
        Ok(Prefetched {
            hash,
            nar_size,
            packages: planned.packages.len(),
            downloaded,
            from_memo: false,
        })
    }

    /// Writes `$out` itself to `dir` (which must not exist, or be empty): built in a
    /// sibling temp dir and renamed into place, so it is whole or absent.
    pub fn materialize(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        profile: &Profile,
        dir: &Path,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Prefetched, PrefetchError> {
        let planned = plan_for(path, lock_bytes, profile)?;
        let (store, downloaded) = self.build_store(path, &planned, profile.layout, progress)?;
        let io_err = |source| PrefetchError::Io {
            path: dir.to_owned(),
            source,
        };
        let tmp = empty_sibling_dir(dir).map_err(io_err)?;
        let mut archive = File::create(tmp.path().join(STORE_ARCHIVE)).map_err(io_err)?;
        write_store_archive(path, &store, &mut archive)?;
        archive.sync_all().map_err(io_err)?;
        fs::write(
            tmp.path().join(FETCHER_VERSION_FILE),
            format!("{}\n", profile.fetcher_version),
        )
        .map_err(io_err)?;
        let (hash, nar_size) = crate::nix::nar::hash_path(tmp.path()).map_err(io_err)?;
        // rename(2) replaces an empty directory, so a failure leaves `dir` as it was.
        fs::rename(tmp.path(), dir).map_err(io_err)?;
        let _ = tmp.keep();
        Ok(Prefetched {
            hash,
            nar_size,
            packages: planned.packages.len(),
            downloaded,
            from_memo: false,
        })
    }

    /// The store pnpm 10 would leave for this lockfile, digested (pass 1 of
    /// [`Store`]), with what the run downloaded: for layered comparisons of the tree.
    pub fn store(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        progress: Arc<dyn FetchProgress>,
    ) -> Result<(Store, DownloadStats), PrefetchError> {
        let planned = check_and_plan(path, lock_bytes, PnpmRules::V10, &[])?;
        self.build_store(path, &planned, StoreLayout::V10, progress)
    }

    /// Pass 1 of the store while the tarballs arrive: [`Self::fill`] on one thread sends
    /// each package as soon as its tarball is at hand, and the store digests it at once,
    /// so a cold run's downloads and gunzip/SHA-512 overlap.
    fn build_store(
        &self,
        path: &Path,
        planned: &Planned,
        layout: StoreLayout,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<(Store, DownloadStats), PrefetchError> {
        let (tx, rx) = mpsc::channel();
        let count = planned.packages.len();
        let shown = progress.clone();
        let (filled, built) = std::thread::scope(|scope| {
            let filler = scope.spawn(move || {
                let filled = self.fill(path, planned, progress.clone(), &tx);
                progress.stage(&format!(
                    "reading {count} packages as pnpm stores them (pass 1 of 2)"
                ));
                filled
            });
            let built = Store::build_streaming(layout, count, rx, &planned.patches, threads());
            let filled = filler
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (filled, built)
        });
        // A download or lockfile error explains a store left incomplete: it comes first.
        let downloaded = filled?;
        let store = built.map_err(|source| PrefetchError::Store {
            lockfile: path.to_owned(),
            source,
        })?;
        shown.stage(&format!(
            "writing {STORE_ARCHIVE}: {} files, {} (pass 2 of 2)",
            store.file_count(),
            human_bytes(store.content_bytes())
        ));
        Ok((store, downloaded))
    }

    /// Every package's tarball, at hand and sent to `ready` with its index: registry ones
    /// from the cache (fetched if missing), `file:` ones from the project.
    fn fill(
        &self,
        path: &Path,
        planned: &Planned,
        progress: Arc<dyn FetchProgress>,
        ready: &Sender<(usize, PackageTarball)>,
    ) -> Result<DownloadStats, PrefetchError> {
        let hits = self.cached(planned)?;
        // Indices of the packages to download.
        let missing: Vec<usize> = (0..planned.packages.len())
            .filter(|&i| is_downloaded(&planned.packages[i]) && hits[i].is_none())
            .collect();
        if !missing.is_empty() && self.opts.offline {
            return Err(PrefetchError::Offline {
                lockfile: path.to_owned(),
                missing: missing
                    .iter()
                    .map(|&i| &planned.packages[i])
                    .map(|p| format!("line {}: {} ({})", p.line, p.key, url_of(p)))
                    .collect(),
                total: planned.packages.len(),
            });
        }
        let to_store = |index: usize, source: TarballSource| {
            let p = &planned.packages[index];
            // The store gone (it failed on another package) is reported by the caller.
            let _ = ready.send((
                index,
                PackageTarball {
                    pkg_id: p.pkg_id.clone(),
                    integrity: p.integrity.as_ref().map(ToString::to_string),
                    source,
                },
            ));
        };
        // What is at hand goes to the store first, largest first, while the rest downloads.
        let sent: Vec<AtomicBool> = planned.packages.iter().map(|_| false.into()).collect();
        for (index, file) in at_hand(planned, &hits) {
            to_store(index, TarballSource::File(file));
            sent[index].store(true, Ordering::Relaxed);
        }
        let requests = missing
            .iter()
            .map(|&i| request(&planned.packages[i]))
            .collect();
        let downloaded = tarball_fetch::download_all_notify(
            requests,
            &self.cache,
            &self.opts.fetch,
            progress,
            &|r, hit| {
                let index = missing[r];
                if matches!(planned.packages[index].source, Source::Url(_)) {
                    to_store(index, TarballSource::File(hit.path.clone()));
                    sent[index].store(true, Ordering::Relaxed);
                }
            },
        )
        .map_err(|errors| PrefetchError::Fetch {
            lockfile: path.to_owned(),
            errors,
        })?;
        for (index, p) in planned.packages.iter().enumerate() {
            if !sent[index].load(Ordering::Relaxed) {
                let (source, keep_integrity) = self.prepared_source(path, p)?;
                let mut tarball = PackageTarball {
                    pkg_id: p.pkg_id.clone(),
                    integrity: p.integrity.as_ref().map(ToString::to_string),
                    source,
                };
                if !keep_integrity {
                    tarball.integrity = None;
                }
                let _ = ready.send((index, tarball));
            }
        }
        Ok(downloaded)
    }

    /// Each package's cache entry, if it has a usable one. With `--recompute` no stamp is
    /// trusted: every byte of every entry is checked against the lockfile's digest, on
    /// all cores (SHA-512 is the cost), and a bad entry is removed, to be fetched again.
    fn cached(&self, planned: &Planned) -> Result<Vec<Option<Hit>>, PrefetchError> {
        let cache_err = |e: CacheError| PrefetchError::Io {
            path: e.path,
            source: e.error,
        };
        let trust = if self.opts.recompute {
            Trust::Digest
        } else {
            Trust::Stamp
        };
        let mut hits: Vec<Option<Hit>> = Vec::with_capacity(planned.packages.len());
        for p in &planned.packages {
            let hit = match (is_downloaded(p), &p.integrity) {
                (true, Some(i)) => self
                    .cache
                    .lookup(&i.cache_key(), Some(i), trust)
                    .map_err(cache_err)?,
                _ => None,
            };
            hits.push(hit);
        }
        if trust == Trust::Digest {
            let checked = self.verify(planned, &hits)?;
            for (hit, good) in hits.iter_mut().zip(checked) {
                if !good {
                    if let Some(h) = hit.take() {
                        self.cache.discard(&h.path).map_err(cache_err)?;
                    }
                }
            }
        }
        Ok(hits)
    }

    /// Whether each hit hashes to its package's integrity (true where there is no hit):
    /// on every core, each taking every n-th of the hits from the largest on, so each
    /// hashes about as many bytes.
    fn verify(&self, planned: &Planned, hits: &[Option<Hit>]) -> Result<Vec<bool>, PrefetchError> {
        let items: Vec<(usize, &Integrity, &Path, u64)> = hits
            .iter()
            .enumerate()
            .filter_map(|(i, hit)| {
                let (h, integrity) = (hit.as_ref()?, planned.packages[i].integrity.as_ref()?);
                Some((i, integrity, h.path.as_path(), h.len))
            })
            .collect();
        let lens: Vec<u64> = items.iter().map(|&(.., len)| len).collect();
        let threads = threads().max(1);
        let shares: Vec<Vec<(usize, &Integrity, &Path, u64)>> =
            crate::parallel_map::dealt_heaviest_first(&lens, threads)
                .into_iter()
                .map(|share| share.into_iter().map(|k| items[k]).collect())
                .collect();
        let checked = crate::parallel_map::parallel_map(&shares, threads, |_, share| {
            let files: Vec<(&Integrity, &Path, u64)> =
                share.iter().map(|&(_, i, p, len)| (i, p, len)).collect();
            Integrity::verify_files(&files).map_err(|(at, source)| PrefetchError::Io {
                path: files[at].1.to_owned(),
                source,
            })
        })?;
        let mut good = vec![true; hits.len()];
        for (share, results) in shares.iter().zip(checked) {
            for (&(i, ..), ok) in share.iter().zip(results) {
                good[i] = ok;
            }
        }
        Ok(good)
    }

    /// The tarball of a package that is not a plain registry or `file:` tarball, made
    /// ready for the store, and whether the store sees its lockfile integrity.
    fn prepared_source(
        &self,
        path: &Path,
        p: &PlannedPackage,
    ) -> Result<(TarballSource, bool), PrefetchError> {
        let package_err = |message: String, bad_input: bool| PrefetchError::Package {
            lockfile: path.to_owned(),
            line: p.line,
            key: crate::redact::text(&p.key),
            message,
            bad_input,
        };
        // Downloaded above and verified while downloading, so stamped.
        let cached = || -> Result<(PathBuf, Vec<u8>), PrefetchError> {
            let hit = p
                .integrity
                .as_ref()
                .map(|i| self.cache.lookup(&i.cache_key(), Some(i), Trust::Stamp))
                .transpose()
                .map_err(|e| PrefetchError::Io {
                    path: e.path,
                    source: e.error,
                })?
                .flatten()
                .ok_or_else(|| PrefetchError::Io {
                    path: self.cache.root().to_owned(),
                    source: io::Error::other(format!(
                        "{} vanished from the cache while in use",
                        p.key
                    )),
                })?;
            let bytes = fs::read(&hit.path).map_err(|source| PrefetchError::Io {
                path: hit.path.clone(),
                source,
            })?;
            Ok((hit.path, bytes))
        };
        // Git packages have no integrity in the store's sense: pnpm indexes them under
        // `v10/<depPathToFilename(pkgId)>/integrity-not-built.json`, which is where the
        // store puts a package whose `integrity` is `None`.
        Ok(match &p.source {
            Source::LocalFile { path, .. } => (TarballSource::File(path.clone()), true),
            Source::Url(_) => (TarballSource::File(cached()?.0), true),
            Source::GitHostedTarball(_) => {
                let (_, bytes) = cached()?;
                git_hosted::check(&bytes).map_err(|m| package_err(m, true))?;
                (TarballSource::Bytes(bytes.into()), false)
            }
            Source::RuntimeArchive { manifest, .. } => {
                let (file, bytes) = cached()?;
                let repacked = runtime_archive::with_manifest(&bytes, manifest)
                    .map_err(|m| package_err(m, true))?;
                let source = match repacked {
                    Some(tar) => TarballSource::Bytes(tar.into()),
                    None => TarballSource::File(file),
                };
                (source, true)
            }
            Source::GitRepo {
                repo,
                commit,
                path: sub,
            } => {
                let offline = self.opts.offline;
                let bytes =
                    git_fetch::fetch(repo, commit, sub.as_deref(), self.cache.root(), offline)
                        .map_err(|e| match e {
                            GitFetchError::Refused(m) => package_err(m, true),
                            GitFetchError::Fetch(m) => package_err(m, false),
                            GitFetchError::NotCached(message) => PrefetchError::OfflineGit {
                                lockfile: path.to_owned(),
                                line: p.line,
                                key: crate::redact::text(&p.key),
                                message,
                            },
                        })?;
                (TarballSource::Bytes(bytes.into()), false)
            }
        })
    }
}

/// Registry-like sources, fetched into the tarball cache.
fn is_downloaded(p: &PlannedPackage) -> bool {
    matches!(
        p.source,
        Source::Url(_) | Source::GitHostedTarball(_) | Source::RuntimeArchive { .. }
    )
}

/// The packages whose tarball is a file already (a cached registry tarball, a `file:`
/// tarball), largest first: their index and file.
fn at_hand(planned: &Planned, hits: &[Option<Hit>]) -> Vec<(usize, PathBuf)> {
    let mut at_hand: Vec<(u64, usize, PathBuf)> = Vec::new();
    for (index, p) in planned.packages.iter().enumerate() {
        match (&p.source, &hits[index]) {
            (Source::Url(_), Some(hit)) => at_hand.push((hit.len, index, hit.path.clone())),
            (Source::LocalFile { path, .. }, _) => {
                let len = fs::metadata(path).map_or(0, |m| m.len());
                at_hand.push((len, index, path.clone()));
            }
            _ => {}
        }
    }
    at_hand.sort_by_key(|&(len, index, _)| (std::cmp::Reverse(len), index));
    at_hand.into_iter().map(|(_, i, file)| (i, file)).collect()
}

fn request(p: &PlannedPackage) -> TarballRequest {
    TarballRequest {
        key: format!("line {}: {}", p.line, p.key),
        url: url_of(p).to_owned(),
        integrity: p.integrity.clone(),
        also_verify: Vec::new(),
        cache_key: p
            .integrity
            .as_ref()
            .map(Integrity::cache_key)
            .unwrap_or_default(),
    }
}

fn url_of(p: &PlannedPackage) -> &str {
    match &p.source {
        Source::Url(url) | Source::GitHostedTarball(url) | Source::RuntimeArchive { url, .. } => {
            url
        }
        Source::LocalFile { relative, .. } => relative,
        Source::GitRepo { repo, .. } => repo,
    }
}

/// Parses the lockfile, refuses what pnpm (10 or 11, `rules`) refuses under
/// `--frozen-lockfile`, and plans the packages an install filtered by `workspaces`
/// (pnpmWorkspaces; empty: every project) fetches; reads `file:` tarballs (to verify
/// them) and, with `workspaces`, the projects' package.json names, nothing else.
pub fn check_and_plan(
    path: &Path,
    lock_bytes: &[u8],
    rules: PnpmRules,
    workspaces: &[String],
) -> Result<Planned, PrefetchError> {
    let text = std::str::from_utf8(lock_bytes).map_err(|e| PrefetchError::NotUtf8 {
        path: path.to_owned(),
        offset: e.valid_up_to(),
    })?;
    let lock = lockfile::parse(text).map_err(|error| PrefetchError::Lockfile {
        path: path.to_owned(),
        error,
    })?;
    let lines = LineIndex::new(text);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let config = ProjectConfig::load(dir)?;
    if let Some(pnpmfile) = [".pnpmfile.cjs", ".pnpmfile.mjs"]
        .iter()
        .map(|f| dir.join(f))
        .find(|f| f.exists())
    {
        return Err(ConfigError::Invalid {
            path: pnpmfile,
            message: "pnpm would run this pnpmfile's hooks; update-pnpm-hash does not emulate them, so it computes no hash for this project".to_owned(),
        }
        .into());
    }
    frozen_check::check_as(rules, path, &lock, &lines, &config)?;
    let importers = if workspaces.is_empty() {
        None
    } else {
        // The whole project checks as it does unfiltered: pnpm's frozen check covers
        // every project (`tryFrozenInstall` over `ctx.projects`), selected or not.
        let mut workspace_peer = false;
        let names = lock
            .importers
            .keys()
            .map(|id| {
                let manifest = project_config::read_json(&dir.join(id).join("package.json"))?;
                let field = |f: &str| manifest.as_ref().and_then(|m| m.get(f)).cloned();
                workspace_peer |= field("peerDependencies")
                    .and_then(|p| p.as_object().cloned())
                    .is_some_and(|p| {
                        p.values()
                            .any(|v| v.as_str().is_some_and(|v| v.starts_with("workspace:")))
                    });
                let name = field("name").and_then(|n| n.as_str().map(str::to_owned));
                Ok((id.clone(), name))
            })
            .collect::<Result<_, ConfigError>>()?;
        // pnpm's graph has an edge for a `workspace:` peer dependency, which the lockfile
        // records (as `link:`) only when autoInstallPeers installs it.
        if let Some(walk) = workspaces.iter().find(|w| w.ends_with("...")) {
            if workspace_peer && !config.auto_install_peers {
                return Err(FilterError::Unsupported {
                    selector: walk.clone(),
                    form: "walks workspace dependencies while autoInstallPeers is off and a project has a `workspace:` peer dependency (an edge of pnpm's graph the lockfile does not show)",
                    core: Some(walk.trim_end_matches("...").to_owned()),
                }
                .into());
            }
        }
        Some(workspace_filter::select(path, &lock, &names, workspaces)?)
    };
    let packages =
        plan::plan_selected(path, &lock, &lines, &config.registries, importers.as_ref())?;
    let local_digests = packages
        .iter()
        .map(|p| local_digest(path, p))
        .collect::<Result<_, _>>()?;
    let patches = match rules {
        PnpmRules::V10 => BTreeMap::new(),
        PnpmRules::V11 => patches(&config, &packages)?,
    };
    Ok(Planned {
        packages,
        local_digests,
        patches,
    })
}

/// The `patchedDependencies` patches by the pkgId they apply to: a `name@version` key
/// names one version, a bare `name` every version (pnpm's patch selectors); ranges are
/// refused.
fn patches(
    config: &ProjectConfig,
    packages: &[PlannedPackage],
) -> Result<BTreeMap<String, PackagePatch>, ConfigError> {
    let mut out = BTreeMap::new();
    for (key, rel) in &config.patched_dependencies {
        let path = config.dir.join(rel);
        let invalid = |message: String| ConfigError::Invalid {
            path: path.clone(),
            message,
        };
        let bytes = fs::read(&path)
            .map_err(|e| invalid(format!("cannot read the patch for {key}: {e}")))?;
        let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
        let hash = Sha256Hash(Sha256::digest(text.as_bytes()).into()).to_hex();
        let files = patch_file::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| {
            invalid(format!(
                "the patch for {key} cannot be parsed as pnpm parses it: {e}"
            ))
        })?;
        let (name, version) = match key.get(1..).and_then(|k| k.find('@')) {
            Some(at) => (&key[..at + 1], Some(&key[at + 2..])),
            None => (key.as_str(), None),
        };
        if version.is_some_and(|v| {
            !v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
        }) {
            return Err(invalid(format!("patchedDependencies key {key:?} is a version range; update-pnpm-hash applies patches to exact versions or every version of a name only")));
        }
        for p in packages {
            let matches = match version {
                Some(v) => p.pkg_id == format!("{name}@{v}"),
                None => p.pkg_id.rsplit_once('@').is_some_and(|(n, _)| n == name),
            };
            if matches {
                let patch = PackagePatch {
                    hash: hash.clone(),
                    files: files.clone(),
                };
                out.insert(p.pkg_id.clone(), patch);
            }
        }
    }
    Ok(out)
}

/// A `file:` tarball's SHA-512, checked against the lockfile's integrity when it has one.
fn local_digest(lock: &Path, p: &PlannedPackage) -> Result<Option<[u8; 64]>, PrefetchError> {
    let Source::LocalFile { path, relative } = &p.source else {
        return Ok(None);
    };
    let refuse = |message: String| PrefetchError::LocalTarball {
        lockfile: lock.to_owned(),
        line: p.line,
        key: p.key.clone(),
        message,
    };
    let bytes = fs::read(path).map_err(|e| refuse(format!("cannot read {relative}: {e}")))?;
    let digest: [u8; 64] = Sha512::digest(&bytes).into();
    if let Some(i) = &p.integrity {
        let mut hasher = Hasher::new(i.algorithm);
        hasher.update(&bytes);
        let actual = hasher.finish();
        if !i.matches(i.algorithm, &actual) {
            return Err(refuse(format!(
                "{relative} does not match the lockfile's integrity {}; if the tarball changed on purpose, run `pnpm install` to update pnpm-lock.yaml",
                i
            )));
        }
    }
    Ok(Some(digest))
}

/// [`check_and_plan`] for `profile` (its pnpm's rules, its workspace selection), and a
/// patched project refused before anything is fetched when the profile lacks `--node`.
fn plan_for(path: &Path, lock_bytes: &[u8], profile: &Profile) -> Result<Planned, PrefetchError> {
    let planned = check_and_plan(
        path,
        lock_bytes,
        profile.frozen_rules(),
        &profile.workspaces,
    )?;
    require_node(path, profile, &planned)?;
    Ok(planned)
}

/// Refuses, before anything is fetched, a patched project whose profile lacks `--node`.
fn require_node(path: &Path, profile: &Profile, planned: &Planned) -> Result<(), PrefetchError> {
    match planned.patches.keys().next() {
        Some(patched) => profile
            .require_node(patched)
            .map_err(|error| PrefetchError::Node {
                lockfile: path.to_owned(),
                error,
            }),
        None => Ok(()),
    }
}

/// Everything that fixes `$out`: the profile, the lockfile bytes, and each package's
/// id and content digest (the lockfile's integrity, or a local tarball's SHA-512).
fn memo_key(lock_bytes: &[u8], profile: &Profile, planned: &Planned) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"pnpm-nar-memo-v1");
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(profile.fetcher_version.to_string().as_bytes());
    field(profile.pnpm_verified.as_bytes());
    if let Some(node) = profile.node {
        field(format!("node{node}").as_bytes());
    }
    // Absent for a plain install, so its remembered hashes stay valid.
    for selector in &profile.workspaces {
        field(b"workspace");
        field(selector.as_bytes());
    }
    field(lock_bytes);
    for (p, local) in planned.packages.iter().zip(&planned.local_digests) {
        field(p.pkg_id.as_bytes());
        field(
            p.integrity
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
                .as_bytes(),
        );
        field(local.as_ref().map_or(&[][..], |d| &d[..]));
    }
    Sha256Hash(h.finalize().into()).to_hex()
}

/// The store as `tar --zstd` leaves it in `$out/pnpm-store.tar.zst`, into `out` (pass 2).
fn write_store_archive(lock: &Path, store: &Store, out: &mut File) -> Result<(), PrefetchError> {
    let store_err = |source| PrefetchError::Store {
        lockfile: lock.to_owned(),
        source,
    };
    let threads = threads();
    let io_err = |source| PrefetchError::Io {
        path: PathBuf::from(STORE_ARCHIVE),
        source,
    };
    let zstd = zstd_cli::Encoder::new(BufWriter::new(&mut *out)).map_err(io_err)?;
    let mut tar = TarSink(PaxTarWriter::new(zstd, SOURCE_DATE_EPOCH).map_err(io_err)?);
    store
        .write(&mut tar, MEMORY_BUDGET, threads)
        .map_err(store_err)?;
    let zstd = tar.0.finish().map_err(io_err)?;
    zstd.finish().and_then(|mut w| w.flush()).map_err(io_err)?;
    Ok(())
}

/// `1.2 GB`, `35 MB`: sizes for the progress line.
fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1} GB", n as f64 / 1e9),
        n => format!("{:.0} MB", n as f64 / 1e6),
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The store's entries as GNU tar members (`.`, `./v10`, …).
struct TarSink<W: Write>(PaxTarWriter<W>);

impl<W: Write> StoreSink for TarSink<W> {
    fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.0.dir(member(path), mode)
    }

    fn file(&mut self, path: &str, mode: u32, size: u64, data: &mut dyn Read) -> io::Result<()> {
        self.0.file(member(path), mode, size, data)
    }
}

/// The store names members `./v10/…` as tar does; the writer adds the `./` itself.
fn member(path: &str) -> &str {
    path.strip_prefix("./").unwrap_or(path)
}

/// The NAR hash of `$out`: `.fetcher-version` and the archive in `archive`.
fn out_nar_hash(profile: &Profile, archive: &mut File) -> io::Result<(Sha256Hash, u64)> {
    let version = format!("{}\n", profile.fetcher_version);
    let len = archive.seek(io::SeekFrom::End(0))?;
    archive.rewind()?;
    let mut nar = NarWriter::new(HashingWriter::default())?;
    nar.start_directory()?;
    nar.start_entry(FETCHER_VERSION_FILE.as_bytes())?;
    nar.regular(false, version.len() as u64, version.as_bytes())?;
    nar.end_entry()?;
    nar.start_entry(STORE_ARCHIVE.as_bytes())?;
    nar.regular_buffered(false, len, io::BufReader::with_capacity(1 << 20, archive))?;
    nar.end_entry()?;
    nar.end_directory()?;
    Ok(nar.into_inner().finish())
}

fn empty_sibling_dir(dir: &Path) -> io::Result<tempfile::TempDir> {
    if dir.exists() && fs::read_dir(dir)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not empty; remove it or choose another directory",
        ));
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".materialize-")
        .tempdir_in(parent)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered hash is never reused for another pnpmWorkspaces selection, even one
    /// that plans the same packages.
    #[test]
    fn the_memo_key_names_the_workspace_selection() {
        let planned = Planned {
            packages: Vec::new(),
            local_digests: Vec::new(),
            patches: BTreeMap::new(),
        };
        let plain = Profile::resolve(3, "10", None).unwrap();
        let key = |p: &Profile| memo_key(b"lock", p, &planned);
        let one = plain.clone().with_workspaces(vec!["a".to_owned()]).unwrap();
        let other = plain
            .clone()
            .with_workspaces(vec!["./a".to_owned()])
            .unwrap();
        let two = plain
            .clone()
            .with_workspaces(vec!["a".to_owned(), "b".to_owned()])
            .unwrap();
        let keys = [key(&plain), key(&one), key(&other), key(&two)];
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "{keys:?}");
        }
        assert_eq!(
            key(&plain),
            key(&plain.clone().with_workspaces(Vec::new()).unwrap())
        );
    }
}

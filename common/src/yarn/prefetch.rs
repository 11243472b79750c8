//! fetchYarnDeps, natively: a lockfile in, the output's NAR hash out.
//!
//! Plan (parse + model), make sure every file is in the tarball cache (downloading or
//! cloning only what is missing), then stream the NAR of the would-be output directory
//! from the cached files straight into SHA-256. Nothing is copied and Nix is not needed.

use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use thiserror::Error;

use crate::fetch::tarball_cache::{Hit, TarballCache};
use crate::fetch::tarball_fetch::{
    self, DownloadStats, FetchError, FetchOptions, FetchProgress, TarballRequest,
};
use crate::nix::nar::{HashingWriter, NarWriter};
use crate::nix::nix_hash::Sha256Hash;
use crate::yarn::dependency_source::Fetch;
use crate::yarn::git_source::{GitFetcher, GitSourceError};
use crate::yarn::nar_memo::NarMemo;
use crate::yarn::offline_cache::{CacheFile, ModelError, Note, OfflineCache, LOCKFILE_NAME};
use crate::yarn::yarn_lock::{self, ParseError};

#[derive(Debug, Clone)]
pub struct PrefetchOptions {
    pub cache_dir: PathBuf,
    pub fetch: FetchOptions,
    /// Use the cache only; a miss is an error listing what is missing.
    pub offline: bool,
    /// Ignore remembered NAR hashes ([`NarMemo`]): verify every file and hash again.
    pub recompute: bool,
}

#[derive(Debug, Error)]
pub enum PrefetchError {
    #[error("{}:{}:{}: {}", path.display(), error.line, error.col, error.kind)]
    Lockfile { path: PathBuf, error: ParseError },
    #[error("{}: not UTF-8 (byte {offset}); a yarn.lock is UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{}: {error}", path.display())]
    Model { path: PathBuf, error: ModelError },
    #[error("{}: {} of {total} files are not in the tarball cache and --offline forbids fetching them:\n{}\nrun without --offline once to fill the cache", lockfile.display(), missing.len(), list(missing))]
    Offline {
        lockfile: PathBuf,
        missing: Vec<String>,
        total: usize,
    },
    #[error("{}: {} download(s) failed:\n{}", lockfile.display(), errors.len(), list(&errors.iter().map(ToString::to_string).collect::<Vec<_>>()))]
    Fetch {
        lockfile: PathBuf,
        errors: Vec<FetchError>,
    },
    #[error("{}: line {line}: {key}: {source}", lockfile.display())]
    Git {
        lockfile: PathBuf,
        line: usize,
        key: String,
        source: GitSourceError,
    },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl PrefetchError {
    /// The lockfile itself is wrong (exit 2), as opposed to the network or cache (exit 3).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Lockfile { .. } | Self::NotUtf8 { .. } | Self::Model { .. }
        )
    }
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut out: Vec<String> = items.iter().take(SHOWN).map(|i| format!("  {i}")).collect();
    if items.len() > SHOWN {
        out.push(format!("  … and {} more", items.len() - SHOWN));
    }
    out.join("\n")
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct Prefetched {
    pub hash: Sha256Hash,
    pub nar_size: u64,
    /// Files in the output directory besides `yarn.lock`.
    pub files: usize,
    pub downloaded: DownloadStats,
    pub git_cloned: usize,
    pub notes: Vec<Note>,
    /// The hash was remembered from an earlier computation over the same inputs.
    pub from_memo: bool,
}

/// A planned output: the model and, for each of its files, the cache entry holding it.
pub struct Resolved {
    pub model: OfflineCache,
    hits: Vec<Hit>,
    pub downloaded: DownloadStats,
    pub git_cloned: usize,
}

impl Resolved {
    /// Streams the output's NAR into SHA-256 and reports the run.
    fn hashed(self, lock_bytes: &[u8]) -> Result<Prefetched, PrefetchError> {
        let (hash, nar_size) = nar_hash(&self, lock_bytes)?;
        Ok(Prefetched {
            hash,
            nar_size,
            files: self.model.files.len(),
            downloaded: self.downloaded,
            git_cloned: self.git_cloned,
            notes: self.model.notes,
            from_memo: false,
        })
    }
}

pub struct Prefetcher {
    cache: TarballCache,
    opts: PrefetchOptions,
}

impl Prefetcher {
    pub fn new(opts: PrefetchOptions) -> Result<Self, PrefetchError> {
        let cache = TarballCache::open(&opts.cache_dir).map_err(|source| PrefetchError::Io {
            path: opts.cache_dir.clone(),
            source,
        })?;
        Ok(Self { cache, opts })
    }

    /// The fetchYarnDeps hash of `lock_bytes` (read from `path`, named in errors).
    pub fn hash(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Prefetched, PrefetchError> {
        let model = plan(path, lock_bytes)?;
        let memo = NarMemo::new(self.cache.root());
        let key = NarMemo::key(lock_bytes, &model);
        let remembered = key.as_deref().and_then(|k| memo.get(k));
        if let (Some((hash, nar_size)), false) = (remembered, self.opts.recompute) {
            return Ok(Prefetched {
                hash,
                nar_size,
                files: model.files.len(),
                downloaded: DownloadStats::default(),
                git_cloned: 0,
                notes: model.notes,
                from_memo: true,
            });
        }
        let prefetched = self.fill(path, model, progress)?.hashed(lock_bytes)?;
        if let Some(key) = key {
            // Only an optimisation: a read-only cache must not fail the run.
            let _ = memo.put(&key, &prefetched.hash, prefetched.nar_size);
        }
        Ok(prefetched)
    }

    /// Parses, models and fills the cache: every file of the output, at hand.
    pub fn resolve(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Resolved, PrefetchError> {
        self.fill(path, plan(path, lock_bytes)?, progress)
    }

    /// Looks every file of `model` up in the cache and fetches what is missing.
    fn fill(
        &self,
        path: &Path,
        model: OfflineCache,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Resolved, PrefetchError> {
        let io_err = |source| PrefetchError::Io {
            path: self.cache.root().to_owned(),
            source,
        };
        let mut hits: Vec<Option<Hit>> = model
            .files
            .iter()
            .map(|f| self.cache.lookup(&f.cache_key(), f.integrity.as_ref()))
            .collect::<io::Result<_>>()
            .map_err(io_err)?;
        let missing: Vec<&CacheFile> = model
            .files
            .iter()
            .zip(&hits)
            .filter(|(_, h)| h.is_none())
            .map(|(f, _)| f)
            .collect();
        if !missing.is_empty() && self.opts.offline {
            return Err(PrefetchError::Offline {
                lockfile: path.to_owned(),
                missing: missing
                    .iter()
                    .map(|f| format!("line {}: {} ({})", f.line, f.key, f.url()))
                    .collect(),
                total: model.files.len(),
            });
        }
        let (downloaded, git_cloned) = self.fetch_missing(path, &missing, progress)?;
        for (file, hit) in model.files.iter().zip(hits.iter_mut()) {
            if hit.is_none() {
                *hit = self
                    .cache
                    .lookup(&file.cache_key(), file.integrity.as_ref())
                    .map_err(io_err)?;
            }
        }
        let hits = hits
            .into_iter()
            .zip(&model.files)
            .map(|(h, f)| {
                h.ok_or_else(|| PrefetchError::Io {
                    path: self.cache.root().to_owned(),
                    source: io::Error::other(format!(
                        "{} vanished from the cache while in use",
                        f.key
                    )),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Resolved {
            model,
            hits,
            downloaded,
            git_cloned,
        })
    }

    fn fetch_missing(
        &self,
        path: &Path,
        missing: &[&CacheFile],
        progress: Arc<dyn FetchProgress>,
    ) -> Result<(DownloadStats, usize), PrefetchError> {
        let (git, tarballs): (Vec<&CacheFile>, Vec<&CacheFile>) = missing
            .iter()
            .partition(|f| matches!(f.fetch, Fetch::Git { .. }));
        let requests = tarballs
            .iter()
            .map(|f| TarballRequest {
                key: format!("line {}: {}", f.line, f.key),
                url: f.url().to_owned(),
                integrity: f.integrity.clone(),
                cache_key: f.cache_key(),
            })
            .collect();
        let stats = tarball_fetch::download_all(requests, &self.cache, &self.opts.fetch, progress)
            .map_err(|errors| PrefetchError::Fetch {
                lockfile: path.to_owned(),
                errors,
            })?;
        if !git.is_empty() {
            let git_err = |file: &CacheFile, source| PrefetchError::Git {
                lockfile: path.to_owned(),
                line: file.line,
                key: file.key.clone(),
                source,
            };
            let fetcher = GitFetcher::from_default_config().map_err(|e| git_err(git[0], e))?;
            for file in &git {
                let Fetch::Git { url, rev } = &file.fetch else {
                    unreachable!("partitioned on Fetch::Git")
                };
                let bytes = fetcher.tarball(url, rev).map_err(|e| git_err(file, e))?;
                self.store_git(file, &bytes)?;
            }
        }
        Ok((stats, git.len()))
    }

    fn store_git(&self, file: &CacheFile, bytes: &[u8]) -> Result<(), PrefetchError> {
        self.cache
            .insert_bytes(&file.cache_key(), bytes)
            .map_err(|source| PrefetchError::Io {
                path: self.cache.root().to_owned(),
                source,
            })?;
        Ok(())
    }

    /// Writes the output directory itself to `dir` (which must not exist, or be empty):
    /// built in a sibling temp dir and renamed into place, so it is whole or absent.
    pub fn materialize(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        dir: &Path,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Prefetched, PrefetchError> {
        let resolved = self.resolve(path, lock_bytes, progress)?;
        write_directory(&resolved, lock_bytes, dir).map_err(|source| PrefetchError::Io {
            path: dir.to_owned(),
            source,
        })?;
        resolved.hashed(lock_bytes)
    }
}

/// Parses and models a lockfile, without touching cache or network.
pub fn plan(path: &Path, lock_bytes: &[u8]) -> Result<OfflineCache, PrefetchError> {
    let text = std::str::from_utf8(lock_bytes).map_err(|e| PrefetchError::NotUtf8 {
        path: path.to_owned(),
        offset: e.valid_up_to(),
    })?;
    let lock = yarn_lock::parse(text).map_err(|error| PrefetchError::Lockfile {
        path: path.to_owned(),
        error,
    })?;
    OfflineCache::from_lockfile(&lock).map_err(|error| PrefetchError::Model {
        path: path.to_owned(),
        error,
    })
}

/// The output's entries in NAR order: the files and the lockfile copy, by name bytes.
fn entries(resolved: &Resolved) -> Vec<(&str, Option<&Hit>)> {
    let mut entries: Vec<(&str, Option<&Hit>)> = resolved
        .model
        .files
        .iter()
        .zip(&resolved.hits)
        .map(|(f, h)| (f.name.as_str(), Some(h)))
        .collect();
    entries.push((LOCKFILE_NAME, None));
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

/// Streams the output's NAR into SHA-256. One sequential SHA-256 is the floor, so a
/// second thread reads the files ahead and the hashing thread only hashes.
fn nar_hash(resolved: &Resolved, lock_bytes: &[u8]) -> Result<(Sha256Hash, u64), PrefetchError> {
    let entries = entries(resolved);
    let (chunks, received) = mpsc::sync_channel(READ_AHEAD);
    let (recycle, recycled) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| read_ahead(&entries, chunks, recycled));
        let mut reader = ChunkReader {
            chunks: received,
            recycle,
            current: Vec::new(),
            filled: 0,
            pos: 0,
        };
        let mut nar = NarWriter::new(HashingWriter::default()).map_err(no_path)?;
        nar.start_directory().map_err(no_path)?;
        for (name, hit) in &entries {
            let written = (|| {
                nar.start_entry(name.as_bytes())?;
                match hit {
                    Some(hit) => nar.regular_buffered(false, hit.len, &mut reader)?,
                    None => nar.regular(false, lock_bytes.len() as u64, lock_bytes)?,
                }
                nar.end_entry()
            })();
            written.map_err(|source| PrefetchError::Io {
                path: hit.map_or_else(|| PathBuf::from(LOCKFILE_NAME), |h| h.path.clone()),
                source,
            })?;
        }
        nar.end_directory().map_err(no_path)?;
        Ok(nar.into_inner().finish())
    })
}

const READ_AHEAD: usize = 8;
const CHUNK: usize = 256 << 10;

fn no_path(source: io::Error) -> PrefetchError {
    PrefetchError::Io {
        path: PathBuf::new(),
        source,
    }
}

/// What the reading thread sends: a file's bytes in chunks (a full-size buffer and
/// how much of it is filled: resizing would zero it on every read), then its end.
enum Chunk {
    Data(Vec<u8>, usize),
    End,
    Failed(io::Error),
}

fn read_ahead(
    entries: &[(&str, Option<&Hit>)],
    out: SyncSender<Chunk>,
    recycled: Receiver<Vec<u8>>,
) {
    for hit in entries.iter().filter_map(|(_, h)| *h) {
        let mut file = match File::open(&hit.path) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.send(Chunk::Failed(e));
                return;
            }
        };
        loop {
            let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if out.send(Chunk::Data(buf, n)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = out.send(Chunk::Failed(e));
                    return;
                }
            }
        }
        if out.send(Chunk::End).is_err() {
            return;
        }
    }
}

/// One file at a time from the reading thread, as a `BufRead` that ends at the file's
/// end. Spent buffers go back to be refilled.
struct ChunkReader {
    chunks: Receiver<Chunk>,
    recycle: mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    filled: usize,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            match self.chunks.recv() {
                Ok(Chunk::Data(buf, filled)) => {
                    let spent = std::mem::replace(&mut self.current, buf);
                    if !spent.is_empty() {
                        let _ = self.recycle.send(spent);
                    }
                    (self.filled, self.pos) = (filled, 0);
                }
                Ok(Chunk::End) => return Ok(&[]),
                Ok(Chunk::Failed(e)) => return Err(e),
                Err(_) => return Err(io::Error::other("the reading thread stopped")),
            }
        }
        Ok(&self.current[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

fn write_directory(resolved: &Resolved, lock_bytes: &[u8], dir: &Path) -> io::Result<()> {
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
    for (name, hit) in entries(resolved) {
        let target = tmp.path().join(name);
        match hit {
            Some(hit) => {
                fs::copy(&hit.path, &target)?;
            }
            None => File::create(&target)?.write_all(lock_bytes)?,
        }
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644))?;
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755))?;
    // rename(2) replaces an empty directory, so a failure leaves `dir` as it was.
    fs::rename(tmp.path(), dir)?;
    // Renamed away: nothing left for the guard to clean up.
    let _ = tmp.keep();
    Ok(())
}

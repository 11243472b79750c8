//! fetchYarnDeps, natively: a lockfile in, the output's NAR hash out.
//!
//! Plan (parse + model), make sure every file is in the tarball cache (downloading or
//! cloning only what is missing), then stream the NAR of the would-be output directory
//! from the cached files straight into SHA-256. Nothing is copied and Nix is not needed.
//! With `recompute`, every file is checked against its digest while it streams (no
//! extra read); a file that fails is removed, fetched again, and the pass repeated.

use std::fs::{self, File};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;

use thiserror::Error;

use crate::fetch::integrity::{Hasher, Integrity};
use crate::fetch::nar_memo::NarMemo;
use crate::fetch::tarball_cache::{self, CacheError, Hit, TarballCache, Trust};
use crate::fetch::tarball_fetch::{
    self, listing, DownloadStats, FetchError, FetchOptions, FetchProgress, TarballRequest,
};
use crate::nix::nar::{HashingWriter, NarWriter};
use crate::nix::nix_hash::Sha256Hash;
use crate::redact;
use crate::yarn::dependency_source::Fetch;
use crate::yarn::git_source::{GitFetcher, GitSourceError};
use crate::yarn::memo_key::memo_key;
use crate::yarn::offline_cache::{CacheFile, ModelError, Note, OfflineCache, LOCKFILE_NAME};
use crate::yarn::yarn_lock::{self, ParseError};

#[derive(Debug, Clone)]
pub struct PrefetchOptions {
    pub cache_dir: PathBuf,
    pub fetch: FetchOptions,
    /// Use the cache only; a miss is an error listing what is missing.
    pub offline: bool,
    /// Ignore remembered NAR hashes ([`NarMemo`]) and cache stamps: verify every byte of
    /// every file against its digest (fetching again what has none) and hash again.
    pub recompute: bool,
}

#[derive(Debug, Error)]
pub enum PrefetchError {
    #[error("{}:{}:{}: {}", path.display(), error.line, error.col, error.kind)]
    Lockfile { path: PathBuf, error: ParseError },
    /// `error` starts with its `line:col:`.
    #[error("{}:{error}", path.display())]
    Model { path: PathBuf, error: ModelError },
    #[error("{}: {} of {total} files are not in the tarball cache and --offline forbids fetching them:\n{}\nrun without --offline once to fill the cache", lockfile.display(), missing.len(), listing(missing))]
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
    // `error`, not `source`: its text is in the message already, and a source would make
    // the `{:#}` chain print it again (issue 11 item 6: the remote's failure three times).
    #[error("{}:{line}:1: {}: {}", lockfile.display(), redact::text(key), redact::text(&error.to_string()))]
    Git {
        lockfile: PathBuf,
        line: usize,
        key: String,
        error: GitSourceError,
    },
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error("{}: {reason}; remove it or choose another directory", path.display())]
    OutputDir { path: PathBuf, reason: &'static str },
}

impl From<CacheError> for PrefetchError {
    fn from(e: CacheError) -> Self {
        Self::Io {
            path: e.path,
            error: e.error,
        }
    }
}

impl PrefetchError {
    /// The lockfile itself is wrong (exit 2), as opposed to the network or cache (exit 3).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::Lockfile { .. } | Self::Model { .. } | Self::OutputDir { .. }
        )
    }
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
    /// Reports the run, with the NAR hash and size computed from it.
    fn hashed(self, (hash, nar_size): (Sha256Hash, u64)) -> Prefetched {
        Prefetched {
            hash,
            nar_size,
            files: self.model.files.len(),
            downloaded: self.downloaded,
            git_cloned: self.git_cloned,
            notes: self.model.notes,
            from_memo: false,
        }
    }
}

/// Why a pass over the cached files failed: entries that do not match their digests
/// (repairable: fetch them again), or anything else.
enum Damage {
    Corrupt(Vec<PathBuf>),
    Failed(PrefetchError),
}

impl<E: Into<PrefetchError>> From<E> for Damage {
    fn from(e: E) -> Self {
        Damage::Failed(e.into())
    }
}

pub struct Prefetcher {
    cache: TarballCache,
    opts: PrefetchOptions,
}

impl Prefetcher {
    /// Creates nothing on disk: the cache appears when something is written to it.
    pub fn new(opts: PrefetchOptions) -> Result<Self, PrefetchError> {
        let cache = TarballCache::open(&opts.cache_dir);
        Ok(Self { cache, opts })
    }

    fn trust(&self) -> Trust {
        if self.opts.recompute {
            Trust::Digest
        } else {
            Trust::Stamp
        }
    }

    /// The fetchYarnDeps hash of `lock_bytes` (read from `path`, named in errors).
    pub fn hash(
        &self,
        path: &Path,
        lock_bytes: &[u8],
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Prefetched, PrefetchError> {
        let model = plan(path, lock_bytes)?;
        let decoded = yarn_lock::decode(lock_bytes);
        let lock_bytes = decoded.text.as_bytes();
        let memo = NarMemo::new(self.cache.root());
        let key = memo_key(lock_bytes, &model);
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
        let verify = self.opts.recompute;
        let (resolved, nar) =
            self.repairing(path, model, progress, |r| nar_hash(r, lock_bytes, verify))?;
        let prefetched = resolved.hashed(nar);
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

    /// Fills the cache and runs `pass` over the files. Entries `pass` finds corrupt are
    /// removed and fetched again, once: failing twice means the disk or the cache
    /// itself is broken, and that is an error naming the entry.
    fn repairing<T>(
        &self,
        path: &Path,
        model: OfflineCache,
        progress: Arc<dyn FetchProgress>,
        mut pass: impl FnMut(&Resolved) -> Result<T, Damage>,
    ) -> Result<(Resolved, T), PrefetchError> {
        let mut resolved = self.fill(path, model, progress.clone())?;
        let mut repaired = false;
        loop {
            match pass(&resolved) {
                Ok(t) => return Ok((resolved, t)),
                Err(Damage::Failed(e)) => return Err(e),
                Err(Damage::Corrupt(bad)) if repaired => {
                    return Err(PrefetchError::Io {
                        path: bad[0].clone(),
                        error: io::Error::new(
                            io::ErrorKind::InvalidData,
                            "does not match its digest, even fetched again; check the disk",
                        ),
                    })
                }
                Err(Damage::Corrupt(bad)) => {
                    for entry in &bad {
                        self.cache.discard(entry)?;
                    }
                    let before = (resolved.downloaded, resolved.git_cloned);
                    resolved = self.fill(path, resolved.model, progress.clone())?;
                    resolved.downloaded.files += before.0.files;
                    resolved.downloaded.bytes += before.0.bytes;
                    resolved.git_cloned += before.1;
                    repaired = true;
                }
            }
        }
    }

    /// Looks every file of `model` up in the cache and fetches what is missing.
    fn fill(
        &self,
        path: &Path,
        model: OfflineCache,
        progress: Arc<dyn FetchProgress>,
    ) -> Result<Resolved, PrefetchError> {
        // Housekeeping only: a cache we cannot clean is still usable.
        let _ = self.cache.sweep_temp_files();
        let trust = self.trust();
        let mut hits: Vec<Option<Hit>> = model
            .files
            .iter()
            .map(|f| {
                self.cache
                    .lookup(&f.cache_key(), f.integrity.as_ref(), trust)
            })
            .collect::<Result<_, _>>()?;
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
                    .map(|f| {
                        let (key, url) = (redact::text(&f.key), redact::url(f.url()));
                        format!("line {}: {key} ({url})", f.line)
                    })
                    .collect(),
                total: model.files.len(),
            });
        }
        let (downloaded, git_cloned) = self.fetch_missing(path, &missing, progress)?;
        for (file, hit) in model.files.iter().zip(hits.iter_mut()) {
            if hit.is_none() {
                // Just fetched and verified, so stamped: the stamp is the right trust.
                *hit =
                    self.cache
                        .lookup(&file.cache_key(), file.integrity.as_ref(), Trust::Stamp)?;
            }
        }
        let hits = hits
            .into_iter()
            .zip(&model.files)
            .map(|(h, f)| {
                h.ok_or_else(|| PrefetchError::Io {
                    path: self.cache.root().to_owned(),
                    error: io::Error::other(format!(
                        "{} (line {}) vanished from the cache while in use; run again",
                        f.key, f.line
                    )),
                })
            })
            .collect::<Result<Vec<Hit>, _>>()?;
        verify_other_digests(path, &model, &hits)?;
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
                also_verify: f.also_verify.clone(),
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
                error: source,
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
        self.cache.insert_bytes(&file.cache_key(), bytes)?;
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
        check_output_dir(dir)?;
        let model = plan(path, lock_bytes)?;
        let decoded = yarn_lock::decode(lock_bytes);
        let lock_bytes = decoded.text.as_bytes();
        // Copying reads every byte anyway, so the copy is always checked.
        let (resolved, ()) = self.repairing(path, model, progress, |r| {
            write_directory(r, lock_bytes, dir)
        })?;
        let nar = nar_hash(&resolved, lock_bytes, false).map_err(|d| match d {
            Damage::Failed(e) => e,
            Damage::Corrupt(bad) => PrefetchError::Io {
                path: bad[0].clone(),
                error: io::Error::other("changed while in use; run again"),
            },
        })?;
        Ok(resolved.hashed(nar))
    }
}

/// A file pinned by digests of several algorithms was verified, when cached, against
/// the strongest only; upstream checks each, so the others are checked here.
fn verify_other_digests(
    path: &Path,
    model: &OfflineCache,
    hits: &[Hit],
) -> Result<(), PrefetchError> {
    let mut errors = Vec::new();
    for (file, hit) in model.files.iter().zip(hits) {
        for digest in &file.also_verify {
            let ok = digest
                .verify_file(&hit.path)
                .map_err(|error| PrefetchError::Io {
                    path: hit.path.clone(),
                    error,
                })?;
            if !ok {
                errors.push(FetchError::Integrity {
                    key: format!("line {}: {}", file.line, file.key),
                    url: file.url().to_owned(),
                    expected: digest.to_string(),
                    actual: format!(
                        "other bytes (the ones matching {})",
                        file.integrity
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default()
                    ),
                });
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(PrefetchError::Fetch {
        lockfile: path.to_owned(),
        errors,
    })
}

/// Parses and models a lockfile, without touching cache or network. The bytes are
/// read as upstream reads them ([`yarn_lock::decode`]).
pub fn plan(path: &Path, lock_bytes: &[u8]) -> Result<OfflineCache, PrefetchError> {
    let decoded = yarn_lock::decode(lock_bytes);
    let lock = yarn_lock::parse(&decoded.text).map_err(|error| PrefetchError::Lockfile {
        path: path.to_owned(),
        error,
    })?;
    let mut model = OfflineCache::from_lockfile(&lock).map_err(|error| PrefetchError::Model {
        path: path.to_owned(),
        error,
    })?;
    if let Some(line) = decoded.first_invalid_line {
        model.notes.insert(0, Note::NotUtf8 { line });
    }
    Ok(model)
}

/// One file of the output in NAR order: its name, and its cache entry with the digest
/// to check it against (`None` for the lockfile copy).
type Entry<'a> = (&'a str, Option<(&'a Hit, Option<&'a Integrity>)>);

/// The output's entries in NAR order: the files and the lockfile copy, by name bytes.
fn entries(resolved: &Resolved) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = resolved
        .model
        .files
        .iter()
        .zip(&resolved.hits)
        .map(|(f, h)| (f.name.as_str(), Some((h, f.integrity.as_ref()))))
        .collect();
    entries.push((LOCKFILE_NAME, None));
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries
}

/// Streams the output's NAR into SHA-256. One sequential SHA-256 is the floor, so a
/// second thread reads the files ahead (and, with `verify`, checks each against its
/// digest) and the hashing thread only hashes.
fn nar_hash(
    resolved: &Resolved,
    lock_bytes: &[u8],
    verify: bool,
) -> Result<(Sha256Hash, u64), Damage> {
    let entries = entries(resolved);
    let (chunks, received) = mpsc::sync_channel(READ_AHEAD);
    let (recycle, recycled) = mpsc::channel();
    std::thread::scope(|scope| {
        let reader_thread = scope.spawn(|| read_ahead(&entries, verify, chunks, recycled));
        let mut reader = ChunkReader {
            chunks: received,
            recycle,
            current: Vec::new(),
            filled: 0,
            pos: 0,
        };
        let mut nar = NarWriter::new(HashingWriter::default()).map_err(no_path)?;
        nar.start_directory().map_err(no_path)?;
        for (name, entry) in &entries {
            let written = (|| {
                nar.start_entry(name.as_bytes())?;
                match entry {
                    Some((hit, _)) => nar.regular_buffered(false, hit.len, &mut reader)?,
                    None => nar.regular(false, lock_bytes.len() as u64, lock_bytes)?,
                }
                nar.end_entry()
            })();
            written.map_err(|error| PrefetchError::Io {
                path: entry.map_or_else(|| PathBuf::from(LOCKFILE_NAME), |(h, _)| h.path.clone()),
                error,
            })?;
        }
        nar.end_directory().map_err(no_path)?;
        let corrupt = reader_thread
            .join()
            .expect("the reading thread does not panic");
        if !corrupt.is_empty() {
            return Err(Damage::Corrupt(corrupt));
        }
        Ok(nar.into_inner().finish())
    })
}

const READ_AHEAD: usize = 8;
const CHUNK: usize = 256 << 10;

fn no_path(error: io::Error) -> PrefetchError {
    PrefetchError::Io {
        path: PathBuf::new(),
        error,
    }
}

/// What the reading thread sends: a file's bytes in chunks (a full-size buffer and
/// how much of it is filled: resizing would zero it on every read), then its end.
enum Chunk {
    Data(Vec<u8>, usize),
    End,
    Failed(io::Error),
}

/// Sends every entry's bytes in order; returns the entries that failed their digest
/// (with `verify`). Stops at the first read error, which it sends.
fn read_ahead(
    entries: &[Entry<'_>],
    verify: bool,
    out: SyncSender<Chunk>,
    recycled: Receiver<Vec<u8>>,
) -> Vec<PathBuf> {
    let mut corrupt = Vec::new();
    for (hit, integrity) in entries.iter().filter_map(|(_, e)| *e) {
        let mut file = match open_at_len(hit) {
            Ok(f) => f,
            Err(e) => {
                let _ = out.send(Chunk::Failed(e));
                return corrupt;
            }
        };
        let mut hasher = integrity
            .filter(|_| verify)
            .map(|i| Hasher::new(i.algorithm));
        loop {
            let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(h) = &mut hasher {
                        h.update(&buf[..n]);
                    }
                    if out.send(Chunk::Data(buf, n)).is_err() {
                        return corrupt;
                    }
                }
                Err(e) => {
                    let _ = out.send(Chunk::Failed(e));
                    return corrupt;
                }
            }
        }
        if let (Some(h), Some(i)) = (hasher, integrity) {
            if !i.matches(i.algorithm, &h.finish()) {
                corrupt.push(hit.path.clone());
            }
        }
        if out.send(Chunk::End).is_err() {
            return corrupt;
        }
    }
    corrupt
}

/// Opens a cache entry (never through a symlink) that must still be as long as it was
/// when looked up: the NAR has already announced that length.
fn open_at_len(hit: &Hit) -> io::Result<File> {
    let file = tarball_cache::open_entry(&hit.path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.len() != hit.len {
        return Err(io::Error::other(
            "changed while in use (another process wrote to the cache); run again",
        ));
    }
    Ok(file)
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

/// `--materialize DIR` writes only into a directory that is absent or empty; checked
/// before any work, and again when renaming into place.
fn check_output_dir(dir: &Path) -> Result<(), PrefetchError> {
    let reason = match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(PrefetchError::Io {
                path: dir.to_owned(),
                error,
            })
        }
        Ok(m) if !m.is_dir() => "exists and is not a directory",
        Ok(_) => match fs::read_dir(dir).map(|mut d| d.next().is_none()) {
            Ok(true) => return Ok(()),
            Ok(false) => "exists and is not empty",
            Err(error) => {
                return Err(PrefetchError::Io {
                    path: dir.to_owned(),
                    error,
                })
            }
        },
    };
    Err(PrefetchError::OutputDir {
        path: dir.to_owned(),
        reason,
    })
}

/// Builds the output directory in a sibling temp dir, checking each file against its
/// digest as it is copied, and renames it into place: whole or absent.
fn write_directory(resolved: &Resolved, lock_bytes: &[u8], dir: &Path) -> Result<(), Damage> {
    use std::os::unix::fs::PermissionsExt;
    check_output_dir(dir)?;
    let at = |error| PrefetchError::Io {
        path: dir.to_owned(),
        error,
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(parent).map_err(at)?;
    let tmp = tempfile::Builder::new()
        .prefix(".materialize-")
        .tempdir_in(parent)
        .map_err(at)?;
    let mut corrupt = Vec::new();
    for (name, entry) in entries(resolved) {
        let target = tmp.path().join(name);
        match entry {
            Some((hit, integrity)) => {
                if !copy_verified(hit, integrity, &target).map_err(|error| PrefetchError::Io {
                    path: hit.path.clone(),
                    error,
                })? {
                    corrupt.push(hit.path.clone());
                }
            }
            None => File::create(&target)
                .and_then(|mut f| f.write_all(lock_bytes))
                .map_err(at)?,
        }
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).map_err(at)?;
    }
    if !corrupt.is_empty() {
        return Err(Damage::Corrupt(corrupt));
    }
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).map_err(at)?;
    // rename(2) replaces an empty directory, so a failure leaves `dir` as it was.
    fs::rename(tmp.path(), dir).map_err(at)?;
    // Renamed away: nothing left for the guard to clean up.
    let _ = tmp.keep();
    Ok(())
}

/// Copies a cache entry to `target`, hashing it on the way; whether it matched.
fn copy_verified(hit: &Hit, integrity: Option<&Integrity>, target: &Path) -> io::Result<bool> {
    let mut from = open_at_len(hit)?;
    let mut to = File::create(target)?;
    let mut hasher = integrity.map(|i| Hasher::new(i.algorithm));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(h) = &mut hasher {
            h.update(&buf[..n]);
        }
        to.write_all(&buf[..n])?;
    }
    Ok(match (hasher, integrity) {
        (Some(h), Some(i)) => i.matches(i.algorithm, &h.finish()),
        _ => true,
    })
}

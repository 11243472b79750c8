//! The content-addressed tarball cache shared by every run and every lockfile.
//!
//! Entries are keyed by their verified digest (`sha512/<hex>`), so a lockfile change
//! downloads only new tarballs, and one tarball serves every project that pins it.
//! An entry appears only by rename from a complete, verified temp file beside it (same
//! directory: cross-directory renames serialise on a filesystem-wide lock; see
//! [`cache_temp`] for how killed runs' temp files are swept). Once the data is durable
//! the entry is stamped: its mtime is set to [`VERIFIED_MTIME`] plus its length in
//! nanoseconds, so the stamp also records how long the verified file was.
//!
//! How much an entry is trusted is the caller's choice ([`Trust`]). Normally a stamped
//! regular file of the stamped length is used as is: re-hashing every entry on every run
//! would cost more than the whole warm run. Anything else (unstamped: touched since, or
//! cut short by a crash before its sync; a different length; a symlink, directory or
//! other non-file) is re-verified or removed, and symlinks are never followed. With
//! [`Trust::Digest`] the stamp counts for nothing: the caller hashes every byte it reads.
//!
//! Durability is batched: a cold fill renames entries in unsynced, then [`TarballCache::
//! seal`] syncs the filesystem once and stamps them all. A crash before that leaves
//! unstamped entries, which the next run re-verifies. Nothing is created on disk until
//! something is written: reading a cache that does not exist finds nothing.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use filetime::FileTime;
use tempfile::NamedTempFile;
use thiserror::Error;

use crate::fetch::cache_temp;
use crate::fetch::integrity::{Hasher, Integrity};

/// The stamp's base: "verified when written" (2001-09-09T01:46:40Z), plus the length.
const VERIFIED_MTIME: i64 = 1_000_000_000;

/// Bump when the layout changes, so old caches are ignored rather than misread.
const LAYOUT: &str = "v1";

#[derive(Debug, Clone)]
pub struct TarballCache {
    root: PathBuf,
    /// Shard directories (`sha512`, `git`, …) known to exist as real directories.
    shards: Arc<Mutex<HashSet<PathBuf>>>,
}

/// How far [`TarballCache::lookup`] trusts an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A stamped regular file of the stamped length is taken as verified.
    Stamp,
    /// Nothing is taken as verified: the caller checks every byte against its digest
    /// while reading, and entries with no digest to check are fetched again.
    Digest,
}

/// A usable entry: its path and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub path: PathBuf,
    pub len: u64,
}

/// A cache operation failed; names the file or directory it failed on.
#[derive(Debug, Error)]
#[error("{}: {error}", path.display())]
pub struct CacheError {
    pub path: PathBuf,
    pub error: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |error| CacheError {
        path: path.to_owned(),
        error,
    }
}

impl TarballCache {
    /// `$XDG_CACHE_HOME/update-yarn-hash`, else `~/.cache/update-yarn-hash`.
    pub fn default_dir() -> PathBuf {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("update-yarn-hash")
    }

    /// The cache under `root`. Touches nothing on disk.
    pub fn open(root: &Path) -> Self {
        Self {
            root: root.join(LAYOUT),
            shards: Arc::default(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        let (kind, rest) = key.split_once('-').unwrap_or(("other", key));
        self.root.join(kind).join(rest)
    }

    /// A usable entry for `key`, or `None` when it must be fetched. A stamped entry is
    /// trusted as [`Trust`] says; an unstamped one is re-verified against `integrity`
    /// (and removed if it fails); one that is not a regular file is removed.
    pub fn lookup(
        &self,
        key: &str,
        integrity: Option<&Integrity>,
        trust: Trust,
    ) -> Result<Option<Hit>, CacheError> {
        let path = self.entry_path(key);
        if !self.is_real_shard(path.parent().expect("entry paths have a parent")) {
            return Ok(None); // replaced by a real directory when fetching into it
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            // ENOTDIR: the shard is not a directory; repaired when fetching into it.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(at(&path)(e)),
        };
        if !meta.file_type().is_file() {
            remove_any(&path).map_err(at(&path))?;
            return Ok(None);
        }
        let hit = Hit {
            len: meta.len(),
            path,
        };
        let stamped = FileTime::from_last_modification_time(&meta) == stamp_for(hit.len);
        match (trust, integrity) {
            (Trust::Stamp, _) if stamped => Ok(Some(hit)),
            (Trust::Digest, Some(_)) => Ok(Some(hit)),
            // Nothing to check it against: fetch again; the new entry replaces it.
            (_, None) => Ok(None),
            (Trust::Stamp, Some(i)) => {
                if verify_file(&hit.path, i).map_err(at(&hit.path))? {
                    self.seal(std::slice::from_ref(&hit))?;
                    Ok(Some(hit))
                } else {
                    self.discard(&hit.path)?;
                    Ok(None)
                }
            }
        }
    }

    /// Removes an entry found corrupt, so that it is fetched again.
    pub fn discard(&self, path: &Path) -> Result<(), CacheError> {
        remove_any(path).map_err(at(path))
    }

    /// A locked temp file beside where `key` will live, for a download in progress.
    /// Dropped without [`Self::commit`], it disappears: no partial entry is visible.
    pub fn temp_file(&self, key: &str) -> Result<NamedTempFile, CacheError> {
        let path = self.entry_path(key);
        let dir = path.parent().expect("entry paths have a parent");
        self.ensure_shard(dir)?;
        cache_temp::create_locked(dir).map_err(at(dir))
    }

    /// Whether `dir` is a real directory, not a symlink to one (looked at once per run).
    fn is_real_shard(&self, dir: &Path) -> bool {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        if shards.contains(dir) {
            return true;
        }
        let real = fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir());
        if real {
            shards.insert(dir.to_owned());
        }
        real
    }

    /// Makes `dir` a real directory once per run (mkdir is not free on a cold fill of
    /// thousands of entries), replacing a file or symlink found in its place.
    fn ensure_shard(&self, dir: &Path) -> Result<(), CacheError> {
        let mut shards = self.shards.lock().unwrap_or_else(|e| e.into_inner());
        if shards.contains(dir) {
            return Ok(());
        }
        match fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                fs::remove_file(dir).map_err(at(dir))?;
                fs::create_dir(dir).map_err(at(dir))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir).map_err(at(dir))?
            }
            Err(e) => return Err(at(dir)(e)),
        }
        shards.insert(dir.to_owned());
        Ok(())
    }

    /// Publishes a complete, already verified temp file as `key`. Not trusted without
    /// re-verification until [`Self::seal`] has made it durable and stamped it.
    pub fn commit(&self, tmp: NamedTempFile, key: &str) -> Result<Hit, CacheError> {
        let path = self.entry_path(key);
        let len = tmp.as_file().metadata().map_err(at(tmp.path()))?.len();
        tmp.persist(&path).map_err(|e| at(&path)(e.error))?;
        Ok(Hit { path, len })
    }

    /// Makes committed entries durable, then stamps them verified: one filesystem sync
    /// for many (where the platform has `syncfs`) rather than an fsync each.
    pub fn seal(&self, hits: &[Hit]) -> Result<(), CacheError> {
        match hits {
            [] => return Ok(()),
            [one] => open_entry(&one.path)
                .and_then(|f| f.sync_all())
                .map_err(at(&one.path))?,
            many => sync_all(&self.root, many)?,
        }
        for hit in hits {
            // Not following a symlink that replaced the entry meanwhile.
            filetime::set_symlink_file_times(&hit.path, FileTime::now(), stamp_for(hit.len))
                .map_err(at(&hit.path))?;
        }
        Ok(())
    }

    /// Stores bytes produced in memory (git tarballs) as `key`, sealed.
    pub fn insert_bytes(&self, key: &str, bytes: &[u8]) -> Result<Hit, CacheError> {
        use std::io::Write;
        let mut tmp = self.temp_file(key)?;
        tmp.write_all(bytes).map_err(at(tmp.path()))?;
        let hit = self.commit(tmp, key)?;
        self.seal(std::slice::from_ref(&hit))?;
        Ok(hit)
    }

    /// Removes the temp files that killed runs left behind (never a live run's).
    pub fn sweep_temp_files(&self) -> Result<usize, CacheError> {
        let shards = match fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(at(&self.root)(e)),
        };
        let mut removed = 0;
        for shard in shards {
            let shard = shard.map_err(at(&self.root))?;
            if shard.file_type().is_ok_and(|t| t.is_dir()) {
                removed += cache_temp::sweep(&shard.path()).map_err(at(&shard.path()))?;
            }
        }
        Ok(removed)
    }
}

/// Opens an entry for reading without following a symlink in its place.
pub fn open_entry(path: &Path) -> io::Result<File> {
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

fn stamp_for(len: u64) -> FileTime {
    const NANOS: u64 = 1_000_000_000;
    FileTime::from_unix_time(VERIFIED_MTIME + (len / NANOS) as i64, (len % NANOS) as u32)
}

#[cfg(target_os = "linux")]
fn sync_all(root: &Path, _hits: &[Hit]) -> Result<(), CacheError> {
    use std::os::fd::AsRawFd;
    let dir = File::open(root).map_err(at(root))?;
    // SAFETY: syncfs on a descriptor we own; no memory is involved.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(at(root)(io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sync_all(_root: &Path, hits: &[Hit]) -> Result<(), CacheError> {
    for hit in hits {
        open_entry(&hit.path)
            .and_then(|f| f.sync_all())
            .map_err(at(&hit.path))?;
    }
    Ok(())
}

fn verify_file(path: &Path, integrity: &Integrity) -> io::Result<bool> {
    let mut hasher = Hasher::new(integrity.algorithm);
    let mut file = open_entry(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(integrity.matches(integrity.algorithm, &hasher.finish()))
}

/// Removes whatever is at `path`: file, symlink (not its target) or directory tree.
fn remove_any(path: &Path) -> io::Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn integrity_of(data: &[u8]) -> Integrity {
        let mut h = Hasher::new(crate::fetch::integrity::Algorithm::Sha512);
        h.update(data);
        Integrity {
            algorithm: crate::fetch::integrity::Algorithm::Sha512,
            digest: h.finish(),
        }
    }

    #[test]
    fn committed_entries_are_hits_and_temp_files_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path());
        let i = integrity_of(b"tarball");
        let key = i.cache_key();
        assert_eq!(cache.lookup(&key, Some(&i), Trust::Stamp).unwrap(), None);
        {
            let mut tmp = cache.temp_file(&key).unwrap();
            tmp.write_all(b"partial").unwrap();
        }
        assert_eq!(
            fs::read_dir(cache.root().join("sha512")).unwrap().count(),
            0
        );
        let mut tmp = cache.temp_file(&key).unwrap();
        tmp.write_all(b"tarball").unwrap();
        let hit = cache.commit(tmp, &key).unwrap();
        let stamped = |h: &Hit| {
            FileTime::from_last_modification_time(&fs::metadata(&h.path).unwrap())
                == stamp_for(h.len)
        };
        assert!(!stamped(&hit), "not trusted before it is sealed");
        cache.seal(std::slice::from_ref(&hit)).unwrap();
        assert!(stamped(&hit));
        assert_eq!(
            cache.lookup(&key, Some(&i), Trust::Stamp).unwrap(),
            Some(hit)
        );
    }

    #[test]
    fn a_touched_entry_is_reverified_and_a_corrupt_one_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path());
        let i = integrity_of(b"good");
        let key = i.cache_key();
        let hit = cache.insert_bytes(&key, b"good").unwrap();

        // Touched but intact: re-verified, re-stamped, still a hit.
        filetime::set_file_mtime(&hit.path, FileTime::now()).unwrap();
        assert!(cache
            .lookup(&key, Some(&i), Trust::Stamp)
            .unwrap()
            .is_some());

        // Corrupted in place: discarded.
        fs::set_permissions(
            &hit.path,
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        fs::write(&hit.path, b"evil").unwrap();
        assert_eq!(cache.lookup(&key, Some(&i), Trust::Stamp).unwrap(), None);
        assert!(!hit.path.exists());
    }

    #[test]
    fn a_touched_entry_without_integrity_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path());
        let hit = cache.insert_bytes("git-abc", b"tar").unwrap();
        assert!(cache
            .lookup("git-abc", None, Trust::Stamp)
            .unwrap()
            .is_some());
        filetime::set_file_mtime(&hit.path, FileTime::now()).unwrap();
        assert_eq!(cache.lookup("git-abc", None, Trust::Stamp).unwrap(), None);
        assert!(
            hit.path.exists(),
            "not deleted: another run may be replacing it"
        );
    }

    fn writable(path: &Path) {
        fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }

    /// Restores the mtime an attacker (or a careless `cp -p`) would keep.
    fn restamp(path: &Path, like: FileTime) {
        filetime::set_symlink_file_times(path, FileTime::now(), like).unwrap();
    }

    #[test]
    fn a_truncated_entry_with_its_stamp_restored_is_reverified() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path());
        let i = integrity_of(b"good tarball");
        let key = i.cache_key();
        let hit = cache.insert_bytes(&key, b"good tarball").unwrap();
        let stamp = FileTime::from_last_modification_time(&fs::metadata(&hit.path).unwrap());
        writable(&hit.path);
        fs::write(&hit.path, b"good").unwrap();
        restamp(&hit.path, stamp);
        assert_eq!(cache.lookup(&key, Some(&i), Trust::Stamp).unwrap(), None);
        assert!(!hit.path.exists(), "the corrupt entry was removed");
    }

    #[test]
    fn symlinks_and_directories_in_place_of_entries_are_removed_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path());
        let (a, b) = (integrity_of(b"a"), integrity_of(b"b"));
        let hit_a = cache.insert_bytes(&a.cache_key(), b"a").unwrap();
        let hit_b = cache.insert_bytes(&b.cache_key(), b"b").unwrap();
        let stamp = FileTime::from_last_modification_time(&fs::metadata(&hit_a.path).unwrap());
        fs::remove_file(&hit_a.path).unwrap();
        std::os::unix::fs::symlink(&hit_b.path, &hit_a.path).unwrap();
        restamp(&hit_a.path, stamp);
        assert_eq!(
            cache
                .lookup(&a.cache_key(), Some(&a), Trust::Stamp)
                .unwrap(),
            None
        );
        assert!(fs::symlink_metadata(&hit_a.path).is_err(), "link removed");
        assert_eq!(fs::read(&hit_b.path).unwrap(), b"b", "its target untouched");
        assert!(open_entry(&hit_b.path).is_ok());

        fs::create_dir_all(hit_a.path.join("sub")).unwrap();
        assert_eq!(
            cache
                .lookup(&a.cache_key(), Some(&a), Trust::Stamp)
                .unwrap(),
            None
        );
        assert!(!hit_a.path.exists(), "directory removed");
        cache.insert_bytes(&a.cache_key(), b"a").unwrap();
        assert!(cache
            .lookup(&a.cache_key(), Some(&a), Trust::Stamp)
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_file_in_place_of_a_shard_directory_is_a_miss_and_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let i = integrity_of(b"x");
        let shard = dir.path().join(LAYOUT).join("sha512");
        fs::create_dir_all(shard.parent().unwrap()).unwrap();
        fs::write(&shard, b"not a directory").unwrap();
        let cache = TarballCache::open(dir.path());
        assert_eq!(
            cache
                .lookup(&i.cache_key(), Some(&i), Trust::Stamp)
                .unwrap(),
            None
        );
        cache.insert_bytes(&i.cache_key(), b"x").unwrap();
        assert!(shard.is_dir());
        assert!(cache
            .lookup(&i.cache_key(), Some(&i), Trust::Stamp)
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_symlinked_shard_is_not_followed_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = TarballCache::open(&dir.path().join("elsewhere"));
        let i = integrity_of(b"x");
        elsewhere.insert_bytes(&i.cache_key(), b"x").unwrap();
        let shard = dir.path().join("c").join(LAYOUT).join("sha512");
        fs::create_dir_all(shard.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(elsewhere.root().join("sha512"), &shard).unwrap();
        let cache = TarballCache::open(&dir.path().join("c"));
        assert_eq!(
            cache
                .lookup(&i.cache_key(), Some(&i), Trust::Stamp)
                .unwrap(),
            None
        );
        cache.insert_bytes(&i.cache_key(), b"x").unwrap();
        assert!(fs::symlink_metadata(&shard).unwrap().is_dir());
        assert!(
            elsewhere.root().join("sha512").is_dir(),
            "the link's target is kept"
        );
    }

    #[test]
    fn digest_trust_ignores_stamps_and_refetches_what_has_no_digest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path());
        cache.insert_bytes("git-abc", b"tar").unwrap();
        assert_eq!(cache.lookup("git-abc", None, Trust::Digest).unwrap(), None);
        let i = integrity_of(b"t");
        cache.insert_bytes(&i.cache_key(), b"t").unwrap();
        assert!(cache
            .lookup(&i.cache_key(), Some(&i), Trust::Digest)
            .unwrap()
            .is_some());
    }

    #[test]
    fn opening_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(&dir.path().join("c"));
        let i = integrity_of(b"x");
        assert_eq!(
            cache
                .lookup(&i.cache_key(), Some(&i), Trust::Stamp)
                .unwrap(),
            None
        );
        assert_eq!(cache.sweep_temp_files().unwrap(), 0);
        assert!(!dir.path().join("c").exists());
    }
}

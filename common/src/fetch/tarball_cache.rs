//! The content-addressed tarball cache shared by every run and every lockfile.
//!
//! Entries are keyed by their verified digest (`sha512-<hex>`), so a lockfile change
//! downloads only new tarballs, and one tarball serves every project that pins it.
//! An entry appears only by rename from a complete, verified temp file beside it (same
//! directory: cross-directory renames serialise on a filesystem-wide lock). It is then
//! fsynced and stamped with a fixed mtime. An entry without the stamp (touched since,
//! not yet synced, or cut short by a crash) is re-verified before use and deleted if it
//! fails; with nothing to verify it against it is treated as missing, never deleted,
//! since another run may be sealing it. Re-hashing every entry on every run would cost
//! more than the whole warm run, hence the stamp. (Stamping before the rename would need
//! an fsync of a new inode per entry, which ext4 turns into a parent-directory sync:
//! cold runs took 40% longer.)

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use filetime::FileTime;
use tempfile::NamedTempFile;

use crate::fetch::integrity::{Hasher, Integrity};

/// The mtime that marks "verified when written" (2001-09-09T01:46:40Z).
const VERIFIED_MTIME: i64 = 1_000_000_000;

/// Bump when the layout changes, so old caches are ignored rather than misread.
const LAYOUT: &str = "v1";

#[derive(Debug, Clone)]
pub struct TarballCache {
    root: PathBuf,
}

/// A usable entry: its path and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub path: PathBuf,
    pub len: u64,
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

    pub fn open(root: &Path) -> io::Result<Self> {
        let cache = Self {
            root: root.join(LAYOUT),
        };
        fs::create_dir_all(&cache.root)?;
        Ok(cache)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        let (kind, rest) = key.split_once('-').unwrap_or(("other", key));
        self.root.join(kind).join(rest)
    }

    /// A verified entry for `key`, re-verifying (or discarding) one touched since it
    /// was written. `integrity` is what to re-verify against; without it a touched
    /// entry cannot be trusted and is discarded.
    pub fn lookup(&self, key: &str, integrity: Option<&Integrity>) -> io::Result<Option<Hit>> {
        let path = self.entry_path(key);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let hit = Hit {
            len: meta.len(),
            path,
        };
        if FileTime::from_last_modification_time(&meta).unix_seconds() == VERIFIED_MTIME {
            return Ok(Some(hit));
        }
        match integrity {
            Some(i) if verify_file(&hit.path, i)? => {
                File::open(&hit.path)?.sync_all()?;
                stamp(&hit.path)?;
                Ok(Some(hit))
            }
            Some(_) => {
                remove_if_present(&hit.path)?;
                Ok(None)
            }
            // Nothing to check it against: fetch again; the new entry replaces it.
            None => Ok(None),
        }
    }

    /// A temp file beside where `key` will live, for a download in progress. Dropped
    /// without [`Self::commit`], it disappears: no partial entry is ever visible.
    pub fn temp_file(&self, key: &str) -> io::Result<NamedTempFile> {
        let path = self.entry_path(key);
        let dir = path.parent().expect("entry paths have a parent");
        fs::create_dir_all(dir)?;
        tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)
    }

    /// Publishes a complete, already verified temp file as `key`. Not trusted without
    /// re-verification until [`Self::seal`] has synced and stamped it.
    pub fn commit(&self, tmp: NamedTempFile, key: &str) -> io::Result<Hit> {
        let path = self.entry_path(key);
        let len = tmp.as_file().metadata()?.len();
        set_read_only(tmp.path())?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(Hit { path, len })
    }

    /// Makes a committed entry durable, then stamps it verified. Blocks on fsync: call
    /// it off async workers. Concurrent calls share journal commits.
    pub fn seal(&self, hit: &Hit) -> io::Result<()> {
        File::open(&hit.path)?.sync_all()?;
        stamp(&hit.path)
    }

    /// Stores bytes produced in memory (git tarballs) as `key`, sealed.
    pub fn insert_bytes(&self, key: &str, bytes: &[u8]) -> io::Result<Hit> {
        use std::io::Write;
        let mut tmp = self.temp_file(key)?;
        tmp.write_all(bytes)?;
        let hit = self.commit(tmp, key)?;
        self.seal(&hit)?;
        Ok(hit)
    }
}

fn verify_file(path: &Path, integrity: &Integrity) -> io::Result<bool> {
    let mut hasher = Hasher::new(integrity.algorithm);
    let mut file = File::open(path)?;
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

fn stamp(path: &Path) -> io::Result<()> {
    filetime::set_file_mtime(path, FileTime::from_unix_time(VERIFIED_MTIME, 0))
}

/// Cache entries are immutable; read-only makes an accidental edit fail loudly.
fn set_read_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
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
        let cache = TarballCache::open(dir.path()).unwrap();
        let i = integrity_of(b"tarball");
        let key = i.cache_key();
        assert_eq!(cache.lookup(&key, Some(&i)).unwrap(), None);
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
            FileTime::from_last_modification_time(&fs::metadata(&h.path).unwrap()).unix_seconds()
                == VERIFIED_MTIME
        };
        assert!(!stamped(&hit), "not trusted before it is sealed");
        cache.seal(&hit).unwrap();
        assert!(stamped(&hit));
        assert_eq!(cache.lookup(&key, Some(&i)).unwrap(), Some(hit));
    }

    #[test]
    fn a_touched_entry_is_reverified_and_a_corrupt_one_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path()).unwrap();
        let i = integrity_of(b"good");
        let key = i.cache_key();
        let hit = cache.insert_bytes(&key, b"good").unwrap();

        // Touched but intact: re-verified, re-stamped, still a hit.
        filetime::set_file_mtime(&hit.path, FileTime::now()).unwrap();
        assert!(cache.lookup(&key, Some(&i)).unwrap().is_some());

        // Corrupted in place: discarded.
        fs::set_permissions(
            &hit.path,
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        fs::write(&hit.path, b"evil").unwrap();
        assert_eq!(cache.lookup(&key, Some(&i)).unwrap(), None);
        assert!(!hit.path.exists());
    }

    #[test]
    fn a_touched_entry_without_integrity_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TarballCache::open(dir.path()).unwrap();
        let hit = cache.insert_bytes("git-abc", b"tar").unwrap();
        assert!(cache.lookup("git-abc", None).unwrap().is_some());
        filetime::set_file_mtime(&hit.path, FileTime::now()).unwrap();
        assert_eq!(cache.lookup("git-abc", None).unwrap(), None);
        assert!(
            hit.path.exists(),
            "not deleted: another run may be replacing it"
        );
    }
}

//! NAR hashes already computed, keyed by everything that determines them.
//!
//! The fetchYarnDeps output is fixed by the lockfile bytes and, for each file, its
//! name and its content. When every file's content is pinned by a digest (an
//! integrity hash, or a git commit sha), those digests stand in for the bytes, and a
//! hash computed once can be reused without re-reading 400 MB. Files that nothing pins
//! (no integrity, a git branch) make the lockfile unmemoizable. Entries are written
//! atomically after a real computation and stamped like cache entries, so a touched
//! memo is ignored; `--recompute` (and `--check --full`) bypass it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use filetime::FileTime;
use sha2::{Digest, Sha256};

use crate::atomic_write::write_atomic;
use crate::nix::nix_hash::Sha256Hash;
use crate::yarn::dependency_source::Fetch;
use crate::yarn::offline_cache::OfflineCache;

/// Bump when anything that shapes the output's bytes changes (naming, tar packing).
const FORMAT: &str = "nar-memo-v1";
const STAMP: i64 = 1_000_000_000;

pub struct NarMemo {
    dir: PathBuf,
}

impl NarMemo {
    pub fn new(cache_root: &Path) -> Self {
        Self {
            dir: cache_root.join("nar-hash"),
        }
    }

    /// The memo key, or `None` when some file's content is not pinned by a digest.
    pub fn key(lock_bytes: &[u8], model: &OfflineCache) -> Option<String> {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(FORMAT.as_bytes());
        field(env!("CARGO_PKG_VERSION").as_bytes());
        field(lock_bytes);
        for file in &model.files {
            let pinned = match &file.fetch {
                Fetch::Tarball { .. } => file.integrity.is_some(),
                Fetch::Git { rev, .. } => is_commit_sha(rev),
            };
            if !pinned {
                return None;
            }
            field(file.name.as_bytes());
            field(file.cache_key().as_bytes());
        }
        Some(Sha256Hash(h.finalize().into()).to_hex())
    }

    pub fn get(&self, key: &str) -> Option<(Sha256Hash, u64)> {
        let path = self.dir.join(key);
        let meta = fs::metadata(&path).ok()?;
        if FileTime::from_last_modification_time(&meta).unix_seconds() != STAMP {
            return None;
        }
        let text = fs::read_to_string(&path).ok()?;
        let (hash, size) = text.trim().split_once(' ')?;
        Some((hash.parse().ok()?, size.parse().ok()?))
    }

    pub fn put(&self, key: &str, hash: &Sha256Hash, nar_size: u64) -> io::Result<()> {
        let path = self.dir.join(key);
        write_atomic(&path, format!("{} {nar_size}\n", hash.to_sri()).as_bytes())?;
        filetime::set_file_mtime(&path, FileTime::from_unix_time(STAMP, 0))
    }
}

fn is_commit_sha(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yarn::yarn_lock::parse;

    fn model(text: &str) -> OfflineCache {
        OfflineCache::from_lockfile(&parse(text).unwrap()).unwrap()
    }

    const PINNED: &str =
        "a@1:\n  resolved \"https://r.com/a.tgz#97fb5d96bfde8973313f20e8288ef9a167fa64ce\"\n";

    #[test]
    fn key_covers_lockfile_bytes_names_and_digests() {
        let k = NarMemo::key(PINNED.as_bytes(), &model(PINNED)).unwrap();
        let other_bytes = format!("{PINNED}\n");
        assert_ne!(
            Some(&k),
            NarMemo::key(other_bytes.as_bytes(), &model(PINNED)).as_ref()
        );
        let other_digest = PINNED.replace("97fb", "0000");
        assert_ne!(
            Some(&k),
            NarMemo::key(other_digest.as_bytes(), &model(&other_digest)).as_ref()
        );
    }

    #[test]
    fn unpinned_files_make_it_unmemoizable() {
        let unpinned = "a@1:\n  resolved \"https://r.com/a.tgz\"\n";
        assert_eq!(NarMemo::key(unpinned.as_bytes(), &model(unpinned)), None);
        let branch = "a@1:\n  resolved \"git+https://h/a.git#main\"\n";
        assert_eq!(NarMemo::key(branch.as_bytes(), &model(branch)), None);
    }

    #[test]
    fn stored_entries_round_trip_and_touched_ones_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let memo = NarMemo::new(dir.path());
        let h = Sha256Hash::of(b"nar");
        memo.put("k", &h, 42).unwrap();
        assert_eq!(memo.get("k"), Some((h, 42)));
        filetime::set_file_mtime(dir.path().join("nar-hash/k"), FileTime::now()).unwrap();
        assert_eq!(memo.get("k"), None);
        assert_eq!(memo.get("missing"), None);
    }
}

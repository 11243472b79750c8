//! The memo key of a fetchYarnDeps output (stored by [`crate::fetch::nar_memo`]).
//!
//! The output is fixed by the lockfile bytes and, for each file, its name and its
//! content. When every file's content is pinned by a digest (an integrity hash, or a
//! git commit sha), those digests stand in for the bytes, and a hash computed once can
//! be reused without re-reading 400 MB. Files that nothing pins (no integrity, a git
//! branch) make the lockfile unmemoizable.

use sha2::{Digest, Sha256};

use crate::nix::nix_hash::Sha256Hash;
use crate::yarn::dependency_source::Fetch;
use crate::yarn::offline_cache::OfflineCache;

/// Bump when anything that shapes the output's bytes changes (naming, tar packing).
const FORMAT: &str = "nar-memo-v2";

/// The [`NarMemo`](crate::fetch::nar_memo::NarMemo) key of a fetchYarnDeps output, or
/// `None` when some file's content is not pinned by a digest.
pub fn memo_key(lock_bytes: &[u8], model: &OfflineCache) -> Option<String> {
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
        let k = memo_key(PINNED.as_bytes(), &model(PINNED)).unwrap();
        let other_bytes = format!("{PINNED}\n");
        assert_ne!(
            Some(&k),
            memo_key(other_bytes.as_bytes(), &model(PINNED)).as_ref()
        );
        let other_digest = PINNED.replace("97fb", "0000");
        assert_ne!(
            Some(&k),
            memo_key(other_digest.as_bytes(), &model(&other_digest)).as_ref()
        );
    }

    #[test]
    fn unpinned_files_make_it_unmemoizable() {
        let unpinned = "a@1:\n  resolved \"https://r.com/a.tgz\"\n";
        assert_eq!(memo_key(unpinned.as_bytes(), &model(unpinned)), None);
        let branch = "a@1:\n  resolved \"git+https://h/a.git#main\"\n";
        assert_eq!(memo_key(branch.as_bytes(), &model(branch)), None);
    }
}

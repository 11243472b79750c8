//! NAR hashes already computed, keyed by everything that determines them, for every
//! ecosystem: each computes its own key (`yarn::memo_key`, `pnpm::prefetch`), and
//! this store keeps the answers in the tarball cache's directory.
//!
//! A memo must never answer a hash its inputs don't give, so each line carries an
//! HMAC-SHA256 over its key and contents under a secret made at random for this cache
//! on first use. A line edited by hand, forged, or copied under another key fails the
//! check and is ignored (the hash is computed again). `--recompute` (and `--check
//! --full`) bypass the memo altogether.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::atomic_write::write_atomic;
use crate::nix::nix_hash::{hex_decode as unhex, hex_encode as hex, Sha256Hash};

/// Bump when anything that shapes the output's bytes changes (naming, tar packing).
const FORMAT: &str = "nar-memo-v2";
/// The per-cache MAC secret, beside the memo lines (whose names are 64 hex digits).
const SECRET: &str = "secret";
const SECRET_LEN: usize = 32;

pub struct NarMemo {
    dir: PathBuf,
}

impl NarMemo {
    pub fn new(cache_root: &Path) -> Self {
        Self {
            dir: cache_root.join("nar-hash"),
        }
    }

    /// The remembered hash and NAR size for `key`, if a line with a valid MAC holds it.
    pub fn get(&self, key: &str) -> Option<(Sha256Hash, u64)> {
        let secret = fs::read(self.dir.join(SECRET)).ok()?;
        let text = fs::read_to_string(self.dir.join(key)).ok()?;
        let mut fields = text.trim_end_matches('\n').split(' ');
        let (hash, size, mac) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || !valid_mac(&secret, key, hash, size, mac) {
            return None;
        }
        Some((hash.parse().ok()?, size.parse().ok()?))
    }

    pub fn put(&self, key: &str, hash: &Sha256Hash, nar_size: u64) -> io::Result<()> {
        let secret = self.secret()?;
        let (hash, size) = (hash.to_sri(), nar_size.to_string());
        let mac = hex(&mac(&secret, key, &hash, &size).finalize().into_bytes());
        write_atomic(
            &self.dir.join(key),
            format!("{hash} {size} {mac}\n").as_bytes(),
        )
    }

    /// This cache's secret, made on first use. Two runs making it at once agree: the
    /// first link wins and both read it back.
    fn secret(&self) -> io::Result<Vec<u8>> {
        let path = self.dir.join(SECRET);
        match fs::read(&path) {
            Ok(s) if s.len() == SECRET_LEN => return Ok(s),
            Ok(_) => fs::remove_file(&path)?, // damaged: its memo lines are void anyway
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut secret = [0u8; SECRET_LEN];
        getrandom::getrandom(&mut secret).map_err(|e| io::Error::other(e.to_string()))?;
        fs::create_dir_all(&self.dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o600))?;
        tmp.write_all(&secret)?;
        tmp.as_file().sync_all()?;
        match tmp.persist_noclobber(&path) {
            Ok(_) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.error),
        }
        fs::read(&path)
    }
}

fn mac(secret: &[u8], key: &str, hash: &str, size: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    for field in [FORMAT, key, hash, size] {
        mac.update(&(field.len() as u64).to_le_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn valid_mac(secret: &[u8], key: &str, hash: &str, size: &str, mac_hex: &str) -> bool {
    let Some(tag) = unhex(mac_hex) else {
        return false;
    };
    // verify_slice compares in constant time.
    mac(secret, key, hash, size).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_entries_round_trip_and_forged_edited_or_moved_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let memo = NarMemo::new(dir.path());
        let h = Sha256Hash::of(b"nar");
        memo.put("k", &h, 42).unwrap();
        assert_eq!(memo.get("k"), Some((h, 42)));
        assert_eq!(memo.get("missing"), None);

        let line = |k: &str| dir.path().join("nar-hash").join(k);
        let good = fs::read_to_string(line("k")).unwrap();
        let forged = Sha256Hash([0; 32]).to_sri();
        // Edited hash, kept MAC; a line with no MAC; the same line under another key.
        let edited = good.replacen(&h.to_sri(), &forged, 1);
        let unsigned = format!("{forged} 42\n");
        let resized = good.replacen(" 42 ", " 43 ", 1);
        for (key, text) in [
            ("k", edited.as_str()),
            ("k", unsigned.as_str()),
            ("k", resized.as_str()),
            ("other", good.as_str()),
        ] {
            fs::write(line(key), text).unwrap();
            assert_eq!(memo.get(key), None, "accepted {text:?} as {key}");
        }
        // A fresh secret voids every line made under the old one.
        memo.put("k", &h, 42).unwrap();
        fs::remove_file(line(SECRET)).unwrap();
        memo.put("k2", &h, 1).unwrap();
        assert_eq!(memo.get("k"), None);
        assert_eq!(memo.get("k2"), Some((h, 1)));
    }
}

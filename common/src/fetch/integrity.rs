//! Expected tarball digests: SRI `integrity` fields and legacy `#sha1` URL fragments.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use thiserror::Error;

use crate::nix::nix_hash::hex_encode as hex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "sha1" => Self::Sha1,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// What a downloaded tarball must hash to: one digest of one algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Integrity {
    pub algorithm: Algorithm,
    pub digest: Vec<u8>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntegrityError {
    #[error("integrity {0:?} names no hash algorithm this tool supports (sha1, sha256, sha384, sha512); re-run `yarn install` to rewrite it")]
    UnsupportedAlgorithm(String),
    #[error("integrity {0:?} does not hold a digest of its algorithm's length; re-run `yarn install` to rewrite it")]
    BadDigest(String),
    #[error("`#{0}` after the URL is not a 40-digit lowercase hex sha1; re-run `yarn install` to rewrite the lockfile")]
    BadSha1Fragment(String),
}

impl Integrity {
    /// The `integrity` field as prefetch-yarn-deps reads it: `split('-')` gives the
    /// algorithm (text before the first `-`) and the checksum (up to the next `-`),
    /// which Node decodes as base64 up to the first character outside the alphabet
    /// (`=` padding, a space). So with several hashes only the first counts, which
    /// also keeps the cache honest: an entry is keyed by the one digest verified.
    pub fn parse_sri(sri: &str) -> Result<Self, IntegrityError> {
        let mut parts = sri.split('-');
        let name = parts.next().unwrap_or_default();
        let checksum = parts.next().unwrap_or_default();
        let algorithm = Algorithm::parse(name)
            .ok_or_else(|| IntegrityError::UnsupportedAlgorithm(sri.to_owned()))?;
        let b64: String = checksum
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
            .collect();
        let digest = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64.trim_end_matches('='))
            .ok()
            .filter(|d| d.len() == algorithm.digest_len())
            .ok_or_else(|| IntegrityError::BadDigest(sri.to_owned()))?;
        Ok(Self { algorithm, digest })
    }

    /// A `#<sha1 hex>` fragment, compared as upstream does: lowercase hex text.
    pub fn from_sha1_fragment(fragment: &str) -> Result<Self, IntegrityError> {
        let valid = fragment.len() == 40
            && fragment
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let digest = valid
            .then(|| crate::nix::nix_hash::hex_decode(fragment))
            .flatten()
            .ok_or_else(|| IntegrityError::BadSha1Fragment(fragment.to_owned()))?;
        Ok(Self {
            algorithm: Algorithm::Sha1,
            digest,
        })
    }

    pub fn matches(&self, algorithm: Algorithm, digest: &[u8]) -> bool {
        algorithm == self.algorithm && self.digest == digest
    }

    /// Whether the file at `path` hashes to this digest.
    pub fn verify_file(&self, path: &std::path::Path) -> std::io::Result<bool> {
        use std::io::Read;
        let mut hasher = Hasher::new(self.algorithm);
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(self.matches(self.algorithm, &hasher.finish()));
            }
            hasher.update(&buf[..n]);
        }
    }

    /// [`Integrity::verify_file`] for each `(integrity, path, len)`, in order, `len` being
    /// the file's size. The SHA-512 ones (nearly all npm tarballs) are hashed together,
    /// eight at a time where the CPU allows, a chunk of each in memory at once. A file that
    /// cannot be read fails the call with its index.
    pub fn verify_files(
        items: &[(&Integrity, &std::path::Path, u64)],
    ) -> Result<Vec<bool>, (usize, std::io::Error)> {
        use std::os::unix::fs::FileExt;
        let mut slots = Vec::with_capacity(items.len());
        let mut sha512 = Vec::new();
        for (at, (integrity, path, _)) in items.iter().enumerate() {
            if integrity.algorithm == Algorithm::Sha512 {
                slots.push(Err(sha512.len()));
                sha512.push(at);
            } else {
                slots.push(Ok(integrity.verify_file(path).map_err(|e| (at, e))?));
            }
        }
        let lens: Vec<u64> = sha512.iter().map(|&at| items[at].2).collect();
        let digests = sha512_lanes::sha512_many_read(&lens, &|i, offset, buf| {
            let at = sha512[i];
            std::fs::File::open(items[at].1)
                .and_then(|f| f.read_exact_at(buf, offset))
                .map_err(|source| std::io::Error::new(source.kind(), ReadFailed { at, source }))
        })
        .map_err(
            |e| match e.into_inner().map(|e| e.downcast::<ReadFailed>()) {
                Some(Ok(failed)) => (failed.at, failed.source),
                _ => unreachable!("every error comes from the reader above"),
            },
        )?;
        Ok(items
            .iter()
            .zip(slots)
            .map(|((integrity, _, _), slot)| match slot {
                Ok(good) => good,
                Err(i) => integrity.matches(Algorithm::Sha512, &digests[i]),
            })
            .collect())
    }

    /// The tarball cache's key: content-addressed by the verified digest.
    pub fn cache_key(&self) -> String {
        format!("{}-{}", self.algorithm.name(), hex(&self.digest))
    }
}

/// A read that failed in [`Integrity::verify_files`], with the index of its item.
#[derive(Debug, Error)]
#[error("{source}")]
struct ReadFailed {
    at: usize,
    source: std::io::Error,
}

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.algorithm.name(),
            BASE64.encode(&self.digest)
        )
    }
}

/// Streaming hasher for one algorithm.
pub enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
            Algorithm::Sha384 => Self::Sha384(Sha384::new()),
            Algorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sri(algo: &str, data: &[u8]) -> String {
        let mut h = Hasher::new(Algorithm::parse(algo).unwrap());
        h.update(data);
        format!("{algo}-{}", BASE64.encode(h.finish()))
    }

    #[test]
    fn verify_files_tells_good_from_tampered_and_names_the_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [0usize, 1, 5000, (3 << 20) + 7, 130, 2 << 20];
        let mut files = Vec::new();
        for (i, size) in sizes.into_iter().enumerate() {
            let data: Vec<u8> = (0..size).map(|j| (j * 7 + i) as u8).collect();
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, &data).unwrap();
            let algo = if i == 4 { "sha1" } else { "sha512" };
            files.push((
                Integrity::parse_sri(&sri(algo, &data)).unwrap(),
                path,
                size as u64,
            ));
        }
        // The 3 MB file tampered with in its second chunk, its size unchanged.
        let mut tampered = std::fs::read(&files[3].1).unwrap();
        tampered[(1 << 20) + 5] ^= 1;
        std::fs::write(&files[3].1, tampered).unwrap();
        let items: Vec<_> = files.iter().map(|(i, p, n)| (i, p.as_path(), *n)).collect();
        let good = Integrity::verify_files(&items).unwrap();
        assert_eq!(good, [true, true, true, false, true, true]);

        std::fs::remove_file(&files[5].1).unwrap();
        let (at, err) = Integrity::verify_files(&items).unwrap_err();
        assert_eq!((at, err.kind()), (5, std::io::ErrorKind::NotFound));
    }

    #[test]
    fn only_the_first_hash_counts_as_upstream_reads_it() {
        let s = format!("{} {}", sri("sha1", b"x"), sri("sha512", b"a"));
        let i = Integrity::parse_sri(&s).unwrap();
        assert_eq!(i.algorithm, Algorithm::Sha1);
        let mut h = Hasher::new(Algorithm::Sha1);
        h.update(b"x");
        assert!(i.matches(Algorithm::Sha1, &h.finish()));
        let two = format!("{} {}", sri("sha512", b"a"), sri("sha512", b"b"));
        let i = Integrity::parse_sri(&two).unwrap();
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"b");
        assert!(
            !i.matches(Algorithm::Sha512, &h.finish()),
            "the second digest is ignored"
        );
    }

    #[test]
    fn unpadded_base64_is_accepted_like_node() {
        let padded = sri("sha1", b"x");
        let unpadded = padded.trim_end_matches('=');
        assert_eq!(
            Integrity::parse_sri(unpadded),
            Integrity::parse_sri(&padded)
        );
    }

    #[test]
    fn unusable_integrity_is_an_error() {
        assert!(matches!(
            Integrity::parse_sri("md5-AAAA"),
            Err(IntegrityError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Integrity::parse_sri("sha512-notbase64!"),
            Err(IntegrityError::BadDigest(_))
        ));
        assert!(Integrity::parse_sri("").is_err());
    }

    #[test]
    fn sha1_fragment_must_be_lowercase_hex() {
        let ok = "97fb5d96bfde8973313f20e8288ef9a167fa64ce";
        assert_eq!(
            Integrity::from_sha1_fragment(ok).unwrap().cache_key(),
            format!("sha1-{ok}")
        );
        assert!(Integrity::from_sha1_fragment(&ok.to_uppercase()).is_err());
        assert!(Integrity::from_sha1_fragment("abc").is_err());
    }
}

//! Expected tarball digests: SRI `integrity` fields and legacy `#sha1` URL fragments.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use thiserror::Error;

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

/// What a downloaded tarball must hash to: any one of `digests`, all of one algorithm
/// (SRI: with several algorithms listed, only the strongest counts).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Integrity {
    pub algorithm: Algorithm,
    pub digests: Vec<Vec<u8>>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum IntegrityError {
    #[error("integrity {0:?} has no supported hash (expected e.g. `sha512-<base64>`)")]
    NoSupportedHash(String),
    #[error("`#{0}` after the URL is not a 40-digit lowercase hex sha1")]
    BadSha1Fragment(String),
}

impl Integrity {
    /// Parses an SRI string such as `sha512-… sha1-…`; unknown algorithms and options
    /// (`?…`) are ignored as the SRI spec says, but at least one hash must be usable.
    pub fn parse_sri(sri: &str) -> Result<Self, IntegrityError> {
        let mut best: Option<Integrity> = None;
        for token in sri.split_ascii_whitespace() {
            let Some((algo, rest)) = token.split_once('-') else {
                continue;
            };
            let Some(algorithm) = Algorithm::parse(algo) else {
                continue;
            };
            let b64 = rest.split('?').next().unwrap_or_default();
            let Ok(digest) = BASE64.decode(b64) else {
                continue;
            };
            if digest.len() != algorithm.digest_len() {
                continue;
            }
            match &mut best {
                Some(b) if b.algorithm == algorithm => b.digests.push(digest),
                Some(b) if b.algorithm > algorithm => {}
                _ => {
                    best = Some(Integrity {
                        algorithm,
                        digests: vec![digest],
                    })
                }
            }
        }
        best.ok_or_else(|| IntegrityError::NoSupportedHash(sri.to_owned()))
    }

    /// A `#<sha1 hex>` fragment, compared as upstream does: lowercase hex text.
    pub fn from_sha1_fragment(fragment: &str) -> Result<Self, IntegrityError> {
        let valid = fragment.len() == 40
            && fragment
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let digest = valid
            .then(|| crate::nix_hash::hex_decode(fragment))
            .flatten()
            .ok_or_else(|| IntegrityError::BadSha1Fragment(fragment.to_owned()))?;
        Ok(Self {
            algorithm: Algorithm::Sha1,
            digests: vec![digest],
        })
    }

    pub fn matches(&self, algorithm: Algorithm, digest: &[u8]) -> bool {
        algorithm == self.algorithm && self.digests.iter().any(|d| d == digest)
    }

    /// The tarball cache's key: content-addressed by the first expected digest.
    pub fn cache_key(&self) -> String {
        format!("{}-{}", self.algorithm.name(), hex(&self.digests[0]))
    }
}

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.algorithm.name(),
            BASE64.encode(&self.digests[0])
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    crate::nix_hash::hex_encode(bytes)
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
    fn strongest_algorithm_wins_and_any_of_its_digests_matches() {
        let s = format!(
            "{} {} {}",
            sri("sha1", b"x"),
            sri("sha512", b"a"),
            sri("sha512", b"b")
        );
        let i = Integrity::parse_sri(&s).unwrap();
        assert_eq!(i.algorithm, Algorithm::Sha512);
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"b");
        assert!(i.matches(Algorithm::Sha512, &h.finish()));
        let mut h = Hasher::new(Algorithm::Sha1);
        h.update(b"x");
        assert!(
            !i.matches(Algorithm::Sha1, &h.finish()),
            "weaker hashes do not count"
        );
    }

    #[test]
    fn unusable_integrity_is_an_error() {
        assert!(Integrity::parse_sri("md5-AAAA").is_err());
        assert!(Integrity::parse_sri("sha512-notbase64!").is_err());
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

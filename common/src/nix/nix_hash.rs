//! SHA-256 digests in the notations Nix prints and accepts.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use thiserror::Error;

use crate::nix::nix_base32;

/// A SHA-256 digest, printable as SRI (`sha256-…`), Nix base-32 or hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hash(pub [u8; 32]);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{input:?} is not a SHA-256 hash (expected `sha256-<base64>`, `sha256:<base32>`, 52 base-32 or 64 hex characters)")]
pub struct ParseHashError {
    pub input: String,
}

impl Sha256Hash {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(bytes).into())
    }

    pub fn to_sri(&self) -> String {
        format!("sha256-{}", BASE64.encode(self.0))
    }

    pub fn to_nix_base32(&self) -> String {
        nix_base32::encode(&self.0)
    }

    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    fn from_body(body: &str) -> Option<Self> {
        let bytes = match body.len() {
            64 => hex_decode(body)?,
            52 => nix_base32::decode(body, 32).ok()?,
            44 => BASE64.decode(body).ok()?,
            _ => return None,
        };
        Some(Self(bytes.try_into().ok()?))
    }
}

impl FromStr for Sha256Hash {
    type Err = ParseHashError;

    /// Accepts what Nix accepts for a sha256 `hash`/`sha256` attribute: SRI, or a
    /// `sha256:` prefix or none, followed by hex, base-32 or base-64.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s
            .strip_prefix("sha256-")
            .filter(|b| b.len() == 44)
            .or_else(|| s.strip_prefix("sha256:"))
            .unwrap_or(s);
        Self::from_body(body).ok_or_else(|| ParseHashError {
            input: s.to_owned(),
        })
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sri())
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({})", self.to_sri())
    }
}

/// Lowercase hex; table-driven because cache keys are built for every tarball on
/// every run (`format!` per byte was measurable on Ghost's 4,055).
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn every_notation_parses_to_the_same_digest() {
        let h = Sha256Hash::of(b"");
        assert_eq!(h.to_hex(), EMPTY_HEX);
        for form in [
            h.to_sri(),
            h.to_nix_base32(),
            format!("sha256:{}", h.to_nix_base32()),
            EMPTY_HEX.to_owned(),
            format!("sha256:{EMPTY_HEX}"),
        ] {
            assert_eq!(form.parse::<Sha256Hash>(), Ok(h), "{form}");
        }
    }

    #[test]
    fn rejects_wrong_lengths_and_types() {
        assert!("sha512-AAAA".parse::<Sha256Hash>().is_err());
        assert!("abc".parse::<Sha256Hash>().is_err());
        assert!("sha256-".parse::<Sha256Hash>().is_err());
    }
}

//! Nix store paths: `<store dir>/<32-char base-32 hash>-<name>`.
//!
//! The hash part is what a binary cache is keyed by (`<hash>.narinfo`), so it is
//! validated as Nix base-32 (20 bytes) rather than trusted as an opaque string.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::nix::nix_base32;

/// Length in characters of the hash part (160 bits in Nix base-32).
pub const HASH_LEN: usize = 32;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorePath {
    store_dir: String,
    /// `<hash>-<name>`
    base_name: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "{input:?} is not a Nix store path ({why}); expected `/nix/store/<32 base-32 chars>-<name>`"
)]
pub struct ParseStorePathError {
    pub input: String,
    pub why: &'static str,
}

impl StorePath {
    /// Builds a path from a store dir and a base name (`<hash>-<name>`), as found in
    /// a narinfo's `References`.
    pub fn from_base_name(store_dir: &str, base_name: &str) -> Result<Self, ParseStorePathError> {
        let err = |why| ParseStorePathError {
            input: base_name.to_owned(),
            why,
        };
        if base_name.len() < HASH_LEN + 2 || base_name.as_bytes()[HASH_LEN] != b'-' {
            return Err(err("too short or no `-` after the hash"));
        }
        if nix_base32::decode(&base_name[..HASH_LEN], 20).is_err() {
            return Err(err("hash part is not Nix base-32"));
        }
        let name = &base_name[HASH_LEN + 1..];
        let name_ok = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b));
        if !name_ok || name.starts_with('.') {
            return Err(err("name has characters Nix does not allow"));
        }
        Ok(Self {
            store_dir: store_dir.trim_end_matches('/').to_owned(),
            base_name: base_name.to_owned(),
        })
    }

    pub fn store_dir(&self) -> &str {
        &self.store_dir
    }

    /// `<hash>-<name>`
    pub fn base_name(&self) -> &str {
        &self.base_name
    }

    pub fn hash_part(&self) -> &str {
        &self.base_name[..HASH_LEN]
    }

    pub fn name(&self) -> &str {
        &self.base_name[HASH_LEN + 1..]
    }

    pub fn is_derivation(&self) -> bool {
        self.base_name.ends_with(".drv")
    }

    /// Nix's `makeStorePath`: the path whose hash part is the SHA-256 of
    /// `<kind>:<algo>:<hex digest>:<store dir>:<name>`, folded to 20 bytes.
    pub fn make(
        store_dir: &str,
        kind: &str,
        algo_hex: &str,
        name: &str,
    ) -> Result<Self, ParseStorePathError> {
        let store_dir = store_dir.trim_end_matches('/');
        let digest = crate::nix::nix_hash::Sha256Hash::of(
            format!("{kind}:{algo_hex}:{store_dir}:{name}").as_bytes(),
        );
        let mut folded = [0u8; 20];
        for (i, b) in digest.0.iter().enumerate() {
            folded[i % 20] ^= b;
        }
        Self::from_base_name(
            store_dir,
            &format!("{}-{name}", nix_base32::encode(&folded)),
        )
    }
}

impl FromStr for StorePath {
    type Err = ParseStorePathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (dir, base) = s.rsplit_once('/').ok_or_else(|| ParseStorePathError {
            input: s.to_owned(),
            why: "not an absolute path",
        })?;
        if !dir.starts_with('/') {
            return Err(ParseStorePathError {
                input: s.to_owned(),
                why: "not an absolute path",
            });
        }
        Self::from_base_name(dir, base).map_err(|e| ParseStorePathError {
            input: s.to_owned(),
            ..e
        })
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.store_dir, self.base_name)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({self})")
    }
}

impl serde::Serialize for StorePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts() {
        let p: StorePath = "/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b"
            .parse()
            .unwrap();
        assert_eq!(p.store_dir(), "/nix/store");
        assert_eq!(p.hash_part(), "51qyrlmf67x58ngw8087a6zci97llcwm");
        assert_eq!(p.name(), "b");
        assert_eq!(
            p.to_string(),
            "/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b"
        );
        assert!(!p.is_derivation());
    }

    #[test]
    fn rejects_bad_hash_and_names() {
        // `e` is not in Nix's base-32 alphabet.
        assert!("/nix/store/e1qyrlmf67x58ngw8087a6zci97llcwm-b"
            .parse::<StorePath>()
            .is_err());
        assert!("/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm"
            .parse::<StorePath>()
            .is_err());
        assert!("/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-a/b"
            .parse::<StorePath>()
            .is_err());
        assert!("nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b"
            .parse::<StorePath>()
            .is_err());
        assert!("/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-a b"
            .parse::<StorePath>()
            .is_err());
    }
}

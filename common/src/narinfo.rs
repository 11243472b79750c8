//! `.narinfo` files: what a binary cache says about one store path, and the ed25519
//! signatures that make Nix trust it.
//!
//! Nix signs a *fingerprint*, not the file:
//! `1;<store path>;<sha256:base32 nar hash>;<nar size>;<comma-separated reference paths>`.
//! A narinfo is only worth anything to CI if one of its `Sig` lines verifies against a
//! key CI trusts, so verification lives next to parsing.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use thiserror::Error;

use crate::nix_hash::Sha256Hash;
use crate::store_path::StorePath;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NarInfo {
    pub store_path: StorePath,
    pub url: Option<String>,
    pub compression: Option<String>,
    pub file_size: Option<u64>,
    pub nar_hash: Sha256Hash,
    pub nar_size: u64,
    pub references: Vec<StorePath>,
    pub deriver: Option<String>,
    /// `keyname:base64` as written in the file.
    pub sigs: Vec<String>,
    pub ca: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NarInfoError {
    #[error("line {line}: expected `Key: value`, found {text:?}")]
    BadLine { line: usize, text: String },
    #[error("line {line}: bad {field}: {why}")]
    BadField {
        line: usize,
        field: &'static str,
        why: String,
    },
    #[error("missing required field `{0}`")]
    Missing(&'static str),
}

impl FromStr for NarInfo {
    type Err = NarInfoError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut store_path = None;
        let mut nar_hash = None;
        let mut nar_size = None;
        let mut raw_refs = None;
        let mut info = Partial::default();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            if line.trim().is_empty() {
                continue;
            }
            let (key, value) = line.split_once(':').ok_or_else(|| NarInfoError::BadLine {
                line: line_no,
                text: line.to_owned(),
            })?;
            let value = value.trim();
            let bad = |field, why: String| NarInfoError::BadField {
                line: line_no,
                field,
                why,
            };
            match key {
                "StorePath" => {
                    store_path = Some(
                        value
                            .parse::<StorePath>()
                            .map_err(|e| bad("StorePath", e.to_string()))?,
                    )
                }
                "NarHash" => {
                    nar_hash = Some(value.parse().map_err(
                        |e: crate::nix_hash::ParseHashError| bad("NarHash", e.to_string()),
                    )?)
                }
                "NarSize" => {
                    nar_size = Some(
                        value
                            .parse()
                            .map_err(|_| bad("NarSize", value.to_owned()))?,
                    )
                }
                "FileSize" => {
                    info.file_size = Some(
                        value
                            .parse()
                            .map_err(|_| bad("FileSize", value.to_owned()))?,
                    )
                }
                "References" => raw_refs = Some((line_no, value.to_owned())),
                "URL" => info.url = Some(value.to_owned()),
                "Compression" => info.compression = Some(value.to_owned()),
                "Deriver" if value != "unknown-deriver" => info.deriver = Some(value.to_owned()),
                "Sig" => info.sigs.push(value.to_owned()),
                "CA" => info.ca = Some(value.to_owned()),
                // Unknown keys (FileHash, System, ...) are legal and carry nothing we need.
                _ => {}
            }
        }
        let store_path: StorePath = store_path.ok_or(NarInfoError::Missing("StorePath"))?;
        let mut references = Vec::new();
        if let Some((line, refs)) = raw_refs {
            for r in refs.split_whitespace() {
                references.push(
                    StorePath::from_base_name(store_path.store_dir(), r).map_err(|e| {
                        NarInfoError::BadField {
                            line,
                            field: "References",
                            why: e.to_string(),
                        }
                    })?,
                );
            }
        }
        Ok(NarInfo {
            store_path,
            url: info.url,
            compression: info.compression,
            file_size: info.file_size,
            nar_hash: nar_hash.ok_or(NarInfoError::Missing("NarHash"))?,
            nar_size: nar_size.ok_or(NarInfoError::Missing("NarSize"))?,
            references,
            deriver: info.deriver,
            sigs: info.sigs,
            ca: info.ca,
        })
    }
}

#[derive(Default)]
struct Partial {
    url: Option<String>,
    compression: Option<String>,
    file_size: Option<u64>,
    deriver: Option<String>,
    sigs: Vec<String>,
    ca: Option<String>,
}

impl NarInfo {
    /// The string Nix signs (`ValidPathInfo::fingerprint`).
    pub fn fingerprint(&self) -> String {
        // Nix holds references in a sorted set, whatever order the file lists them in.
        let mut refs: Vec<String> = self.references.iter().map(|r| r.to_string()).collect();
        refs.sort();
        format!(
            "1;{};sha256:{};{};{}",
            self.store_path,
            self.nar_hash.to_nix_base32(),
            self.nar_size,
            refs.join(",")
        )
    }

    /// The name of the first trusted key that has a valid signature on this path.
    pub fn verified_by<'k>(&self, keys: &'k TrustedKeys) -> Option<&'k str> {
        let fingerprint = self.fingerprint();
        self.sigs
            .iter()
            .find_map(|sig| keys.verify(fingerprint.as_bytes(), sig))
    }

    /// Renders the narinfo in the layout Nix writes.
    pub fn to_text(&self) -> String {
        let mut out = format!("StorePath: {}\n", self.store_path);
        if let Some(url) = &self.url {
            out += &format!("URL: {url}\n");
        }
        if let Some(c) = &self.compression {
            out += &format!("Compression: {c}\n");
        }
        if let Some(s) = self.file_size {
            out += &format!("FileSize: {s}\n");
        }
        out += &format!("NarHash: sha256:{}\n", self.nar_hash.to_nix_base32());
        out += &format!("NarSize: {}\n", self.nar_size);
        let refs: Vec<&str> = self.references.iter().map(|r| r.base_name()).collect();
        out += &format!("References: {}\n", refs.join(" "));
        if let Some(d) = &self.deriver {
            out += &format!("Deriver: {d}\n");
        }
        for sig in &self.sigs {
            out += &format!("Sig: {sig}\n");
        }
        if let Some(ca) = &self.ca {
            out += &format!("CA: {ca}\n");
        }
        out
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{what} {name_hint:?} is malformed: {why} (expected `name:base64`, as printed by `nix key convert-secret-to-public`)")]
pub struct KeyError {
    pub what: &'static str,
    /// Only the part before `:`; the key material itself is never echoed.
    pub name_hint: String,
    pub why: &'static str,
}

/// A public key in Nix's `name:base64(32 bytes)` notation.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub name: String,
    key: VerifyingKey,
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, bytes) = split_key("public key", s.trim())?;
        let err = |why| KeyError {
            what: "public key",
            name_hint: name.to_owned(),
            why,
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| err("not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| err("not an ed25519 point"))?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, BASE64.encode(self.key.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// A secret key in Nix's `name:base64(64 bytes: seed ++ public)` notation, as written by
/// `nix key generate-secret`. Its `Debug` shows only the name.
pub struct SecretKey {
    pub name: String,
    key: SigningKey,
}

impl FromStr for SecretKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, bytes) = split_key("secret key", s.trim())?;
        if bytes.len() != 64 {
            return Err(KeyError {
                what: "secret key",
                name_hint: name.to_owned(),
                why: "not 64 bytes",
            });
        }
        let seed: [u8; 32] = bytes[..32].try_into().expect("length checked");
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}:<redacted>)", self.name)
    }
}

impl SecretKey {
    /// Builds a key from a 32-byte seed (for generated test and benchmark caches).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Self {
        Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// `name:base64(signature)`, the value of a narinfo `Sig` line.
    pub fn sign(&self, message: &[u8]) -> String {
        let sig = self.key.sign(message);
        format!("{}:{}", self.name, BASE64.encode(sig.to_bytes()))
    }

    /// Appends this key's signature on `info`'s fingerprint.
    pub fn sign_narinfo(&self, info: &mut NarInfo) {
        let sig = self.sign(info.fingerprint().as_bytes());
        info.sigs.push(sig);
    }
}

fn split_key<'a>(what: &'static str, s: &'a str) -> Result<(&'a str, Vec<u8>), KeyError> {
    let (name, b64) = s.split_once(':').ok_or(KeyError {
        what,
        name_hint: String::new(),
        why: "no `:` between name and key",
    })?;
    if name.is_empty() {
        return Err(KeyError {
            what,
            name_hint: String::new(),
            why: "empty key name",
        });
    }
    let bytes = BASE64.decode(b64).map_err(|_| KeyError {
        what,
        name_hint: name.to_owned(),
        why: "not base64",
    })?;
    Ok((name, bytes))
}

/// The set of keys a consumer (CI) accepts signatures from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut out = Self::default();
        for k in keys {
            out.add(k);
        }
        out
    }

    pub fn add(&mut self, key: PublicKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Verifies one `name:base64` signature; like Nix, only keys with the same name are tried.
    pub fn verify(&self, message: &[u8], sig: &str) -> Option<&str> {
        let (name, b64) = sig.split_once(':')?;
        let bytes: [u8; 64] = BASE64.decode(b64).ok()?.try_into().ok()?;
        let sig = Signature::from_bytes(&bytes);
        self.keys
            .iter()
            .filter(|k| k.name == name)
            .find(|k| k.key.verify(message, &sig).is_ok())
            .map(|k| k.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by `nix copy --to file://...?secret-key=...` (Nix 2.8) for a two-path closure.
    const B: &str = "StorePath: /nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b
URL: nar/0q9ngyh695p1yrgvgggfizg78i7fkm9kbrckpd357rdwili13m0d.nar.xz
Compression: xz
FileHash: sha256:0q9ngyh695p1yrgvgggfizg78i7fkm9kbrckpd357rdwili13m0d
FileSize: 172
NarHash: sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7
NarSize: 160
References: nmcb681g46qgw139ad2s1f9yi47d9f6q-c
Deriver: 9lyarr525ykk58h4hi6y1cfayypgkr2r-b.drv
Sig: test-1:yI2KXVJVJBsXJSICRt5QrE8TTK8eybBTEWU6AIzoOf8LxNNbByLOdXptYeZQfQ1nKNFUdC3G23BukrNtUzGWCA==
";
    const PK: &str = "test-1:yP2wLF1ksPLmR0QnDjUcOY/fkjaIlxz+x25Z5Xs/ClM=";

    #[test]
    fn parses_and_fingerprints_like_nix() {
        let info: NarInfo = B.parse().unwrap();
        assert_eq!(info.nar_size, 160);
        assert_eq!(info.references.len(), 1);
        assert_eq!(
            info.fingerprint(),
            "1;/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b;\
             sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7;160;\
             /nix/store/nmcb681g46qgw139ad2s1f9yi47d9f6q-c"
        );
    }

    #[test]
    fn verifies_real_nix_signature_and_rejects_tampering() {
        let keys = TrustedKeys::new([PK.parse().unwrap()]);
        let info: NarInfo = B.parse().unwrap();
        assert_eq!(info.verified_by(&keys), Some("test-1"));

        let tampered: NarInfo = B.replace("NarSize: 160", "NarSize: 161").parse().unwrap();
        assert_eq!(tampered.verified_by(&keys), None);

        let other = SecretKey::from_seed("test-1", [7; 32]);
        assert_eq!(info.verified_by(&TrustedKeys::new([other.public()])), None);
    }

    #[test]
    fn reference_order_in_the_file_does_not_matter() {
        let key = SecretKey::from_seed("k", [4; 32]);
        let mut info: NarInfo = B.parse().unwrap();
        info.sigs.clear();
        info.references.insert(
            0,
            "/nix/store/51qyrlmf67x58ngw8087a6zci97llcwm-b"
                .parse()
                .unwrap(),
        );
        key.sign_narinfo(&mut info);
        info.references.reverse();
        assert!(
            info.fingerprint().contains(";/nix/store/51qy"),
            "{}",
            info.fingerprint()
        );
        assert_eq!(
            info.verified_by(&TrustedKeys::new([key.public()])),
            Some("k")
        );
    }

    #[test]
    fn sign_then_verify_round_trips_through_text() {
        let key = SecretKey::from_seed("bench-1", [3; 32]);
        let mut info: NarInfo = B.parse().unwrap();
        info.sigs.clear();
        key.sign_narinfo(&mut info);
        let reparsed: NarInfo = info.to_text().parse().unwrap();
        assert_eq!(reparsed, info);
        assert_eq!(
            reparsed.verified_by(&TrustedKeys::new([key.public()])),
            Some("bench-1")
        );
    }

    #[test]
    fn errors_name_the_line_and_never_echo_keys() {
        let err = "StorePath: /nix/store/x\n".parse::<NarInfo>().unwrap_err();
        assert!(
            matches!(err, NarInfoError::BadField { line: 1, .. }),
            "{err}"
        );
        let err = "name:c2VjcmV0"
            .parse::<PublicKey>()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("c2VjcmV0"), "{err}");
        assert!(format!("{:?}", SecretKey::from_seed("k", [1; 32])).contains("redacted"));
    }
}

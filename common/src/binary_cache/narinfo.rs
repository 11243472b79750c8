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
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use thiserror::Error;

use crate::binary_cache::store_path::StorePath;
use crate::nix::nix_hash::Sha256Hash;

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
    #[error("line {line}: expected `Key: value` ending in a newline, found {text:?}")]
    BadLine { line: usize, text: String },
    #[error("line {line}: bad {field}: {why}")]
    BadField {
        line: usize,
        field: &'static str,
        why: String,
    },
    #[error("missing required field `{0}`")]
    Missing(&'static str),
    #[error("NarSize is 0")]
    ZeroNarSize,
}

/// Parses exactly as Nix's `NarInfo` constructor (nar-info.cc) does, so that a file Nix
/// calls corrupt (and so never substitutes) is never counted as cached: lines end in
/// `\n` (the last one too), a value starts two bytes after the first `:` and is not
/// trimmed, `StorePath`, `NarHash`, `URL` and a non-zero `NarSize` are required, and a
/// second non-empty `References` or `CA` is an error.
impl FromStr for NarInfo {
    type Err = NarInfoError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let b = text.as_bytes();
        let mut store_path = None;
        let mut nar_hash = None;
        let mut nar_size = 0u64;
        let mut raw_refs: Vec<(usize, String)> = Vec::new();
        let mut info = Partial::default();
        let mut pos = 0;
        let mut line_no = 0;
        while pos < b.len() {
            line_no += 1;
            let bad_line = || NarInfoError::BadLine {
                line: line_no,
                text: String::from_utf8_lossy(&b[pos..])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            };
            let colon = find(b, b':', pos).ok_or_else(bad_line)?;
            let eol = find(b, b'\n', colon + 2).ok_or_else(bad_line)?;
            let name = &b[pos..colon];
            let value = String::from_utf8_lossy(&b[colon + 2..eol]).into_owned();
            let bad = |field, why: String| NarInfoError::BadField {
                line: line_no,
                field,
                why,
            };
            match name {
                b"StorePath" => {
                    store_path = Some(
                        value
                            .parse::<StorePath>()
                            .map_err(|e| bad("StorePath", e.to_string()))?,
                    )
                }
                b"URL" => info.url = Some(value),
                b"Compression" => info.compression = Some(value),
                b"FileHash" if !is_prefixed_hash(&value) => return Err(bad("FileHash", value)),
                b"FileSize" => {
                    info.file_size = Some(value.parse().map_err(|_| bad("FileSize", value))?)
                }
                b"NarHash" => {
                    nar_hash = Some(prefixed_sha256(&value).ok_or_else(|| bad("NarHash", value))?)
                }
                b"NarSize" => nar_size = value.parse().map_err(|_| bad("NarSize", value))?,
                b"References" => {
                    // Nix refuses a second References line only once references are known.
                    if raw_refs
                        .iter()
                        .any(|(_, r)| r.split(' ').any(|t| !t.is_empty()))
                    {
                        return Err(bad("References", "given twice".into()));
                    }
                    raw_refs.push((line_no, value));
                }
                b"Deriver" if value != "unknown-deriver" => {
                    StorePath::from_base_name("/", &value)
                        .map_err(|e| bad("Deriver", e.to_string()))?;
                    info.deriver = Some(value);
                }
                b"Sig" => info.sigs.push(value),
                // An empty CA means none (Nix's parseContentAddressOpt).
                b"CA" if info.ca.is_some() => return Err(bad("CA", "given twice".into())),
                b"CA" if !value.is_empty() => {
                    if !is_content_address(&value) {
                        return Err(bad("CA", value));
                    }
                    info.ca = Some(value);
                }
                // Unknown keys (System, ...) are legal and carry nothing we need.
                _ => {}
            }
            pos = eol + 1;
        }
        let store_path: StorePath = store_path.ok_or(NarInfoError::Missing("StorePath"))?;
        let nar_hash = nar_hash.ok_or(NarInfoError::Missing("NarHash"))?;
        if info.url.as_deref().unwrap_or("").is_empty() {
            return Err(NarInfoError::Missing("URL"));
        }
        if nar_size == 0 {
            return Err(NarInfoError::ZeroNarSize);
        }
        // Nix keeps references in a set: order and duplicates in the file do not matter.
        let mut references = std::collections::BTreeSet::new();
        for (line, refs) in raw_refs {
            for r in refs.split(' ').filter(|t| !t.is_empty()) {
                references.insert(
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
            nar_hash,
            nar_size,
            references: references.into_iter().collect(),
            deriver: info.deriver,
            sigs: info.sigs,
            ca: info.ca,
        })
    }
}

fn find(b: &[u8], needle: u8, from: usize) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == needle)
        .map(|i| i + from)
}

/// `sha256:<hex|base32|base64>` or SRI `sha256-<base64>` (Nix's `Hash::parseAnyPrefixed`).
fn prefixed_sha256(s: &str) -> Option<Sha256Hash> {
    if s.starts_with("sha256:") || s.starts_with("sha256-") {
        s.parse().ok()
    } else {
        None
    }
}

/// Any algorithm Nix knows, prefixed, with an encoding whose length fits the algorithm.
fn is_prefixed_hash(s: &str) -> bool {
    let Some((algo, sep, body)) = ["md5", "sha1", "sha256", "sha512"].iter().find_map(|a| {
        let rest = s.strip_prefix(a)?;
        let sep = rest.chars().next()?;
        Some((*a, sep, &rest[1..]))
    }) else {
        return false;
    };
    let n: usize = match algo {
        "md5" => 16,
        "sha1" => 20,
        "sha256" => 32,
        _ => 64,
    };
    let base64_ok = body.len() == n.div_ceil(3) * 4 && BASE64.decode(body).is_ok();
    match sep {
        '-' => base64_ok,
        ':' => {
            base64_ok
                || (body.len() == 2 * n && body.bytes().all(|c| c.is_ascii_hexdigit()))
                || (body.len() == (n * 8 - 1) / 5 + 1
                    && crate::nix::nix_base32::decode(body, n).is_ok())
        }
        _ => false,
    }
}

/// `algo:<any encoding>` as `algo:<hex>` (what Nix's `makeStorePath` hashes).
fn hex_of(s: &str) -> Option<String> {
    let (algo, body) = s.split_once(':')?;
    let n: usize = match algo {
        "md5" => 16,
        "sha1" => 20,
        "sha256" => 32,
        "sha512" => 64,
        _ => return None,
    };
    let bytes = if body.len() == 2 * n && body.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Some(format!("{algo}:{}", body.to_ascii_lowercase()));
    } else if body.len() == (n * 8 - 1) / 5 + 1 {
        crate::nix::nix_base32::decode(body, n).ok()?
    } else {
        BASE64.decode(body).ok().filter(|b| b.len() == n)?
    };
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{algo}:{hex}"))
}

/// `text:sha256:<hash>` or `fixed:[r:]<algo>:<hash>` (Nix's `parseContentAddress`).
fn is_content_address(s: &str) -> bool {
    if let Some(h) = s.strip_prefix("text:") {
        return h.starts_with("sha256:") && is_prefixed_hash(h);
    }
    match s.strip_prefix("fixed:") {
        Some(h) => is_prefixed_hash(h.strip_prefix("r:").unwrap_or(h)),
        None => false,
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

/// The string Nix signs for a store path (`ValidPathInfo::fingerprint` in Nix's
/// src/libstore/path-info.cc): the same for a narinfo and for a path in a local store.
pub fn fingerprint(
    store_path: &StorePath,
    nar_hash: &Sha256Hash,
    nar_size: u64,
    references: &[StorePath],
) -> String {
    // Nix holds references in a sorted set, whatever order the file lists them in.
    let refs: std::collections::BTreeSet<String> =
        references.iter().map(|r| r.to_string()).collect();
    let refs: Vec<String> = refs.into_iter().collect();
    format!(
        "1;{store_path};sha256:{};{nar_size};{}",
        nar_hash.to_nix_base32(),
        refs.join(",")
    )
}

impl NarInfo {
    /// The string Nix signs (`ValidPathInfo::fingerprint`).
    pub fn fingerprint(&self) -> String {
        fingerprint(
            &self.store_path,
            &self.nar_hash,
            self.nar_size,
            &self.references,
        )
    }

    /// The name of the first trusted key that has a valid signature on this path. Like
    /// Nix, every signature is looked at: a malformed one under a trusted key's name makes
    /// Nix throw "signature is not valid" (no substitution), so it is an error here too.
    pub fn verified_by<'k>(&self, keys: &'k TrustedKeys) -> Result<Option<&'k str>, SigError> {
        let fingerprint = self.fingerprint();
        let mut found = None;
        for sig in &self.sigs {
            if let Some(name) = keys.verify(fingerprint.as_bytes(), sig)? {
                found = found.or(Some(name));
            }
        }
        Ok(found)
    }

    /// Whether the `CA` field recomputes to this very store path (Nix's
    /// `ValidPathInfo::isContentAddressed`): Nix then needs no signature at all.
    pub fn is_content_addressed(&self) -> bool {
        let Some(ca) = &self.ca else { return false };
        let dir = self.store_path.store_dir();
        let name = self.store_path.name();
        let refs_type = |kind: &str, refs: &[&StorePath], self_ref: bool| {
            let mut t = kind.to_owned();
            for r in refs {
                t += &format!(":{r}");
            }
            if self_ref {
                t += ":self";
            }
            t
        };
        let mut refs: Vec<&StorePath> = self.references.iter().collect();
        refs.sort();
        refs.dedup();
        let computed = if let Some(h) = ca.strip_prefix("text:") {
            let Some(hex) = hex_of(h).filter(|x| x.starts_with("sha256:")) else {
                return false;
            };
            StorePath::make(dir, &refs_type("text", &refs, false), &hex, name)
        } else if let Some(h) = ca.strip_prefix("fixed:") {
            let (recursive, h) = match h.strip_prefix("r:") {
                Some(rest) => (true, rest),
                None => (false, h),
            };
            let Some(hex) = hex_of(h) else { return false };
            if recursive && hex.starts_with("sha256:") {
                let self_ref = refs.contains(&&self.store_path);
                refs.retain(|r| **r != self.store_path);
                StorePath::make(dir, &refs_type("source", &refs, self_ref), &hex, name)
            } else {
                // Nix asserts there are no references here; treat any as "not CA".
                if !refs.is_empty() {
                    return false;
                }
                let prefix = if recursive { "r:" } else { "" };
                let inner = crate::nix::nix_hash::Sha256Hash::of(
                    format!("fixed:out:{prefix}{hex}:").as_bytes(),
                );
                StorePath::make(
                    dir,
                    "output:out",
                    &format!("sha256:{}", inner.to_hex()),
                    name,
                )
            }
        } else {
            return false;
        };
        computed.is_ok_and(|p| p == self.store_path)
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
        // libsodium refuses small-order keys; any signature would verify under one.
        if key.is_weak() {
            return Err(err("a weak (small-order) ed25519 key"));
        }
        // ... and non-canonical encodings (y >= p), which dalek decodes modulo p.
        if key.to_edwards().compress().to_bytes() != bytes {
            return Err(err("a non-canonical ed25519 point encoding"));
        }
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
        let key = SigningKey::from_bytes(&seed);
        // Nix's `toPublicKey` (libsodium's `crypto_sign_ed25519_sk_to_pk`) copies the stored
        // second half rather than deriving it, and signs with it too: a key whose halves
        // disagree makes signatures that verify under no key, so it is refused.
        if key.verifying_key().as_bytes()[..] != bytes[32..] {
            return Err(KeyError {
                what: "secret key",
                name_hint: name.to_owned(),
                why: "its public half does not match its seed",
            });
        }
        Ok(Self {
            name: name.to_owned(),
            key,
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
    let bytes = nix_base64_decode(b64).ok_or_else(|| KeyError {
        what,
        name_hint: name.to_owned(),
        why: "not base64",
    })?;
    Ok((name, bytes))
}

/// Nix's `base64Decode`: stops at the first `=`, skips newlines, refuses other non-alphabet
/// characters, and drops leftover bits (so missing padding is fine).
fn nix_base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let digit = match c {
            b'=' => break,
            b'\n' => continue,
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6 | u32::from(digit)) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// A `Sig` that names a trusted key but is not a signature at all.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("signature by trusted key {key:?} is not valid (Nix refuses to substitute this path)")]
pub struct SigError {
    pub key: String,
}

/// The set of keys a consumer (CI) accepts signatures from: one per name, the first one
/// given, as Nix's `std::map::emplace` keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        let mut out = Self::default();
        for k in keys {
            let _ = out.add(k);
        }
        out
    }

    /// Adds `key` unless a key of that name is already trusted. Returns false when `key`
    /// differs from the one kept under its name: Nix would ignore it.
    pub fn add(&mut self, key: PublicKey) -> bool {
        match self.keys.iter().find(|k| k.name == key.name) {
            Some(kept) => *kept == key,
            None => {
                self.keys.push(key);
                true
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Verifies one `name:base64` signature against the key of that name, as Nix's
    /// `verifyDetached` does: no such key is `Ok(None)`; a signature that does not decode to
    /// 64 bytes is an error; verification is libsodium-strict (`verify_strict`).
    pub fn verify(&self, message: &[u8], sig: &str) -> Result<Option<&str>, SigError> {
        let Some((name, b64)) = sig.split_once(':').filter(|(n, _)| !n.is_empty()) else {
            return Ok(None);
        };
        let Some(key) = self.keys.iter().find(|k| k.name == name) else {
            return Ok(None);
        };
        let invalid = || SigError {
            key: name.to_owned(),
        };
        let bytes: [u8; 64] = nix_base64_decode(b64)
            .ok_or_else(invalid)?
            .try_into()
            .map_err(|_| invalid())?;
        let sig = Signature::from_bytes(&bytes);
        Ok(key
            .key
            .verify_strict(message, &sig)
            .is_ok()
            .then_some(key.name.as_str()))
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
        assert_eq!(info.verified_by(&keys), Ok(Some("test-1")));

        let tampered: NarInfo = B.replace("NarSize: 160", "NarSize: 161").parse().unwrap();
        assert_eq!(tampered.verified_by(&keys), Ok(None));

        let other = SecretKey::from_seed("test-1", [7; 32]);
        assert_eq!(
            info.verified_by(&TrustedKeys::new([other.public()])),
            Ok(None)
        );
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
            Ok(Some("k"))
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
            Ok(Some("bench-1"))
        );
    }

    #[test]
    fn secret_key_gives_the_public_key_nix_gives() {
        // `nix key generate-secret --key-name t-1` and `nix key convert-secret-to-public` (2.8).
        let secret = "t-1:wQidwGXOnCTacpbJYxIs5aibiDNQarm1etZQyTHYnQFa+OzWMrWpGs1iGVBSiMSMLZWIktEjUFk1OKaVsEEpQQ==";
        let public = "t-1:Wvjs1jK1qRrNYhlQUojEjC2ViJLRI1BZNTimlbBBKUE=";
        let key: SecretKey = secret.parse().unwrap();
        assert_eq!(key.public().to_string(), public);
        // The same seed with another public half is not a key Nix could sign with.
        let mut bytes = BASE64.decode(&secret[4..]).unwrap();
        bytes[40] ^= 1;
        let bad = format!("t-1:{}", BASE64.encode(bytes));
        let err = bad.parse::<SecretKey>().unwrap_err();
        assert!(err.why.contains("public half"), "{err}");
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

    /// Each of these is "NAR info file ... is corrupt" for Nix 2.8 (`nix path-info --store
    /// file://...` on the edited file of the real narinfo B), so it must never count as cached.
    #[test]
    fn rejects_what_nix_calls_corrupt() {
        let cases: Vec<(&str, String)> = vec![
            ("CRLF", B.replace('\n', "\r\n")),
            ("no final newline", B.trim_end().to_owned()),
            ("no URL", B.replace("URL: nar/", "Url: nar/")),
            ("empty URL", B.replace("URL: nar/0q9ngyh695p1yrgvgggfizg78i7fkm9kbrckpd357rdwili13m0d.nar.xz", "URL: ")),
            ("bad FileHash", B.replace("FileHash: sha256:0q9n", "FileHash: sha256:zz")),
            ("unprefixed NarHash", B.replace("NarHash: sha256:", "NarHash: ")),
            ("two References", B.replace("Deriver:", "References: nmcb681g46qgw139ad2s1f9yi47d9f6q-c\nDeriver:")),
            ("two CAs", format!("{B}CA: fixed:r:sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7\nCA: fixed:r:sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7\n")),
            ("bad CA", format!("{B}CA: sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7\n")),
            ("NarSize 0", B.replace("NarSize: 160", "NarSize: 0")),
            ("NarSize padded", B.replace("NarSize: 160", "NarSize:  160")),
            ("bad Deriver", B.replace("Deriver: 9lyarr", "Deriver: /nix/store/9lyarr")),
            ("trailing space in StorePath", B.replace("-b\nURL", "-b \nURL")),
        ];
        for (what, text) in cases {
            assert!(text.parse::<NarInfo>().is_err(), "{what} parsed:\n{text}");
        }
    }

    #[test]
    fn reads_values_from_two_bytes_after_the_colon_like_nix() {
        // Nix takes `NarSize:160` as 60, so its signature (over 160) no longer verifies.
        let keys = TrustedKeys::new([PK.parse().unwrap()]);
        let info: NarInfo = B.replace("NarSize: 160", "NarSize:160").parse().unwrap();
        assert_eq!(info.nar_size, 60);
        assert_eq!(info.verified_by(&keys), Ok(None));
        // Legal variations Nix accepts: unknown keys, empty CA, duplicate or unsorted references.
        let ok = format!("{B}System: x86_64-linux\nCA: \n").replace(
            "References: nmcb681g46qgw139ad2s1f9yi47d9f6q-c",
            "References: nmcb681g46qgw139ad2s1f9yi47d9f6q-c  nmcb681g46qgw139ad2s1f9yi47d9f6q-c",
        );
        let info: NarInfo = ok.parse().unwrap();
        assert_eq!(info.references.len(), 1);
        assert_eq!(info.ca, None);
        assert_eq!(info.verified_by(&keys), Ok(Some("test-1")));
    }

    #[test]
    fn first_key_of_a_name_wins_like_nix() {
        let real: PublicKey = PK.parse().unwrap();
        let impostor = SecretKey::from_seed("test-1", [9; 32]).public();
        let info: NarInfo = B.parse().unwrap();
        let mut keys = TrustedKeys::default();
        assert!(keys.add(impostor.clone()));
        assert!(
            !keys.add(real.clone()),
            "a second key of the same name is dropped"
        );
        assert!(keys.add(impostor), "the same key again is not a conflict");
        assert_eq!(keys.keys().len(), 1);
        assert_eq!(info.verified_by(&keys), Ok(None));
        assert_eq!(
            info.verified_by(&TrustedKeys::new([real])),
            Ok(Some("test-1"))
        );
    }

    #[test]
    fn malformed_signature_under_a_trusted_name_is_an_error() {
        let keys = TrustedKeys::new([PK.parse().unwrap()]);
        let good = B.parse::<NarInfo>().unwrap();
        for bad in ["Sig: test-1:AAAA\n", "Sig: test-1:not*base64\n"] {
            let info: NarInfo = format!("{B}{bad}").parse().unwrap();
            assert!(info.verified_by(&keys).is_err(), "{bad}");
        }
        // Under a name nobody trusts, garbage is ignored, as by Nix.
        let info: NarInfo = format!("{B}Sig: other:AAAA\nSig: nocolon\n")
            .parse()
            .unwrap();
        assert_eq!(info.verified_by(&keys), Ok(Some("test-1")));
        // Nix's base64 decoder does not need padding.
        let sig = good.sigs[0].trim_end_matches('=');
        let info: NarInfo = B.replace(&good.sigs[0], sig).parse().unwrap();
        assert_eq!(info.verified_by(&keys), Ok(Some("test-1")));
    }

    #[test]
    fn weak_keys_and_non_canonical_signatures_are_refused() {
        // The identity point: every "signature" with R = identity, S = 0 would verify.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format!("weak:{}", BASE64.encode(identity));
        assert!(weak.parse::<PublicKey>().is_err());
        // y + p (for y < 19 it still fits in 255 bits) encodes the point y non-canonically:
        // libsodium refuses such a key. Some small y is a valid, non-weak point.
        let encode = |y: u8, plus_p: bool| {
            let mut b = [0u8; 32];
            b[0] = y;
            if plus_p {
                b = [0xff; 32];
                b[0] = 0xed + y;
                b[31] = 0x7f;
            }
            format!("nc:{}", BASE64.encode(b))
        };
        let y = (2..19u8)
            .find(|&y| encode(y, false).parse::<PublicKey>().is_ok())
            .expect("a small canonical point");
        assert!(encode(y, true).parse::<PublicKey>().is_err());
        // S + L (non-canonical S) verifies under lax ed25519 but not under libsodium.
        let key = SecretKey::from_seed("k", [6; 32]);
        let keys = TrustedKeys::new([key.public()]);
        let msg = b"1;fingerprint";
        let sig = key.sign(msg);
        let mut bytes: [u8; 64] = BASE64.decode(&sig[2..]).unwrap().try_into().unwrap();
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(bytes[32 + i]) + u16::from(L[i]) + carry;
            bytes[32 + i] = v as u8;
            carry = v >> 8;
        }
        let malleated = format!("k:{}", BASE64.encode(bytes));
        assert_eq!(keys.verify(msg, &sig), Ok(Some("k")));
        assert_eq!(keys.verify(msg, &malleated), Ok(None));
    }

    /// Written by `nix copy --to file://` (Nix 2.8), unsigned, from `nix store add-path`,
    /// `nix store add-file` and `builtins.toFile` (referencing the first). Nix 2.8 with
    /// `require-sigs = true` and no trusted keys substitutes all three.
    const CA_NARINFOS: [&str; 3] = [
        "StorePath: /nix/store/79b2q98ig99qdajc52vsnilr0b68blpd-ca-dir
URL: nar/1yq2hz0pk9kbq8ysqqr0l4qpsy7a3jwacgdzmz1yvh84s3cdx326.nar.xz
Compression: xz
FileHash: sha256:1yq2hz0pk9kbq8ysqqr0l4qpsy7a3jwacgdzmz1yvh84s3cdx326
FileSize: 172
NarHash: sha256:1465h6w25vw0aiq98j9qmh04b5842c22546b0d2y7b6yzhjfa5gi
NarSize: 296
References: 
CA: fixed:r:sha256:1465h6w25vw0aiq98j9qmh04b5842c22546b0d2y7b6yzhjfa5gi
",
        "StorePath: /nix/store/9w0s69qb2c6czg4qi1gbz9qs10qp7rbb-flat.txt
URL: nar/0gaxyl8fijismijnj5crhqj7pfdz1xql1kcsbl6l42r68my1dmi5.nar.xz
Compression: xz
FileHash: sha256:0gaxyl8fijismijnj5crhqj7pfdz1xql1kcsbl6l42r68my1dmi5
FileSize: 128
NarHash: sha256:09qj6p59yd3yi149d6ynhj47ibxqmb6yy4a8r0lyl5lic4gvnq15
NarSize: 120
References: 
CA: fixed:sha256:16pralsibirgig4r70aylkxhvb2bswixkynhrix7wfkhsqswy4s3
",
        "StorePath: /nix/store/yam2ayxp7fqhhmi8ghn6v2nbm8w1pmgx-t
URL: nar/0fv0v72bda0rbb2hzz5kb1ckl4zr3jadjvy9jwbrflgaq2rsfpfb.nar.xz
Compression: xz
FileHash: sha256:0fv0v72bda0rbb2hzz5kb1ckl4zr3jadjvy9jwbrflgaq2rsfpfb
FileSize: 176
NarHash: sha256:1nmn88xv0205lbfz7nrvgjxz1x6dwkvzzq4xwm09fh097jqj2pbp
NarSize: 168
References: 79b2q98ig99qdajc52vsnilr0b68blpd-ca-dir
CA: text:sha256:1dirilhh4104m3v5grmv8w64zx4f1rrf23mzcpsx0z0bk06sapm1
",
    ];

    #[test]
    fn content_addressed_paths_need_no_signature_only_when_the_ca_recomputes() {
        for text in CA_NARINFOS {
            let info: NarInfo = text.parse().unwrap();
            assert!(info.is_content_addressed(), "{text}");
            // A CA that does not produce this path proves nothing.
            let wrong = text
                .replace("CA: fixed:r:", "CA: fixed:")
                .replace("CA: text:sha256:1dir", "CA: text:sha256:0dir")
                .replace(
                    "16pralsibirgig4r70aylkxhvb2bswixkynhrix7wfkhsqswy4s3",
                    "06pralsibirgig4r70aylkxhvb2bswixkynhrix7wfkhsqswy4s3",
                );
            let wrong: NarInfo = wrong.parse().unwrap();
            assert!(!wrong.is_content_addressed(), "{wrong:?}");
        }
        let no_ca: NarInfo = B.parse().unwrap();
        assert!(!no_ca.is_content_addressed());
    }
}

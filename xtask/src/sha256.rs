//! SHA-256 digests in the two spellings xtask compares against pins: lowercase hex (Debian's
//! `.dsc` files) and SRI (nixpkgs). Here rather than `common`'s `Sha256Hash` so that xtask
//! builds in seconds without the library's dependency tree (issue 11, item 10).

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sha256-<base64>`, the form nixpkgs writes hashes in.
pub fn sri(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digests() {
        // `printf abc | sha256sum` and `nix hash file --type sha256 --sri` of the same bytes.
        assert_eq!(
            super::hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            super::sri(b"abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}

//! pnpm's `depPathToFilename` (packages/dependency-path in pnpm v10): the directory name a
//! pkgId gets under `v10/` for packages whose store entry is not keyed by integrity: a
//! `file:` tarball's `tarball-integrity`, and the `integrity-not-built.json` index of a
//! package the lockfile gives no integrity.

use sha2::{Digest, Sha256};

/// pnpm's default `virtual-store-dir-max-length` off Windows.
pub const MAX_LENGTH: usize = 120;

pub fn dep_path_to_filename(dep_path: &str, max_length: usize) -> String {
    let unescaped = match dep_path.strip_prefix("file:") {
        Some(rest) => format!("file+{rest}"),
        None => dep_path.strip_prefix('/').unwrap_or(dep_path).to_owned(),
    };
    let mut name = unescaped.replace(['\\', '/', ':', '*', '?', '"', '<', '>', '|', '#'], "+");
    if name.contains('(') {
        let trimmed = name.strip_suffix(')').unwrap_or(&name);
        name = trimmed.replace(")(", "_").replace(['(', ')'], "_");
    }
    let utf16_len = name.encode_utf16().count();
    if utf16_len > max_length || (name != name.to_lowercase() && !name.starts_with("file+")) {
        let keep: String = char_prefix_utf16(&name, max_length.saturating_sub(33));
        let hash = crate::nix::nix_hash::hex_encode(&Sha256::digest(name.as_bytes()));
        return format!("{keep}_{}", &hash[..32]);
    }
    name
}

/// JS `substring(0, n)` for strings without lone surrogates: the first n UTF-16 units
/// (a surrogate pair cut in half is dropped whole; pkgIds are ASCII in practice).
fn char_prefix_utf16(s: &str, n: usize) -> String {
    let mut units = 0;
    s.chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= n
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_pnpm() {
        // The directory R's replay found for a `file:` tarball dependency.
        assert_eq!(
            dep_path_to_filename("file:components/tryghost-local-tpl-1.0.0.tgz", MAX_LENGTH),
            "file+components+tryghost-local-tpl-1.0.0.tgz"
        );
        assert_eq!(
            dep_path_to_filename("@a/b@1.0.0(react@18.3.1)", MAX_LENGTH),
            "@a+b@1.0.0_react@18.3.1"
        );
        // Upper case outside `file+` names is hashed (case-insensitive file systems).
        let upper = dep_path_to_filename("JSONStream@1.3.5", MAX_LENGTH);
        assert!(
            upper.starts_with("JSONStream@1.3.5_") && upper.len() == 16 + 1 + 32,
            "{upper}"
        );
    }
}

//! Where pnpm 10 puts things in its content-addressable store (`$storeDir/v10`).
//!
//! From pnpm's `store/cafs/src/getFilePathInCafs.ts` (v10): a file lives at
//! `files/<2 hex>/<rest of the sha512 hex>`, with `-exec` appended when any execute bit of
//! its tar mode is set; a package's index at `index/<2 hex>/<hex 2..64>-<pkgId>.json`,
//! where the hex is the package tarball's integrity digest cut to 64 characters and the
//! pkgId has each of `\ / : * ? " < > |` replaced by `+` (no length limit).

use crate::fetch::integrity::Integrity;
use crate::nix::nix_hash::hex_encode as hex;

/// pnpm's `modeIsExecutable`: any of the three execute bits.
pub fn is_executable(mode: u32) -> bool {
    mode & 0o111 != 0
}

/// `files/XX/<rest>[-exec]` for a file's sha512 digest.
pub fn content_path(sha512: &[u8; 64], executable: bool) -> String {
    let hex = hex(sha512);
    let suffix = if executable { "-exec" } else { "" };
    format!("files/{}/{}{suffix}", &hex[..2], &hex[2..])
}

/// `index/XX/<hex>-<pkgId>.json` for a package fetched with this tarball integrity.
pub fn index_path(tarball: &Integrity, pkg_id: &str) -> String {
    let hex = hex(&tarball.digest);
    let hex = &hex[..hex.len().min(64)];
    format!(
        "index/{}/{}-{}.json",
        &hex[..2],
        &hex[2..],
        sanitize_pkg_id(pkg_id)
    )
}

/// The characters Windows forbids in file names become `+`, as pnpm does on every OS.
pub fn sanitize_pkg_id(pkg_id: &str) -> String {
    pkg_id.replace(['\\', '/', ':', '*', '?', '"', '<', '>', '|'], "+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_path_of_a_scoped_package() {
        // Seen in a real pnpm 10.34.9 store: @esbuild/linux-x64@0.19.12.
        let integrity = Integrity::parse_sri("sha512-bmoCYyWdEL3wDQIVbcyzRyeKLgk2WtWLTWz1ZIAZF/EGbNOwSA6ew3PftJ1PqMiOOGu0OyFMzG53L0zqIpPeNA==").unwrap();
        assert_eq!(
            index_path(&integrity, "@esbuild/aix-ppc64@0.19.12"),
            "index/6e/6a0263259d10bdf00d02156dccb347278a2e09365ad58b4d6cf564801917f1-@esbuild+aix-ppc64@0.19.12.json"
        );
        assert_eq!(
            sanitize_pkg_id(r#"a\b/c:d*e?f"g<h>i|j"#),
            "a+b+c+d+e+f+g+h+i+j"
        );
    }

    #[test]
    fn exec_is_any_execute_bit() {
        assert!(is_executable(0o744));
        assert!(is_executable(0o601));
        assert!(!is_executable(0o666));
        assert!(content_path(&[0xab; 64], true).ends_with("-exec"));
        assert!(content_path(&[0xab; 64], false).starts_with("files/ab/abab"));
    }
}

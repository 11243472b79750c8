//! The target a fetchPnpmDeps hash is computed for, named explicitly and never
//! guessed: nixpkgs' `fetcherVersion` and the pnpm version, which together with the
//! tools nixpkgs packs the store with (GNU tar, zstd, jq) fix every byte of `$out`.
//!
//! Only combinations whose output was compared byte for byte with a replay of
//! nixpkgs' fetchPnpmDeps (update-pnpm-hash/tests/reference/) are offered. nixpkgs read:
//! pkgs/build-support/node/fetch-pnpm-deps/default.nix at
//! 00d3e9499656a99482f2d245bb600253927e40d2 (supportedFetcherVersions 1 2 3; 3 packs the
//! store as pnpm-store.tar.zst); pkgs/development/tools/pnpm/default.nix (pnpm_10 =
//! 10.34.5), pkgs/by-name/gn/gnutar/package.nix at
//! 3464fb79ca33a2162259b2d35f9702a1ecd82f20 (1.35), pkgs/tools/compression/zstd (1.5.7),
//! pkgs/by-name/jq/jq/package.nix at 072bd877d3fad342972fa957688facc16fa04ec0 (1.8.2).

use std::fmt;

use thiserror::Error;

/// A verified target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub fetcher_version: u32,
    /// As the user gave it (`10` or a full version): stored in the record.
    pub pnpm: String,
    /// The pnpm release the output was verified with.
    pub pnpm_verified: &'static str,
    pub gnutar: &'static str,
    pub zstd: &'static str,
    pub jq: &'static str,
}

struct Supported {
    fetcher_version: u32,
    pnpm_major: &'static str,
    /// Full versions accepted besides the major; the first is nixpkgs' pin.
    pnpm_versions: &'static [&'static str],
    gnutar: &'static str,
    zstd: &'static str,
    jq: &'static str,
}

const SUPPORTED: &[Supported] = &[Supported {
    fetcher_version: 3,
    pnpm_major: "10",
    // 10.34.5 is nixpkgs' pnpm_10; the reference replay of pnpm10-project gave the same
    // output with 10.34.9 (update-pnpm-hash/tests/fixtures/pnpm10-project.reference/).
    pnpm_versions: &["10.34.5", "10.34.9"],
    gnutar: "1.35",
    zstd: "1.5.7",
    jq: "1.8.2",
}];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("pnpm {0} is not supported: nixpkgs' fetchPnpmDeps has no fetcherVersion for it. Supported: {1}")]
    UnsupportedPnpm(String, SupportedList),
    #[error("--fetcher-version {fetcher_version} --pnpm {pnpm} has not been verified against nixpkgs' fetchPnpmDeps. Supported: {supported}")]
    Unverified {
        fetcher_version: u32,
        pnpm: String,
        supported: SupportedList,
    },
}

/// The supported combinations, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedList;

impl fmt::Display for SupportedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = SUPPORTED
            .iter()
            .map(|s| {
                format!(
                    "--fetcher-version {} --pnpm {} (or {}; GNU tar {}, zstd {}, jq {})",
                    s.fetcher_version,
                    s.pnpm_major,
                    s.pnpm_versions.join(", "),
                    s.gnutar,
                    s.zstd,
                    s.jq
                )
            })
            .collect();
        f.write_str(&items.join("; "))
    }
}

impl Profile {
    /// The profile for `--fetcher-version N --pnpm VERSION`, or why there is none.
    pub fn resolve(fetcher_version: u32, pnpm: &str) -> Result<Self, ProfileError> {
        let major = pnpm.split('.').next().unwrap_or(pnpm);
        if major.parse::<u32>().is_ok_and(|m| m >= 12) {
            return Err(ProfileError::UnsupportedPnpm(
                pnpm.to_owned(),
                SupportedList,
            ));
        }
        SUPPORTED
            .iter()
            .find(|s| {
                s.fetcher_version == fetcher_version
                    && (pnpm == s.pnpm_major || s.pnpm_versions.contains(&pnpm))
            })
            .map(|s| Profile {
                fetcher_version,
                pnpm: pnpm.to_owned(),
                pnpm_verified: s.pnpm_versions[0],
                gnutar: s.gnutar,
                zstd: s.zstd,
                jq: s.jq,
            })
            .ok_or_else(|| ProfileError::Unverified {
                fetcher_version,
                pnpm: pnpm.to_owned(),
                supported: SupportedList,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_targets_resolve() {
        let p = Profile::resolve(3, "10").unwrap();
        assert_eq!(
            (p.pnpm_verified, p.gnutar, p.zstd),
            ("10.34.5", "1.35", "1.5.7")
        );
        assert!(Profile::resolve(3, "10.34.5").is_ok());
        assert_eq!(
            Profile::resolve(3, "10.34.9").unwrap().pnpm_verified,
            "10.34.5"
        );
        let err = Profile::resolve(4, "11").unwrap_err().to_string();
        assert!(
            err.contains("not been verified") && err.contains("--fetcher-version 3 --pnpm 10"),
            "{err}"
        );
        assert!(Profile::resolve(3, "10.0.0").is_err());
        let err = Profile::resolve(3, "12.4.2").unwrap_err().to_string();
        assert!(err.starts_with("pnpm 12.4.2 is not supported"), "{err}");
    }
}

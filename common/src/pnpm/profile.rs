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
//! fetcherVersion 4 (pnpm 11's `v11/` store, `index.db` kept as its `.dump` text in the
//! form sqlite shells before 3.50 print, nixpkgs #522703/#538919): nixpkgs' pnpm_11 is
//! 11.22.0; 11.28.11 differs in the manifest whitelist (`gypfile`), see
//! [`crate::pnpm::store::index_row`]. Compared with the replay of
//! update-pnpm-hash/tests/fixtures/pnpm10-project.fv4.reference/.

use std::fmt;

use thiserror::Error;

use super::frozen_check::PnpmRules;
use super::store::index_row::{V11Rules, PNPM_11_22, PNPM_11_28};
use super::store::StoreLayout;

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
    /// The store pnpm leaves, and for pnpm 11 the rules of its minor.
    pub layout: StoreLayout,
    /// The sqlite shell's `.dump` form (fetcherVersion 4), `None` when unused.
    pub sqlite: Option<&'static str>,
    /// `--node` as given: the Node major pnpm runs under, stored in the record. Only
    /// the rows of patched packages hold it (see [`Profile::require_node`]).
    pub node: Option<u32>,
    /// fetchPnpmDeps' `pnpmWorkspaces` (`--workspace`), as given: the `--filter=`
    /// selectors of the install; empty for a plain install. Stored in the record.
    pub workspaces: Vec<String>,
}

struct Supported {
    fetcher_version: u32,
    pnpm_major: &'static str,
    /// Full versions accepted besides the major; the first is nixpkgs' pin.
    pnpm_versions: &'static [&'static str],
    gnutar: &'static str,
    zstd: &'static str,
    jq: &'static str,
    layout: StoreLayout,
    sqlite: Option<&'static str>,
    /// Node majors a replay of a patched project verified (`--node`); empty where the
    /// output does not depend on Node.
    nodes: &'static [u32],
}

/// The `.dump` text form fetcherVersion 4 hashes: that of the 3.40–3.49 shells, which
/// nixpkgs #538919 rewrites newer shells' output back to.
const SQLITE_DUMP_FORM: &str = "3.4x .dump form";

const SUPPORTED: &[Supported] = &[
    Supported {
        fetcher_version: 3,
        pnpm_major: "10",
        // 10.34.5 is nixpkgs' pnpm_10; the reference replay of pnpm10-project gave the same
        // output with 10.34.9 (update-pnpm-hash/tests/fixtures/pnpm10-project.reference/).
        pnpm_versions: &["10.34.5", "10.34.9"],
        gnutar: "1.35",
        zstd: "1.5.7",
        jq: "1.8.2",
        layout: StoreLayout::V10,
        sqlite: None,
        nodes: &[],
    },
    Supported {
        fetcher_version: 4,
        pnpm_major: "11",
        // nixpkgs' pnpm_11.
        pnpm_versions: &["11.22.0"],
        gnutar: "1.35",
        zstd: "1.5.7",
        jq: "1.8.2",
        layout: StoreLayout::V11(PNPM_11_22),
        sqlite: Some(SQLITE_DUMP_FORM),
        // Replayed under Node 22.23.5 and 24.22.3 (fixtures/pnpm11-patched.reference/).
        nodes: &[22, 24],
    },
    Supported {
        fetcher_version: 4,
        pnpm_major: "11",
        // Reached only by the full version: `--pnpm 11` is nixpkgs' pin above.
        pnpm_versions: &["11.28.11"],
        gnutar: "1.35",
        zstd: "1.5.7",
        jq: "1.8.2",
        layout: StoreLayout::V11(PNPM_11_28),
        sqlite: Some(SQLITE_DUMP_FORM),
        nodes: &[22],
    },
];

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
    #[error("--node {node} with --fetcher-version {fetcher_version} --pnpm {pnpm} has not been verified against nixpkgs' fetchPnpmDeps{}", verified_nodes(nodes))]
    UnverifiedNode {
        node: u32,
        fetcher_version: u32,
        pnpm: String,
        nodes: &'static [u32],
    },
    #[error("{patched} is patched (patchedDependencies): pnpm 11 stores a patched package under a key naming the Node major it runs under (linux;x64;node<major>;patch=…), so this hash depends on the Node nixpkgs' pnpm_11 uses; pass it with --node{}", verified_nodes(nodes))]
    NodeRequired {
        patched: String,
        nodes: &'static [u32],
    },
}

fn verified_nodes(nodes: &[u32]) -> String {
    if nodes.is_empty() {
        return ": its output does not depend on Node, so leave --node out".to_owned();
    }
    let list: Vec<String> = nodes.iter().map(|n| format!("--node {n}")).collect();
    format!(
        ". Verified: {} (the Node major nixpkgs' pnpm runs under; x86_64-linux only)",
        list.join(", ")
    )
}

/// The supported combinations, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedList;

impl fmt::Display for SupportedList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = SUPPORTED
            .iter()
            .map(|s| {
                let versions = s.pnpm_versions.join(", ");
                let pnpm = if is_pin(s) {
                    format!("{} (or {versions})", s.pnpm_major)
                } else {
                    versions
                };
                let sqlite = s
                    .sqlite
                    .map(|v| format!(", sqlite {v}"))
                    .unwrap_or_default();
                format!(
                    "--fetcher-version {} --pnpm {pnpm} (GNU tar {}, zstd {}, jq {}{sqlite})",
                    s.fetcher_version, s.gnutar, s.zstd, s.jq
                )
            })
            .collect();
        f.write_str(&items.join("; "))
    }
}

/// Whether `--pnpm MAJOR` resolves to this entry (the first for its fetcher version and major).
fn is_pin(s: &Supported) -> bool {
    SUPPORTED
        .iter()
        .find(|o| o.fetcher_version == s.fetcher_version && o.pnpm_major == s.pnpm_major)
        .is_some_and(|first| std::ptr::eq(first, s))
}

impl Profile {
    /// Whose `--frozen-lockfile` checks the install runs.
    pub fn frozen_rules(&self) -> PnpmRules {
        match self.layout {
            StoreLayout::V10 => PnpmRules::V10,
            StoreLayout::V11(_) => PnpmRules::V11,
        }
    }

    /// The profile for `--fetcher-version N --pnpm VERSION [--node MAJOR]`, or why there
    /// is none.
    pub fn resolve(
        fetcher_version: u32,
        pnpm: &str,
        node: Option<u32>,
    ) -> Result<Self, ProfileError> {
        let major = pnpm.split('.').next().unwrap_or(pnpm);
        if major.parse::<u32>().is_ok_and(|m| m >= 12) {
            return Err(ProfileError::UnsupportedPnpm(
                pnpm.to_owned(),
                SupportedList,
            ));
        }
        let s = SUPPORTED
            .iter()
            .find(|s| {
                s.fetcher_version == fetcher_version
                    && (pnpm == s.pnpm_major || s.pnpm_versions.contains(&pnpm))
            })
            .ok_or_else(|| ProfileError::Unverified {
                fetcher_version,
                pnpm: pnpm.to_owned(),
                supported: SupportedList,
            })?;
        if let Some(node) = node.filter(|n| !s.nodes.contains(n)) {
            return Err(ProfileError::UnverifiedNode {
                node,
                fetcher_version,
                pnpm: pnpm.to_owned(),
                nodes: s.nodes,
            });
        }
        let layout = match s.layout {
            StoreLayout::V11(rules) => StoreLayout::V11(V11Rules {
                node_major: node,
                ..rules
            }),
            other => other,
        };
        Ok(Profile {
            fetcher_version,
            pnpm: pnpm.to_owned(),
            pnpm_verified: s.pnpm_versions[0],
            gnutar: s.gnutar,
            zstd: s.zstd,
            jq: s.jq,
            layout,
            sqlite: s.sqlite,
            node,
            workspaces: Vec::new(),
        })
    }

    /// This target with the install filtered by `workspaces` (pnpmWorkspaces), each
    /// checked to be a selector form update-pnpm-hash emulates.
    pub fn with_workspaces(
        mut self,
        workspaces: Vec<String>,
    ) -> Result<Self, super::workspace_filter::FilterError> {
        for w in &workspaces {
            super::workspace_filter::parse(w)?;
        }
        self.workspaces = workspaces;
        Ok(self)
    }

    /// Why a lockfile with `patchedDependencies` (the first patched package given) has no
    /// hash for this profile: pnpm 11 keys a patched package's side effects
    /// `linux;x64;node<major>;…` in its index row, so fetcherVersion 4 output depends on
    /// the Node nixpkgs' pnpm_11 runs under. That is nixpkgs' default nodejs of the
    /// revision, which we could not read for the pinned one, so it is asked for, not guessed.
    pub fn require_node(&self, patched: &str) -> Result<(), ProfileError> {
        let nodes = SUPPORTED
            .iter()
            .find(|s| s.pnpm_versions[0] == self.pnpm_verified)
            .map_or(&[][..], |s| s.nodes);
        match self.layout {
            StoreLayout::V11(V11Rules {
                node_major: None, ..
            }) => Err(ProfileError::NodeRequired {
                patched: patched.to_owned(),
                nodes,
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_targets_resolve() {
        let p = Profile::resolve(3, "10", None).unwrap();
        assert_eq!(
            (p.pnpm_verified, p.gnutar, p.zstd),
            ("10.34.5", "1.35", "1.5.7")
        );
        assert!(Profile::resolve(3, "10.34.5", None).is_ok());
        assert_eq!(
            Profile::resolve(3, "10.34.9", None).unwrap().pnpm_verified,
            "10.34.5"
        );
        let err = Profile::resolve(4, "10", None).unwrap_err().to_string();
        assert!(
            err.contains("not been verified") && err.contains("--fetcher-version 3 --pnpm 10"),
            "{err}"
        );
        assert!(
            err.contains("--fetcher-version 4 --pnpm 11 (or 11.22.0)")
                && err.contains("--fetcher-version 4 --pnpm 11.28.11 ("),
            "{err}"
        );
        let p = Profile::resolve(4, "11", None).unwrap();
        assert_eq!(
            (p.pnpm_verified, p.layout),
            ("11.22.0", StoreLayout::V11(PNPM_11_22))
        );
        assert_eq!(
            Profile::resolve(4, "11.28.11", None).unwrap().layout,
            StoreLayout::V11(PNPM_11_28)
        );
        assert!(Profile::resolve(3, "11", None).is_err());
        assert!(Profile::resolve(4, "11.23.0", None).is_err());
        assert!(Profile::resolve(3, "10.0.0", None).is_err());
        let err = Profile::resolve(3, "12.4.2", None).unwrap_err().to_string();
        assert!(err.starts_with("pnpm 12.4.2 is not supported"), "{err}");
    }

    #[test]
    fn the_node_major_is_explicit_and_verified() {
        let p = Profile::resolve(4, "11", Some(24)).unwrap();
        assert_eq!(p.node, Some(24));
        assert!(matches!(
            p.layout,
            StoreLayout::V11(V11Rules {
                node_major: Some(24),
                ..
            })
        ));
        assert!(p.require_node("ms@2.1.3").is_ok());
        let err = Profile::resolve(4, "11", None)
            .unwrap()
            .require_node("ms@2.1.3")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("ms@2.1.3 is patched")
                && err.contains("Verified: --node 22, --node 24"),
            "{err}"
        );
        assert!(Profile::resolve(4, "11.28.11", Some(24)).is_err());
        let err = Profile::resolve(3, "10", Some(22)).unwrap_err().to_string();
        assert!(
            err.contains("does not depend on Node, so leave --node out"),
            "{err}"
        );
        // fetcherVersion 3 never needs it.
        assert!(Profile::resolve(3, "10", None)
            .unwrap()
            .require_node("ms@2.1.3")
            .is_ok());
    }
}

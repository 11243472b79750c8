//! `nix-hooks`' one configuration file, `.nix/hooks.toml`. Every key is optional and
//! the common layout (record at `.nix/yarn-deps.toml`, lockfiles named by the record)
//! needs no file at all.
//!
//! ```toml
//! record = ".nix/yarn-deps.toml"      # where update-yarn-hash writes the hashes
//! lockfiles = ["yarn.lock"]           # must have a fresh record entry (default: those the record names)
//!
//! [checks]                            # each "fail", "warn" or "off"
//! stale-hash = "fail"
//! nix-syntax = "fail"
//! flake-lock = "fail"
//! flake-inputs = "warn"               # flake.nix inputs changed, flake.lock not staged
//! package-json = "warn"               # dependencies changed, yarn.lock not staged
//! unrecorded-lockfile = "fail"        # a yarn.lock / pnpm-lock.yaml the record has no entry for
//!
//! [[in-place]]                        # hash kept in a .nix file instead of the record
//! lockfile = "yarn.lock"
//! nix-file = "nix/yarn-deps.nix"
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::git::git_index::repo_path_problem;
use crate::record::hash_record::DEFAULT_RECORD_PATH;

/// Where the configuration lives, relative to the repository root.
pub const DEFAULT_CONFIG_PATH: &str = ".nix/hooks.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Fail,
    Warn,
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Checks {
    pub stale_hash: Level,
    pub nix_syntax: Level,
    pub flake_lock: Level,
    pub flake_inputs: Level,
    pub package_json: Level,
    /// A staged (pre-commit) or tracked (envrc) lockfile the record does not know.
    pub unrecorded_lockfile: Level,
}

impl Default for Checks {
    fn default() -> Self {
        Self {
            stale_hash: Level::Fail,
            nix_syntax: Level::Fail,
            flake_lock: Level::Fail,
            flake_inputs: Level::Warn,
            package_json: Level::Warn,
            unrecorded_lockfile: Level::Fail,
        }
    }
}

/// A lockfile whose fetchYarnDeps hash is written in a `.nix` file rather than the record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct InPlace {
    pub lockfile: String,
    pub nix_file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HooksConfig {
    /// The hash record, relative to the repository root.
    pub record: String,
    /// Lockfiles that must have a fresh record entry; empty means "those the record names".
    pub lockfiles: Vec<String>,
    pub checks: Checks,
    pub in_place: Vec<InPlace>,
}

impl Default for HooksConfig {
    fn default() -> Self {
        Self {
            record: DEFAULT_RECORD_PATH.to_owned(),
            lockfiles: Vec::new(),
            checks: Checks::default(),
            in_place: Vec::new(),
        }
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// At `line:col` (1-based) when known: shown in the one `file:line:col:` form.
    #[error("{}{}: {message}\nfix: edit it (every key is optional; see `nix-hooks --help`) or delete it to use the defaults", path.display(), at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        at: Option<(usize, usize)>,
        message: String,
    },
}

impl HooksConfig {
    /// Reads the configuration; the defaults when the file does not exist.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match fs::read(path) {
            Ok(bytes) => Self::parse(&bytes, path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses configuration bytes; `path` only names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, ConfigError> {
        let invalid = |at: Option<usize>, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            at: at.map(|offset| line_col(bytes, offset)),
            message,
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| invalid(Some(e.valid_up_to()), format!("not UTF-8: {e}")))?;
        let config: Self = toml::from_str(text)
            .map_err(|e| invalid(e.span().map(|s| s.start), e.message().to_owned()))?;
        for (key, value) in config.paths() {
            if let Some(problem) = repo_path_problem(value) {
                let at = text.find(&format!("{value:?}"));
                return Err(invalid(at, format!("{key} = {value:?} {problem}")));
            }
        }
        Ok(config)
    }

    /// Every path the file names, with the key naming it.
    fn paths(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("record", self.record.as_str())];
        out.extend(self.lockfiles.iter().map(|l| ("lockfiles", l.as_str())));
        for entry in &self.in_place {
            out.push(("lockfile", entry.lockfile.as_str()));
            out.push(("nix-file", entry.nix_file.as_str()));
        }
        out
    }

    /// The in-place entry for `lockfile`, if its hash lives in a `.nix` file.
    pub fn in_place_for(&self, lockfile: &str) -> Option<&InPlace> {
        self.in_place.iter().find(|i| i.lockfile == lockfile)
    }
}

/// The 1-based line and column (in characters) of byte `offset`.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (before.iter().filter(|&&b| b == b'\n').count() + 1, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_and_empty_file_mean_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let absent = HooksConfig::load(&dir.path().join("hooks.toml")).unwrap();
        assert_eq!(absent, HooksConfig::default());
        assert_eq!(absent.record, ".nix/yarn-deps.toml");
        assert_eq!(
            HooksConfig::parse(b"", Path::new("h")).unwrap(),
            HooksConfig::default()
        );
    }

    #[test]
    fn every_documented_key_parses() {
        let text = br#"
record = "nix/deps.toml"
lockfiles = ["yarn.lock"]
[checks]
stale-hash = "warn"
package-json = "fail"
flake-inputs = "off"
unrecorded-lockfile = "off"
[[in-place]]
lockfile = "app/yarn.lock"
nix-file = "app/default.nix"
"#;
        let c = HooksConfig::parse(text, Path::new("h")).unwrap();
        assert_eq!(c.record, "nix/deps.toml");
        assert_eq!(c.lockfiles, ["yarn.lock"]);
        assert_eq!(c.checks.stale_hash, Level::Warn);
        assert_eq!(c.checks.package_json, Level::Fail);
        assert_eq!(c.checks.flake_inputs, Level::Off);
        assert_eq!(c.checks.unrecorded_lockfile, Level::Off);
        assert_eq!(c.checks.nix_syntax, Level::Fail, "unset keys keep defaults");
        assert_eq!(
            c.in_place_for("app/yarn.lock").unwrap().nix_file,
            "app/default.nix"
        );
    }

    #[test]
    fn typos_are_errors_with_a_line() {
        let err = HooksConfig::parse(
            b"\n[checks]\nstale-hsah = \"warn\"\n",
            Path::new(".nix/hooks.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(".nix/hooks.toml:3:1: "), "{err}");
        assert!(err.contains("stale-hsah"), "{err}");
        let err = HooksConfig::parse(b"[checks]\nnix-syntax = \"maybe\"\n", Path::new("h"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("h:2:14: "), "{err}");
    }

    #[test]
    fn paths_must_be_plain_repository_paths() {
        for (text, at) in [
            ("record = \"./.nix/yarn-deps.toml\"\n", "1:10"),
            (
                "\nlockfiles = [\"yarn.lock\", \"../x/yarn.lock\"]\n",
                "2:27",
            ),
            (
                "[[in-place]]\nlockfile = \"yarn.lock\"\nnix-file = \"/abs.nix\"\n",
                "3:12",
            ),
            ("record = \"\"\n", "1:10"),
        ] {
            let err = HooksConfig::parse(text.as_bytes(), Path::new(".nix/hooks.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(".nix/hooks.toml:{at}: ")),
                "{text}: {err}"
            );
        }
    }
}

//! The hash record: `.nix/yarn-deps.toml`, where `update-yarn-hash` writes and the Nix
//! code (`builtins.fromTOML`) reads each lockfile's fetchYarnDeps hash.
//!
//! `lock-sha256` is the SHA-256 of the lockfile bytes the hash was computed from, so
//! staleness is a hash comparison (milliseconds, no network) rather than a recompute.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::git::git_index::repo_path_problem;
use crate::nix::nix_hash::Sha256Hash;

/// Where the record lives, relative to the repository root, unless configured.
pub const DEFAULT_RECORD_PATH: &str = ".nix/yarn-deps.toml";

const HEADER: &str = "# Written by update-yarn-hash; read by the Nix code. Do not edit by hand.\n";
/// The header once a pnpm entry is in the record (a Yarn-only record keeps its text).
const HEADER_WITH_PNPM: &str =
    "# Written by update-yarn-hash and update-pnpm-hash; read by the Nix code. Do not edit by hand.\n";

/// One table: the lockfile it describes is its key, a path relative to the repo root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// Lowercase hex SHA-256 of the lockfile bytes.
    pub lock_sha256: String,
    pub hash: Sha256Hash,
    pub fetcher: Fetcher,
}

/// The fixed-output fetcher whose hash an entry holds. Yarn entries predate the field
/// and carry none (their text is unchanged); pnpm entries name the fetcher and the
/// target it was computed for, so later runs and `--check` need not repeat it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fetcher {
    #[default]
    FetchYarnDeps,
    FetchPnpmDeps {
        /// nixpkgs' `fetcherVersion` argument.
        fetcher_version: u32,
        /// The pnpm version as given: a major (`10`) or a full version.
        pnpm: String,
        /// `--node` when given: the Node major pnpm runs under, which patched packages'
        /// fetcherVersion 4 output depends on (`node = 22`; absent when not given).
        node: Option<u32>,
        /// fetchPnpmDeps' `pnpmWorkspaces` (`--workspace`), as given: the install's
        /// `--filter=` selectors (`workspaces = ["ghost"]`; absent when empty).
        workspaces: Vec<String>,
    },
}

impl RecordEntry {
    /// A fetchYarnDeps entry.
    pub fn yarn(lock_sha256: String, hash: Sha256Hash) -> Self {
        Self {
            lock_sha256,
            hash,
            fetcher: Fetcher::FetchYarnDeps,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HashRecord {
    pub entries: BTreeMap<String, RecordEntry>,
}

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// At `line:col` (1-based) of `path`.
    #[error("{}\nfix: update-yarn-hash --rewrite-record   (writes it afresh from the lockfiles and shows every line it drops; update-pnpm-hash --rewrite-record for pnpm lockfiles)", self.without_fix())]
    Invalid {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
}

impl RecordError {
    /// The error in the one position form, `file:line:col: message`, without the `fix:`
    /// line (a caller that knows the exact command gives its own).
    fn without_fix(&self) -> String {
        match self {
            Self::Invalid {
                path,
                line,
                col,
                message,
            } => format!("{}:{line}:{col}: {message}", path.display()),
            other => other.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(rename = "lock-sha256")]
    lock_sha256: String,
    #[serde(default)]
    fetcher: Option<String>,
    #[serde(default, rename = "fetcher-version")]
    fetcher_version: Option<u32>,
    #[serde(default)]
    pnpm: Option<String>,
    #[serde(default)]
    node: Option<u32>,
    #[serde(default)]
    workspaces: Option<Vec<String>>,
    hash: String,
}

/// Is a lockfile's recorded hash still the one for its current bytes?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// The lockfile changed since its hash was recorded.
    Stale {
        recorded: String,
        actual: String,
    },
    /// The record has no table for this lockfile.
    Missing,
}

impl HashRecord {
    /// Reads the record; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, RecordError> {
        match fs::read(path) {
            Ok(bytes) => Self::parse(&bytes, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(RecordError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses record bytes; `path` only names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, RecordError> {
        let at = |line: usize, col: usize, message: String| RecordError::Invalid {
            path: path.to_owned(),
            line,
            col,
            message,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (line, col) = line_col(bytes, e.valid_up_to());
            at(line, col, format!("not UTF-8: {e}"))
        })?;
        let raw: BTreeMap<String, RawEntry> = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map_or((1, 1), |s| line_col(bytes, s.start));
            // toml's message may span lines; errors here are one line each.
            at(line, col, e.message().trim_end().replace('\n', "; "))
        })?;
        let mut entries = BTreeMap::new();
        for (lockfile, raw) in raw {
            // Its table's line: where the entry's problems are shown.
            let line = line_of(text, &toml_basic_string(&lockfile));
            let invalid = |message: String| at(line, 1, message);
            if let Some(problem) = repo_path_problem(&lockfile) {
                return Err(invalid(format!(
                    "[{}] {problem}",
                    toml_basic_string(&lockfile)
                )));
            }
            if !is_lower_hex_sha256(&raw.lock_sha256) {
                return Err(invalid(format!(
                    "[\"{lockfile}\"] lock-sha256 = {:?} is not 64 lowercase hex digits",
                    raw.lock_sha256
                )));
            }
            let hash = parse_sri(&raw.hash).ok_or_else(|| {
                invalid(format!(
                    "[\"{lockfile}\"] hash = {:?} is not an SRI sha256 hash (sha256-<base64>)",
                    raw.hash
                ))
            })?;
            let fetcher = fetcher_of(&raw).map_err(|m| invalid(format!("[\"{lockfile}\"] {m}")))?;
            entries.insert(
                lockfile,
                RecordEntry {
                    lock_sha256: raw.lock_sha256,
                    hash,
                    fetcher,
                },
            );
        }
        Ok(Self { entries })
    }

    /// The record's text: a fixed header, then one table per lockfile, sorted.
    pub fn render(&self) -> String {
        let pnpm = self
            .entries
            .values()
            .any(|e| matches!(e.fetcher, Fetcher::FetchPnpmDeps { .. }));
        let mut out = String::from(if pnpm { HEADER_WITH_PNPM } else { HEADER });
        for (lockfile, entry) in &self.entries {
            let _ = write!(
                out,
                "\n[{}]\nlock-sha256 = \"{}\"\n",
                toml_basic_string(lockfile),
                entry.lock_sha256,
            );
            if let Fetcher::FetchPnpmDeps {
                fetcher_version,
                pnpm,
                node,
                workspaces,
            } = &entry.fetcher
            {
                let _ = write!(
                    out,
                    "fetcher = \"{FETCH_PNPM_DEPS}\"\nfetcher-version = {fetcher_version}\npnpm = {}\n",
                    toml_basic_string(pnpm)
                );
                if let Some(node) = node {
                    let _ = writeln!(out, "node = {node}");
                }
                if !workspaces.is_empty() {
                    let list: Vec<String> =
                        workspaces.iter().map(|w| toml_basic_string(w)).collect();
                    let _ = writeln!(out, "workspaces = [{}]", list.join(", "));
                }
            }
            let _ = writeln!(out, "hash = \"{}\"", entry.hash.to_sri());
        }
        out
    }

    pub fn freshness(&self, lockfile: &str, lock_bytes: &[u8]) -> Freshness {
        match self.entries.get(lockfile) {
            None => Freshness::Missing,
            Some(entry) => {
                let actual = lock_sha256(lock_bytes);
                if actual == entry.lock_sha256 {
                    Freshness::Fresh
                } else {
                    Freshness::Stale {
                        recorded: entry.lock_sha256.clone(),
                        actual,
                    }
                }
            }
        }
    }
}

const FETCH_YARN_DEPS: &str = "fetchYarnDeps";
const FETCH_PNPM_DEPS: &str = "fetchPnpmDeps";

fn fetcher_of(raw: &RawEntry) -> Result<Fetcher, String> {
    match raw.fetcher.as_deref() {
        None | Some(FETCH_YARN_DEPS) => {
            if raw.fetcher_version.is_some()
                || raw.pnpm.is_some()
                || raw.node.is_some()
                || raw.workspaces.is_some()
            {
                return Err(
                    "fetcher-version, pnpm, node and workspaces belong to fetcher = \"fetchPnpmDeps\" entries"
                        .to_owned(),
                );
            }
            Ok(Fetcher::FetchYarnDeps)
        }
        Some(FETCH_PNPM_DEPS) => match (raw.fetcher_version, &raw.pnpm) {
            (Some(fetcher_version), Some(pnpm)) => Ok(Fetcher::FetchPnpmDeps {
                fetcher_version,
                pnpm: pnpm.clone(),
                node: raw.node,
                workspaces: raw.workspaces.clone().unwrap_or_default(),
            }),
            _ => Err("a fetchPnpmDeps entry needs fetcher-version and pnpm".to_owned()),
        },
        Some(other) => Err(format!(
            "fetcher = {other:?} is not one this record knows (fetchYarnDeps, fetchPnpmDeps)"
        )),
    }
}

/// Lowercase hex SHA-256 of lockfile bytes, as stored in `lock-sha256`.
pub fn lock_sha256(bytes: &[u8]) -> String {
    Sha256Hash::of(bytes).to_hex()
}

fn parse_sri(s: &str) -> Option<Sha256Hash> {
    s.starts_with("sha256-").then(|| s.parse().ok()).flatten()
}

fn is_lower_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// 1-based line and column (in characters) of byte `at`.
fn line_col(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
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

/// The 1-based line where `needle` first appears (1 when it does not, e.g. written with
/// another quoting style).
pub(crate) fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(1, |at| text[..at].matches('\n').count() + 1)
}

fn toml_basic_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_with(lockfile: &str, lock: &[u8]) -> HashRecord {
        let mut r = HashRecord::default();
        r.entries.insert(
            lockfile.to_owned(),
            RecordEntry::yarn(lock_sha256(lock), Sha256Hash::of(b"nar")),
        );
        r
    }

    #[test]
    fn pnpm_entries_name_their_target_and_yarn_entries_keep_their_old_text() {
        let mut r = record_with("yarn.lock", b"y");
        let yarn_text = r.render();
        r.entries.insert(
            "pnpm-lock.yaml".to_owned(),
            RecordEntry {
                lock_sha256: lock_sha256(b"p"),
                hash: Sha256Hash::of(b"nar"),
                fetcher: Fetcher::FetchPnpmDeps {
                    fetcher_version: 3,
                    pnpm: "10".to_owned(),
                    node: None,
                    workspaces: Vec::new(),
                },
            },
        );
        let text = r.render();
        assert!(text.contains(&format!(
            "[\"pnpm-lock.yaml\"]\nlock-sha256 = \"{}\"\nfetcher = \"fetchPnpmDeps\"\nfetcher-version = 3\npnpm = \"10\"\nhash = ",
            lock_sha256(b"p")
        )), "{text}");
        assert!(text.starts_with(HEADER_WITH_PNPM), "{text}");
        assert!(text.ends_with(&yarn_text[HEADER.len()..]), "{text}");
        assert_eq!(
            HashRecord::parse(text.as_bytes(), Path::new("r")).unwrap(),
            r
        );
        let half = text.replace("pnpm = \"10\"\n", "");
        let err = HashRecord::parse(half.as_bytes(), Path::new("r"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs fetcher-version and pnpm"), "{err}");
    }

    /// `--node` is recorded (after `pnpm`) only when given, and read back.
    #[test]
    fn a_pnpm_entry_keeps_its_node_major() {
        let mut r = HashRecord::default();
        r.entries.insert(
            "pnpm-lock.yaml".to_owned(),
            RecordEntry {
                lock_sha256: lock_sha256(b"p"),
                hash: Sha256Hash::of(b"nar"),
                fetcher: Fetcher::FetchPnpmDeps {
                    fetcher_version: 4,
                    pnpm: "11".to_owned(),
                    node: Some(24),
                    workspaces: vec!["a".to_owned(), "@s/b...".to_owned()],
                },
            },
        );
        let text = r.render();
        assert!(
            text.contains("fetcher-version = 4\npnpm = \"11\"\nnode = 24\nworkspaces = [\"a\", \"@s/b...\"]\nhash = "),
            "{text}"
        );
        assert_eq!(
            HashRecord::parse(text.as_bytes(), Path::new("r")).unwrap(),
            r
        );
        let yarn = format!(
            "{HEADER}\n[\"yarn.lock\"]\nlock-sha256 = \"{}\"\nnode = 22\nhash = \"{}\"\n",
            lock_sha256(b"y"),
            Sha256Hash::of(b"nar").to_sri()
        );
        let err = HashRecord::parse(yarn.as_bytes(), Path::new("r"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("node and workspaces belong to fetcher = \"fetchPnpmDeps\""),
            "{err}"
        );
    }

    #[test]
    fn render_has_the_documented_shape_and_parses_back() {
        let r = record_with("example/yarn.lock", b"lock");
        let text = r.render();
        assert_eq!(
            text,
            format!(
                "{HEADER}\n[\"example/yarn.lock\"]\nlock-sha256 = \"{}\"\nhash = \"{}\"\n",
                lock_sha256(b"lock"),
                Sha256Hash::of(b"nar").to_sri()
            )
        );
        assert_eq!(
            HashRecord::parse(text.as_bytes(), Path::new("r")).unwrap(),
            r
        );
    }

    #[test]
    fn odd_lockfile_paths_survive_a_round_trip() {
        let r = record_with("we\"ird\\dir/yarn.lock", b"x");
        assert_eq!(
            HashRecord::parse(r.render().as_bytes(), Path::new("r")).unwrap(),
            r
        );
    }

    #[test]
    fn freshness_compares_lockfile_bytes() {
        let r = record_with("yarn.lock", b"v1");
        assert_eq!(r.freshness("yarn.lock", b"v1"), Freshness::Fresh);
        assert!(matches!(
            r.freshness("yarn.lock", b"v2"),
            Freshness::Stale { .. }
        ));
        assert_eq!(r.freshness("other/yarn.lock", b"v1"), Freshness::Missing);
    }

    #[test]
    fn garbage_is_rejected_with_file_and_line() {
        let err = HashRecord::parse(
            b"[\"a\"]\nlock-sha256 = \n",
            Path::new(".nix/yarn-deps.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(".nix/yarn-deps.toml:2:15: invalid string"),
            "{err}"
        );
        let err = HashRecord::parse(
            b"[\"a\"]\nlock-sha256 = \"00\"\nhash = \"sha256-x\"\n",
            Path::new("r.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("lock-sha256"), "{err}");
        let err = HashRecord::parse(b"[\"a\"]\nsurprise = 1\n", Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("surprise"), "{err}");
    }

    #[test]
    fn lockfile_keys_must_be_plain_repository_paths() {
        for key in [
            "./yarn.lock",
            "../yarn.lock",
            "/yarn.lock",
            "",
            "a//yarn.lock",
        ] {
            let text = format!(
                "# h\n\n[\"{key}\"]\nlock-sha256 = \"{}\"\nhash = \"{}\"\n",
                lock_sha256(b"x"),
                Sha256Hash::of(b"x").to_sri()
            );
            let err = HashRecord::parse(text.as_bytes(), Path::new(".nix/yarn-deps.toml"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(".nix/yarn-deps.toml:3:1: "),
                "{key:?}: {err}"
            );
        }
    }
}

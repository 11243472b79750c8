//! `pnpm-lock.yaml`, lockfileVersion '9.0' (what pnpm 9, 10 and 11 write), read as pnpm
//! 10 reads it.
//!
//! pnpm/pnpm v10 `lockfile/fs/src/read.ts`: the BOM is stripped, and a file that starts
//! with `---\n` (pnpm 11's env lockfile in front) is cut to the document after the
//! second `---\n` (`extractMainDocument`); then js-yaml loads it and
//! `convertToLockfileObject` joins `packages` (metadata, keyed `name@version`) with
//! `snapshots` (the dependency graph, keyed with peer suffixes). Fields pnpm ignores
//! here are ignored too: the model keeps what decides what the store holds and what
//! `--frozen-lockfile` checks.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::Deserialize;
use thiserror::Error;

/// A parse error with the position serde_yaml reports (1-based; 0 when unknown).
#[derive(Debug, Error)]
#[error("{line}:{col}: {message}")]
pub struct LockfileError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lockfile {
    #[serde(deserialize_with = "scalar")]
    pub lockfile_version: String,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub overrides: Option<BTreeMap<String, Scalar>>,
    #[serde(default)]
    pub package_extensions_checksum: Option<String>,
    #[serde(default)]
    pub pnpmfile_checksum: Option<String>,
    #[serde(default)]
    pub ignored_optional_dependencies: Option<Vec<String>>,
    /// pnpm 10 writes `{hash, path}` per entry; pnpm 11 writes the hash alone. Kept raw:
    /// the frozen-lockfile check compares it structurally, as pnpm's `equals` does.
    #[serde(default)]
    pub patched_dependencies: Option<BTreeMap<String, serde_yaml::Value>>,
    #[serde(default)]
    pub catalogs: Option<BTreeMap<String, BTreeMap<String, CatalogEntry>>>,
    #[serde(default)]
    pub importers: BTreeMap<String, Importer>,
    #[serde(default)]
    pub packages: BTreeMap<String, PackageInfo>,
    #[serde(default)]
    pub snapshots: BTreeMap<String, Snapshot>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub auto_install_peers: Option<bool>,
    pub exclude_links_from_lockfile: Option<bool>,
    pub peers_suffix_max_length: Option<u64>,
    pub dedupe_peers: Option<bool>,
    pub inject_workspace_packages: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogEntry {
    #[serde(deserialize_with = "scalar")]
    pub specifier: String,
    #[serde(deserialize_with = "scalar")]
    pub version: String,
}

/// One workspace project (`.` is the root), keyed by its directory relative to the
/// lockfile.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Importer {
    #[serde(default)]
    pub dependencies: BTreeMap<String, ImporterDependency>,
    #[serde(default)]
    pub dev_dependencies: BTreeMap<String, ImporterDependency>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, ImporterDependency>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImporterDependency {
    #[serde(deserialize_with = "scalar")]
    pub specifier: String,
    /// A reference: `1.2.3`, `1.2.3(peer@1)`, `link:../x`, `ms@2.1.3` (an alias),
    /// `file:x.tgz`.
    #[serde(deserialize_with = "scalar")]
    pub version: String,
}

/// `packages:` entries: what to fetch and the package's metadata.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageInfo {
    pub resolution: Resolution,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub version: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub os: Option<Vec<String>>,
    #[serde(default)]
    pub cpu: Option<Vec<String>>,
    #[serde(default)]
    pub libc: Option<Vec<String>>,
    #[serde(default)]
    pub has_bin: Option<bool>,
    #[serde(default)]
    pub requires_build: Option<bool>,
    #[serde(default)]
    pub deprecated: Option<String>,
}

/// `resolution:` in all its shapes (pnpm `lockfile/types`): registry (`integrity`), a
/// tarball URL or `file:` path (`tarball`, optional `integrity`), `type: git`
/// (`repo`, `commit`), `type: directory` (`directory`), and newer types pnpm 10 does not
/// write (`variations` for `runtime:`, `binary`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    #[serde(default)]
    pub integrity: Option<String>,
    #[serde(default)]
    pub tarball: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub directory: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub git_hosted: Option<bool>,
    /// `type: variations` (`runtime:` dependencies): one resolution per platform.
    #[serde(default)]
    pub variants: Option<Vec<Variant>>,
}

/// One platform's resolution of a `runtime:` dependency (pnpm 10 `env/node-resolver`):
/// `{type: binary, archive: tarball|zip, url, integrity, bin[, prefix]}` for `targets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Variant {
    pub resolution: BinaryResolution,
    #[serde(default)]
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct BinaryResolution {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub archive: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub integrity: Option<String>,
    /// A path, or a map of names to paths; copied into the manifest pnpm makes up.
    #[serde(default)]
    pub bin: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Target {
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub cpu: Option<String>,
    #[serde(default)]
    pub libc: Option<String>,
}

/// `snapshots:` entries: one per resolved instance (peer suffixes make several per
/// package).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    #[serde(default)]
    pub dependencies: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub optional_dependencies: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub optional: bool,
    #[serde(default)]
    pub id: Option<String>,
}

/// A YAML scalar read as the string js-yaml would give pnpm for it (a bare `1.0` in
/// the lockfile is a number to YAML but a version to pnpm, which writes its own
/// strings quoted when they would read as numbers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scalar(pub String);

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar(d).map(Scalar)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_yaml::Value::deserialize(d)? {
        serde_yaml::Value::String(s) => Ok(s),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        other => Err(de::Error::custom(format!(
            "expected a string, found {}",
            kind(&other)
        ))),
    }
}

fn opt_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar(d).map(Some)
}

fn kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "null",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// The part of the file pnpm 10 parses, and the line (0-based) where it starts.
pub fn main_document(text: &str) -> (&str, usize) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !text.starts_with("---\n") {
        return (text, 0);
    }
    match text["---\n".len()..].find("\n---\n") {
        None => (text, 0),
        Some(at) => {
            let start = "---\n".len() + at + "\n---\n".len();
            (&text[start..], text[..start].matches('\n').count())
        }
    }
}

/// Parses lockfile text (the whole file); positions in errors refer to the whole file.
pub fn parse(text: &str) -> Result<Lockfile, LockfileError> {
    let (doc, first_line) = main_document(text);
    if doc.trim().is_empty() {
        return Err(LockfileError {
            line: first_line + 1,
            col: 1,
            message: "empty lockfile; run `pnpm install` to write it".to_owned(),
        });
    }
    serde_yaml::from_str(doc).map_err(|e| {
        let (line, col) = e
            .location()
            .map_or((0, 0), |l| (l.line() + first_line, l.column()));
        LockfileError {
            line,
            col,
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_owned(),
        }
    })
}

/// Where keys of the lockfile are, for messages about entries that parse but are
/// wrong: `line_of(&["packages", "ms@2.1.3"])` is the 1-based line of that key.
pub struct LineIndex {
    keys: BTreeMap<(String, String), usize>,
    sections: BTreeMap<String, usize>,
}

impl LineIndex {
    /// Indexes the top-level keys and the keys two spaces in below them (the shape
    /// pnpm writes; hand-edited files with other indentation fall back to the section).
    pub fn new(text: &str) -> Self {
        let (doc, first_line) = main_document(text);
        let mut keys = BTreeMap::new();
        let mut sections = BTreeMap::new();
        let mut section = String::new();
        for (i, line) in doc.lines().enumerate() {
            let number = first_line + i + 1;
            if let Some(key) = line.strip_suffix(':').or_else(|| line.split(": ").next()) {
                if !key.starts_with(' ') && !key.is_empty() && !key.starts_with('#') {
                    section = unquote(key.trim_end_matches(':'));
                    sections.entry(section.clone()).or_insert(number);
                } else if let Some(inner) = key.strip_prefix("  ") {
                    if !inner.starts_with(' ') && !inner.is_empty() {
                        keys.entry((section.clone(), unquote(inner.trim_end_matches(':'))))
                            .or_insert(number);
                    }
                }
            }
        }
        Self { keys, sections }
    }

    /// The line of `key` in top-level `section`, else of the section, else 1.
    pub fn line_of(&self, section: &str, key: &str) -> usize {
        self.keys
            .get(&(section.to_owned(), key.to_owned()))
            .or_else(|| self.sections.get(section))
            .copied()
            .unwrap_or(1)
    }
}

/// A YAML key as pnpm writes it: bare, or single-quoted with `''` for `'`.
fn unquote(key: &str) -> String {
    match key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => match key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
            Some(inner) => inner.to_owned(),
            None => key.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .:\n    dependencies:\n      my-ms:\n        specifier: npm:ms@2.1.3\n        version: ms@2.1.3\n\npackages:\n\n  ms@2.1.3:\n    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}\n\nsnapshots:\n\n  ms@2.1.3: {}\n";

    #[test]
    fn reads_the_v9_shape() {
        let lock = parse(SMALL).unwrap();
        assert_eq!(lock.lockfile_version, "9.0");
        assert_eq!(lock.settings.auto_install_peers, Some(true));
        assert_eq!(
            lock.importers["."].dependencies["my-ms"].version,
            "ms@2.1.3"
        );
        assert!(lock.packages["ms@2.1.3"].resolution.integrity.is_some());
        assert!(lock.snapshots.contains_key("ms@2.1.3"));
    }

    #[test]
    fn a_leading_env_document_is_skipped_as_pnpm_does() {
        let text = format!("---\nlockfileVersion: '9.0'\nimporters: {{}}\n---\n{SMALL}");
        let lock = parse(&text).unwrap();
        assert!(lock.packages.contains_key("ms@2.1.3"));
        let index = LineIndex::new(&text);
        assert_eq!(index.line_of("packages", "ms@2.1.3"), 4 + 17);
    }

    #[test]
    fn errors_carry_the_position_in_the_whole_file() {
        let text = "---\na: 1\n---\nlockfileVersion: '9.0'\npackages:\n  x@1:\n    resolution: [\n";
        let err = parse(text).unwrap_err();
        assert!(err.line >= 7, "{err}");
        let err = parse("importers: {}\n").unwrap_err();
        assert!(err.message.contains("lockfileVersion"), "{err}");
    }

    #[test]
    fn numbers_read_as_the_strings_pnpm_sees() {
        let lock = parse("lockfileVersion: 9.0\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: 1\n        version: 1.0.0\n").unwrap();
        assert_eq!(lock.lockfile_version, "9.0");
        assert_eq!(lock.importers["."].dependencies["a"].specifier, "1");
    }
}

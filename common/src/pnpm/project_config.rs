//! The project configuration pnpm 10 compares the lockfile with under
//! `--frozen-lockfile`: `pnpm-workspace.yaml` (catalogs, overrides, patches, package
//! extensions and settings), the root `package.json`'s `pnpm` field (the older home of
//! the same keys; the workspace file wins), the project's `.npmrc` (settings and
//! registries), and the workspace's project directories.
//!
//! Defaults are pnpm 10's (pnpm/pnpm v10 `config/config/src/index.ts`):
//! autoInstallPeers true, dedupePeers false, excludeLinksFromLockfile false,
//! peersSuffixMaxLength 1000, injectWorkspacePackages false, registry
//! https://registry.npmjs.org/.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;
use thiserror::Error;

pub const WORKSPACE_FILE: &str = "pnpm-workspace.yaml";
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}:{line}:{col}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registries {
    /// Always ends with `/`.
    pub default: String,
    /// `@scope` -> registry URL ending with `/`.
    pub scoped: BTreeMap<String, String>,
}

impl Registries {
    pub fn for_package(&self, name: &str) -> &str {
        name.split_once('/')
            .filter(|_| name.starts_with('@'))
            .and_then(|(scope, _)| self.scoped.get(scope))
            .unwrap_or(&self.default)
    }
}

#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// The directory holding pnpm-lock.yaml.
    pub dir: PathBuf,
    /// Catalog name (`default` for `catalog:`) -> package -> specifier.
    pub catalogs: BTreeMap<String, BTreeMap<String, String>>,
    pub overrides: Vec<(String, String)>,
    pub package_extensions: Option<Value>,
    /// `name@version` -> patch file path relative to `dir`.
    pub patched_dependencies: BTreeMap<String, String>,
    pub ignored_optional_dependencies: Option<Vec<String>>,
    pub auto_install_peers: bool,
    pub dedupe_peers: bool,
    pub exclude_links_from_lockfile: bool,
    pub peers_suffix_max_length: u64,
    pub inject_workspace_packages: bool,
    pub registries: Registries,
    /// `packages:` globs of pnpm-workspace.yaml (empty: the root project alone).
    pub workspace_globs: Vec<String>,
    /// The files read, for the record's digest: their bytes change the answer.
    pub inputs: Vec<PathBuf>,
}

impl ProjectConfig {
    /// Reads the configuration of the project whose lockfile is in `dir`.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let mut inputs = Vec::new();
        let workspace = read_yaml(&dir.join(WORKSPACE_FILE), &mut inputs)?;
        let manifest_path = dir.join("package.json");
        let manifest = read_json(&manifest_path)?;
        inputs.push(manifest_path);
        let pnpm_field = manifest.as_ref().and_then(|m| m.get("pnpm")).cloned();
        let setting = |key: &str| -> Option<Value> {
            workspace
                .as_ref()
                .and_then(|w| w.get(key))
                .or_else(|| pnpm_field.as_ref().and_then(|p| p.get(key)))
                .cloned()
        };
        let npmrc = read_npmrc(&dir.join(".npmrc"), &mut inputs)?;
        let flag = |key: &str, rc: &str, default: bool| match setting(key) {
            Some(Value::Bool(b)) => b,
            _ => npmrc.get(rc).map_or(default, |v| v == "true"),
        };
        let workspace_path = dir.join(WORKSPACE_FILE);
        let invalid = |message: String| ConfigError::Invalid {
            path: workspace_path.clone(),
            message,
        };
        Ok(Self {
            dir: dir.to_owned(),
            catalogs: catalogs(workspace.as_ref()).map_err(invalid)?,
            overrides: string_map(setting("overrides"), "overrides").map_err(invalid)?,
            package_extensions: setting("packageExtensions"),
            patched_dependencies: string_map(setting("patchedDependencies"), "patchedDependencies")
                .map_err(invalid)?
                .into_iter()
                .collect(),
            ignored_optional_dependencies: setting("ignoredOptionalDependencies")
                .map(|v| string_list(&v))
                .transpose()
                .map_err(invalid)?,
            auto_install_peers: flag("autoInstallPeers", "auto-install-peers", true),
            dedupe_peers: flag("dedupePeers", "dedupe-peers", false),
            exclude_links_from_lockfile: flag(
                "excludeLinksFromLockfile",
                "exclude-links-from-lockfile",
                false,
            ),
            peers_suffix_max_length: match setting("peersSuffixMaxLength") {
                Some(Value::Number(n)) => n.as_u64().unwrap_or(1000),
                _ => npmrc
                    .get("peers-suffix-max-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1000),
            },
            inject_workspace_packages: flag(
                "injectWorkspacePackages",
                "inject-workspace-packages",
                false,
            ),
            registries: registries(&npmrc),
            workspace_globs: match workspace.as_ref().and_then(|w| w.get("packages")) {
                Some(v) => string_list(v).map_err(invalid)?,
                None => Vec::new(),
            },
            inputs,
        })
    }
}

fn read_yaml(path: &Path, inputs: &mut Vec<PathBuf>) -> Result<Option<Value>, ConfigError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    inputs.push(path.to_owned());
    let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
        let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        ConfigError::Syntax {
            path: path.to_owned(),
            line,
            col,
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_owned(),
        }
    })?;
    let value = serde_json::to_value(value).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok((!value.is_null()).then_some(value))
}

/// A `package.json`, or `None` when absent.
pub fn read_json(path: &Path) -> Result<Option<Value>, ConfigError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(&text))
        .map(Some)
        .map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            line: e.line(),
            col: e.column(),
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or("")
                .to_owned(),
        })
}

/// `.npmrc` as `key=value` lines (`;` and `#` comments). Values are never shown:
/// auth tokens live in the same file.
fn read_npmrc(
    path: &Path,
    inputs: &mut Vec<PathBuf>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    inputs.push(path.to_owned());
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with(';') && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect())
}

fn registries(npmrc: &BTreeMap<String, String>) -> Registries {
    let slash = |url: &str| {
        if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        }
    };
    Registries {
        default: npmrc
            .get("registry")
            .filter(|r| !r.is_empty())
            .map_or_else(|| DEFAULT_REGISTRY.to_owned(), |r| slash(r)),
        scoped: npmrc
            .iter()
            .filter_map(|(k, v)| {
                let scope = k.strip_suffix(":registry")?;
                scope.starts_with('@').then(|| (scope.to_owned(), slash(v)))
            })
            .collect(),
    }
}

/// `catalog:` (the default catalog) and `catalogs:` (named ones, `default` included).
fn catalogs(
    workspace: Option<&Value>,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let mut out = BTreeMap::new();
    let Some(w) = workspace else {
        return Ok(out);
    };
    if let Some(default) = w.get("catalog") {
        out.insert(
            "default".to_owned(),
            string_map(Some(default.clone()), "catalog")?
                .into_iter()
                .collect(),
        );
    }
    if let Some(Value::Object(named)) = w.get("catalogs") {
        for (name, entries) in named {
            let entries: BTreeMap<String, String> =
                string_map(Some(entries.clone()), &format!("catalogs.{name}"))?
                    .into_iter()
                    .collect();
            out.entry(name.clone()).or_default().extend(entries);
        }
    }
    Ok(out)
}

fn string_map(value: Option<Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                Value::Number(n) => Ok((k, n.to_string())),
                other => Err(format!("{what}.{k}: expected a string, found {other}")),
            })
            .collect(),
        Some(other) => Err(format!("{what}: expected a mapping, found {other}")),
    }
}

fn string_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("expected a list of strings, found {v}"))
            })
            .collect(),
        other => Err(format!("expected a list of strings, found {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_workspace_npmrc_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(WORKSPACE_FILE),
            "packages:\n  - ghost/*\ncatalog:\n  react: 18.3.1\ncatalogs:\n  r17:\n    react: 17.0.2\noverrides:\n  a: 1.0.0\n",
        )
        .unwrap();
        fs::write(dir.path().join("package.json"), "{}").unwrap();
        fs::write(
            dir.path().join(".npmrc"),
            "registry=http://127.0.0.1:1/r\n@s:registry=http://127.0.0.1:2\nauto-install-peers=false\n",
        )
        .unwrap();
        let c = ProjectConfig::load(dir.path()).unwrap();
        assert_eq!(c.catalogs["default"]["react"], "18.3.1");
        assert_eq!(c.catalogs["r17"]["react"], "17.0.2");
        assert_eq!(c.overrides, vec![("a".to_owned(), "1.0.0".to_owned())]);
        assert!(!c.auto_install_peers);
        assert_eq!(c.peers_suffix_max_length, 1000);
        assert_eq!(c.registries.for_package("x"), "http://127.0.0.1:1/r/");
        assert_eq!(c.registries.for_package("@s/x"), "http://127.0.0.1:2/");
        assert_eq!(c.workspace_globs, vec!["ghost/*"]);
    }

    #[test]
    fn bad_yaml_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(WORKSPACE_FILE), "packages:\n  - a\n b: [\n").unwrap();
        let err = ProjectConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("pnpm-workspace.yaml:3:"), "{err}");
    }
}

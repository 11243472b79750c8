//! What pnpm 10 refuses under `--frozen-lockfile`, checked before anything is fetched
//! so a lockfile pnpm would refuse never gets a hash.
//!
//! From pnpm/pnpm v10 (read in the npm package pnpm@10.34.5's `dist/pnpm.cjs`, which
//! nixpkgs' pnpm_10 is):
//! - `lockfile/fs/src/read.ts`: a lockfileVersion whose major is not 9 is
//!   ERR_PNPM_LOCKFILE_BREAKING_CHANGE.
//! - `lockfile/settings-checker/src/getOutdatedLockfileSetting.ts`, in its order:
//!   catalogs, overrides, packageExtensionsChecksum, ignoredOptionalDependencies,
//!   patchedDependencies (`calcPatchHashes`: `{hash: sha256 hex of the patch with CRLF
//!   made LF, path}`), the five settings, pnpmfileChecksum; a mismatch is
//!   ERR_PNPM_LOCKFILE_CONFIG_MISMATCH (`pkg-manager/core/src/install/index.ts`).
//! - `lockfile/verification/src/satisfiesPackageManifest.ts`: each project's
//!   specifiers against its package.json, else ERR_PNPM_OUTDATED_LOCKFILE.
//!
//! pnpm 11 ([`PnpmRules::V11`]; read in pnpm@11.22.0's `dist/pnpm.mjs`) checks the same
//! settings in the same order, except `patchedDependencies`: the lockfile holds the bare
//! hash (`migratePatchedDependencies` reads the pnpm 10 `{hash, path}` form as its
//! `hash`), compared with `calcPatchHashes` = `createHexHashFromFile` (sha256 hex of the
//! patch with CRLF made LF) per key, so a lockfile written by pnpm 11 or 12 passes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::nix::nix_hash::hex_encode as hex;
use crate::pnpm::lockfile::{Importer, LineIndex, Lockfile};
use crate::pnpm::object_hash;
use crate::pnpm::project_config::{self, ConfigError, ProjectConfig};

/// A refusal pnpm 10 would make, with where it is.
#[derive(Debug, Error)]
#[error("{}:{line}: {code}: {message}\nfix: {fix}", path.display())]
pub struct FrozenError {
    pub path: PathBuf,
    pub line: usize,
    pub code: &'static str,
    pub message: String,
    pub fix: String,
}

/// Whose `--frozen-lockfile` rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PnpmRules {
    V10,
    V11,
}

impl PnpmRules {
    fn major(self) -> u32 {
        match self {
            Self::V10 => 10,
            Self::V11 => 11,
        }
    }
}

/// Checks `lock` (read from `path`, its lines in `lines`) against the project as pnpm 10
/// does before a frozen install.
pub fn check(
    path: &Path,
    lock: &Lockfile,
    lines: &LineIndex,
    config: &ProjectConfig,
) -> Result<(), FrozenError> {
    check_as(PnpmRules::V10, path, lock, lines, config)
}

/// [`check`] with the rules of the given pnpm major.
pub fn check_as(
    rules: PnpmRules,
    path: &Path,
    lock: &Lockfile,
    lines: &LineIndex,
    config: &ProjectConfig,
) -> Result<(), FrozenError> {
    let major = rules.major();
    let refuse = |line: usize, code: &'static str, message: String| {
        FrozenError {
        path: path.to_owned(),
        line,
        code,
        message,
        fix: format!("run `pnpm install --lockfile-only` with pnpm {major} to update pnpm-lock.yaml, and commit it"),
    }
    };
    if !lock.lockfile_version.starts_with("9.") {
        return Err(FrozenError {
            fix: "update-pnpm-hash supports lockfileVersion '9.0'; pick the --pnpm version that wrote this lockfile".to_owned(),
            ..refuse(
                lines.line_of("lockfileVersion", ""),
                "ERR_PNPM_LOCKFILE_BREAKING_CHANGE",
                format!(
                    "lockfileVersion '{}' is not one pnpm {major} reads ('9.0')",
                    lock.lockfile_version
                ),
            )
        });
    }
    if let Some(field) = outdated_setting_as(rules, lock, config).map_err(|message| {
        refuse(
            lines.line_of("overrides", ""),
            "ERR_PNPM_CATALOG_IN_OVERRIDES",
            message,
        )
    })? {
        let section = field.split('.').next().unwrap_or(field);
        return Err(refuse(
            lines.line_of(section, ""),
            "ERR_PNPM_LOCKFILE_CONFIG_MISMATCH",
            format!("the current \"{field}\" configuration doesn't match the value found in the lockfile (pnpm refuses a frozen install)"),
        ));
    }
    projects_up_to_date(lock, lines, config).map_err(|(importer, message)| {
        refuse(
            lines.line_of("importers", &importer),
            "ERR_PNPM_OUTDATED_LOCKFILE",
            message,
        )
    })
}

/// `getOutdatedLockfileSetting`: the first setting that differs, in pnpm 10's order.
pub fn outdated_setting(
    lock: &Lockfile,
    config: &ProjectConfig,
) -> Result<Option<&'static str>, String> {
    outdated_setting_as(PnpmRules::V10, lock, config)
}

/// [`outdated_setting`] with the rules of the given pnpm major.
pub fn outdated_setting_as(
    rules: PnpmRules,
    lock: &Lockfile,
    config: &ProjectConfig,
) -> Result<Option<&'static str>, String> {
    let catalogs_ok = lock.catalogs.iter().flatten().all(|(name, entries)| {
        entries.iter().all(|(alias, e)| {
            config.catalogs.get(name).and_then(|c| c.get(alias)) == Some(&e.specifier)
        })
    });
    if !catalogs_ok {
        return Ok(Some("catalogs"));
    }
    let overrides = resolved_overrides(config)?;
    let locked: BTreeMap<String, String> = lock
        .overrides
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    if locked != overrides {
        return Ok(Some("overrides"));
    }
    if lock.package_extensions_checksum
        != object_hash::checksum_with_prefix(config.package_extensions.as_ref())
    {
        return Ok(Some("packageExtensionsChecksum"));
    }
    let sorted = |v: Option<&Vec<String>>| {
        let mut v = v.cloned().unwrap_or_default();
        v.sort();
        v
    };
    if sorted(lock.ignored_optional_dependencies.as_ref())
        != sorted(config.ignored_optional_dependencies.as_ref())
    {
        return Ok(Some("ignoredOptionalDependencies"));
    }
    let locked_patches = lock.patched_dependencies.clone().unwrap_or_default();
    let patches_ok = match rules {
        PnpmRules::V10 => locked_patches == patch_hashes(config)?,
        PnpmRules::V11 => {
            let locked: BTreeMap<String, Option<String>> = locked_patches
                .into_iter()
                .map(|(k, v)| (k, patch_hash_v11(&v)))
                .collect();
            let wanted: BTreeMap<String, Option<String>> = patch_hashes(config)?
                .into_iter()
                .map(|(k, v)| (k, patch_hash_v11(&v)))
                .collect();
            locked == wanted
        }
    };
    if !patches_ok {
        return Ok(Some("patchedDependencies"));
    }
    let s = &lock.settings;
    if s.auto_install_peers
        .is_some_and(|v| v != config.auto_install_peers)
    {
        return Ok(Some("settings.autoInstallPeers"));
    }
    if s.dedupe_peers.unwrap_or(false) != config.dedupe_peers {
        return Ok(Some("settings.dedupePeers"));
    }
    if s.exclude_links_from_lockfile
        .is_some_and(|v| v != config.exclude_links_from_lockfile)
    {
        return Ok(Some("settings.excludeLinksFromLockfile"));
    }
    if s.peers_suffix_max_length.unwrap_or(1000) != config.peers_suffix_max_length {
        return Ok(Some("settings.peersSuffixMaxLength"));
    }
    if lock.pnpmfile_checksum.is_some() {
        return Ok(Some("pnpmfileChecksum"));
    }
    if s.inject_workspace_packages.unwrap_or(false) != config.inject_workspace_packages {
        return Ok(Some("settings.injectWorkspacePackages"));
    }
    Ok(None)
}

/// `parseOverrides` + `createOverridesMapFromParsed`: `catalog:` values replaced by
/// the catalog's specifier.
fn resolved_overrides(config: &ProjectConfig) -> Result<BTreeMap<String, String>, String> {
    config
        .overrides
        .iter()
        .map(|(selector, spec)| {
            let target = override_target(selector);
            let value = match catalog_specifier(config, spec, target) {
                None => spec.clone(),
                Some(Some(resolved)) => resolved,
                Some(None) => {
                    return Err(format!(
                        "overrides.{selector}: {spec} names no catalog entry for {target} in pnpm-workspace.yaml"
                    ))
                }
            };
            Ok((selector.clone(), value))
        })
        .collect()
}

/// The package an override selector targets: `a>b@1` -> `b`, `@s/a@^1` -> `@s/a`,
/// `esbuild@>=0.28` -> `esbuild`. As `parsePkgAndParentSelector` (pnpm's
/// config/parse-overrides), the parent ends at the first `>` that follows a character
/// other than ` `, `|` or `@` (DELIMITER_REGEX `/[^ |@]>/`), so a `>` in a version
/// range is not one.
fn override_target(selector: &str) -> &str {
    let bytes = selector.as_bytes();
    let delimiter = (1..bytes.len()).find(|&i| bytes[i] == b'>' && !b" |@".contains(&bytes[i - 1]));
    let child = delimiter.map_or(selector, |i| &selector[i + 1..]);
    match child.get(1..).and_then(|rest| rest.find('@')) {
        Some(at) => &child[..at + 1],
        None => child,
    }
}

/// `Some(resolved)` for a `catalog:` specifier (`None` inside when the catalog has no
/// entry), `None` for any other specifier.
fn catalog_specifier(config: &ProjectConfig, spec: &str, alias: &str) -> Option<Option<String>> {
    let name = spec.strip_prefix("catalog:")?;
    let name = if name.is_empty() { "default" } else { name };
    Some(
        config
            .catalogs
            .get(name)
            .and_then(|c| c.get(alias))
            .cloned(),
    )
}

/// `calcPatchHashes`, as YAML values to compare with the lockfile's entries.
fn patch_hashes(config: &ProjectConfig) -> Result<BTreeMap<String, serde_yaml::Value>, String> {
    config
        .patched_dependencies
        .iter()
        .map(|(key, rel)| {
            let file = config.dir.join(rel);
            let bytes = fs::read(&file).map_err(|e| {
                format!(
                    "patchedDependencies.{key}: cannot read {}: {e}",
                    file.display()
                )
            })?;
            let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
            let hash = hex(&Sha256::digest(text.as_bytes()));
            let mut entry = serde_yaml::Mapping::new();
            entry.insert("hash".into(), hash.into());
            entry.insert(
                "path".into(),
                rel.trim_start_matches("./").replace('\\', "/").into(),
            );
            Ok((key.clone(), serde_yaml::Value::Mapping(entry)))
        })
        .collect()
}

/// pnpm 11's `migratePatchedDependencies`: a string entry as is, else its `hash`.
fn patch_hash_v11(entry: &serde_yaml::Value) -> Option<String> {
    match entry {
        serde_yaml::Value::String(s) => Some(s.clone()),
        other => other
            .get("hash")
            .and_then(|h| h.as_str())
            .map(str::to_owned),
    }
}

/// Every workspace project has an importer whose specifiers match its package.json.
fn projects_up_to_date(
    lock: &Lockfile,
    lines: &LineIndex,
    config: &ProjectConfig,
) -> Result<(), (String, String)> {
    let _ = lines;
    let projects = workspace_projects(config).map_err(|e| (".".to_owned(), e.to_string()))?;
    for id in &projects {
        let Some(importer) = lock.importers.get(id) else {
            return Err((
                id.clone(),
                format!("the workspace project {id} has no entry in importers"),
            ));
        };
        let manifest_path = config.dir.join(id).join("package.json");
        let manifest = project_config::read_json(&manifest_path)
            .map_err(|e| (id.clone(), e.to_string()))?
            .unwrap_or(Value::Object(Default::default()));
        satisfies_manifest(config, importer, &manifest).map_err(|why| {
            (
                id.clone(),
                format!(
                    "importers.{id} doesn't match {}: {why}",
                    manifest_path.display()
                ),
            )
        })?;
    }
    if let Some(extra) = lock.importers.keys().find(|id| !projects.contains(*id)) {
        return Err((
            extra.clone(),
            format!("importers.{extra} is no workspace project (pnpm-workspace.yaml packages)"),
        ));
    }
    Ok(())
}

type Deps = BTreeMap<String, String>;

fn deps(manifest: &Value, field: &str) -> Deps {
    manifest
        .get(field)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `satisfiesPackageManifest`, with the project's overrides applied to its manifest
/// first as pnpm's read-package hook does (plain `name` selectors).
fn satisfies_manifest(
    config: &ProjectConfig,
    importer: &Importer,
    manifest: &Value,
) -> Result<(), String> {
    let overridden = |mut d: Deps| {
        for (selector, value) in &config.overrides {
            if let Some(spec) = d.get_mut(selector) {
                *spec = catalog_specifier(config, value, selector)
                    .flatten()
                    .unwrap_or_else(|| value.clone());
            }
        }
        d
    };
    let mut dependencies = overridden(deps(manifest, "dependencies"));
    let dev = overridden(deps(manifest, "devDependencies"));
    let optional = overridden(deps(manifest, "optionalDependencies"));
    let peers = deps(manifest, "peerDependencies");
    let mut existing: Deps = dev.clone();
    existing.extend(dependencies.clone());
    existing.extend(optional.clone());
    if config.auto_install_peers {
        for (name, spec) in &peers {
            if !existing.contains_key(name) {
                dependencies.insert(name.clone(), spec.clone());
                existing.insert(name.clone(), spec.clone());
            }
        }
    }
    let mut specifiers: Deps = Deps::new();
    for group in [
        &importer.dev_dependencies,
        &importer.dependencies,
        &importer.optional_dependencies,
    ] {
        specifiers.extend(group.iter().map(|(k, d)| (k.clone(), d.specifier.clone())));
    }
    let not_link = |d: &Deps| -> Deps {
        d.iter()
            .filter(|(_, s)| !s.starts_with("link:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    if config.exclude_links_from_lockfile {
        existing = not_link(&existing);
        specifiers = not_link(&specifiers);
    }
    if specifiers != existing {
        let names: BTreeSet<&String> = specifiers.keys().chain(existing.keys()).collect();
        let diff: Vec<String> = names
            .into_iter()
            .filter(|n| specifiers.get(*n) != existing.get(*n))
            .map(|n| {
                format!(
                    "{n}: lockfile {} vs package.json {}",
                    specifiers.get(n).map_or("(none)", String::as_str),
                    existing.get(n).map_or("(none)", String::as_str)
                )
            })
            .collect();
        return Err(format!("specifiers differ ({})", diff.join("; ")));
    }
    for (field, locked, wanted) in [
        (
            "optionalDependencies",
            &importer.optional_dependencies,
            optional.clone(),
        ),
        (
            "devDependencies",
            &importer.dev_dependencies,
            dev.iter()
                .filter(|(k, _)| !optional.contains_key(*k) && !dependencies.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        (
            "dependencies",
            &importer.dependencies,
            dependencies
                .iter()
                .filter(|(k, _)| !optional.contains_key(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    ] {
        let wanted: Deps = if config.exclude_links_from_lockfile {
            not_link(&wanted)
        } else {
            wanted
        };
        let non_linked = locked
            .values()
            .filter(|d| !d.version.starts_with("link:"))
            .count();
        if wanted.len() != locked.len() && wanted.len() != non_linked {
            return Err(format!(
                "{field} has {} entries in the lockfile, {} in package.json",
                locked.len(),
                wanted.len()
            ));
        }
        if let Some(name) = wanted.keys().find(|n| !locked.contains_key(*n)) {
            return Err(format!("{field}.{name} is missing from the lockfile"));
        }
    }
    Ok(())
}

/// The workspace's project directories relative to the lockfile (`.` always), from
/// pnpm-workspace.yaml's `packages` globs: `dir`, `dir/*`, `dir/**`, `!`-exclusions.
pub fn workspace_projects(config: &ProjectConfig) -> Result<BTreeSet<String>, ConfigError> {
    let mut found = BTreeSet::from([".".to_owned()]);
    let mut excluded = Vec::new();
    for glob in &config.workspace_globs {
        if let Some(ex) = glob.strip_prefix('!') {
            excluded.push(ex.trim_start_matches("./").to_owned());
            continue;
        }
        let glob = glob.trim_start_matches("./").trim_end_matches('/');
        let (base, depth) = if let Some(b) = glob.strip_suffix("/**") {
            (b, usize::MAX)
        } else if let Some(b) = glob.strip_suffix("/*") {
            (b, 1)
        } else {
            (glob, 0)
        };
        if base.contains('*') {
            return Err(ConfigError::Invalid {
                path: config.dir.join(project_config::WORKSPACE_FILE),
                message: format!(
                    "packages: the glob {glob:?} is not supported (use dir, dir/* or dir/**)"
                ),
            });
        }
        collect_projects(&config.dir, base, depth, &mut found);
    }
    found.retain(|p| !excluded.iter().any(|ex| glob_excludes(ex, p)));
    Ok(found)
}

fn glob_excludes(pattern: &str, project: &str) -> bool {
    match pattern
        .strip_suffix("/**")
        .or_else(|| pattern.strip_suffix("/*"))
    {
        Some(base) => project.starts_with(&format!("{base}/")),
        None => pattern == project,
    }
}

fn collect_projects(root: &Path, rel: &str, depth: usize, out: &mut BTreeSet<String>) {
    let dir = root.join(rel);
    if depth == 0 || depth == usize::MAX {
        if dir.join("package.json").is_file() && !rel.is_empty() {
            out.insert(rel.to_owned());
        }
        if depth == 0 {
            return;
        }
    }
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n != "node_modules" && !n.starts_with('.'))
        .collect();
    names.sort();
    for name in names {
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let next = if depth == usize::MAX { usize::MAX } else { 0 };
        collect_projects(root, &child, next, out);
    }
}

#[cfg(test)]
mod tests {
    use super::override_target;

    #[test]
    fn override_selectors_name_their_target_as_pnpm_parses_them() {
        for (selector, target) in [
            ("cron-validate", "cron-validate"),
            ("@tryghost/errors", "@tryghost/errors"),
            ("@s/a@^1", "@s/a"),
            ("juice>cheerio", "cheerio"),
            ("ember-svg-jar>cheerio", "cheerio"),
            ("a@1>@s/b@2", "@s/b"),
            // Ghost 6.65.0's pnpm-workspace.yaml: the `>` of `>=` is no parent delimiter.
            ("esbuild@>=0.28.0", "esbuild"),
            ("a@1 || >2", "a"),
            ("", ""),
        ] {
            assert_eq!(override_target(selector), target, "{selector}");
        }
    }
}

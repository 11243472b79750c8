//! Which packages pnpm 10's `install --force --frozen-lockfile --ignore-scripts` puts
//! into an empty store, each with the id its index file is named by, where its
//! tarball comes from, and the integrity pnpm checks.
//!
//! From pnpm/pnpm v10 (read in pnpm@10.34.5's bundle): the headless install walks the
//! snapshots reachable from every importer (`lockfile/filtering`); `--force` installs
//! optional dependencies for every platform (`lockfileToDepGraph` skips
//! `packageIsInstallable` only without force), so os/cpu/libc do not matter; each
//! package is fetched once per package id (`dependency-path` `tryGetPackageId`: the
//! snapshot key without its peer/patch suffix, and for keys holding a `:`, the part
//! after the name, e.g. `file:components/x.tgz`); registry tarball URLs are
//! `get-npm-tarball-url`'s `<registry><name>/-/<bare name>-<version>.tgz`
//! (`lockfile/utils` `pkgSnapshotToResolution`), registries from the project's
//! `.npmrc` (nixpkgs passes `--registry="$NIX_NPM_REGISTRY"`, empty unless the builder
//! sets it).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::fetch::integrity::Integrity;
use crate::pnpm::lockfile::{LineIndex, Lockfile, PackageInfo};
use crate::pnpm::project_config::Registries;

/// Where a package's tarball comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Downloaded (a registry tarball or a `tarball:` URL).
    Url(String),
    /// A `file:` tarball, relative to the project (`relative`), resolved (`path`).
    LocalFile { relative: String, path: PathBuf },
    /// A git-hosted tarball (`gitHosted: true`, or a codeload/GitLab/Bitbucket `tar.gz`
    /// URL): downloaded as a URL is, indexed under its package id
    /// ([`git_hosted`](crate::pnpm::git_hosted)).
    GitHostedTarball(String),
    /// A `runtime:` archive (`type: variations`, the build platform's variant): downloaded
    /// as a URL is; pnpm adds `manifest` as `package.json` when the archive has none
    /// ([`runtime_archive`](crate::pnpm::runtime_archive)).
    RuntimeArchive {
        url: String,
        manifest: crate::pnpm::runtime_archive::Manifest,
    },
    /// A git repository at a commit (`type: git`), cloned
    /// ([`git_fetch`](crate::pnpm::git_fetch)); `path` is the package's subdirectory.
    GitRepo {
        repo: String,
        commit: String,
        path: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPackage {
    /// The id pnpm names the index file by (`@esbuild/linux-x64@0.19.12`,
    /// `file:components/x.tgz`).
    pub pkg_id: String,
    /// The `packages:` key (`name@version`).
    pub key: String,
    pub source: Source,
    /// The lockfile's integrity; `None` only for `file:` tarballs without one and git
    /// repositories.
    pub integrity: Option<Integrity>,
    /// 1-based line of the `packages:` entry.
    pub line: usize,
}

#[derive(Debug, Error)]
#[error("{}:{line}: {}: {message}", path.display(), crate::redact::text(key))]
pub struct PlanError {
    pub path: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

/// The packages the install puts in the store, sorted by package id. `type: directory`
/// packages are not among them: pnpm's directory fetcher links the directory's files
/// where they are and writes nothing to the store (`fetching/directory-fetcher`, verified
/// against pnpm 10.34.5).
pub fn plan(
    lock_path: &Path,
    lock: &Lockfile,
    lines: &LineIndex,
    registries: &Registries,
) -> Result<Vec<PlannedPackage>, PlanError> {
    plan_selected(lock_path, lock, lines, registries, None)
}

/// [`plan`] for an install of only the `importers` given (`--filter`, see
/// [`workspace_filter`](crate::pnpm::workspace_filter)); `None` is every importer.
pub fn plan_selected(
    lock_path: &Path,
    lock: &Lockfile,
    lines: &LineIndex,
    registries: &Registries,
    importers: Option<&BTreeSet<String>>,
) -> Result<Vec<PlannedPackage>, PlanError> {
    let project_dir = lock_path.parent().unwrap_or(Path::new("."));
    let mut planned: BTreeMap<String, PlannedPackage> = BTreeMap::new();
    let start: BTreeSet<String> = match importers {
        Some(ids) => ids.clone(),
        None => lock.importers.keys().cloned().collect(),
    };
    for dep_path in reachable(lock, start) {
        let key = remove_suffix(&dep_path).to_owned();
        let line = lines.line_of("packages", &key);
        let err = |message: String| PlanError {
            path: lock_path.to_owned(),
            line,
            key: key.clone(),
            message,
        };
        let Some(info) = lock.packages.get(&key) else {
            return Err(err(format!(
                "the snapshot {dep_path} has no entry in packages; the lockfile is broken: run `pnpm install` to rewrite it"
            )));
        };
        let pkg_id = lock
            .snapshots
            .get(&dep_path)
            .and_then(|s| s.id.clone())
            .or_else(|| info.id.clone())
            .unwrap_or_else(|| package_id(&dep_path));
        if planned.contains_key(&pkg_id) {
            continue;
        }
        let Some((source, integrity)) =
            resolve(&key, info, registries, project_dir).map_err(err)?
        else {
            continue;
        };
        planned.insert(
            pkg_id.clone(),
            PlannedPackage {
                pkg_id,
                key,
                source,
                integrity,
                line,
            },
        );
    }
    Ok(planned.into_values().collect())
}

/// Snapshot keys reachable from the importers `start`, as `lockfile/filtering`
/// `filterLockfileByImportersAndEngine` walks them: dependencies, dev and optional ones of
/// each importer, then each snapshot's dependencies and optional ones; a `link:X`
/// reference whose `X`, as written, is an importer id adds that importer (`parseDepRefs`:
/// the root's links to its projects are followed, a project's `link:../b` is not).
fn reachable(lock: &Lockfile, start: BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut importers = start;
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut pending: Vec<String> = importers.iter().cloned().collect();
    let mut follow =
        |reference: &str, name: &str, queue: &mut VecDeque<String>, pending: &mut Vec<String>| {
            if let Some(id) = reference.strip_prefix("link:") {
                if lock.importers.contains_key(id) && importers.insert(id.to_owned()) {
                    pending.push(id.to_owned());
                }
            } else {
                queue.extend(ref_to_dep_path(reference, name));
            }
        };
    loop {
        while let Some(id) = pending.pop() {
            let Some(importer) = lock.importers.get(&id) else {
                continue;
            };
            for (name, dep) in importer
                .dependencies
                .iter()
                .chain(&importer.dev_dependencies)
                .chain(&importer.optional_dependencies)
            {
                follow(&dep.version, name, &mut queue, &mut pending);
            }
        }
        let Some(dep_path) = queue.pop_front() else {
            break;
        };
        if !seen.insert(dep_path.clone()) {
            continue;
        }
        if let Some(snapshot) = lock.snapshots.get(&dep_path) {
            for (name, reference) in snapshot
                .dependencies
                .iter()
                .chain(&snapshot.optional_dependencies)
            {
                follow(&reference.0, name, &mut queue, &mut pending);
            }
        }
    }
    seen
}

/// `dependency-path` `refToRelative`: a reference in `importers`/`snapshots` to the
/// snapshot key it names; `None` for `link:` (workspace projects: not fetched).
pub fn ref_to_dep_path(reference: &str, name: &str) -> Option<String> {
    if reference.starts_with("link:") {
        return None;
    }
    if reference.starts_with('@') {
        return Some(reference.to_owned());
    }
    let Some(at) = reference.find('@') else {
        return Some(format!("{name}@{reference}"));
    };
    let before = |c: char| reference.find(c).is_none_or(|i| at < i);
    if before(':') && before('(') {
        Some(reference.to_owned())
    } else {
        Some(format!("{name}@{reference}"))
    }
}

/// `indexOfDepPathSuffix`: where the trailing `(…)(…)` groups (peers, patch hash)
/// start, or `None`.
fn suffix_start(dep_path: &str) -> Option<usize> {
    if !dep_path.ends_with(')') {
        return None;
    }
    let bytes = dep_path.as_bytes();
    let mut open = 1;
    for i in (0..bytes.len() - 1).rev() {
        match bytes[i] {
            b'(' => open -= 1,
            b')' => open += 1,
            _ if open == 0 => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `removeSuffix`: the snapshot key without peer and patch suffixes = the `packages:` key.
pub fn remove_suffix(dep_path: &str) -> &str {
    suffix_start(dep_path).map_or(dep_path, |i| &dep_path[..i])
}

/// `tryGetPackageId`: suffixes removed; with a `:` (a `file:` or URL version), only
/// what follows the name's `@` (`runtime:` keeps its name).
pub fn package_id(dep_path: &str) -> String {
    let id = remove_suffix(dep_path);
    if id.contains(':') {
        if let Some(at) = id.get(1..).and_then(|rest| rest.find('@')) {
            let after = &id[at + 2..];
            if !after.starts_with("runtime:") {
                return after.to_owned();
            }
        }
    }
    id.to_owned()
}

/// The name and version in a `packages:` key: `@s/n@1.0.0` -> (`@s/n`, `1.0.0`).
fn name_version(key: &str) -> Option<(&str, &str)> {
    let at = key.get(1..)?.find('@')? + 1;
    Some((&key[..at], &key[at + 1..]))
}

/// Where the package comes from and the integrity pnpm checks; `None` for what pnpm does
/// not put in the store.
fn resolve(
    key: &str,
    info: &PackageInfo,
    registries: &Registries,
    project_dir: &Path,
) -> Result<Option<(Source, Option<Integrity>)>, String> {
    let r = &info.resolution;
    let integrity = r
        .integrity
        .as_deref()
        .map(|sri| Integrity::parse_sri(sri).map_err(|e| format!("resolution.integrity: {e}")))
        .transpose()?;
    match r.kind.as_deref() {
        None => {}
        Some("git") => {
            let (Some(repo), Some(commit)) = (&r.repo, &r.commit) else {
                return Err("a git resolution without `repo` and `commit`; the lockfile is broken: run `pnpm install` to rewrite it".to_owned());
            };
            let source = Source::GitRepo {
                repo: repo.clone(),
                commit: commit.clone(),
                path: r.path.clone(),
            };
            return Ok(Some((source, None)));
        }
        Some("directory") => return Ok(None),
        Some("variations") => return runtime_variant(key, info).map(Some),
        Some(other) => {
            return Err(unsupported(
                &format!("resolution type {other:?}"),
                "fetched in a way pnpm 10.34 does not write",
            ))
        }
    }
    let tarball = r.tarball.as_deref();
    let by_url = tarball.is_some_and(is_git_hosted_tarball_url);
    match r.git_hosted {
        Some(true) => {}
        Some(false) if by_url => {
            return Err("`gitHosted: false` on a git host's tarball URL: pnpm fetches it as git-hosted but indexes it as a registry tarball, which update-pnpm-hash does not emulate".to_owned())
        }
        _ if by_url => {}
        _ => return resolve_tarball(key, info, tarball, integrity, registries, project_dir).map(Some),
    }
    let Some(url) = tarball else {
        return Err("`gitHosted: true` without a `tarball` URL; the lockfile is broken: run `pnpm install` to rewrite it".to_owned());
    };
    if r.path.is_some() {
        return Err(unsupported(
            "a subdirectory (`path`) of a git-hosted tarball",
            "re-indexed from a copy of that directory",
        ));
    }
    let integrity = integrity.ok_or_else(|| "a git-hosted tarball without integrity in the lockfile (older pnpm versions wrote none): update-pnpm-hash needs it to verify the download, as the git host's archive is not guaranteed to stay the same bytes; re-resolve the dependency with a current pnpm 10 so the lockfile pins it".to_owned())?;
    Ok(Some((
        Source::GitHostedTarball(url.to_owned()),
        Some(integrity),
    )))
}

/// The variant of a `runtime:` dependency pnpm picks on the platform it runs on
/// (package-requester `findResolution`: `process.platform`, `process.arch`, the libc
/// family; `--force` does not widen it): the output of fetchPnpmDeps depends on the
/// builder's platform, and this computes it for the platform update-pnpm-hash runs on.
fn runtime_variant(key: &str, info: &PackageInfo) -> Result<(Source, Option<Integrity>), String> {
    let (os, cpu, libc) = host_platform();
    let variants = info.resolution.variants.as_deref().unwrap_or_default();
    let chosen = variants.iter().find(|v| {
        v.targets.iter().any(|t| {
            t.os.as_deref() == Some(os)
                && t.cpu.as_deref() == Some(cpu)
                && t.libc.as_deref().is_none_or(|l| l == libc)
        })
    });
    let Some(variant) = chosen else {
        return Err(format!("ERR_PNPM_NO_RESOLUTION_MATCHED: no variant for {os}-{cpu} ({libc}), the platform pnpm would run on here; pnpm fails on it too"));
    };
    let r = &variant.resolution;
    match (
        r.kind.as_deref(),
        r.archive.as_deref(),
        &r.url,
        &r.integrity,
    ) {
        (Some("binary"), Some("tarball"), Some(url), Some(sri)) => {
            let integrity = Integrity::parse_sri(sri)
                .map_err(|e| format!("the {os}-{cpu} variant's integrity: {e}"))?;
            let bin = match &r.bin {
                None => None,
                Some(serde_json::Value::String(b)) => Some(b.clone()),
                Some(other) => {
                    return Err(format!(
                        "the {os}-{cpu} variant's bin {other} is not a path; not emulated"
                    ))
                }
            };
            let (name, _) = name_version(key).unwrap_or((key, ""));
            let manifest = crate::pnpm::runtime_archive::Manifest {
                name: name.to_owned(),
                version: info.version.clone(),
                bin,
            };
            let source = Source::RuntimeArchive {
                url: url.clone(),
                manifest,
            };
            Ok((source, Some(integrity)))
        }
        _ => Err(unsupported(
            &format!("the {os}-{cpu} variant (not a `binary` tarball with url and integrity)"),
            "unpacked from a zip or another archive",
        )),
    }
}

/// `process.platform`, `process.arch` and the libc family as Node names them.
fn host_platform() -> (&'static str, &'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    };
    let cpu = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        "x86" => "ia32",
        "powerpc64" => "ppc64",
        other => other,
    };
    let libc = if cfg!(target_env = "musl") {
        "musl"
    } else {
        "glibc"
    };
    (os, cpu, libc)
}

/// `lockfile-utils` `isGitHostedTarballUrl` (pnpm 10).
fn is_git_hosted_tarball_url(url: &str) -> bool {
    [
        "https://codeload.github.com/",
        "https://bitbucket.org/",
        "https://gitlab.com/",
    ]
    .iter()
    .any(|p| url.starts_with(p))
        && url.contains("tar.gz")
}

/// A registry tarball, a `tarball:` URL or a `file:` tarball.
fn resolve_tarball(
    key: &str,
    info: &PackageInfo,
    tarball: Option<&str>,
    integrity: Option<Integrity>,
    registries: &Registries,
    project_dir: &Path,
) -> Result<(Source, Option<Integrity>), String> {
    match tarball {
        Some(t) if t.starts_with("file:") => {
            let relative = t["file:".len()..].to_owned();
            let path = project_dir.join(&relative);
            Ok((Source::LocalFile { relative, path }, integrity))
        }
        Some(t) => {
            let integrity = integrity.ok_or_else(missing_integrity)?;
            let url = if t.contains("://") {
                t.to_owned()
            } else {
                let (name, _) = name_version(key).unwrap_or((key, ""));
                format!(
                    "{}{}",
                    registries.for_package(name),
                    t.trim_start_matches('/')
                )
            };
            Ok((Source::Url(url), Some(integrity)))
        }
        None => {
            let integrity = integrity.ok_or_else(missing_integrity)?;
            let (name, version) = name_version(key)
                .ok_or_else(|| format!("cannot get a tarball URL from the key {key}"))?;
            let version = info.version.as_deref().unwrap_or(version);
            Ok((
                Source::Url(tarball_url(registries.for_package(name), name, version)),
                Some(integrity),
            ))
        }
    }
}

fn unsupported(what: &str, how: &str) -> String {
    format!(
        "{what}: pnpm would have it {how}; update-pnpm-hash does not emulate that yet, so it computes no hash for this lockfile (use nixpkgs' fetchPnpmDeps with a fake hash for it)"
    )
}

fn missing_integrity() -> String {
    "ERR_PNPM_MISSING_TARBALL_INTEGRITY: its resolution has no integrity, so pnpm refuses to install it; run `pnpm install` to rewrite the lockfile".to_owned()
}

/// `get-npm-tarball-url`: build metadata (`+…`) is not part of the file name.
pub fn tarball_url(registry: &str, name: &str, version: &str) -> String {
    let bare = name.rsplit('/').next().unwrap_or(name);
    let version = version.split('+').next().unwrap_or(version);
    format!("{registry}{name}/-/{bare}-{version}.tgz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pnpm::lockfile::parse;
    use crate::pnpm::project_config::DEFAULT_REGISTRY;

    fn registries() -> Registries {
        Registries {
            default: DEFAULT_REGISTRY.to_owned(),
            scoped: BTreeMap::new(),
        }
    }

    #[test]
    fn dependency_paths_as_pnpm_reads_them() {
        assert_eq!(
            ref_to_dep_path("1.2.2(react@18.3.1)", "u").unwrap(),
            "u@1.2.2(react@18.3.1)"
        );
        assert_eq!(ref_to_dep_path("ms@2.1.3", "my-ms").unwrap(), "ms@2.1.3");
        assert_eq!(ref_to_dep_path("link:../mail", "m"), None);
        assert_eq!(
            ref_to_dep_path("file:c/x.tgz", "@t/x").unwrap(),
            "@t/x@file:c/x.tgz"
        );
        assert_eq!(remove_suffix("u@1.2.2(react@18.3.1)(b@1(c@2))"), "u@1.2.2");
        assert_eq!(remove_suffix("a@1(patch_hash=ab)(x@1)"), "a@1");
        assert_eq!(package_id("@t/x@file:c/x.tgz"), "file:c/x.tgz");
        assert_eq!(
            package_id("@esbuild/linux-x64@0.19.12"),
            "@esbuild/linux-x64@0.19.12"
        );
        assert_eq!(
            tarball_url(DEFAULT_REGISTRY, "@esbuild/linux-x64", "0.19.12+b"),
            "https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-0.19.12.tgz"
        );
    }

    const LOCK: &str = "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      my-ms:\n        specifier: npm:ms@2.1.3\n        version: ms@2.1.3\n      u:\n        specifier: 1.0.0\n        version: 1.0.0(ms@2.1.3)\n      mail:\n        specifier: workspace:*\n        version: link:mail\n\npackages:\n\n  ms@2.1.3:\n    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}\n\n  u@1.0.0:\n    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}\n\n  orphan@1.0.0:\n    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}\n\nsnapshots:\n\n  ms@2.1.3: {}\n\n  u@1.0.0(ms@2.1.3):\n    dependencies:\n      ms: 2.1.3\n\n  orphan@1.0.0: {}\n";

    #[test]
    fn plans_what_the_importers_reach_once_per_package_id() {
        let lock = parse(LOCK).unwrap();
        let p = plan(
            Path::new("/p/pnpm-lock.yaml"),
            &lock,
            &LineIndex::new(LOCK),
            &registries(),
        )
        .unwrap();
        let ids: Vec<&str> = p.iter().map(|p| p.pkg_id.as_str()).collect();
        assert_eq!(ids, ["ms@2.1.3", "u@1.0.0"]);
        assert_eq!(
            p[0].source,
            Source::Url("https://registry.npmjs.org/ms/-/ms-2.1.3.tgz".to_owned())
        );
        assert_eq!(p[0].line, 19);
    }

    fn plan_with(entry: &str) -> Result<Vec<PlannedPackage>, PlanError> {
        let text = LOCK.replace(
            "  u@1.0.0:\n    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}",
            &format!("  u@1.0.0:\n    resolution: {entry}"),
        );
        plan(
            Path::new("l.yaml"),
            &parse(&text).unwrap(),
            &LineIndex::new(&text),
            &registries(),
        )
    }

    #[test]
    fn git_packages_are_planned_and_directories_left_out() {
        let p = plan_with("{type: git, repo: 'https://github.com/a/u', commit: 0123}").unwrap();
        assert_eq!(
            p[1].source,
            Source::GitRepo {
                repo: "https://github.com/a/u".to_owned(),
                commit: "0123".to_owned(),
                path: None
            }
        );
        assert_eq!(p[1].integrity, None);
        let p = plan_with("{directory: u, type: directory}").unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        let sri = "sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==";
        for entry in [
            format!("{{integrity: {sri}, tarball: 'http://127.0.0.1:1/u.tgz', gitHosted: true}}"),
            format!("{{integrity: {sri}, tarball: 'https://codeload.github.com/a/u/tar.gz/0123'}}"),
        ] {
            let p = plan_with(&entry).unwrap();
            assert!(
                matches!(p[1].source, Source::GitHostedTarball(_)),
                "{entry}: {p:?}"
            );
        }
        // Not a git host's archive: a plain remote tarball.
        let p = plan_with(&format!(
            "{{integrity: {sri}, tarball: 'https://gitlab.com/a/u.tgz'}}"
        ))
        .unwrap();
        assert!(matches!(p[1].source, Source::Url(_)), "{p:?}");
    }

    #[test]
    fn errors_never_show_credentials_of_a_key() {
        let err = PlanError {
            path: PathBuf::from("pnpm-lock.yaml"),
            line: 3,
            key: "u@git+https://user:secret@git.example/r#0123".to_owned(),
            message: "m".to_owned(),
        };
        let shown = err.to_string();
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.starts_with("pnpm-lock.yaml:3: u@git+https://"),
            "{shown}"
        );
    }

    #[test]
    fn unsupported_resolutions_and_missing_integrity_are_refused_with_the_line() {
        for (entry, needle) in [
            ("{type: variations, variants: []}", "NO_RESOLUTION_MATCHED"),
            (
                "{type: binary, url: 'https://x.example/a.tgz'}",
                "\"binary\"",
            ),
            (
                "{tarball: 'https://codeload.github.com/a/u/tar.gz/0123'}",
                "without integrity",
            ),
            (
                "{tarball: 'https://r.example/ms.tgz'}",
                "MISSING_TARBALL_INTEGRITY",
            ),
            (
                "{type: git, repo: 'https://github.com/a/u'}",
                "without `repo` and `commit`",
            ),
        ] {
            let err = plan_with(entry).unwrap_err();
            assert_eq!(err.line, 22, "{err}");
            assert!(err.to_string().contains(needle), "{entry}: {err}");
        }
    }
}

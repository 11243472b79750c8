//! fetchPnpmDeps' `pnpmWorkspaces`: each entry becomes `--filter=<entry>` on `pnpm install`
//! (nixpkgs pkgs/build-support/node/fetch-pnpm-deps/default.nix, 00d3e949), and the
//! store then holds only what the selected workspace projects need.
//!
//! What pnpm 10 does with them (read in pnpm@10.34.5's bundle, sources in pnpm/pnpm):
//! - `workspace/filter-workspace-packages/src/parsePackageSelector.ts`: a leading `!`
//!   excludes, a trailing `...` adds the project's workspace dependencies (`^...`
//!   without the project itself), a leading `...` its dependents, `[ref]` the projects
//!   changed since a git ref, `{dir}` a directory; a selector starting with `./`, `../`
//!   or `.` is a directory, and a trailing `...` there is dropped.
//! - `src/index.ts` `matchPackages`: a name is a glob over the manifests' names (`*`); a
//!   bare name no project has matches `@*/name` when exactly one project is so named.
//!   Directories match exactly (`useGlobDirFiltering`, pnpm 10's default), relative to
//!   the directory pnpm runs in (the lockfile's, in fetchPnpmDeps). `...` walks
//!   `createPkgGraph`'s edges: `workspace:` and directory dependencies of each project,
//!   which the lockfile records as `link:` references (read here from there).
//! - `pnpm/src/main.ts`: when nothing matches, pnpm prints "No projects matched the
//!   filters" and installs nothing, exit 0, so fetchPnpmDeps would hold an empty store.
//!   update-pnpm-hash refuses instead (a typo, whose output nobody wants).
//! - `pkg-manager/plugin-commands-installation/src/recursive.ts`: the workspace root is
//!   installed with the selected projects whether selected or not.
//!
//! Only `name`, `name...`, `./dir`, `{dir}` and `{dir}...` are emulated; the other forms
//! are refused, naming the form.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::pnpm::lockfile::Lockfile;

/// One parsed `--filter` selector of the emulated forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A project's `name` (exact; see the module doc for the `@*/` fallback).
    Name { name: String, with_deps: bool },
    /// A project directory relative to the lockfile's (`.` is the root).
    Dir { dir: String, with_deps: bool },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("--workspace {selector:?} (a pnpmWorkspaces entry) {form}, which update-pnpm-hash does not emulate (it emulates `name`, `name...`, `./dir`, `{{dir}}` and `{{dir}}...`), so it computes no hash for this selection")]
    Unsupported {
        selector: String,
        form: &'static str,
        /// The name or directory inside the selector, when it has one: the nearest
        /// selection that is emulated.
        core: Option<String>,
    },
    #[error("{}: no workspace project matches --workspace {selector:?} (a pnpmWorkspaces entry): pnpm would print \"No projects matched the filters\" for it{}; name one of the projects (or its `./dir`) instead: {}", lockfile.display(), if *nothing { " and install nothing, so fetchPnpmDeps would hold an empty store" } else { "" }, projects.join(", "))]
    Unmatched {
        lockfile: PathBuf,
        selector: String,
        /// No selector matched anything.
        nothing: bool,
        /// `name (dir)` of every project.
        projects: Vec<String>,
    },
}

/// Parses one selector as pnpm's `parsePackageSelector` reads it, refusing every form
/// but the emulated ones.
pub fn parse(raw: &str) -> Result<Selector, FilterError> {
    let refuse = |form: &'static str, core: &str| FilterError::Unsupported {
        selector: raw.to_owned(),
        form,
        core: (!core.is_empty()).then(|| core.to_owned()),
    };
    if raw.is_empty() {
        return Err(refuse("is empty", ""));
    }
    if let Some(rest) = raw.strip_prefix('!') {
        return Err(refuse("excludes projects (`!`)", rest));
    }
    let (mut s, with_deps) = match raw.strip_suffix("...") {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    if let Some(rest) = s.strip_suffix('^').filter(|_| with_deps) {
        return Err(refuse(
            "selects a project's dependencies without the project (`^...`)",
            rest,
        ));
    }
    if let Some(rest) = s.strip_prefix("...") {
        return Err(refuse(
            "selects dependents (`...name`)",
            rest.trim_start_matches('^'),
        ));
    }
    if let Some(at) = s.find('[') {
        return Err(refuse(
            "selects the projects changed since a git ref (`[ref]`)",
            &s[..at],
        ));
    }
    if is_location(s) {
        if with_deps {
            return Err(refuse(
                "is a directory followed by `...`, which pnpm ignores there (write `{./dir}...` for its dependencies too, or drop the `...`)",
                s,
            ));
        }
        return dir_selector(raw, s, false);
    }
    if let Some(inner) = s.strip_prefix('{') {
        let Some(inner) = inner.strip_suffix('}').filter(|i| !i.is_empty()) else {
            return Err(refuse("is not a `{dir}` selector pnpm reads", ""));
        };
        s = inner;
        return dir_selector(raw, s, with_deps);
    }
    if s.contains('{') {
        return Err(refuse(
            "combines a name with a directory (`name{dir}`)",
            &s[..s.find('{').unwrap_or(0)],
        ));
    }
    if s.starts_with('.') {
        return Err(refuse(
            "is neither a directory (`./dir`) nor a package name",
            "",
        ));
    }
    if s.contains(['*', '?']) {
        return Err(refuse("is a glob over project names", ""));
    }
    Ok(Selector::Name {
        name: s.to_owned(),
        with_deps,
    })
}

/// `isSelectorByLocation`: `.`, `..`, or a path starting `./` or `../`.
fn is_location(s: &str) -> bool {
    s == "." || s == ".." || s.starts_with("./") || s.starts_with("../")
}

fn dir_selector(raw: &str, dir: &str, with_deps: bool) -> Result<Selector, FilterError> {
    if dir.starts_with('/') || dir.contains(['*', '?', '[', ']', '{', '}', '(', ')', '!']) {
        return Err(FilterError::Unsupported {
            selector: raw.to_owned(),
            form: "is a glob or an absolute directory",
            core: None,
        });
    }
    Ok(Selector::Dir {
        dir: normalize(".", dir),
        with_deps,
    })
}

/// `base/rel` as an importer id: `.` components dropped, `..` applied (`..` past the
/// root is kept, so it matches no project).
fn normalize(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(rel.split('/')) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// The importers `pnpm install --filter=…` installs for `selectors` (pnpmWorkspaces, as
/// given): the selected projects and the workspace root. `names` maps each importer id to
/// its package.json `name`.
pub fn select(
    lockfile: &Path,
    lock: &Lockfile,
    names: &BTreeMap<String, Option<String>>,
    selectors: &[String],
) -> Result<BTreeSet<String>, FilterError> {
    let parsed: Vec<Selector> = selectors
        .iter()
        .map(|s| parse(s))
        .collect::<Result<_, _>>()?;
    let graph = workspace_graph(lock);
    let mut selected = BTreeSet::new();
    let mut unmatched = None;
    for (raw, selector) in selectors.iter().zip(&parsed) {
        let (entries, with_deps) = match selector {
            Selector::Name { name, with_deps } => (by_name(names, name), *with_deps),
            Selector::Dir { dir, with_deps } => (
                lock.importers
                    .keys()
                    .filter(|id| *id == dir)
                    .cloned()
                    .collect(),
                *with_deps,
            ),
        };
        if entries.is_empty() {
            unmatched.get_or_insert(raw.clone());
        }
        let mut stack: Vec<String> = entries;
        while let Some(id) = stack.pop() {
            if !selected.insert(id.clone()) || !with_deps {
                continue;
            }
            if injects_a_project(lock, &id) {
                // pnpm's graph (`createPkgGraph`) has an edge for a directory dependency,
                // which the lockfile records as `file:`, not `link:`: not read here.
                return Err(FilterError::Unsupported {
                    selector: raw.clone(),
                    form: "walks the workspace dependencies of a project that injects another one (a `file:` dependency on a workspace project)",
                    core: Some(raw.trim_end_matches("...").to_owned()),
                });
            }
            stack.extend(graph.get(&id).into_iter().flatten().cloned());
        }
    }
    if let Some(selector) = unmatched {
        return Err(FilterError::Unmatched {
            lockfile: lockfile.to_owned(),
            selector,
            nothing: selected.is_empty(),
            projects: names
                .iter()
                .map(|(id, n)| format!("{} ({id})", n.as_deref().unwrap_or("no name")))
                .collect(),
        });
    }
    selected.insert(".".to_owned());
    Ok(selected)
}

/// `matchPackages` for a name without glob characters.
fn by_name(names: &BTreeMap<String, Option<String>>, name: &str) -> Vec<String> {
    let exact: Vec<String> = names
        .iter()
        .filter(|(_, n)| n.as_deref() == Some(name))
        .map(|(id, _)| id.clone())
        .collect();
    if !exact.is_empty() || name.starts_with('@') || name.contains('/') {
        return exact;
    }
    let scoped: Vec<String> = names
        .iter()
        .filter(|(_, n)| {
            n.as_deref()
                .is_some_and(|n| n.starts_with('@') && n.ends_with(&format!("/{name}")))
        })
        .map(|(id, _)| id.clone())
        .collect();
    if scoped.len() == 1 {
        scoped
    } else {
        Vec::new()
    }
}

/// Whether importer `id` depends on another importer by `file:` (an injected workspace
/// package), relative to the lockfile (as the lockfile writes it) or to the project.
fn injects_a_project(lock: &Lockfile, id: &str) -> bool {
    let Some(importer) = lock.importers.get(id) else {
        return false;
    };
    importer
        .dependencies
        .values()
        .chain(importer.dev_dependencies.values())
        .chain(importer.optional_dependencies.values())
        .filter_map(|d| d.version.strip_prefix("file:"))
        .any(|rel| {
            [normalize(".", rel), normalize(id, rel)]
                .iter()
                .any(|target| target != id && lock.importers.contains_key(target))
        })
}

/// Each importer's workspace dependencies: its `link:` references (dependencies, dev and
/// optional) that lead to another importer.
fn workspace_graph(lock: &Lockfile) -> BTreeMap<String, Vec<String>> {
    lock.importers
        .iter()
        .map(|(id, importer)| {
            let deps = importer
                .dependencies
                .values()
                .chain(importer.dev_dependencies.values())
                .chain(importer.optional_dependencies.values())
                .filter_map(|d| d.version.strip_prefix("link:"))
                .map(|rel| normalize(id, rel))
                .filter(|target| target != id && lock.importers.contains_key(target))
                .collect();
            (id.clone(), deps)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pnpm::lockfile::parse as parse_lock;

    #[test]
    fn the_emulated_forms_parse_and_the_others_are_refused_by_name() {
        let name = |n: &str, d| Selector::Name {
            name: n.to_owned(),
            with_deps: d,
        };
        let dir = |n: &str, d| Selector::Dir {
            dir: n.to_owned(),
            with_deps: d,
        };
        assert_eq!(parse("ghost"), Ok(name("ghost", false)));
        assert_eq!(
            parse("@tryghost/admin..."),
            Ok(name("@tryghost/admin", true))
        );
        assert_eq!(parse("./ghost/core/"), Ok(dir("ghost/core", false)));
        assert_eq!(parse("{./ghost/core}..."), Ok(dir("ghost/core", true)));
        assert_eq!(parse("{ghost/../mail}"), Ok(dir("mail", false)));
        assert_eq!(parse("."), Ok(dir(".", false)));
        for (raw, form, core) in [
            ("!ghost", "`!`", Some("ghost")),
            ("...ghost", "dependents", Some("ghost")),
            ("...^ghost", "dependents", Some("ghost")),
            ("ghost^...", "`^...`", Some("ghost")),
            ("ghost[main]", "git ref", Some("ghost")),
            ("[origin/main]", "git ref", None),
            ("@tryghost/*", "glob", None),
            ("./ghost...", "pnpm ignores there", Some("./ghost")),
            ("{./ghost/*}", "glob", None),
            ("ghost{./x}", "`name{dir}`", Some("ghost")),
            ("", "empty", None),
        ] {
            let err = parse(raw).unwrap_err();
            let FilterError::Unsupported { core: c, .. } = &err else {
                panic!("{raw}: {err}")
            };
            assert!(err.to_string().contains(form), "{raw}: {err}");
            assert_eq!(c.as_deref(), core, "{raw}");
        }
    }

    const LOCK: &str = "lockfileVersion: '9.0'\nimporters:\n  .:\n    devDependencies:\n      r:\n        specifier: 1.0.0\n        version: 1.0.0\n  packages/a:\n    dependencies:\n      '@s/b':\n        specifier: workspace:*\n        version: link:../b\n  packages/b:\n    dependencies:\n      x:\n        specifier: 1.0.0\n        version: 1.0.0\n  packages/c: {}\n";

    fn names() -> BTreeMap<String, Option<String>> {
        [
            (".", Some("root")),
            ("packages/a", Some("a")),
            ("packages/b", Some("@s/b")),
            ("packages/c", None),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect()
    }

    fn sel(selectors: &[&str]) -> Result<Vec<String>, FilterError> {
        let lock = parse_lock(LOCK).unwrap();
        let selectors: Vec<String> = selectors.iter().map(|s| s.to_string()).collect();
        select(Path::new("pnpm-lock.yaml"), &lock, &names(), &selectors)
            .map(|s| s.into_iter().collect())
    }

    #[test]
    fn selections_add_the_root_and_follow_workspace_links_only_with_dots() {
        assert_eq!(sel(&["a"]).unwrap(), [".", "packages/a"]);
        assert_eq!(sel(&["a..."]).unwrap(), [".", "packages/a", "packages/b"]);
        // A bare name matches the one scoped project of that name.
        assert_eq!(sel(&["b"]).unwrap(), [".", "packages/b"]);
        assert_eq!(
            sel(&["./packages/c", "{packages/a}..."]).unwrap(),
            [".", "packages/a", "packages/b", "packages/c"]
        );
        let err = sel(&["a", "ghots"]).unwrap_err().to_string();
        assert!(
            err.contains("\"ghots\"")
                && err.contains("a (packages/a)")
                && !err.contains("empty store"),
            "{err}"
        );
        let err = sel(&["./packages"]).unwrap_err().to_string();
        assert!(err.contains("empty store"), "{err}");
    }

    /// An injected workspace dependency (`file:` to a project) is an edge of pnpm's
    /// graph the lockfile's `link:` references do not show: `...` over it is refused.
    #[test]
    fn dots_over_an_injected_project_are_refused() {
        let text = LOCK.replace("version: link:../b", "version: file:packages/b");
        let lock = parse_lock(&text).unwrap();
        let select = |s: &str| select(Path::new("l"), &lock, &names(), &[s.to_owned()]);
        assert!(select("a").is_ok());
        let err = select("a...").unwrap_err();
        assert!(
            matches!(&err, FilterError::Unsupported { core: Some(c), .. } if c == "a"),
            "{err}"
        );
        assert!(err.to_string().contains("injects another one"), "{err}");
    }
}

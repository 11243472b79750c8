//! Which files of a git-hosted package pnpm keeps: `npm-packlist` 5.1.3 as pnpm 10's
//! `@pnpm/fs.packlist` runs it on the package directory (`fs/packlist`; read in
//! pnpm@10.34.5's `dist/pnpm.cjs`, module `npm-packlist@5.1.3/lib/index.js` over
//! `ignore-walk@5.0.1`).
//!
//! Emulated exactly for the packages most git repositories are: no ignore files, no
//! `files` list, nothing bundled. Then npm-packlist keeps every file except what its
//! built-in rules drop (minimatch with `matchBase`, `dot`, `nocase`; case-insensitive for
//! ASCII only, as JavaScript's non-Unicode `/i`):
//!
//! - at any depth, by name: `.npmignore`, `.gitignore`, `npm-debug.log`, `.*.swp`,
//!   `.DS_Store`, `._*`, `*.orig`, and `.git`, `.svn`, `.hg`, `CVS`, `.npmrc` (files, or
//!   directories with all they hold);
//! - at the root only: `.lock-wscript`, `.wafpickle-*`, `build/config.gypi`,
//!   `package-lock.json`, `yarn.lock`, `pnpm-lock.yaml`, the directory
//!   `archived-packages/`, and `node_modules/` (nothing is bundled);
//! - names holding `*` (`nameIsBadForWindows`), at any depth.
//!
//! Everything npm-packlist would decide with rules we do not emulate is refused
//! ([`NotEmulated`]): a `.npmignore` or `.gitignore` anywhere (their globs), a `files`
//! list, bundled dependencies, a `node_modules` other than the root one, and a dropped
//! file that `main`, `browser` or `bin` might bring back.

use serde_json::Value;
use thiserror::Error;

/// Why the file list is not computed: npm-packlist would apply rules not emulated here.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct NotEmulated(pub String);

/// The files of `files` (relative `/`-separated paths of the package directory) that
/// npm-packlist keeps, in the order given.
pub fn packlist(files: &[&str], manifest: Option<&Value>) -> Result<Vec<String>, NotEmulated> {
    refuse_unemulated(files, manifest)?;
    let must_haves = must_have_paths(manifest)?;
    let mut kept = Vec::with_capacity(files.len());
    for file in files {
        match dropped_at(file) {
            None => kept.push((*file).to_owned()),
            Some(prefix) => {
                let lower = prefix.to_ascii_lowercase();
                let reincluded = must_haves.iter().any(|m| {
                    let m = m.to_ascii_lowercase();
                    m == lower || m.starts_with(&format!("{lower}/"))
                });
                if reincluded {
                    return Err(NotEmulated(format!(
                        "npm-packlist's built-in rules drop {file}, which package.json's main, browser or bin may keep"
                    )));
                }
            }
        }
    }
    Ok(kept)
}

fn refuse_unemulated(files: &[&str], manifest: Option<&Value>) -> Result<(), NotEmulated> {
    if let Some(f) = files
        .iter()
        .find(|f| f.split('/').any(|c| c == ".npmignore" || c == ".gitignore"))
    {
        return Err(NotEmulated(format!(
            "it has {f}, whose rules npm-packlist would apply"
        )));
    }
    if let Some(f) = files.iter().find(|f| {
        let mut parts = f.split('/');
        parts.next();
        parts.any(|c| c.eq_ignore_ascii_case("node_modules"))
            || f.split('/')
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case("node_modules") && c != "node_modules")
    }) {
        return Err(NotEmulated(format!(
            "it has {f}: npm-packlist's rules for nested node_modules are not emulated"
        )));
    }
    let Some(Value::Object(m)) = manifest else {
        return Ok(());
    };
    if m.get("files").is_some_and(Value::is_array) {
        return Err(NotEmulated(
            "its package.json lists `files`, whose globs npm-packlist would apply".to_owned(),
        ));
    }
    let bundles = ["bundleDependencies", "bundledDependencies"]
        .iter()
        .any(|k| m.get(*k).is_some_and(truthy));
    if bundles && files.iter().any(|f| f.starts_with("node_modules/")) {
        return Err(NotEmulated(
            "it bundles dependencies from node_modules/".to_owned(),
        ));
    }
    Ok(())
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `mustHaveFilesFromPackage`: `browser`, `main` and every `bin` path (npm-packlist turns
/// them into `!/<path>` rules), without a leading `./` or `/`. A value whose rule would be
/// a glob, or that climbs with `..`, is refused.
fn must_have_paths(manifest: Option<&Value>) -> Result<Vec<String>, NotEmulated> {
    let Some(Value::Object(m)) = manifest else {
        return Ok(Vec::new());
    };
    let mut values: Vec<&Value> = ["browser", "main"]
        .iter()
        .filter_map(|k| m.get(*k))
        .filter(|v| truthy(v))
        .collect();
    match m.get("bin") {
        Some(Value::Object(bins)) => values.extend(bins.values()),
        Some(v @ Value::String(_)) => values.push(v),
        _ => {}
    }
    values
        .into_iter()
        .map(|v| match v {
            Value::String(s)
                if !s.contains("..") && !s.contains(|c| "*?[]{}()!+@\\".contains(c)) =>
            {
                Ok(s.trim_start_matches("./").trim_start_matches('/').to_owned())
            }
            other => Err(NotEmulated(format!(
                "package.json names the must-have file {other}, which npm-packlist matches as a pattern"
            ))),
        })
        .collect()
}

/// `packageMustHavesRE`: `^(readme|copying|license|licence)(\..*[^~$])?$`, case-insensitive.
fn is_must_have_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["readme", "copying", "license", "licence"].iter().any(|b| {
        lower.strip_prefix(b).is_some_and(|rest| {
            rest.is_empty()
                || (rest.starts_with('.') && rest.len() > 1 && !rest.ends_with(['~', '$']))
        })
    })
}

/// The path (the file or one of its directories) at which the built-in rules drop
/// `file`, or `None` when it is kept. At each level a name matching the readme/license
/// regex is kept before any rule is asked, by that level's walker (its own name) or by
/// an ancestor's (the rest of the path from there: the regex's `.*` spans `/`).
fn dropped_at(file: &str) -> Option<&str> {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(file.match_indices('/').map(|(i, _)| i + 1))
        .collect();
    for (depth, &start) in starts.iter().enumerate() {
        let end = starts.get(depth + 1).map_or(file.len(), |next| next - 1);
        let (prefix, name) = (&file[..end], &file[start..end]);
        if name.contains('*') {
            return Some(prefix);
        }
        if starts[..=depth]
            .iter()
            .any(|&from| is_must_have_name(&file[from..end]))
        {
            continue;
        }
        if dropped_by_rule(prefix, depth, name, depth + 1 < starts.len()) {
            return Some(prefix);
        }
    }
    None
}

/// One built-in rule applied to `prefix` (the path up to `name`, `depth` 0 at the root).
fn dropped_by_rule(prefix: &str, depth: usize, name: &str, is_dir: bool) -> bool {
    let b = name.to_ascii_lowercase();
    let by_name = [
        ".npmignore",
        ".gitignore",
        "npm-debug.log",
        ".ds_store",
        ".git",
        ".svn",
        ".hg",
        "cvs",
        ".npmrc",
    ]
    .contains(&b.as_str())
        || (b.len() >= 5 && b.starts_with('.') && b.ends_with(".swp"))
        || b.starts_with("._")
        || b.ends_with(".orig");
    if by_name {
        return true;
    }
    if depth == 0 {
        if name == "package.json" || name == "npm-shrinkwrap.json" {
            return false;
        }
        return name == "node_modules"
            || [
                ".lock-wscript",
                "package-lock.json",
                "yarn.lock",
                "pnpm-lock.yaml",
            ]
            .contains(&b.as_str())
            || b.starts_with(".wafpickle-")
            || (is_dir && b == "archived-packages");
    }
    prefix.eq_ignore_ascii_case("build/config.gypi")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kept(files: &[&str], manifest: Value) -> Vec<String> {
        packlist(files, Some(&manifest)).unwrap()
    }

    #[test]
    fn built_in_rules_drop_what_npm_packlist_drops() {
        let files = [
            "package.json",
            "index.js",
            "yarn.lock",
            "lib/yarn.lock",
            "pnpm-lock.yaml",
            "package-lock.json",
            ".npmrc",
            "lib/.NPMRC",
            ".git/config",
            "a/CVS/x",
            "x.orig",
            "lib/.a.swp",
            ".swp",
            "._x",
            "build/config.gypi",
            "lib/build/config.gypi",
            "archived-packages/a.tgz",
            "node_modules/x/index.js",
            "a*b.js",
            "README.orig",
            "README.d/x.orig",
            "lib/x.orig",
            ".DS_Store",
        ];
        assert_eq!(
            kept(&files, json!({"name": "x"})),
            [
                "package.json",
                "index.js",
                "lib/yarn.lock",
                ".swp",
                "lib/build/config.gypi",
                "README.orig",
                "README.d/x.orig"
            ]
        );
    }

    #[test]
    fn rules_it_does_not_emulate_are_refused() {
        let err = packlist(&["package.json", "lib/.gitignore"], None).unwrap_err();
        assert!(err.0.contains("lib/.gitignore"), "{err}");
        let err = packlist(&["package.json"], Some(&json!({"files": ["lib"]}))).unwrap_err();
        assert!(err.0.contains("files"), "{err}");
        let err = packlist(
            &["package.json", "yarn.lock"],
            Some(&json!({"main": "yarn.lock"})),
        )
        .unwrap_err();
        assert!(err.0.contains("yarn.lock"), "{err}");
        assert!(packlist(&["package.json", "lib/node_modules/a.js"], None).is_err());
        assert!(packlist(&["package.json"], Some(&json!({"main": "../x"}))).is_err());
    }

    #[test]
    fn must_have_names_follow_the_regex() {
        for name in ["README", "readme.md", "LICENSE.txt", "licence", "Copying.x"] {
            assert!(is_must_have_name(name), "{name}");
        }
        for name in ["README~", "readme.", "readme.md~", "license$x$", "readmes"] {
            assert!(!is_must_have_name(name), "{name}");
        }
    }
}

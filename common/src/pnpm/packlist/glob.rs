//! glob 8.1.0 as npm-packlist 5.1.3 calls it for package.json's `files` (`globFiles`:
//! `{dot: true, cwd: <package>, nocase: true}`), over the [`Tree`].
//!
//! Read in pnpm@10.34.5's `dist/pnpm.cjs`, module `glob@8.1.0/glob.js` (`_process`,
//! `_processReaddir2`, `_processGlobStar2`, `_processSimple`, `_stat`) and `common.js`
//! (`setopts`: minimatch with `nonegate` and `nocomment`). What it finds, files and
//! directories alike:
//!
//! - a segment matches one directory entry (minimatch's regex; with `dot`, dot files too);
//! - `**` is zero or more directories, and when it ends the pattern the directory before
//!   it is found too (`lib/**` finds `lib`, provided `lib` is a directory);
//! - a trailing `/` finds directories only;
//! - a leading `./` stays in what is found (`./lib/a.js`), as glob joins its literal
//!   prefix.
//!
//! Refused: `.`/`..` elsewhere, and patterns that would find the package directory itself
//! (`**`), which npm-packlist would then walk as its own child.

use std::collections::HashSet;

use super::minimatch::{must_have_glob, Part, Pattern, GLOB, MUST_HAVES};
use super::tree::{EntryKind, Tree};
use super::NotEmulated;

/// What `glob(pattern)` finds, relative to the package directory, without a trailing `/`.
pub(super) fn glob(pattern: &str, tree: &Tree) -> Result<Vec<String>, NotEmulated> {
    if pattern == MUST_HAVES {
        return Ok(tree
            .entries("")
            .filter(|(name, _)| must_have_glob(name))
            .map(|(name, _)| name.to_owned())
            .collect());
    }
    let parsed = Pattern::parse(pattern, GLOB)
        .map_err(|e| NotEmulated(format!("its package.json's `files` globs {}", e.0)))?;
    let Some(parts) = parsed.parts() else {
        return Ok(Vec::new());
    };
    let refuse = |why: &str| {
        NotEmulated(format!(
            "its package.json's `files` entry {pattern:?} {why}"
        ))
    };
    let (prefix, parts) = match parts.first() {
        Some(Part::Segment(s)) if s.is_literal(".") => ("./", &parts[1..]),
        _ => ("", parts),
    };
    for (i, p) in parts.iter().enumerate() {
        if let Part::Segment(s) = p {
            if s.is_literal(".") || s.is_literal("..") {
                return Err(refuse("has a `.` or `..` segment"));
            }
            if s.is_empty() && i + 1 != parts.len() {
                return Err(refuse("has an empty segment"));
            }
        }
    }
    if parts
        .iter()
        .all(|p| matches!(p, Part::Globstar) || matches!(p, Part::Segment(s) if s.is_empty()))
    {
        return Err(refuse("finds the package directory itself"));
    }
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    let mut visited = HashSet::new();
    visit(
        tree,
        "",
        EntryKind::Dir,
        parts,
        &mut visited,
        &mut |path: &str| {
            if seen.insert(path.to_owned()) {
                found.push(format!("{prefix}{path}"));
            }
        },
    );
    Ok(found)
}

/// Matches `parts` from the entry at `path` (of `kind`), as `_process` does.
fn visit(
    tree: &Tree,
    path: &str,
    kind: EntryKind,
    parts: &[Part],
    visited: &mut HashSet<(String, usize)>,
    emit: &mut dyn FnMut(&str),
) {
    if !visited.insert((path.to_owned(), parts.len())) {
        return;
    }
    let Some(first) = parts.first() else {
        emit(path);
        return;
    };
    if kind != EntryKind::Dir {
        return;
    }
    let child = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}/{name}")
        }
    };
    match first {
        // A trailing `/`: `_stat` with `needDir`.
        Part::Segment(s) if s.is_empty() => emit(path),
        Part::Segment(s) => {
            for (name, k) in tree.entries(path) {
                let units: Vec<u16> = name.encode_utf16().collect();
                if s.matches(&units) {
                    visit(tree, &child(name), k, &parts[1..], visited, emit);
                }
            }
        }
        Part::Globstar => {
            visit(tree, path, kind, &parts[1..], visited, emit);
            for (name, k) in tree.entries(path) {
                let c = child(name);
                visit(tree, &c, k, &parts[1..], visited, emit);
                visit(tree, &c, k, parts, visited, emit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(pattern: &str) -> Vec<String> {
        let tree = Tree::new(
            [
                "package.json",
                "README.md",
                "lib/a.js",
                "lib/b.d.ts",
                "lib/sub/c.js",
                ".hidden/x.js",
                "index.js",
            ]
            .into_iter(),
            &[],
        );
        let mut f = glob(pattern, &tree).unwrap();
        f.sort();
        f
    }

    #[test]
    fn finds_files_and_directories_as_glob_does() {
        assert_eq!(found("lib"), ["lib"]);
        assert_eq!(found("LIB/"), ["lib"]);
        assert_eq!(found("index.js/"), Vec::<String>::new());
        assert_eq!(
            found("lib/**"),
            ["lib", "lib/a.js", "lib/b.d.ts", "lib/sub", "lib/sub/c.js"]
        );
        assert_eq!(found("index.js/**"), Vec::<String>::new());
        assert_eq!(
            found("**/*.js"),
            [".hidden/x.js", "index.js", "lib/a.js", "lib/sub/c.js"]
        );
        assert_eq!(found("lib/*.ts"), ["lib/b.d.ts"]);
        assert_eq!(found("./lib/a.js"), ["./lib/a.js"]);
        assert_eq!(found(MUST_HAVES), ["README.md"]);
        assert_eq!(found(""), Vec::<String>::new());
    }

    #[test]
    fn refuses_what_glob_would_walk_strangely() {
        let tree = Tree::new(["a/b"].into_iter(), &[]);
        for bad in ["**", "a/../b", "a/./b", "{a,b}"] {
            assert!(glob(bad, &tree).is_err(), "{bad}");
        }
    }
}

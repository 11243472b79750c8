//! Which files of a git-hosted package pnpm keeps: `npm-packlist` 5.1.3 as pnpm 10's
//! `@pnpm/fs.packlist` runs it on the package directory (`fs/packlist`; read in
//! pnpm@10.34.5's `dist/pnpm.cjs`, modules `npm-packlist@5.1.3/lib/index.js`,
//! `ignore-walk@5.0.1/lib/index.js`, `npm-normalize-package-bin@2.0.0`,
//! `glob@8.1.0` ([`glob`]) and `minimatch@5.1.9` ([`minimatch`])), emulated over the list
//! of the package's files ([`tree`]).
//!
//! ignore-walk walks the directory, one walker per directory. A walker's rules are, in
//! order: npm-packlist's built-in rules (root only), package.json's `files` (root only),
//! `.npmignore`, `.gitignore` (dropped where a `.npmignore` sits beside it, even an empty
//! one), and the must-haves (root only, without `files`). Each rule is minimatch with
//! `matchBase`, `dot`, `nocase`, `flipNegate`, lines split at `\r?\n`, trimmed as
//! JavaScript trims, `#` comments and blank lines left out. An entry starts included as
//! its parent walker judges `<dir>/<entry>` (so a directory's rules apply to its subtree);
//! each rule that could change the verdict (a `!` rule when excluded, others when
//! included) is tried on `/<entry>`, `<entry>`, and, for a directory, `/<entry>/`,
//! `<entry>/` and, for `!` rules, the partial matches of `/<entry>` and `<entry>`. Before
//! any rule, npm-packlist keeps names matching `^(readme|copying|license|licence)(\..*[^~$])?$`
//! (case-insensitive, on the entry as the walker sees it, so `README.d/x` too) and, at the
//! root, `package.json` and `npm-shrinkwrap.json`; it drops the root `package-lock.json`
//! and `node_modules` (nothing is bundled). Names holding `*` are skipped, symlinks never
//! listed. The built-in rules drop, at any depth, `.npmignore`, `.gitignore`,
//! `npm-debug.log`, `.*.swp`, `.DS_Store`, `._*`, `*.orig`, `.git`, `.svn`, `.hg`, `CVS`,
//! `.npmrc`, and at the root `.lock-wscript`, `.wafpickle-*`, `build/config.gypi`, the
//! lockfiles and `archived-packages/`. The must-haves are `!` rules for `browser`, `main`,
//! each `bin` (`/<path>`, as JavaScript's `String` writes the value), `package.json`,
//! `npm-shrinkwrap.json` and the readme/license names.
//!
//! With a `files` array, npm-packlist globs each entry (and the must-haves, `!` entries
//! negated) from the root, lets later entries override earlier ones, makes what is found
//! the root's only entries, and its rules `!<found>` (kept) then `!!<found>` (dropped by a
//! negated entry). A root `.npmignore`/`.gitignore` then counts only if an entry finds it;
//! deeper ones apply inside found directories. A found directory's walker is named by its
//! last segment, so the root judges `sub/x` for `lib/sub/x`, as npm-packlist does.
//!
//! Refused ([`NotEmulated`]): bundled dependencies, a `node_modules` other than the root
//! one (or `files` reaching into it), patterns minimatch would expand (braces, extglobs)
//! or that hold non-ASCII characters, ignore files that are symlinks or directories,
//! `files` with symlinks in the package (glob follows them), and file names with line
//! terminators.

mod glob;
mod minimatch;
mod tree;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use thiserror::Error;

use crate::pnpm::posix_path::join_root;

use minimatch::{Pattern, Subject, IGNORE_RULE, MUST_HAVES};
use tree::{EntryKind, Tree};

/// Why the file list is not computed: npm-packlist would apply rules not emulated here.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct NotEmulated(pub String);

/// npm-packlist's `defaultRules`.
const DEFAULT_RULES: &[&str] = &[
    ".npmignore",
    ".gitignore",
    "**/.git",
    "**/.svn",
    "**/.hg",
    "**/CVS",
    "**/.git/**",
    "**/.svn/**",
    "**/.hg/**",
    "**/CVS/**",
    "/.lock-wscript",
    "/.wafpickle-*",
    "/build/config.gypi",
    "npm-debug.log",
    "**/.npmrc",
    ".*.swp",
    ".DS_Store",
    "**/.DS_Store/**",
    "._*",
    "**/._*/**",
    "*.orig",
    "/package-lock.json",
    "/yarn.lock",
    "/pnpm-lock.yaml",
    "/archived-packages/**",
];

/// The files of the package (relative `/`-separated paths of regular files with their
/// contents, and the paths of its symlinks) that npm-packlist keeps, in the order given.
pub fn packlist(
    files: &[(&str, &[u8])],
    symlinks: &[&str],
    manifest: Option<&Value>,
) -> Result<Vec<String>, NotEmulated> {
    refuse_unemulated(files, symlinks, manifest)?;
    let tree = Tree::new(files.iter().map(|(p, _)| *p), symlinks);
    let contents: HashMap<&str, &[u8]> = files.iter().copied().collect();
    let package = Package {
        tree: &tree,
        contents: &contents,
    };
    let (root, entries) = Walker::root(&package, manifest)?;
    let mut kept = HashSet::new();
    root.walk(&package, &entries, &mut kept)?;
    Ok(files
        .iter()
        .filter(|(p, _)| kept.contains(*p))
        .map(|(p, _)| (*p).to_owned())
        .collect())
}

fn refuse_unemulated(
    files: &[(&str, &[u8])],
    symlinks: &[&str],
    manifest: Option<&Value>,
) -> Result<(), NotEmulated> {
    let paths = || {
        files
            .iter()
            .map(|(p, _)| *p)
            .chain(symlinks.iter().copied())
    };
    if let Some(f) = paths().find(|f| f.contains(['\n', '\r', '\u{2028}', '\u{2029}'])) {
        return Err(NotEmulated(format!(
            "it has {f:?}, a name with a line break, which npm-packlist's patterns would read differently"
        )));
    }
    if let Some(f) = paths().find(|f| {
        let mut parts = f.split('/');
        let first = parts.next().unwrap_or("");
        parts.any(|c| c.eq_ignore_ascii_case("node_modules"))
            || (first.eq_ignore_ascii_case("node_modules") && first != "node_modules")
    }) {
        return Err(NotEmulated(format!(
            "it has {f}: npm-packlist's rules for nested node_modules are not emulated"
        )));
    }
    if let Some(s) = symlinks
        .iter()
        .find(|s| matches!(s.rsplit('/').next(), Some(".npmignore" | ".gitignore")))
    {
        return Err(NotEmulated(format!(
            "its {s} is a symlink, which npm-packlist would read through"
        )));
    }
    if let Some((_, data)) = files.iter().find(|(p, _)| *p == "package.json") {
        if data.starts_with(b"\xef\xbb\xbf") {
            return Err(NotEmulated(
                "its package.json starts with a byte order mark, for which npm-packlist's JSON.parse fails and it reads no `files` and no main".to_owned(),
            ));
        }
    }
    let Some(manifest) = manifest else {
        return Ok(());
    };
    let Value::Object(m) = manifest else {
        return Err(NotEmulated(
            "its package.json is not a JSON object".to_owned(),
        ));
    };
    if m.get("files").is_some_and(Value::is_array) && !symlinks.is_empty() {
        return Err(NotEmulated(format!(
            "its package.json lists `files` and it has the symlink {}, which glob would follow",
            symlinks[0]
        )));
    }
    let bundles = ["bundleDependencies", "bundledDependencies"]
        .iter()
        .any(|k| m.get(*k).is_some_and(truthy));
    if bundles && paths().any(|f| f.starts_with("node_modules/")) {
        return Err(NotEmulated(
            "it bundles dependencies from node_modules/".to_owned(),
        ));
    }
    Ok(())
}

/// The package directory as the walkers read it.
struct Package<'a> {
    tree: &'a Tree<'a>,
    contents: &'a HashMap<&'a str, &'a [u8]>,
}

/// ignore-walk's `ignoreFiles` order in npm-packlist: built-ins, package.json, .npmignore,
/// .gitignore, the must-haves.
const SLOTS: usize = 5;
const BUILTIN: usize = 0;
const PACKAGE_JSON: usize = 1;
const NPMIGNORE: usize = 2;
const GITIGNORE: usize = 3;
const NECESSARY: usize = 4;

/// One ignore-walk walker (a directory) with npm-packlist's overrides.
struct Walker<'p> {
    parent: Option<&'p Walker<'p>>,
    /// `this.path` relative to the package (`""` the root; may start with `./`).
    path: String,
    basename: String,
    rules: [Option<Vec<Pattern>>; SLOTS],
}

impl<'p> Walker<'p> {
    /// The project walker and its entries: the root's, or what `files` finds.
    fn root(
        package: &Package,
        manifest: Option<&Value>,
    ) -> Result<(Self, Vec<String>), NotEmulated> {
        let mut rules: [Option<Vec<Pattern>>; SLOTS] = Default::default();
        rules[BUILTIN] = Some(
            DEFAULT_RULES
                .iter()
                .map(|r| Pattern::parse(r, IGNORE_RULE))
                .collect::<Result<_, _>>()?,
        );
        let mut entries: Vec<String> = package
            .tree
            .entries("")
            .map(|(n, _)| n)
            .filter(|n| *n != ".git" && *n != "node_modules")
            .map(str::to_owned)
            .collect();
        let has_manifest = entries.iter().any(|e| e == "package.json");
        if let (true, Some(Value::Object(pkg))) = (has_manifest, manifest) {
            let must_haves = must_haves(pkg)?;
            match pkg.get("files") {
                Some(Value::Array(files)) => {
                    let (found, rule_lines) = files_rules(files, &must_haves, package.tree)?;
                    entries = found;
                    // Read as the root's ignore file `package.json`: only when what
                    // `files` finds holds it (`!package.json` after `/package.json`).
                    if entries.iter().any(|e| e == "package.json") {
                        rules[PACKAGE_JSON] = Some(parse_lines(
                            rule_lines.iter().map(String::as_str),
                            "package.json's `files` (as rules)",
                        )?);
                    }
                }
                _ => {
                    let lines: Vec<String> = must_haves.iter().map(|m| format!("!{m}")).collect();
                    rules[NECESSARY] = Some(parse_lines(
                        lines.iter().map(String::as_str),
                        "package.json's main/browser/bin (as rules)",
                    )?);
                }
            }
        }
        let mut walker = Walker {
            parent: None,
            path: String::new(),
            basename: String::new(),
            rules,
        };
        walker.read_ignore_files(package, entries.iter().map(String::as_str))?;
        Ok((walker, entries))
    }

    fn is_project(&self) -> bool {
        self.parent.is_none()
    }

    /// `addIgnoreFiles` for the ignore files among `entries`, then npm-packlist's
    /// `filterEntries`: a `.npmignore` silences the `.gitignore` beside it.
    fn read_ignore_files<'e>(
        &mut self,
        package: &Package,
        entries: impl Iterator<Item = &'e str>,
    ) -> Result<(), NotEmulated> {
        for entry in entries {
            let slot = match entry {
                ".npmignore" => NPMIGNORE,
                ".gitignore" => GITIGNORE,
                _ => continue,
            };
            let path = join(&self.path, entry);
            let lookup = path.strip_prefix("./").unwrap_or(&path);
            let Some(data) = package.contents.get(lookup) else {
                return Err(NotEmulated(format!(
                    "its {lookup} is not a regular file, which npm-packlist would fail to read"
                )));
            };
            let text = String::from_utf8_lossy(data);
            let lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
            self.rules[slot] = Some(parse_lines(lines, lookup)?);
        }
        if self.rules[NPMIGNORE].is_some() {
            self.rules[GITIGNORE] = None;
        }
        Ok(())
    }

    /// `onReaddir` → `filterEntries` → `stat`/`onstat` for each entry.
    fn walk(
        &self,
        package: &Package,
        entries: &[String],
        kept: &mut HashSet<String>,
    ) -> Result<(), NotEmulated> {
        for entry in entries {
            let pass_file = self.filter_entry(entry, false);
            let pass_dir = self.filter_entry(entry, true);
            // `nameIsBadForWindows`: skipped before `lstat`.
            if !(pass_file || pass_dir) || entry.contains('*') {
                continue;
            }
            let path = join(&self.path, entry);
            let lookup = path.strip_prefix("./").unwrap_or(&path).to_owned();
            match package.tree.kind(&lookup) {
                Some(EntryKind::File) if pass_file => {
                    // fs.packlist strips a leading `./`.
                    kept.insert(lookup);
                }
                Some(EntryKind::Dir) if pass_dir => {
                    let basename = entry.rsplit('/').next().unwrap_or(entry).to_owned();
                    let mut child = Walker {
                        parent: Some(self),
                        path,
                        basename,
                        rules: Default::default(),
                    };
                    let names: Vec<String> = package
                        .tree
                        .entries(&lookup)
                        .map(|(n, _)| n.to_owned())
                        .collect();
                    child.read_ignore_files(package, names.iter().map(String::as_str))?;
                    child.walk(package, &names, kept)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// npm-packlist's `filterEntry` over ignore-walk's.
    fn filter_entry(&self, entry: &str, partial: bool) -> bool {
        if self.is_project() {
            if path_has_pkg(entry) || entry == "node_modules" {
                return false;
            }
            if entry == "package.json" {
                return true;
            }
        }
        if is_must_have_name(entry) {
            return true;
        }
        if self.is_project() {
            if entry == "npm-shrinkwrap.json" {
                return true;
            }
            if entry == "package-lock.json" {
                return false;
            }
        }
        let mut included = match self.parent {
            Some(parent) => parent.filter_entry(&format!("{}/{entry}", self.basename), partial),
            None => true,
        };
        if self.rules.iter().flatten().all(Vec::is_empty) {
            return included;
        }
        let candidates = Candidates::new(entry, partial);
        for rules in self.rules.iter().flatten() {
            for rule in rules {
                if rule.negate != included && candidates.hit(rule, partial) {
                    included = rule.negate;
                }
            }
        }
        included
    }
}

/// The strings ignore-walk's `filterEntry` matches a rule against, split once:
/// `/<entry>`, `<entry>` and, for directories, `/<entry>/`, `<entry>/`.
struct Candidates {
    slash: Subject,
    plain: Subject,
    dir: Option<(Subject, Subject)>,
}

impl Candidates {
    fn new(entry: &str, partial: bool) -> Self {
        Self {
            slash: Subject::new(&format!("/{entry}")),
            plain: Subject::new(entry),
            dir: partial.then(|| {
                (
                    Subject::new(&format!("/{entry}/")),
                    Subject::new(&format!("{entry}/")),
                )
            }),
        }
    }

    fn hit(&self, p: &Pattern, partial: bool) -> bool {
        let hit = |s: &Subject, partial: bool| p.hits_subject(s, partial, true);
        hit(&self.slash, false)
            || hit(&self.plain, false)
            || self
                .dir
                .as_ref()
                .is_some_and(|(slash, plain)| hit(slash, false) || hit(plain, false))
            || (partial && p.negate && (hit(&self.slash, true) || hit(&self.plain, true)))
    }
}

/// `path.join`-free `this.path + "/" + entry`, relative.
fn join(dir: &str, entry: &str) -> String {
    if dir.is_empty() {
        entry.to_owned()
    } else {
        format!("{dir}/{entry}")
    }
}

/// npm-packlist's `pathHasPkg`.
fn path_has_pkg(entry: &str) -> bool {
    let Some(rest) = entry.strip_prefix("node_modules/") else {
        return false;
    };
    let mut segments = rest.splitn(3, '/');
    let first = segments.next().unwrap_or("");
    !first.starts_with('@') || segments.next().is_some()
}

/// ignore-walk's `onReadIgnoreFile`: each line trimmed, comments and blank lines left out.
fn parse_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    source: &str,
) -> Result<Vec<Pattern>, NotEmulated> {
    let mut rules = Vec::new();
    for (n, line) in lines.enumerate() {
        let rule = js_trim(line);
        if rule.is_empty() || rule.starts_with('#') {
            continue;
        }
        let pattern = Pattern::parse(rule, IGNORE_RULE)
            .map_err(|e| NotEmulated(format!("its {source} has, line {}, {}", n + 1, e.0)))?;
        rules.push(pattern);
    }
    Ok(rules)
}

/// `String.prototype.trim`: JavaScript's white space and line terminators (U+FEFF yes,
/// U+0085 no).
fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}')
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

/// `"/" + value` as JavaScript writes it, for the values emulated.
fn js_string(key: &str, v: &Value) -> Result<String, NotEmulated> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(true) => Ok("true".to_owned()),
        Value::Object(_) => Ok("[object Object]".to_owned()),
        other => Err(NotEmulated(format!(
            "its package.json's {key} is {other}, whose string form npm-packlist would match is not emulated"
        ))),
    }
}

/// `mustHaveFilesFromPackage` on the manifest after `npm-normalize-package-bin`.
fn must_haves(pkg: &Map<String, Value>) -> Result<Vec<String>, NotEmulated> {
    let mut out = Vec::new();
    for key in ["browser", "main"] {
        if let Some(v) = pkg.get(key).filter(|v| truthy(v)) {
            out.push(format!("/{}", js_string(key, v)?));
        }
    }
    for target in normalized_bins(pkg)? {
        out.push(format!("/{target}"));
    }
    // ignore-walk splits its rules at line breaks: one inside a value would make two.
    if let Some(v) = out.iter().find(|v| v.contains(['\n', '\r'])) {
        return Err(NotEmulated(format!(
            "its package.json's main, browser or bin {v:?} holds a line break, which would split npm-packlist's rule"
        )));
    }
    out.extend(
        [
            "/package.json",
            "/npm-shrinkwrap.json",
            "!/package-lock.json",
            MUST_HAVES,
        ]
        .map(str::to_owned),
    );
    Ok(out)
}

/// npm-normalize-package-bin 2.0.0's bin targets: `path.join("/", target).slice(1)`, for
/// bins whose key keeps a basename; a string `bin` only with a `name`.
fn normalized_bins(pkg: &Map<String, Value>) -> Result<Vec<String>, NotEmulated> {
    let refuse = |why: &str| {
        NotEmulated(format!(
            "its package.json's bin {why}, which is not emulated"
        ))
    };
    let pairs: Vec<(String, &Value)> = match pkg.get("bin") {
        Some(v) if !truthy(v) => return Ok(Vec::new()),
        Some(v @ Value::String(_)) => match pkg.get("name") {
            Some(Value::String(n)) if !n.is_empty() => vec![(n.clone(), v)],
            Some(n) if truthy(n) => return Err(refuse("is named by a name that is not a string")),
            _ => return Ok(Vec::new()),
        },
        Some(Value::Array(items)) => items
            .iter()
            .map(|k| match k {
                Value::String(s) => Ok((posix_basename(s).to_owned(), k)),
                _ => Err(refuse("lists a value that is not a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        _ => return Ok(Vec::new()),
    };
    let mut bases = HashSet::new();
    let mut targets = Vec::new();
    for (key, value) in pairs {
        let base = join_root(posix_basename(&key.replace(['\\', ':'], "/")));
        let Value::String(target) = value else {
            continue;
        };
        if base.is_empty() {
            continue;
        }
        if target.contains('\\') {
            return Err(refuse("has a backslash"));
        }
        let target = join_root(target);
        if target.is_empty() {
            continue;
        }
        if !bases.insert(base) {
            return Err(refuse("has two keys with the same basename"));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// Node's `path.posix.basename`.
fn posix_basename(p: &str) -> &str {
    let p = p.trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

/// `getPackageFiles` with a `files` array: the root's entries (what each entry finds, a
/// later entry overriding an earlier one) and the package.json rules.
fn files_rules(
    files: &[Value],
    must_haves: &[String],
    tree: &Tree,
) -> Result<(Vec<String>, Vec<String>), NotEmulated> {
    let mut raw: Vec<&str> = Vec::new();
    for f in files {
        let Value::String(s) = f else {
            return Err(NotEmulated(format!(
                "its package.json's `files` holds {f}, which is not a string (npm-packlist fails on it)"
            )));
        };
        raw.push(s);
    }
    raw.extend(must_haves.iter().map(String::as_str));
    let mut unique = HashSet::new();
    raw.retain(|r| unique.insert(*r));
    // What each entry finds, a later entry deciding: kept (`true`) or negated.
    let mut decided: std::collections::BTreeMap<String, bool> = Default::default();
    for entry in raw {
        let rest = entry.trim_start_matches('!');
        let negate = (entry.len() - rest.len()) % 2 == 1;
        // `pattern.replace(/^\.?\/+/, "")`
        let pattern = match rest.strip_prefix('.').unwrap_or(rest) {
            s if s.starts_with('/') => s.trim_start_matches('/'),
            _ => rest,
        };
        for found in glob::glob(pattern, tree)? {
            let first = found.strip_prefix("./").unwrap_or(&found);
            if first
                .split('/')
                .next()
                .is_some_and(|c| c.eq_ignore_ascii_case("node_modules"))
            {
                return Err(NotEmulated(format!(
                    "package.json's `files` entry {entry:?} reaches into node_modules, whose rules are not emulated"
                )));
            }
            decided.insert(found, !negate);
        }
    }
    let kept = decided.iter().filter(|(_, k)| **k).map(|(f, _)| f);
    let negated = decided.iter().filter(|(_, k)| !**k).map(|(f, _)| f);
    let rules = kept
        .clone()
        .map(|f| format!("!{f}"))
        .chain(negated.map(|f| format!("!!{f}")))
        .collect();
    let entries = kept.cloned().collect();
    Ok((entries, rules))
}

/// `packageMustHavesRE`: `^(readme|copying|license|licence)(\..*[^~$])?$`, case-insensitive
/// (file names with line terminators, which `.` would not match, are refused).
fn is_must_have_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["readme", "copying", "license", "licence"].iter().any(|b| {
        lower.strip_prefix(b).is_some_and(|rest| {
            rest.is_empty()
                || (rest.starts_with('.') && rest.len() > 1 && !rest.ends_with(['~', '$']))
        })
    })
}

#[cfg(test)]
mod tests;

//! packlist's unit tests: each rule of npm-packlist 5.1.3 and ignore-walk 5.0.1 on small
//! trees, the expectations checked against the real npm-packlist@5.1.3 from npm.

use super::*;
use serde_json::json;

/// The kept paths of `files` (path, contents) with `manifest` as package.json.
fn kept(files: &[(&str, &str)], manifest: Value) -> Vec<String> {
    try_kept(files, manifest).unwrap()
}

fn try_kept(files: &[(&str, &str)], manifest: Value) -> Result<Vec<String>, NotEmulated> {
    let manifest_text = manifest.to_string();
    let mut all: Vec<(&str, &[u8])> = vec![("package.json", manifest_text.as_bytes())];
    all.extend(files.iter().map(|(p, c)| (*p, c.as_bytes())));
    let mut out = packlist(&all, &[], Some(&manifest))?;
    out.retain(|p| p != "package.json");
    Ok(out)
}

#[test]
fn built_in_rules_drop_what_npm_packlist_drops() {
    let files = [
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
    let files: Vec<(&str, &str)> = files.iter().map(|f| (*f, "")).collect();
    assert_eq!(
        kept(&files, json!({"name": "x"})),
        [
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
fn gitignore_rules_apply_to_their_subtree() {
    let files = [
        (".gitignore", "# build output\n\n*.log\n/dist\ncoverage/\n"),
        ("a.log", ""),
        ("lib/b.log", ""),
        ("dist/x.js", ""),
        ("lib/dist/y.js", ""),
        ("coverage/z", ""),
        ("lib/coverage", ""),
        ("lib/.gitignore", "c.js\n"),
        ("lib/c.js", ""),
        ("c.js", ""),
        ("index.js", ""),
    ];
    assert_eq!(
        kept(&files, json!({})),
        ["lib/dist/y.js", "lib/coverage", "c.js", "index.js"]
    );
}

#[test]
fn npmignore_silences_the_gitignore_beside_it_only() {
    let files = [
        (".gitignore", "dist\n"),
        ("dist/a.js", ""),
        ("src/.npmignore", "# nothing\n"),
        ("src/.gitignore", "*.js\n"),
        ("src/a.js", ""),
        ("src/dist/b.js", ""),
        ("test/.npmignore", "*.snap\n"),
        ("test/.gitignore", "*.js\n"),
        ("test/a.js", ""),
        ("test/a.snap", ""),
    ];
    // The root .gitignore still drops src/dist; src's empty .npmignore silences its
    // .gitignore; test's .npmignore replaces test's .gitignore.
    assert_eq!(kept(&files, json!({})), ["src/a.js", "test/a.js"]);
}

#[test]
fn negations_reinclude_and_a_root_npmignore_overrides_the_built_ins() {
    let files = [
        (
            ".npmignore",
            "*.md\n!keep.md\nlib/\n!lib/\nsrc\n!src/main.js\n!yarn.lock\n",
        ),
        ("a.md", ""),
        ("keep.md", ""),
        ("lib/x.js", ""),
        ("src/main.js", ""),
        ("src/other.js", ""),
        ("yarn.lock", ""),
        ("x.orig", ""),
    ];
    assert_eq!(
        kept(&files, json!({})),
        // `!src/main.js` re-includes the directory `src`, and inside it `src` (a
        // basename rule) no longer matches: other.js is kept too.
        [
            "keep.md",
            "lib/x.js",
            "src/main.js",
            "src/other.js",
            "yarn.lock"
        ]
    );
}

#[test]
fn must_haves_survive_ignore_rules() {
    let files = [
        (".npmignore", "*\n"),
        ("README.md", ""),
        ("lib/LICENSE", ""),
        ("lib/index.js", ""),
        ("bin/cli.js", ""),
        ("other.js", ""),
        ("npm-shrinkwrap.json", ""),
    ];
    let m = json!({"main": "lib/index.js", "bin": {"c": "./bin/cli.js"}});
    assert_eq!(
        kept(&files, m),
        [
            "README.md",
            "lib/LICENSE",
            "lib/index.js",
            "bin/cli.js",
            "npm-shrinkwrap.json"
        ]
    );
    // `main` is matched as written: `./` makes a segment `.` that no path has, so `lib`
    // stays ignored (its LICENSE with it).
    let m = json!({"main": "./lib/index.js"});
    assert_eq!(kept(&files, m), ["README.md", "npm-shrinkwrap.json"]);
}

#[test]
fn files_globs_directories_and_negations() {
    let files = [
        (".gitignore", "lib\n"),
        (".npmignore", "x\n"),
        ("README.md", ""),
        ("LICENSE", ""),
        ("CHANGELOG.md", ""),
        ("index.js", ""),
        ("lib/a.js", ""),
        ("lib/a.test.js", ""),
        ("lib/.npmignore", "*.map\n"),
        ("lib/a.js.map", ""),
        ("lib/sub/b.js", ""),
        ("types/a.d.ts", ""),
        ("types/b.ts", ""),
        ("bin/cli", ""),
        ("src/x.js", ""),
        ("yarn.lock", ""),
    ];
    let m = json!({
        "name": "p",
        "bin": "bin/cli",
        "main": "index.js",
        "files": ["lib", "!lib/*.test.js", "types/*.d.ts", "yarn.lock"],
    });
    assert_eq!(
        kept(&files, m),
        [
            "README.md",
            "LICENSE",
            "index.js",
            "lib/a.js",
            "lib/sub/b.js",
            "types/a.d.ts",
            "bin/cli",
            "yarn.lock"
        ]
    );
}

#[test]
fn files_finds_with_a_leading_dot_slash_and_trailing_slash() {
    let files = [
        ("lib/.gitignore", "index.js\n"),
        ("lib/index.js", ""),
        ("lib/b.js", ""),
        ("dist/c.js", ""),
        ("d", ""),
    ];
    // `main: ./lib/index.js` is globbed as `./lib/index.js`: listed directly, past
    // lib/.gitignore, which still drops it inside the `lib` walk.
    let m = json!({"main": "./lib/index.js", "files": ["lib", "dist/", "d/"]});
    assert_eq!(kept(&files, m), ["lib/index.js", "lib/b.js", "dist/c.js"]);
    let m = json!({"files": ["lib"]});
    assert_eq!(kept(&files, m), ["lib/b.js"]);
}

#[test]
fn a_found_directory_is_judged_by_its_last_segment() {
    let files = [("a/sub/x.js", ""), ("a/sub/y.js", ""), ("sub/z.js", "")];
    // The walker of the found `a/sub` asks the root about `sub/x.js`, which the rule
    // `!!a/sub/x.js` does not match; found as `a`, the walkers ask about `a/sub/x.js`.
    let m = json!({"files": ["a/sub", "!a/sub/x.js"]});
    assert_eq!(kept(&files, m), ["a/sub/x.js", "a/sub/y.js"]);
    let m = json!({"files": ["a", "!a/sub/x.js"]});
    assert_eq!(kept(&files, m), ["a/sub/y.js"]);
}

#[test]
fn rules_it_does_not_emulate_are_refused() {
    let err = try_kept(&[(".gitignore", "{a,b}\n")], json!({})).unwrap_err();
    assert!(
        err.0.contains(".gitignore has, line 1") && err.0.contains("braces"),
        "{err}"
    );
    let err = try_kept(&[("lib/.npmignore", "\n+(x)\n")], json!({})).unwrap_err();
    assert!(err.0.contains("lib/.npmignore has, line 2"), "{err}");
    assert!(try_kept(&[], json!({"files": [1]})).is_err());
    assert!(try_kept(&[("a/b", "")], json!({"files": ["**"]})).is_err());
    assert!(try_kept(&[("lib/node_modules/a.js", "")], json!({})).is_err());
    assert!(try_kept(&[("Node_Modules/a.js", "")], json!({})).is_err());
    assert!(try_kept(&[("a\nb", "")], json!({})).is_err());
    assert!(try_kept(&[], json!({"main": 3})).is_err());
    let bundled = json!({"bundleDependencies": ["x"]});
    assert!(try_kept(&[("node_modules/x/i.js", "")], bundled).is_err());
    let m = json!({"files": ["lib"]});
    let pj = m.to_string();
    let all: Vec<(&str, &[u8])> = vec![("package.json", pj.as_bytes()), ("lib/a", &b""[..])];
    assert!(packlist(&all, &["lib/l"], Some(&m)).is_err());
    let all: Vec<(&str, &[u8])> = vec![("package.json", &b"{}"[..])];
    assert!(packlist(&all, &[".gitignore"], Some(&json!({}))).is_err());
}

#[test]
fn symlinks_are_never_listed() {
    let all: Vec<(&str, &[u8])> = vec![("package.json", &b"{}"[..]), ("a.js", &b""[..])];
    assert_eq!(
        packlist(&all, &["link"], Some(&json!({}))).unwrap(),
        ["package.json", "a.js"]
    );
}

#[test]
fn bins_are_normalized_as_npm_normalize_package_bin_does() {
    let m = |v: Value| normalized_bins(v.as_object().unwrap()).unwrap();
    assert_eq!(m(json!({"name": "n", "bin": "./b/../c/x"})), ["c/x"]);
    assert_eq!(m(json!({"bin": "x"})), Vec::<String>::new());
    assert_eq!(m(json!({"bin": ["./a/x", "y"]})), ["a/x", "y"]);
    assert_eq!(
        m(json!({"bin": {"a": "..", "": "x", "b": 1, "c": "d/"}})),
        ["d/"]
    );
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

#[test]
fn lines_are_trimmed_as_javascript_trims() {
    assert_eq!(js_trim("\u{feff} a \t\r"), "a");
    assert_eq!(js_trim("\u{85}a"), "\u{85}a");
}

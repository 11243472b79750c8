//! Repository invariants, checked by `cargo test` (rust-analyzer's `tidy`): cheap rules
//! that review would otherwise have to remember, each failing with what to run.

use std::path::PathBuf;
use std::process::Command;

use crate::project_root;

fn tracked(pattern: &str) -> Vec<PathBuf> {
    let out = Command::new("git")
        .current_dir(project_root())
        .args(["ls-files", "--", pattern])
        .output()
        .expect("git is needed for tidy");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| project_root().join(l))
        .collect()
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_rust_file_says_what_it_is_for() {
    let missing: Vec<_> = tracked("*.rs")
        .into_iter()
        .filter(|p| !read(p).starts_with("//!"))
        .collect();
    assert!(
        missing.is_empty(),
        "these files lack a `//!` module comment saying why they exist: {missing:#?}"
    );
}

#[test]
fn no_debugging_leftovers() {
    // Spelled in pieces so this file does not match itself.
    let banned = [
        concat!("dbg", "!("),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
    ];
    let offenders: Vec<String> = tracked("*.rs")
        .into_iter()
        .flat_map(|p| {
            let text = read(&p);
            banned
                .iter()
                .filter(|b| text.contains(*b))
                .map(|b| format!("{}: {b}", p.display()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "remove before committing: {offenders:#?}"
    );
}

#[test]
fn no_grab_bag_modules_outside_test_harnesses() {
    let grab_bags: Vec<_> = tracked("*.rs")
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            (name == "utils.rs" || name == "util.rs" || name == "helpers.rs")
                && !p.components().any(|c| c.as_os_str() == "tests")
        })
        .collect();
    assert!(
        grab_bags.is_empty(),
        "name modules after their concept, not `utils`: {grab_bags:#?}"
    );
}

#[test]
fn readme_opens_with_the_two_commands_and_ci_runs_the_test_one() {
    let readme = read(&project_root().join("README.md"));
    let head: String = readme.lines().take(8).collect::<Vec<_>>().join("\n");
    for command in [
        "cargo run --release -p update-yarn-hash -- --lockfile example/yarn.lock",
        "cargo xtask ci",
    ] {
        assert!(
            head.contains(command),
            "README.md must open with `{command}`"
        );
    }
    let ci = read(&project_root().join(".ci/run"));
    assert!(
        ci.lines().any(|l| l.trim() == "cargo xtask ci"),
        ".ci/run must call the README's test command, `cargo xtask ci`"
    );
}

#[test]
fn readme_documents_every_xtask_task() {
    let readme = read(&project_root().join("README.md"));
    let tasks = crate::HELP
        .lines()
        .skip_while(|l| !l.starts_with("Tasks:"))
        .skip(1)
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .collect::<Vec<_>>();
    assert!(
        tasks.contains(&"ci") && tasks.len() >= 4,
        "HELP lists no tasks: {tasks:?}"
    );
    for task in tasks {
        assert!(
            readme.contains(&format!("cargo xtask {task}")),
            "README.md does not mention `cargo xtask {task}`"
        );
    }
}

/// The names in the first `[ "a" "b" ]` / `["a", "b"]` list on the line starting with `key`.
fn string_list_after(text: &str, key: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no line starting with `{key}`"));
    let inside = line.split_once('[').and_then(|(_, r)| r.split_once(']'));
    let (inside, _) = inside.unwrap_or_else(|| panic!("`{key}` is not a one-line list"));
    let mut names: Vec<String> = inside
        .split('"')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect();
    names.sort();
    names
}

#[test]
fn the_flake_sees_every_workspace_member() {
    // Cargo refuses to load a workspace with a member missing, so a crate left out of
    // the tools' source filter breaks the flake's build, which no test here can run.
    let root = project_root();
    let members = string_list_after(&read(&root.join("Cargo.toml")), "members");
    let kept = string_list_after(&read(&root.join(".nix/sources.nix")), "toolCrates");
    assert_eq!(
        members, kept,
        "Cargo.toml's workspace members and .nix/sources.nix's toolCrates differ: add the new crate to toolCrates"
    );
}

#[test]
fn readme_and_adopting_give_the_install_lines_ci_runs() {
    let root = project_root();
    for doc in ["README.md", "docs/adopting.md"] {
        let text = read(&root.join(doc));
        for (dir, _) in crate::install_check::TOOLS {
            let line = format!("cargo install --locked --path {dir}");
            assert!(
                text.lines().any(|l| l.trim_start().starts_with(&line)),
                "{doc} does not give `{line}`, which `cargo xtask ci` runs"
            );
        }
        assert!(
            !text.contains("OWNER/REPO"),
            "{doc} has a placeholder flake address"
        );
    }
}

#[test]
fn xtask_stays_light() {
    // `cargo xtask` builds these before it can say a word: on a fresh clone, `common`
    // meant the whole tree (vendored OpenSSL and libgit2) and 13 to 21 silent minutes.
    let manifest = read(&project_root().join("xtask/Cargo.toml"));
    let heavy: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.split(['.', ' ', '=']).next())
        .filter(|name| {
            [
                "common", "git2", "reqwest", "openssl", "ring", "tokio", "zstd",
            ]
            .contains(name)
        })
        .collect();
    assert!(
        heavy.is_empty(),
        "xtask must not depend on {heavy:?}: run what needs them as tests or examples of their crate"
    );
}

#[test]
fn gunzip_picks_its_simd_paths_at_run_time() {
    // flate2 without `runtime_detection` builds zlib-rs without `std`, so it never detects
    // AVX2 or PCLMULQDQ: the portable inflate and crc32 cost a Ghost-sized store ~12 s CPU.
    let manifest = read(&project_root().join("Cargo.toml"));
    let flate2 = manifest
        .lines()
        .find(|l| l.starts_with("flate2 "))
        .expect("the workspace Cargo.toml declares flate2");
    assert!(
        !flate2.contains("default-features = false") || flate2.contains("\"runtime_detection\""),
        "flate2 with default-features = false must keep the \"runtime_detection\" feature: {flate2}"
    );
}

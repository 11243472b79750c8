//! In-place mode: the hash lives in a `.nix` file's `fetchYarnDeps { hash = ...; }`, so
//! there is no lock-sha256 to compare and the hook recomputes from the tarball cache.

use std::ffi::OsStr;

use crate::fix::{lockfile, serve};
use crate::util::*;

const CONFIG: &str = "[[in-place]]\nlockfile = \"yarn.lock\"\nnix-file = \"nix/deps.nix\"\n";

fn deps_nix(hash: &str) -> String {
    format!("{{ fetchYarnDeps }}:\nfetchYarnDeps {{\n  yarnLock = ../yarn.lock;\n  hash = \"{hash}\";\n}}\n")
}

#[test]
fn a_stale_in_place_hash_is_recomputed_and_rejected_and_a_cache_miss_offline_is_not_a_pass() {
    if !have_git() {
        return;
    }
    let tarball = b"in-place tarball bytes".to_vec();
    let mirror = format!("https://registry.yarnpkg.com={}", serve(tarball.clone()));
    let lock = lockfile("https://registry.yarnpkg.com", &tarball, &["gamma"]);
    let cache = tempfile::tempdir().unwrap();
    let env: [(&str, &OsStr); 2] = [
        ("NIX_HOOKS_MIRROR", mirror.as_ref()),
        ("UPDATE_YARN_HASH_CACHE", cache.path().as_os_str()),
    ];

    let repo = Repo::new();
    repo.add_shim();
    repo.write(".nix/hooks.toml", CONFIG);
    repo.git(["add", "."]);
    repo.git(["commit", "-q", "--no-verify", "-m", "initial"]);
    repo.nix_hooks(["install"]).success();

    // A hash that is valid SRI but not this lockfile's: rejected, with the right one.
    let wrong = common::nix::nix_hash::Sha256Hash::of(b"wrong").to_sri();
    repo.write("yarn.lock", &lock);
    repo.write("nix/deps.nix", &deps_nix(&wrong));
    repo.git(["add", "yarn.lock", "nix/deps.nix"]);
    let run = repo
        .git_env(&["commit", "-q", "-m", "stale in place"], &env)
        .failure();
    let run = run.stderr_has(&format!(
        "nix/deps.nix: fetchYarnDeps hash {wrong} is stale"
    ));
    let right = run
        .stderr
        .split("put `hash = \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the message names the right hash")
        .to_owned();
    assert_ne!(right, wrong);

    repo.write("nix/deps.nix", &deps_nix(&right));
    repo.git(["add", "nix/deps.nix"]);
    repo.git_env(&["commit", "-q", "-m", "fixed in place"], &env)
        .success()
        .stderr_has("1 lockfile hash fresh, 1 .nix file parsed");

    // An empty cache and no network: say so (exit 3), never pass.
    repo.write("README.md", "x\n");
    repo.write("nix/deps.nix", &format!("# touched\n{}", deps_nix(&right)));
    repo.git(["add", "README.md", "nix/deps.nix"]);
    let empty = tempfile::tempdir().unwrap();
    repo.git_env(
        &["commit", "-q", "-m", "offline"],
        &[
            ("NIX_HOOKS_OFFLINE", "1".as_ref()),
            ("UPDATE_YARN_HASH_CACHE", empty.path().as_os_str()),
        ],
    )
    .failure()
    .stderr_has("cannot verify the fetchYarnDeps hash in nix/deps.nix")
    .stderr_has("not in the tarball cache");
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.root)
        .env("NIX_HOOKS_OFFLINE", "1")
        .env("UPDATE_YARN_HASH_CACHE", empty.path())
        .arg("pre-commit");
    run_code(cmd, 3);
    assert_eq!(repo.head_subject(), "fixed in place");
}

fn run_code(cmd: std::process::Command, code: i32) {
    crate::util::run(cmd).code(code);
}

/// A repository in in-place mode with `stale-hash` at `level`, and a staged lockfile
/// whose `.nix` file holds a wrong hash.
fn in_place_repo(level: &str, lock: &str) -> Repo {
    let repo = Repo::new();
    repo.add_shim();
    repo.write(
        ".nix/hooks.toml",
        &format!("[checks]\nstale-hash = \"{level}\"\n{CONFIG}"),
    );
    repo.git(["add", "."]);
    repo.git(["commit", "-q", "--no-verify", "-m", "initial"]);
    repo.nix_hooks(["install"]).success();
    let wrong = common::nix::nix_hash::Sha256Hash::of(b"wrong").to_sri();
    repo.write("yarn.lock", lock);
    repo.write("nix/deps.nix", &deps_nix(&wrong));
    repo.git(["add", "yarn.lock", "nix/deps.nix"]);
    repo
}

#[test]
fn the_stale_hash_level_applies_to_in_place_hashes() {
    if !have_git() {
        return;
    }
    let empty = tempfile::tempdir().unwrap();
    let env: [(&str, &OsStr); 2] = [
        ("NIX_HOOKS_OFFLINE", "1".as_ref()),
        ("UPDATE_YARN_HASH_CACHE", empty.path().as_os_str()),
    ];
    let tarball = b"level tarball".to_vec();
    let lock = lockfile("https://registry.yarnpkg.com", &tarball, &["delta"]);

    // Off: not even recomputed, so an empty cache offline does not matter.
    let repo = in_place_repo("off", &lock);
    repo.git_env(&["commit", "-q", "-m", "off"], &env)
        .success()
        .stderr_lacks("recomputing");
    assert_eq!(repo.head_subject(), "off");

    // Warn: a hash that cannot be verified is a warning, not a rejection.
    let repo = in_place_repo("warn", &lock);
    repo.git_env(&["commit", "-q", "-m", "warn"], &env)
        .success()
        .stderr_has("nix-hooks: warning: cannot verify the fetchYarnDeps hash")
        .stderr_has("`update-yarn-hash --print --lockfile yarn.lock`");
    assert_eq!(repo.head_subject(), "warn");

    // Fail (the default) rejects, saying what it was doing and how to fill the cache.
    let repo = in_place_repo("fail", &lock);
    repo.git_env(&["commit", "-q", "-m", "fail"], &env)
        .failure()
        .stderr_has("nix-hooks: recomputing the fetchYarnDeps hash of yarn.lock")
        .stderr_has("`update-yarn-hash --print --lockfile yarn.lock`")
        .stderr_lacks("--check --full");
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn a_malformed_in_place_lockfile_is_bad_input() {
    if !have_git() {
        return;
    }
    let repo = in_place_repo(
        "fail",
        "# yarn lockfile v1\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n  resolved 42 {{{\n",
    );
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.root)
        .env("NIX_HOOKS_OFFLINE", "1")
        .env("UPDATE_YARN_HASH_CACHE", empty.path())
        .arg("pre-commit");
    crate::util::run(cmd)
        .code(2)
        .stderr_has("yarn.lock (staged) cannot be read as a Yarn v1 lockfile")
        .stderr_has("yarn install");
}

/// A `.nix` file's own problems are placed in the one `file:line:col:` form.
#[test]
fn an_in_place_problem_names_its_place_as_file_line_col() {
    if !have_git() {
        return;
    }
    let tarball = b"placed tarball".to_vec();
    let lock = lockfile("https://registry.yarnpkg.com", &tarball, &["delta"]);
    let repo = in_place_repo("fail", &lock);
    repo.write("nix/deps.nix", &deps_nix("not-a-hash"));
    repo.git(["add", "nix/deps.nix"]);
    repo.nix_hooks(["pre-commit"])
        .code(2)
        .stderr_has("in-place lockfile yarn.lock: nix/deps.nix:4:10: `hash = \"not-a-hash\";` is not a sha256 hash");
    repo.write(
        "nix/deps.nix",
        "{ fetchYarnDeps }:\nfetchYarnDeps {\n  yarnLock = ../yarn.lock;\n  hash = \"\"\n}\n",
    );
    repo.git(["add", "nix/deps.nix"]);
    let run = repo.nix_hooks(["pre-commit"]).code(2);
    assert!(
        run.stderr
            .contains("in-place lockfile yarn.lock: nix/deps.nix:5:1: ")
            && !run.stderr.contains(": line "),
        "{}",
        run.stderr
    );
}

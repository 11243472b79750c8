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
    let wrong = common::nix_hash::Sha256Hash::of(b"wrong").to_sri();
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

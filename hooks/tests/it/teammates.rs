//! Teammates without the tools: a commit through the shim or the installed delegate
//! with no `nix-hooks` anywhere goes through after one line, unless the repository (or
//! CI) asks for the check with `nixci.hook.strict` / `NIX_HOOKS_STRICT`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::*;

/// A PATH holding only `git` (the hooks call `git config`), so no `nix-hooks` is found.
fn path_without_nix_hooks(repo: &Repo) -> PathBuf {
    let dir = repo.home.join("bin-without-nix-hooks");
    fs::create_dir_all(&dir).unwrap();
    let git = which("git").expect("git is on PATH");
    let link = dir.join("git");
    if !link.exists() {
        std::os::unix::fs::symlink(git, link).unwrap();
    }
    dir
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `git commit` as a teammate without the tools makes it (no NIX_HOOKS_BIN, no PATH entry).
fn commit_without_tools(repo: &Repo, msg: &str, env: &[(&str, &str)]) -> Run {
    let git = which("git").unwrap();
    let mut cmd = std::process::Command::new(git);
    cmd.current_dir(&repo.root)
        .args(["commit", "-q", "-m", msg])
        .env("HOME", &repo.home)
        .env("XDG_CONFIG_HOME", repo.home.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("PATH", path_without_nix_hooks(repo))
        .env_remove("NIX_HOOKS_BIN")
        .env_remove("NIX_HOOKS_STRICT")
        .env_remove("NIX_HOOKS_SKIP")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd)
}

const ABSENT_LINE: &str =
    "nix-hooks: not installed here, so the staged Nix hashes were not checked (enter the dev shell to check them)\n";

fn stage_a_change(repo: &Repo, name: &str) {
    repo.write(name, "x\n");
    repo.git(["add", name]);
}

#[test]
fn the_committed_shim_lets_a_teammate_without_the_tools_commit() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    repo.write("yarn.lock", LOCK_V1);
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V1)]));
    repo.add_shim();
    repo.git(["add", "."]);
    repo.git(["commit", "-q", "--no-verify", "-m", "initial"]);
    repo.git(["config", "core.hooksPath", ".nix/githooks"]);
    stage_a_change(&repo, "a.txt");
    let run = commit_without_tools(&repo, "teammate", &[]).success();
    assert_eq!(run.stderr, ABSENT_LINE, "one line, nothing else");
    assert_eq!(repo.head_subject(), "teammate");

    // A team (or CI) that wants the check makes the absence an error.
    stage_a_change(&repo, "b.txt");
    repo.git(["config", "nixci.hook.strict", "true"]);
    commit_without_tools(&repo, "strict", &[])
        .code(1)
        .stderr_has(
            "nix-hooks: error: cannot find 'nix-hooks' and nixci.hook.strict requires the check",
        );
    assert_eq!(repo.head_subject(), "teammate");
    repo.git(["config", "--unset", "nixci.hook.strict"]);
    commit_without_tools(&repo, "strict", &[("NIX_HOOKS_STRICT", "1")]).code(1);
    assert_eq!(repo.head_subject(), "teammate");
    // NIX_HOOKS_BIN naming a binary that is gone is the same absence.
    commit_without_tools(
        &repo,
        "gone",
        &[("NIX_HOOKS_BIN", "/nonexistent/nix-hooks")],
    )
    .success();
    assert_eq!(repo.head_subject(), "gone");
}

/// Installs with a copy of nix-hooks at `bin`, as `cargo install` or a profile would.
fn install_with(repo: &Repo, bin: &Path) {
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    fs::copy(BIN, bin).unwrap();
    let mut cmd = std::process::Command::new(bin);
    cmd.current_dir(&repo.root)
        .arg("install")
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1");
    run(cmd).success();
}

#[test]
fn a_delegate_whose_binary_vanished_lets_the_commit_through() {
    if !have_git() {
        return;
    }
    // No project shim: the delegate itself must cope.
    let repo = Repo::new();
    repo.write("yarn.lock", LOCK_V1);
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V1)]));
    repo.git(["add", "."]);
    repo.git(["commit", "-q", "--no-verify", "-m", "initial"]);
    let bin = repo.home.join("profile/bin/nix-hooks");
    install_with(&repo, &bin);
    // While the binary is there, the delegate finds it without PATH and checks.
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    commit_without_tools(&repo, "stale", &[])
        .code(1)
        .stderr_has("yarn.lock changed since its hash was recorded");
    repo.git(["reset", "-q", "--hard"]);

    // A garbage collection (or an uninstalled profile) removes it.
    fs::remove_file(&bin).unwrap();
    stage_a_change(&repo, "a.txt");
    let run = commit_without_tools(&repo, "after gc", &[]).success();
    assert_eq!(run.stderr, ABSENT_LINE);
    assert_eq!(repo.head_subject(), "after gc");
    stage_a_change(&repo, "b.txt");
    repo.git(["config", "nixci.hook.strict", "true"]);
    commit_without_tools(&repo, "strict", &[])
        .code(1)
        .stderr_has("nixci.hook.strict requires the check");
    assert_eq!(repo.head_subject(), "after gc");
}

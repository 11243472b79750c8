//! `nix-hooks install` / `uninstall`: idempotent, chaining, reversible, and working
//! wherever git looks for hooks (core.hooksPath, linked worktrees).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::util::*;

const FOREIGN: &str = "#!/bin/sh\necho foreign hook ran >&2\n";

fn hook_files(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap())
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".sample"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn write_executable(path: &std::path::Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn install_is_idempotent_and_uninstall_restores_exactly() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    let hooks = repo.path(".git/hooks");
    let before = hook_files(&hooks);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("installed");
    let once = hook_files(&hooks);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("already installed");
    assert_eq!(hook_files(&hooks), once);
    repo.nix_hooks(["uninstall"])
        .success()
        .stderr_has("removed");
    assert_eq!(hook_files(&hooks), before);
    repo.nix_hooks(["uninstall"])
        .success()
        .stderr_has("nothing to do");
    assert_eq!(hook_files(&hooks), before);
}

#[test]
fn an_existing_hook_is_chained_not_clobbered() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    let hook = repo.path(".git/hooks/pre-commit");
    write_executable(&hook, FOREIGN);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("runs first");
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("already installed");

    // Both run: the foreign hook first, then ours, which still rejects stale hashes.
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.commit("stale")
        .failure()
        .stderr_has("foreign hook ran")
        .stderr_has("yarn.lock changed");

    // A failing foreign hook still blocks the commit.
    write_executable(
        &repo.path(".git/hooks/pre-commit.nix-hooks-chained"),
        "#!/bin/sh\necho no >&2\nexit 7\n",
    );
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V2)]));
    repo.git(["add", RECORD]);
    repo.commit("blocked by foreign").failure().stderr_has("no");
    write_executable(
        &repo.path(".git/hooks/pre-commit.nix-hooks-chained"),
        FOREIGN,
    );
    repo.commit("both pass")
        .success()
        .stderr_has("foreign hook ran");

    repo.nix_hooks(["uninstall"])
        .success()
        .stderr_has("previous hook is back");
    assert_eq!(fs::read_to_string(&hook).unwrap(), FOREIGN);
    assert!(!repo
        .path(".git/hooks/pre-commit.nix-hooks-chained")
        .exists());
}

#[test]
fn an_edited_delegate_or_a_taken_chain_slot_needs_a_decision() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    repo.nix_hooks(["install"]).success();
    let hook = repo.path(".git/hooks/pre-commit");
    let edited = fs::read_to_string(&hook).unwrap() + "echo my addition\n";
    fs::write(&hook, &edited).unwrap();
    repo.nix_hooks(["install"]).code(1).stderr_has("--force");
    assert_eq!(fs::read_to_string(&hook).unwrap(), edited);
    repo.nix_hooks(["install", "--force"])
        .success()
        .stderr_has("updated");

    repo.nix_hooks(["uninstall"]).success();
    write_executable(&hook, FOREIGN);
    write_executable(
        &repo.path(".git/hooks/pre-commit.nix-hooks-chained"),
        "#!/bin/sh\n",
    );
    repo.nix_hooks(["install"])
        .code(1)
        .stderr_has("nowhere to move it");
    assert_eq!(fs::read_to_string(&hook).unwrap(), FOREIGN);
}

#[test]
fn core_hooks_path_is_honoured() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    // Inside the repository and ignored: install there, chaining to what is already there.
    repo.git(["config", "core.hooksPath", "tools/hooks"]);
    write_executable(&repo.path("tools/hooks/pre-commit"), FOREIGN);
    repo.write(".git/info/exclude", "tools/hooks/\n");
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("tools/hooks/pre-commit");
    assert!(!repo.path(".git/hooks/pre-commit").exists());
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.commit("stale")
        .failure()
        .stderr_has("foreign hook ran")
        .stderr_has("yarn.lock changed");
    repo.nix_hooks(["uninstall"]).success();
    assert_eq!(
        fs::read_to_string(repo.path("tools/hooks/pre-commit")).unwrap(),
        FOREIGN
    );

    // Outside it (shared by other repositories): refuse unless forced.
    let shared = repo.home.join("global-hooks");
    repo.git(["config", "core.hooksPath", shared.to_str().unwrap()]);
    repo.nix_hooks(["install"])
        .code(1)
        .stderr_has("outside this repository");
    assert!(!shared.join("pre-commit").exists());
    repo.nix_hooks(["install", "--force"]).success();
    repo.commit("stale")
        .failure()
        .stderr_has("yarn.lock changed");
    repo.nix_hooks(["uninstall"]).success();
    assert!(!shared.join("pre-commit").exists());
}

#[test]
fn a_linked_worktree_uses_the_shared_hook_and_its_own_index() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let wt = repo.home.join("wt");
    repo.git([
        "worktree",
        "add",
        "-q",
        "-b",
        "feature",
        wt.to_str().unwrap(),
    ]);
    let in_wt = |args: &[&str]| {
        let mut cmd = std::process::Command::new("git");
        cmd.current_dir(&wt)
            .env("HOME", &repo.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NIX_HOOKS_BIN", BIN)
            .env_remove("NIX_HOOKS_SKIP")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(args);
        run(cmd)
    };
    // Installing from the worktree is a no-op: hooks live in the common git dir.
    let mut install = std::process::Command::new(BIN);
    install.current_dir(&wt).arg("install");
    run(install).success().stderr_has("already installed");

    std::fs::write(wt.join("yarn.lock"), LOCK_V2).unwrap();
    in_wt(&["add", "yarn.lock"]).success();
    in_wt(&["commit", "-q", "-m", "stale in worktree"])
        .failure()
        .stderr_has("yarn.lock changed");
    // The main worktree's index is untouched by the linked one's staging.
    repo.nix_hooks(["pre-commit"]).success();
    std::fs::write(wt.join(RECORD), record_for(&[("yarn.lock", LOCK_V2)])).unwrap();
    in_wt(&["add", RECORD]).success();
    in_wt(&["commit", "-q", "-m", "fixed in worktree"]).success();
}

#[test]
fn hooks_path_at_the_project_shim_is_already_installed_and_runs_once() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    let shim = repo.read(".nix/githooks/pre-commit");
    repo.git(["config", "core.hooksPath", ".nix/githooks"]);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("already installed");
    assert_eq!(repo.read(".nix/githooks/pre-commit"), shim);
    assert!(!repo
        .path(".nix/githooks/pre-commit.nix-hooks-chained")
        .exists());
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    let run = repo.commit("stale").failure();
    assert_eq!(
        run.stderr.matches("yarn.lock changed").count(),
        1,
        "{}",
        run.stderr
    );

    // A symlink from the default hooks dir to the shim is the shim too.
    repo.git(["config", "--unset", "core.hooksPath"]);
    std::os::unix::fs::symlink(
        "../../.nix/githooks/pre-commit",
        repo.path(".git/hooks/pre-commit"),
    )
    .unwrap();
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("already installed");
    let run = repo.commit("stale").failure();
    assert_eq!(
        run.stderr.matches("yarn.lock changed").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn a_delegate_reached_through_the_shim_path_does_not_loop() {
    if !have_git() {
        return;
    }
    // As an older install left it: the delegate written over the shim's own path.
    let repo = Repo::with_fresh_record();
    let delegate = repo.read(".git/hooks/pre-commit");
    repo.nix_hooks(["uninstall"]).success();
    write_executable(&repo.path(".nix/githooks/pre-commit"), &delegate);
    repo.git(["config", "core.hooksPath", ".nix/githooks"]);
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    let mut cmd = std::process::Command::new("timeout");
    cmd.current_dir(&repo.root)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NIX_HOOKS_BIN", BIN)
        .env_remove("NIX_HOOKS_SKIP")
        .args([
            "20",
            "git",
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.invalid",
        ])
        .args(["commit", "-q", "-m", "stale"]);
    run(cmd).code(1).stderr_has("yarn.lock changed");
}

#[test]
fn a_tracked_or_unignored_hooks_dir_is_not_written() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    let husky = "#!/usr/bin/env sh\nnpx lint-staged\n";
    write_executable(&repo.path(".githooks/pre-commit"), husky);
    repo.git(["add", ".githooks/pre-commit"]);
    repo.git(["commit", "-q", "--no-verify", "-m", "hooks"]);
    repo.git(["config", "core.hooksPath", ".githooks"]);
    // Advice, not a failure: exit 0, no "error".
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("nix-hooks: nothing installed: core.hooksPath puts")
        .stderr_has("nix-hooks pre-commit || exit $?")
        .stderr_lacks("error");
    assert_eq!(repo.read(".githooks/pre-commit"), husky);
    assert!(!repo.path(".githooks/pre-commit.nix-hooks-chained").exists());
    assert_eq!(repo.git(["status", "--porcelain"]), "");

    // An empty directory inside the worktree, not ignored: still refused.
    repo.git(["config", "core.hooksPath", "tools/hooks"]);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("nix-hooks pre-commit || exit $?");
    assert!(!repo.path("tools/hooks/pre-commit").exists());
}

#[test]
fn husky_8_hooks_path_gets_the_line_to_add_and_exit_0() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    // As `husky install` (v8) leaves a repository: core.hooksPath = .husky, tracked hooks.
    let hook = "#!/usr/bin/env sh\n. \"$(dirname -- \"$0\")/_/husky.sh\"\n\nnpx lint-staged\n";
    write_executable(&repo.path(".husky/pre-commit"), hook);
    repo.git(["add", ".husky/pre-commit"]);
    repo.git(["commit", "-q", "--no-verify", "-m", "husky"]);
    repo.git(["config", "core.hooksPath", ".husky"]);
    let run = repo.nix_hooks(["install"]).success().stderr_lacks("error");
    assert!(
        run.stderr.ends_with("nix-hooks pre-commit || exit $?\n"),
        "{}",
        run.stderr
    );
    assert_eq!(repo.read(".husky/pre-commit"), hook);
    assert_eq!(repo.git(["status", "--porcelain"]), "");
}

#[test]
fn hooks_that_dispatch_on_their_own_name_are_not_renamed() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    let husky4 = "#!/bin/sh\n. \"$(dirname \"$0\")/husky.sh\"\n";
    let hook = repo.path(".git/hooks/pre-commit");
    write_executable(&hook, husky4);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("in package.json instead: nix-hooks pre-commit || exit $?")
        .stderr_lacks("error");
    assert_eq!(fs::read_to_string(&hook).unwrap(), husky4);
    assert!(!repo
        .path(".git/hooks/pre-commit.nix-hooks-chained")
        .exists());
}

#[test]
fn uninstall_keeps_an_edited_delegate() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let hook = repo.path(".git/hooks/pre-commit");
    let edited = fs::read_to_string(&hook).unwrap() + "echo my addition\n";
    fs::write(&hook, &edited).unwrap();
    repo.nix_hooks(["uninstall"]).code(1).stderr_has("edited");
    assert_eq!(fs::read_to_string(&hook).unwrap(), edited);
}

#[test]
fn husky_9_is_pointed_at_its_tracked_hook() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["uninstall"]).success();
    // As `husky` (v9) leaves a repository: its dispatcher in an ignored .husky/_.
    let dispatcher = "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n";
    repo.write(".husky/_/.gitignore", "*\n");
    write_executable(&repo.path(".husky/_/pre-commit"), dispatcher);
    repo.write(".husky/pre-commit", "npm test\n");
    repo.git(["add", ".husky/pre-commit"]);
    repo.git(["commit", "-q", "--no-verify", "-m", "husky"]);
    repo.git(["config", "core.hooksPath", ".husky/_"]);
    repo.nix_hooks(["install"])
        .success()
        .stderr_has(".husky/pre-commit instead: nix-hooks pre-commit || exit $?");
    assert_eq!(repo.read(".husky/_/pre-commit"), dispatcher);
    assert!(!repo.path(".husky/_/pre-commit.nix-hooks-chained").exists());
}

#[test]
fn a_delegate_chained_to_the_shim_by_an_older_install_is_undone() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let hook = repo.path(".git/hooks/pre-commit");
    // What an older install did to a symlink to the shim: moved it aside, delegate in front.
    std::os::unix::fs::symlink(
        "../../.nix/githooks/pre-commit",
        repo.path(".git/hooks/pre-commit.nix-hooks-chained"),
    )
    .unwrap();
    repo.nix_hooks(["install"])
        .success()
        .stderr_has("already installed");
    assert!(fs::symlink_metadata(&hook)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!repo
        .path(".git/hooks/pre-commit.nix-hooks-chained")
        .exists());
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    let run = repo.commit("stale").failure();
    assert_eq!(
        run.stderr.matches("yarn.lock changed").count(),
        1,
        "{}",
        run.stderr
    );
}

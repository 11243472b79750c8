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
    // Inside the repository: install there, chaining to what is already there.
    repo.git(["config", "core.hooksPath", "tools/hooks"]);
    write_executable(&repo.path("tools/hooks/pre-commit"), FOREIGN);
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

//! A lockfile the record does not know is a finding, with the command that records it,
//! in the hook (when staged) and in envrc (when tracked); `unrecorded-lockfile = "off"`
//! turns it off for lockfiles without a Nix build.

use crate::util::*;

const OFF: &str = "[checks]\nunrecorded-lockfile = \"off\"\n";

/// A repository with a committed README, the shim and the hook, but no record.
fn repo_without_record() -> Repo {
    let repo = Repo::new();
    repo.write("README.md", "hello\n");
    repo.add_shim();
    repo.git(["add", "."]);
    repo.git(["commit", "-q", "--no-verify", "-m", "initial"]);
    repo.nix_hooks(["install"]).success();
    repo
}

#[test]
fn a_staged_yarn_lock_without_any_record_is_rejected_with_the_command() {
    if !have_git() {
        return;
    }
    let repo = repo_without_record();
    repo.write("yarn.lock", LOCK_V1);
    repo.git(["add", "yarn.lock"]);
    repo.commit("lockfile")
        .code(1)
        .stderr_has("nix-hooks: error: yarn.lock has no recorded dependency hash: there is no .nix/yarn-deps.toml")
        .stderr_has("fix: run `update-yarn-hash --lockfile yarn.lock`, then `git add .nix/yarn-deps.toml`")
        .stderr_lacks("0 lockfile hashes fresh");
    assert_eq!(repo.head_subject(), "initial");
    // Repositories that do not use the record turn the check off.
    repo.write(".nix/hooks.toml", OFF);
    repo.commit("lockfile").success();
    assert_eq!(repo.head_subject(), "lockfile");
}

#[test]
fn a_second_lockfile_the_record_does_not_name_is_rejected() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("app/yarn.lock", LOCK_V2);
    repo.git(["add", "app/yarn.lock"]);
    repo.commit("app")
        .code(1)
        .stderr_has("nix-hooks: error: .nix/yarn-deps.toml has no entry for app/yarn.lock")
        .stderr_has("fix: run `update-yarn-hash --lockfile app/yarn.lock`, then `git add .nix/yarn-deps.toml`")
        .stderr_has("unrecorded-lockfile = \"off\" under [checks] in .nix/hooks.toml");
    assert_eq!(repo.head_subject(), "initial");
    // Recorded, it passes.
    repo.write(
        RECORD,
        &record_for(&[("yarn.lock", LOCK_V1), ("app/yarn.lock", LOCK_V2)]),
    );
    repo.git(["add", RECORD]);
    repo.commit("app")
        .success()
        .stderr_has("2 lockfile hashes fresh");
}

#[test]
fn json_names_the_unrecorded_lockfile() {
    if !have_git() {
        return;
    }
    let repo = repo_without_record();
    repo.write("web/pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
    repo.git(["add", "web/pnpm-lock.yaml"]);
    let run = repo.nix_hooks(["pre-commit", "--json"]).code(1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(value["findings"][0]["lockfile"], "web/pnpm-lock.yaml");
    let message = value["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "run `update-pnpm-hash --lockfile web/pnpm-lock.yaml --fetcher-version 3 --pnpm 10`"
        ),
        "{message}"
    );
}

#[test]
fn envrc_warns_about_a_tracked_lockfile_the_record_does_not_know() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("app/yarn.lock", LOCK_V2);
    repo.git(["add", "app/yarn.lock"]);
    let run = repo.nix_hooks(["envrc"]).success();
    assert_eq!(
        run.stderr,
        "nix-hooks: warning: app/yarn.lock has no recorded dependency hash in .nix/yarn-deps.toml: run `update-yarn-hash --lockfile app/yarn.lock`\n"
    );
    repo.write(".nix/hooks.toml", OFF);
    let run = repo.nix_hooks(["envrc"]).success();
    assert_eq!(run.stderr, "");
}

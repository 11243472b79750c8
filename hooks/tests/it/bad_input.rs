//! Input the hook cannot judge: a clear error naming the file, exit code 2, and no
//! file or index entry changed.

use crate::util::*;

/// Everything a failed run must leave alone: working-tree files and the index.
fn snapshot(repo: &Repo) -> (String, String, String) {
    (
        std::fs::read_to_string(repo.path(RECORD)).unwrap_or_default(),
        repo.read("yarn.lock"),
        repo.git(["ls-files", "--stage"]),
    )
}

#[test]
fn a_garbage_record_is_exit_2_with_its_line_and_writes_nothing() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.write(RECORD, "[\"yarn.lock\"]\nlock-sha256 = \n");
    repo.git(["add", "yarn.lock", RECORD]);
    let before = snapshot(&repo);
    repo.nix_hooks(["pre-commit", "--fix"])
        .code(2)
        .stderr_has(".nix/yarn-deps.toml:2:")
        .stderr_has("fix: update-yarn-hash --rewrite-record");
    assert_eq!(snapshot(&repo), before);
    repo.commit("garbage").failure();
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn a_record_naming_a_missing_lockfile_is_exit_2() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(
        RECORD,
        &record_for(&[("yarn.lock", LOCK_V1), ("apps/admin/yarn.lock", LOCK_V1)]),
    );
    repo.git(["add", RECORD]);
    repo.nix_hooks(["pre-commit"])
        .code(2)
        .stderr_has("names apps/admin/yarn.lock, but apps/admin/yarn.lock is not staged or tracked")
        .stderr_has("`git add apps/admin/yarn.lock`");
}

#[test]
fn a_configured_lockfile_without_a_record_is_exit_2() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    repo.write("yarn.lock", LOCK_V1);
    repo.write(".nix/hooks.toml", "lockfiles = [\"yarn.lock\"]\n");
    repo.git(["add", "yarn.lock"]);
    repo.nix_hooks(["pre-commit"])
        .code(2)
        .stderr_has(".nix/yarn-deps.toml is not staged or tracked");
}

#[test]
fn a_garbage_config_is_exit_2() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(".nix/hooks.toml", "[checks]\nstale-hash = \"sometimes\"\n");
    repo.nix_hooks(["pre-commit"])
        .code(2)
        .stderr_has(".nix/hooks.toml:2:14: ");
}

#[test]
fn a_fix_that_cannot_recompute_changes_nothing() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    // A well-formed lockfile (LOCK_V2's integrity is not a full digest: bad input, exit 2).
    let lock = crate::fix::lockfile("https://registry.yarnpkg.com", b"tarball", &["alpha"]);
    repo.write("yarn.lock", &lock);
    repo.git(["add", "yarn.lock"]);
    let before = snapshot(&repo);
    // An empty tarball cache and --offline: the recompute must fail, not guess.
    let cache = repo.home.join("empty-cache");
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.root)
        .env("XDG_CACHE_HOME", &cache)
        .env("HOME", &repo.home)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .args(["pre-commit", "--fix", "--offline"]);
    run(cmd)
        .code(3)
        .stderr_has("--fix changed nothing")
        .stderr_has("not in the tarball cache");
    assert_eq!(snapshot(&repo), before);
}

#[test]
fn dot_slash_or_absolute_paths_are_exit_2_not_a_panic() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(".nix/hooks.toml", "\nrecord = \"./.nix/yarn-deps.toml\"\n");
    repo.nix_hooks(["pre-commit"])
        .code(2)
        .stderr_has(".nix/hooks.toml:2:10: record = \"./.nix/yarn-deps.toml\"")
        .stderr_lacks("panicked");
    repo.write(".nix/hooks.toml", "lockfiles = [\"/yarn.lock\"]\n");
    repo.nix_hooks(["pre-commit"])
        .code(2)
        .stderr_has("is absolute")
        .stderr_lacks("panicked");
    std::fs::remove_file(repo.path(".nix/hooks.toml")).unwrap();

    let record =
        record_for(&[("yarn.lock", LOCK_V1)]).replace("[\"yarn.lock\"]", "[\"./yarn.lock\"]");
    repo.write(RECORD, &record);
    repo.git(["add", RECORD]);
    let before = snapshot(&repo);
    repo.nix_hooks(["pre-commit", "--fix"])
        .code(2)
        .stderr_has(".nix/yarn-deps.toml:3:1: [\"./yarn.lock\"]")
        .stderr_lacks("panicked");
    assert_eq!(snapshot(&repo), before);
}

#[test]
fn a_missing_config_named_on_the_command_line_is_exit_2() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.nix_hooks(["pre-commit", "--config", "/nonexistent/hooks.toml"])
        .code(2)
        .stderr_has("--config /nonexistent/hooks.toml: no such file");
}

#[test]
fn json_reports_bad_input_as_json() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(RECORD, "[\"yarn.lock\"]\nlock-sha256 = \n");
    repo.git(["add", RECORD]);
    let run = repo.nix_hooks(["pre-commit", "--json"]).code(2);
    test_support::json_schema::assert_valid(&run.stdout);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (&value["exit_code"], &value["error"]["exit_code"]),
        (&2.into(), &2.into())
    );
    assert!(
        value["error"]["message"]
            .as_str()
            .unwrap()
            .contains(".nix/yarn-deps.toml:2:"),
        "{value}"
    );
    let run = repo
        .nix_hooks([
            "pre-commit",
            "--json",
            "--config",
            "/nonexistent/hooks.toml",
        ])
        .code(2);
    test_support::json_schema::assert_valid(&run.stdout);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        value["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such file"),
        "{value}"
    );
}

#[test]
fn fix_on_a_malformed_lockfile_is_exit_2_and_changes_nothing() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(
        "yarn.lock",
        "# yarn lockfile v1\n\nleft-pad@^1.3.0:\n  version \"1.3.0\"\n  resolved 42 {{{\n",
    );
    repo.git(["add", "yarn.lock"]);
    let before = snapshot(&repo);
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.root)
        .env("NIX_HOOKS_OFFLINE", "1")
        .env("UPDATE_YARN_HASH_CACHE", empty.path())
        .args(["pre-commit", "--fix"]);
    run(cmd).code(2).stderr_has("--fix changed nothing");
    assert_eq!(snapshot(&repo), before);
}

#[test]
fn outside_a_repository_every_subcommand_says_the_same_without_libgit2_internals() {
    let dir = tempfile::tempdir().unwrap();
    let expected = "nix-hooks: error: not inside a git repository (could not find repository at '.'); run this from a checkout, or set GIT_DIR\n";
    for args in [&["pre-commit"][..], &["install"], &["uninstall"]] {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args)
            .current_dir(dir.path())
            .env("GIT_CEILING_DIRECTORIES", dir.path().parent().unwrap())
            .env_remove("GIT_DIR")
            .env_remove("NIX_HOOKS_SKIP");
        let run = run(cmd).code(2);
        assert_eq!(run.stderr, expected, "{args:?}");
    }
}

#[test]
fn a_mistyped_subcommand_is_never_pointed_at_the_internal_child() {
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("precommit");
    run(cmd)
        .code(2)
        .stderr_has("'pre-commit'")
        .stderr_lacks("recompute");
    let mut cmd = std::process::Command::new(BIN);
    cmd.arg("--help");
    run(cmd).success();
}

//! The hook's reason to exist: a lockfile staged without its record update is
//! rejected, judged on the staged content only.

use crate::util::*;

#[test]
fn a_stale_hash_is_rejected_and_says_what_to_run() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.commit("stale")
        .failure()
        .stderr_has("yarn.lock changed since its hash was recorded")
        .stderr_has(
            "run `update-yarn-hash --lockfile yarn.lock`, then `git add .nix/yarn-deps.toml`",
        );
    assert_eq!(repo.head_subject(), "initial");

    // The whole message is the contract: what changed, and the exact commands.
    let run = repo.nix_hooks(["pre-commit"]).code(1);
    let staged = common::record::hash_record::lock_sha256(LOCK_V2.as_bytes());
    let recorded = common::record::hash_record::lock_sha256(LOCK_V1.as_bytes());
    assert_eq!(
        run.stderr,
        format!(
            "nix-hooks: error: yarn.lock changed since its hash was recorded (staged lock-sha256 {}…, .nix/yarn-deps.toml has {}…)\n  \
             fix: run `update-yarn-hash --lockfile yarn.lock`, then `git add .nix/yarn-deps.toml` (or run `nix-hooks pre-commit --fix`)\n\
             nix-hooks: commit rejected (skip once with `git commit --no-verify` or NIX_HOOKS_SKIP=1)\n",
            &staged[..12],
            &recorded[..12]
        )
    );
}

#[test]
fn the_fixed_case_passes_with_one_line() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V2)]));
    repo.git(["add", "yarn.lock", RECORD]);
    let run = repo.commit("fixed").success();
    assert_eq!(
        run.stderr.trim(),
        "nix-hooks: ok: 1 lockfile hash fresh, 0 .nix files parsed"
    );
    assert_eq!(repo.head_subject(), "fixed");
}

#[test]
fn a_fix_left_unstaged_does_not_count() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    // The working tree is right; the index, which is what gets committed, is not.
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V2)]));
    repo.commit("fix unstaged")
        .failure()
        .stderr_has("yarn.lock changed");
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn a_breakage_left_unstaged_does_not_block() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("README.md", "hello\n");
    repo.git(["add", "README.md"]);
    repo.write("yarn.lock", LOCK_V2);
    repo.write("broken.nix", "{ a = ");
    repo.commit("readme").success();
    assert_eq!(repo.head_subject(), "readme");
}

#[test]
fn partial_commits_are_checked_through_git_index_file() {
    if !have_git() {
        return;
    }
    // `git commit <paths>` builds a temporary index and names it in GIT_INDEX_FILE;
    // the real index never sees the lockfile change.
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git_result(["commit", "-q", "-m", "only the lock", "yarn.lock"])
        .failure()
        .stderr_has("yarn.lock changed")
        .stderr_has("include .nix/yarn-deps.toml in this commit")
        .stderr_has("`git add yarn.lock && nix-hooks pre-commit --fix`");
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V2)]));
    repo.git(["commit", "-q", "-m", "lock and record", "yarn.lock", RECORD]);
    assert_eq!(repo.head_subject(), "lock and record");
}

#[test]
fn commit_all_is_checked_too() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git_result(["commit", "-q", "-a", "-m", "all"])
        .failure()
        .stderr_has("yarn.lock changed");
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn escape_hatches_skip_the_check() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.git(["commit", "-q", "--no-verify", "-m", "no-verify"]);
    assert_eq!(repo.head_subject(), "no-verify");

    repo.write("yarn.lock", LOCK_V1);
    repo.git(["add", "yarn.lock"]);
    repo.write(RECORD, "garbage that would otherwise be exit 2\n");
    repo.git(["add", RECORD]);
    let run = repo.git_result([
        "-c",
        "core.quotePath=false",
        "commit",
        "-q",
        "-m",
        "env skip",
    ]);
    run.failure();
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(&repo.root)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NIX_HOOKS_BIN", BIN)
        .env("NIX_HOOKS_SKIP", "1")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
        .args(["commit", "-q", "-m", "env skip"]);
    run_ok(cmd).stderr_has("skipped (NIX_HOOKS_SKIP is set)");
    assert_eq!(repo.head_subject(), "env skip");
}

fn run_ok(cmd: std::process::Command) -> Run {
    crate::util::run(cmd).success()
}

#[test]
fn quiet_success_prints_nothing() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let run = repo.nix_hooks(["pre-commit", "--quiet"]).success();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
}

#[test]
fn envrc_warns_in_one_line_and_never_fails() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let run = repo.nix_hooks(["envrc"]).success();
    assert_eq!(run.stderr, "");
    repo.write("yarn.lock", LOCK_V2);
    let run = repo.nix_hooks(["envrc"]).success();
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("stale yarn hash for yarn.lock"),
        "{}",
        run.stderr
    );
    repo.write(RECORD, "garbage");
    let run = repo.nix_hooks(["envrc"]).success();
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(RECORD), "{}", run.stderr);
}

#[test]
fn git_dir_and_work_tree_from_the_environment_are_honoured() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    // Run from somewhere else entirely, as tools that set GIT_DIR do.
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.home)
        .env("GIT_DIR", repo.path(".git"))
        .env("GIT_WORK_TREE", &repo.root)
        .env_remove("GIT_INDEX_FILE")
        .arg("pre-commit");
    run(cmd).code(1).stderr_has("yarn.lock changed");
}

#[test]
fn the_installed_hook_finds_the_binary_without_path_or_env() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    // No NIX_HOOKS_BIN and no nix-hooks on PATH: the delegate falls back to the
    // binary that installed it.
    let mut cmd = std::process::Command::new("git");
    cmd.current_dir(&repo.root)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("NIX_HOOKS_BIN")
        .env_remove("NIX_HOOKS_SKIP")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
        .args(["commit", "-q", "-m", "stale"]);
    run(cmd).failure().stderr_has("yarn.lock changed");
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn bench_mode_reports_every_case_as_json() {
    if !have_git() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("yarn.lock");
    std::fs::write(&lock, LOCK_V1).unwrap();
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(dir.path())
        .env("HOME", dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["bench", "--runs", "2", "--json", "--lockfile"])
        .arg(&lock);
    let run = run(cmd).success();
    test_support::json_schema::assert_valid(&run.stdout);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["lockfile_bytes"], LOCK_V1.len());
    for case in [
        "staged-unchanged",
        "envrc-fresh",
        "staged-changed-stale",
        "staged-changed-fresh",
    ] {
        assert!(json["median_ms"][case].as_f64().unwrap() > 0.0, "{json}");
    }
}

#[test]
fn json_output_names_the_check_and_the_lockfile() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    let run = repo.nix_hooks(["pre-commit", "--json"]).success();
    test_support::json_schema::assert_valid(&run.stdout);
    let ok: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (&ok["version"], &ok["tool"]),
        (&1.into(), &"nix-hooks".into())
    );
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["findings"], serde_json::json!([]));
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    let run = repo.nix_hooks(["pre-commit", "--json"]).code(1);
    test_support::json_schema::assert_valid(&run.stdout);
    let stale: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(stale["exit_code"], 1);
    assert_eq!(stale["lockfiles_checked"], 1);
    let finding = &stale["findings"][0];
    assert_eq!(finding["check"], "stale-hash");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["lockfile"], "yarn.lock");
    assert_eq!(
        run.stderr, "",
        "--json keeps stderr for errors it cannot report"
    );
}

#[test]
fn the_first_commit_goes_through_the_hook_too() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    repo.add_shim();
    repo.nix_hooks(["install"]).success();
    repo.write("yarn.lock", LOCK_V2);
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V1)]));
    repo.git(["add", "."]);
    repo.commit("first")
        .failure()
        .stderr_has("yarn.lock changed");
    repo.write(RECORD, &record_for(&[("yarn.lock", LOCK_V2)]));
    repo.git(["add", RECORD]);
    repo.commit("first").success();
    assert_eq!(repo.head_subject(), "first");
}

#[test]
fn a_record_removed_from_the_index_does_not_skip_the_check() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.git(["rm", "-q", "--cached", RECORD]);
    repo.commit("stale, record unstaged")
        .code(1)
        .stderr_has(".nix/yarn-deps.toml is in HEAD but not staged");
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn a_typo_in_the_configured_record_path_is_exit_2() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write(".nix/hooks.toml", "record = \".nix/yarn-dep.toml\"\n");
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.commit("stale, record path typo").failure();
    repo.nix_hooks(["pre-commit"]).code(2).stderr_has(
        "record = \".nix/yarn-dep.toml\", but .nix/yarn-dep.toml is neither staged nor in HEAD",
    );
    assert_eq!(repo.head_subject(), "initial");
}

#[test]
fn a_staged_lockfile_unlike_the_working_tree_gets_fix_advice_only() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("yarn.lock", LOCK_V2);
    repo.git(["add", "yarn.lock"]);
    repo.write("yarn.lock", &format!("{LOCK_V2}\n# unstaged edit\n"));
    repo.commit("stale")
        .failure()
        .stderr_has("fix: run `nix-hooks pre-commit --fix` (it hashes the staged yarn.lock")
        .stderr_lacks("update-yarn-hash --lockfile");
    // Staged and working tree agree: update-yarn-hash is fine advice.
    repo.write("yarn.lock", LOCK_V2);
    repo.commit("stale").failure().stderr_has(
        "fix: run `update-yarn-hash --lockfile yarn.lock`, then `git add .nix/yarn-deps.toml`",
    );
}

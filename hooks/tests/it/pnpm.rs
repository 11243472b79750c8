//! pnpm lockfiles in the hook: a staged `pnpm-lock.yaml` needs a fresh record entry,
//! and the advice names update-pnpm-hash.

use std::fs;
use std::path::{Path, PathBuf};

use common::nix::nix_hash::Sha256Hash;
use common::record::hash_record::{lock_sha256, Fetcher, HashRecord, RecordEntry};

use crate::util::*;

const PNPM_V1: &str = "lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n";
const PNPM_V2: &str = "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies: {}\n";

/// The record with a fresh yarn.lock entry and, when given, a pnpm entry for `pnpm`.
fn record(pnpm: Option<&str>) -> String {
    let mut text = HashRecord::parse(
        record_for(&[("yarn.lock", LOCK_V1)]).as_bytes(),
        std::path::Path::new(RECORD),
    )
    .unwrap();
    if let Some(contents) = pnpm {
        text.entries.insert(
            "pnpm-lock.yaml".to_owned(),
            RecordEntry {
                lock_sha256: lock_sha256(contents.as_bytes()),
                hash: Sha256Hash::of(contents.as_bytes()),
                fetcher: Fetcher::FetchPnpmDeps {
                    fetcher_version: 3,
                    pnpm: "10".to_owned(),
                    node: None,
                    workspaces: Vec::new(),
                },
            },
        );
    }
    text.render()
}

#[test]
fn a_staged_pnpm_lockfile_without_an_entry_is_rejected_with_the_command() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("pnpm-lock.yaml", PNPM_V1);
    repo.git(["add", "pnpm-lock.yaml"]);
    repo.commit("pnpm")
        .failure()
        .stderr_has(".nix/yarn-deps.toml has no entry for pnpm-lock.yaml")
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10` (no packageManager field names the pnpm; use the fetcherVersion and pnpm of its fetchPnpmDeps call), then `git add .nix/yarn-deps.toml`");
    assert_eq!(repo.head_subject(), "initial");
    // With its entry staged, the commit goes through.
    repo.write(RECORD, &record(Some(PNPM_V1)));
    repo.git(["add", RECORD]);
    repo.commit("pnpm")
        .success()
        .stderr_has("2 lockfile hashes fresh");
}

#[test]
fn a_stale_pnpm_entry_names_update_pnpm_hash_and_fix() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("pnpm-lock.yaml", PNPM_V1);
    repo.write(RECORD, &record(Some(PNPM_V1)));
    repo.git(["add", "."]);
    repo.commit("pnpm").success();
    repo.write("pnpm-lock.yaml", PNPM_V2);
    repo.git(["add", "pnpm-lock.yaml"]);
    repo.commit("stale")
        .failure()
        .stderr_has("pnpm-lock.yaml changed since its hash was recorded")
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10`, then `git add .nix/yarn-deps.toml` (or run `nix-hooks pre-commit --fix`)");
}

/// The fixture project update-pnpm-hash's reference test replays fetchPnpmDeps on.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../update-pnpm-hash/tests/fixtures")
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `nix-hooks pre-commit --fix` in `repo` with the tarball cache update-pnpm-hash's tests
/// share (so the tarballs are downloaded once) and `tmp` as TMPDIR; `None` (a skip) when
/// the npm registry cannot be reached.
fn fix_from_registry(repo: &Repo, tmp: Option<&Path>) -> Option<Run> {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("update-pnpm-hash-cache");
    let mut cmd = std::process::Command::new(BIN);
    cmd.current_dir(&repo.root)
        .args(["pre-commit", "--fix"])
        .env("UPDATE_YARN_HASH_CACHE", &cache)
        .env("HOME", &repo.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_DIR");
    if let Some(tmp) = tmp {
        cmd.env("TMPDIR", tmp);
    }
    let run = run(cmd);
    if run.code == Some(3) && run.stderr.contains("download") {
        test_support::skip(&format!(
            "the npm registry is not reachable: {}",
            run.stderr
        ));
        return None;
    }
    Some(run)
}

#[test]
fn fix_recomputes_a_stale_pnpm_entry_from_the_staged_project() {
    if !have_git() {
        return;
    }
    let reference = fs::read_to_string(fixtures().join("pnpm10-project.reference/hash")).unwrap();
    let repo = Repo::new();
    copy_tree(&fixtures().join("pnpm10-project"), &repo.root);
    repo.add_shim();
    let lock = repo.read("pnpm-lock.yaml");
    // Recorded for an older lockfile, with a hash that is not the project's.
    let old_lock = lock.replace("lockfileVersion", "# older\nlockfileVersion");
    let mut stale = HashRecord::default();
    stale.entries.insert(
        "pnpm-lock.yaml".to_owned(),
        RecordEntry {
            lock_sha256: lock_sha256(old_lock.as_bytes()),
            hash: Sha256Hash::of(b"not the hash"),
            fetcher: Fetcher::FetchPnpmDeps {
                fetcher_version: 3,
                pnpm: "10".to_owned(),
                node: None,
                workspaces: Vec::new(),
            },
        },
    );
    repo.write(RECORD, &stale.render());
    repo.git(["add", "."]);
    // What --fix hashes is the staged project: unstaged edits must not count.
    repo.write("package.json", "{ \"broken\": ");
    fs::remove_file(repo.path("components/tryghost-local-tpl-1.0.0.tgz")).unwrap();

    let tmp = repo.home.join("tmp");
    fs::create_dir_all(&tmp).unwrap();
    let Some(run) = fix_from_registry(&repo, Some(&tmp)) else {
        return;
    };
    let run = run
        .success()
        .stderr_has("nix-hooks: recomputing the fetchPnpmDeps hash of pnpm-lock.yaml")
        .stderr_has(&format!("fixed: pnpm-lock.yaml -> {}", reference.trim()))
        .stderr_has("ok: 1 lockfile hash fresh");
    let fixed = HashRecord::parse(repo.staged(RECORD).as_bytes(), Path::new(RECORD)).unwrap();
    let entry = &fixed.entries["pnpm-lock.yaml"];
    assert_eq!(entry.hash.to_sri(), reference.trim(), "{}", run.stderr);
    assert_eq!(entry.lock_sha256, lock_sha256(lock.as_bytes()));
    assert_eq!(
        entry.fetcher,
        Fetcher::FetchPnpmDeps {
            fetcher_version: 3,
            pnpm: "10".to_owned(),
            node: None,
            workspaces: Vec::new(),
        }
    );
    assert_eq!(
        repo.read(RECORD),
        repo.staged(RECORD),
        "the working tree copy too"
    );
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "no temp files linger"
    );
    // The unstaged edits are still there, untouched.
    assert_eq!(repo.read("package.json"), "{ \"broken\": ");
}

#[test]
fn fix_without_a_pnpm_entry_names_the_target_it_needs() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("pnpm-lock.yaml", PNPM_V1);
    repo.git(["add", "pnpm-lock.yaml"]);
    let before = repo.staged(RECORD);
    repo.nix_hooks(["pre-commit", "--fix"])
        .code(2)
        .stderr_has("--fix does not know its fetcherVersion and pnpm")
        .stderr_has(
            "fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10`",
        );
    assert_eq!(repo.staged(RECORD), before);
}

#[test]
fn envrc_names_update_pnpm_hash_for_a_stale_pnpm_entry() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("pnpm-lock.yaml", PNPM_V2);
    repo.write(RECORD, &record(Some(PNPM_V1)));
    let run = repo.nix_hooks(["envrc"]).success();
    assert!(
        run.stderr
            .contains("stale dependency hash for pnpm-lock.yaml: run `update-pnpm-hash`"),
        "{}",
        run.stderr
    );
}

/// The repository's own record covers both examples: the hook accepts them staged as
/// committed, and refuses an edited example-pnpm/pnpm-lock.yaml with the command to run.
#[test]
fn the_repository_record_covers_the_yarn_and_pnpm_examples() {
    if !have_git() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = Repo::new();
    repo.add_shim();
    repo.nix_hooks(["install"]).success();
    for file in [RECORD, "example/yarn.lock", "example-pnpm/pnpm-lock.yaml"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        repo.write(file, &text);
    }
    repo.git(["add", "."]);
    repo.commit("examples")
        .success()
        .stderr_has("2 lockfile hashes fresh");
    let lock = repo.read("example-pnpm/pnpm-lock.yaml");
    repo.write("example-pnpm/pnpm-lock.yaml", &format!("{lock}\n"));
    repo.git(["add", "example-pnpm/pnpm-lock.yaml"]);
    repo.commit("edited")
        .failure()
        .stderr_has("example-pnpm/pnpm-lock.yaml changed since its hash was recorded")
        .stderr_has("fix: run `update-pnpm-hash --lockfile example-pnpm/pnpm-lock.yaml --fetcher-version 3 --pnpm 10`");
}

/// The advice for an unrecorded pnpm-lock.yaml names the target the project's pnpm fits:
/// `packageManager` pnpm 11 -> fetcherVersion 4, pnpm 12 -> said to be unsupported, with
/// pnpm_11's target; in the commit, in --fix and in envrc.
#[test]
fn the_advice_for_an_unrecorded_pnpm_lockfile_fits_the_project() {
    if !have_git() {
        return;
    }
    let repo = Repo::with_fresh_record();
    repo.write("pnpm-lock.yaml", PNPM_V1);
    repo.write(
        "package.json",
        "{ \"packageManager\": \"pnpm@11.22.0+sha512.00\" }",
    );
    repo.git(["add", "pnpm-lock.yaml", "package.json"]);
    let v4 = "run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11`, then `git add .nix/yarn-deps.toml`";
    repo.commit("pnpm")
        .failure()
        .stderr_has(&format!("fix: {v4}"));
    repo.nix_hooks(["pre-commit", "--fix"])
        .code(2)
        .stderr_has(&format!("fix: {v4}"));
    let run = repo.nix_hooks(["envrc"]).success();
    assert!(
        run.stderr.contains(
            "run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11`"
        ),
        "{}",
        run.stderr
    );
    repo.write("package.json", "{ \"packageManager\": \"pnpm@12.4.2\" }");
    repo.git(["add", "package.json"]);
    repo.commit("pnpm").failure().stderr_has(
        "fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11` (the project names pnpm 12.4.2, which nixpkgs' fetchPnpmDeps does not support yet; this is the target for a fetchPnpmDeps call with pnpm_11)",
    );
}

/// pnpm11-patched (update-pnpm-hash's fixture) under pnpm 11.22.0 and Node 24.22.3: the
/// replay's figure in its reference README.
const PATCHED_NODE_24_HASH: &str = "sha256-/FdZJ3ueoxknqMs7abG3WAzLYJQnQya5rpfd3HnYlHI=";

/// A fetcherVersion 4 entry with its Node major: a stale one is refused with its whole
/// target, envrc warns, and --fix recomputes it for that target from the staged project.
#[test]
fn a_stale_fetcher_version_4_entry_is_refused_warned_and_fixed() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    copy_tree(&fixtures().join("pnpm11-patched"), &repo.root);
    repo.add_shim();
    repo.nix_hooks(["install"]).success();
    let lock = repo.read("pnpm-lock.yaml");
    let old_lock = lock.replace("lockfileVersion", "# older\nlockfileVersion");
    let mut stale = HashRecord::default();
    stale.entries.insert(
        "pnpm-lock.yaml".to_owned(),
        RecordEntry {
            lock_sha256: lock_sha256(old_lock.as_bytes()),
            hash: Sha256Hash::of(b"not the hash"),
            fetcher: Fetcher::FetchPnpmDeps {
                fetcher_version: 4,
                pnpm: "11".to_owned(),
                node: Some(24),
                workspaces: Vec::new(),
            },
        },
    );
    repo.write(RECORD, &stale.render());
    repo.git(["add", "."]);
    repo.commit("stale")
        .failure()
        .stderr_has("pnpm-lock.yaml changed since its hash was recorded")
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11 --node 24`, then `git add .nix/yarn-deps.toml`");
    let envrc = repo.nix_hooks(["envrc"]).success();
    assert!(
        envrc
            .stderr
            .contains("stale dependency hash for pnpm-lock.yaml: run `update-pnpm-hash`"),
        "{}",
        envrc.stderr
    );
    let Some(run) = fix_from_registry(&repo, None) else {
        return;
    };
    let run = run
        .success()
        .stderr_has(&format!("fixed: pnpm-lock.yaml -> {PATCHED_NODE_24_HASH}"));
    let fixed = HashRecord::parse(repo.staged(RECORD).as_bytes(), Path::new(RECORD)).unwrap();
    let entry = &fixed.entries["pnpm-lock.yaml"];
    assert_eq!(entry.hash.to_sri(), PATCHED_NODE_24_HASH, "{}", run.stderr);
    assert_eq!(
        entry.fetcher,
        Fetcher::FetchPnpmDeps {
            fetcher_version: 4,
            pnpm: "11".to_owned(),
            node: Some(24),
            workspaces: Vec::new(),
        }
    );
    repo.commit("fixed").success();
}

/// pnpm10-project filtered to `@tryghost/mail` (`--workspace mail`, which pnpm matches to
/// the one `@*/mail` project): the fetchPnpmDeps replay with real pnpm 10.34.5 and
/// `--workspace mail` gave this (33 packages; the plain install's is the reference hash).
const MAIL_ONLY_HASH: &str = "sha256-TMrEXy8hc6Xyw7S56XJsPqP+whoRdskf6NWTbLU7rp0=";

/// A stale entry recorded with `--workspace`: the advice names the selection, and --fix
/// recomputes the filtered install, keeping the selection.
#[test]
fn fix_recomputes_a_filtered_entry_for_its_selection() {
    if !have_git() {
        return;
    }
    let repo = Repo::new();
    copy_tree(&fixtures().join("pnpm10-project"), &repo.root);
    repo.add_shim();
    repo.nix_hooks(["install"]).success();
    let lock = repo.read("pnpm-lock.yaml");
    let old_lock = lock.replace("lockfileVersion", "# older\nlockfileVersion");
    let target = Fetcher::FetchPnpmDeps {
        fetcher_version: 3,
        pnpm: "10".to_owned(),
        node: None,
        workspaces: vec!["mail".to_owned()],
    };
    let mut stale = HashRecord::default();
    stale.entries.insert(
        "pnpm-lock.yaml".to_owned(),
        RecordEntry {
            lock_sha256: lock_sha256(old_lock.as_bytes()),
            hash: Sha256Hash::of(b"not the hash"),
            fetcher: target.clone(),
        },
    );
    repo.write(RECORD, &stale.render());
    repo.git(["add", "."]);
    repo.commit("stale")
        .failure()
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10 --workspace mail`");
    let Some(run) = fix_from_registry(&repo, None) else {
        return;
    };
    let run = run
        .success()
        .stderr_has(&format!("fixed: pnpm-lock.yaml -> {MAIL_ONLY_HASH}"));
    let fixed = HashRecord::parse(repo.staged(RECORD).as_bytes(), Path::new(RECORD)).unwrap();
    let entry = &fixed.entries["pnpm-lock.yaml"];
    assert_eq!(entry.hash.to_sri(), MAIL_ONLY_HASH, "{}", run.stderr);
    assert_eq!(entry.fetcher, target);
}

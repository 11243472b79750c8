//! pnpm lockfiles in the hook: a staged `pnpm-lock.yaml` needs a fresh record entry,
//! and the advice names update-pnpm-hash.

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
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10` (the fetcherVersion and pnpm of its fetchPnpmDeps call), then `git add .nix/yarn-deps.toml`");
    assert_eq!(repo.head_subject(), "initial");
    // With its entry staged, the commit goes through.
    repo.write(RECORD, &record(Some(PNPM_V1)));
    repo.git(["add", RECORD]);
    repo.commit("pnpm")
        .success()
        .stderr_has("2 lockfile hashes fresh");
}

#[test]
fn a_stale_pnpm_entry_names_update_pnpm_hash_and_fix_declines_it() {
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
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml`, then `git add .nix/yarn-deps.toml`")
        .stderr_lacks("--fix");
    repo.nix_hooks(["pre-commit", "--fix"])
        .failure()
        .stderr_has("--fix does not hash pnpm lockfiles yet")
        .stderr_has("fix: run `update-pnpm-hash --lockfile pnpm-lock.yaml`");
    assert_eq!(repo.staged(RECORD), record(Some(PNPM_V1)));
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
        .stderr_has("fix: run `update-pnpm-hash --lockfile example-pnpm/pnpm-lock.yaml`");
}

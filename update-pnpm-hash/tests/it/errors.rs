//! Bad input: exit 2 with file, line and what to do; nothing written.

use crate::project::Project;
use crate::util;

#[test]
fn no_target_is_asked_for_with_a_working_command() {
    let p = Project::new();
    p.uph(&[])
        .expect_code(2)
        .expect_stderr_contains("pnpm-lock.yaml: no target recorded for it")
        .expect_stderr_contains(
            "fix: update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 3 --pnpm 10",
        );
    assert_eq!(p.record(), "");
}

#[test]
fn unverified_and_unsupported_targets_are_refused() {
    let p = Project::new();
    p.uph(&["--fetcher-version", "4", "--pnpm", "10"])
        .expect_code(2)
        .expect_stderr_contains("has not been verified")
        .expect_stderr_contains("Supported: --fetcher-version 3 --pnpm 10");
    p.uph(&["--fetcher-version", "3", "--pnpm", "12"])
        .expect_code(2)
        .expect_stderr_contains("pnpm 12 is not supported");
    assert_eq!(p.server.total_hits(), 0);
}

#[test]
fn a_lockfile_out_of_date_with_package_json_is_refused_as_pnpm_does() {
    let p = Project::new();
    let manifest = p.dir().join("package.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("\"a\": \"1.0.0\"", "\"a\": \"^1.0.0\""),
    )
    .unwrap();
    p.uph(&["--fetcher-version", "3", "--pnpm", "10"])
        .expect_code(2)
        .expect_stderr_contains("pnpm-lock.yaml:9: ERR_PNPM_OUTDATED_LOCKFILE")
        .expect_stderr_contains("a: lockfile 1.0.0 vs package.json ^1.0.0");
    assert_eq!(p.server.total_hits(), 0);
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let p = Project::new();
    let lock = p.dir().join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(
        &lock,
        text.replace("    hasBin: true\n\n  a@1.0.0", "   hasBin: [\n\n  a@1.0.0"),
    )
    .unwrap();
    let run = p.uph(&["--fetcher-version", "3", "--pnpm", "10"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("pnpm-lock.yaml:")
            && run.stderr().lines().next().unwrap().matches(':').count() >= 3,
        "{run}"
    );
}

#[test]
fn a_tampered_integrity_fails_the_download_not_the_hash() {
    let p = Project::new();
    let lock = p.dir().join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&lock).unwrap();
    let good = p.packages[1].integrity();
    let bad = format!("sha512-{}", "A".repeat(86)) + "==";
    std::fs::write(&lock, text.replace(&good, &bad)).unwrap();
    p.uph(&["--fetcher-version", "3", "--pnpm", "10"])
        .expect_code(3)
        .expect_stderr_contains("a@1.0.0");
    assert_eq!(p.record(), "");
}

/// Ghost 6.65.0 (shared fixture): pnpm 10.34.5 refuses it under --frozen-lockfile with
/// ERR_PNPM_LOCKFILE_CONFIG_MISMATCH on patchedDependencies (checked by hand with real
/// pnpm, see common/tests/pnpm_frozen.rs); so does the tool, before any download.
#[test]
fn ghost_6_65_is_refused_under_pnpm_10() {
    let Some(ghost) = test_support::shared_fixture("fixtures/ghost-pnpm") else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    util::copy_tree(&ghost, repo.path());
    util::git(repo.path(), &["init", "-q"]);
    let cache = tempfile::tempdir().unwrap();
    util::uph(repo.path(), cache.path(), &["--fetcher-version", "3", "--pnpm", "10", "--offline"])
        .expect_code(2)
        .expect_stderr_contains("pnpm-lock.yaml:251: ERR_PNPM_LOCKFILE_CONFIG_MISMATCH: the current \"patchedDependencies\" configuration doesn't match")
        .expect_stderr_contains("fix: run `pnpm install --lockfile-only` with pnpm 10");
    assert!(!repo.path().join(".nix").exists());
}

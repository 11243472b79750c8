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

/// The suggested target is the one the project's `packageManager` fits.
#[test]
fn no_target_suggests_the_one_packagemanager_fits() {
    let p = Project::new();
    let manifest = p.dir().join("package.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let with = |pm: &str| text.replacen('{', &format!("{{\"packageManager\": \"{pm}\","), 1);
    std::fs::write(&manifest, with("pnpm@11.22.0")).unwrap();
    p.uph(&[]).expect_code(2).expect_stderr_contains(
        "fix: update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11\n",
    );
    // --check's advice for the unrecorded lockfile too.
    let check = p.uph(&["--check"]);
    assert!(
        check
            .stderr()
            .contains("update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11")
            || check.stdout().contains(
                "update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11"
            ),
        "{check}"
    );
    std::fs::write(&manifest, with("pnpm@12.4.2")).unwrap();
    p.uph(&[]).expect_code(2).expect_stderr_contains(
        "fix: update-pnpm-hash --lockfile pnpm-lock.yaml --fetcher-version 4 --pnpm 11   (the project names pnpm 12.4.2, which nixpkgs' fetchPnpmDeps does not support yet",
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

/// `pnpmInstallFlags` go to `pnpm install` in nixpkgs: the plain install's hash would be
/// wrong for that call, so none is written (`pnpmWorkspaces` is emulated: workspaces.rs).
#[test]
fn a_fetch_pnpm_deps_call_with_install_flags_is_refused() {
    let p = Project::new();
    let nix = "{ fetchPnpmDeps, pnpm_10 }:\nfetchPnpmDeps {\n  src = ./.;\n  pnpm = pnpm_10;\n  fetcherVersion = 3;\n  pnpmInstallFlags = [ \"--prod\" ];\n  hash = \"\";\n}\n";
    std::fs::write(p.dir().join("deps.nix"), nix).unwrap();
    p.uph(&[
        "--nix-file",
        "deps.nix",
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
    ])
    .expect_code(2)
    .expect_stderr_contains(
        "line 6:3: `pnpmInstallFlags` passes flags to `pnpm install`, which update-pnpm-hash does not emulate",
    );
    assert_eq!(
        std::fs::read_to_string(p.dir().join("deps.nix")).unwrap(),
        nix
    );
    assert_eq!(p.server.total_hits(), 0);
}

#[test]
fn every_advised_command_works() {
    let p = Project::new();
    let follow = |advice: &util::Run| {
        let words: Vec<String> = advice
            .advised()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(words[0], "update-pnpm-hash", "{advice}");
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let run = p.uph(&args);
        assert_eq!(
            run.code(),
            0,
            "the advised {words:?} failed\n{advice}\n{run}"
        );
    };
    // Not recorded, then stale: each advice records it, and --check agrees.
    let missing = p.uph(&["--check"]);
    missing.expect_code(1);
    follow(&missing);
    p.uph(&["--check"]).expect_code(0);
    let lock = p.dir().join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, format!("{text}\n")).unwrap();
    let stale = p.uph(&["--check"]);
    stale
        .expect_code(1)
        .expect_stdout_contains("stale: the lockfile changed");
    follow(&stale);
    p.uph(&["--check"]).expect_code(0);
    // A target the command line changes: stale, and the advice repeats it.
    let retarget = p.uph(&["--check", "--pnpm", "10.34.5"]);
    retarget
        .expect_code(1)
        .expect_stdout_contains("stale: its target changed")
        .expect_stdout_contains("--pnpm 10.34.5");
    follow(&retarget);
    p.uph(&["--check"]).expect_code(0);
    // A Yarn lockfile handed to this tool names the one that reads it.
    std::fs::write(p.dir().join("yarn.lock"), "# yarn lockfile v1\n\n").unwrap();
    p.uph(&["--check", "--lockfile", "yarn.lock"])
        .expect_code(2)
        .expect_stderr_contains(
            "this is a Yarn v1 lockfile, and update-pnpm-hash reads pnpm lockfiles only",
        )
        .expect_stderr_contains("fix: update-yarn-hash --lockfile yarn.lock");
}

/// A tarball pnpm cannot unpack is named once, with the reason once: the library's errors
/// quote their causes, and the chain used to be printed again after them.
#[test]
fn a_tarball_pnpm_cannot_unpack_is_named_once() {
    use base64::Engine as _;
    use sha2::{Digest, Sha512};
    let p = Project::new();
    let bad = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03not deflate at all".to_vec();
    p.server
        .route(&p.packages[1].path(), crate::server::Route::Ok(bad.clone()));
    let lock = p.dir().join("pnpm-lock.yaml");
    let sri = format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&bad))
    );
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, text.replace(&p.packages[1].integrity(), &sri)).unwrap();
    let run = p.uph(&["--fetcher-version", "3", "--pnpm", "10"]);
    run.expect_code(2);
    let err = run.stderr();
    assert_eq!(
        err.matches("pnpm cannot unpack the tarball of a@1.0.0")
            .count(),
        1,
        "{run}"
    );
    assert_eq!(
        err.matches("the gzip stream is corrupt").count(),
        1,
        "{run}"
    );
}

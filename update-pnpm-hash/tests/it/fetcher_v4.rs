//! fetcherVersion 4 (pnpm 11's `v11/` store with `index.db.sql`): the native hash against
//! the recorded replay of nixpkgs' fetchPnpmDeps, and the record / --check / --materialize
//! modes on a temp repository with a loopback registry.

use crate::project::Project;
use crate::reference::{explain_mismatch, materialized, shared_cache, tests_dir};
use crate::util;

const TARGET: [&str; 4] = ["--fetcher-version", "4", "--pnpm", "11"];

/// pnpm10-project (pnpm 11 accepts its lockfile) against the reference replayed with
/// pnpm 11.22.0 (fixtures/pnpm10-project.fv4.reference/README.md), from the npm registry.
#[test]
fn pnpm10_project_fv4_hash_equals_the_reference_replay() {
    let fixtures = tests_dir().join("fixtures");
    let reference = fixtures.join("pnpm10-project.fv4.reference");
    let expected = std::fs::read_to_string(reference.join("hash")).unwrap();
    let expected = expected.trim();
    let repo = tempfile::tempdir().unwrap();
    util::copy_tree(&fixtures.join("pnpm10-project"), repo.path());
    util::git(repo.path(), &["init", "-q"]);
    let out = repo.path().join("out");
    let Some((_, ours)) = materialized(repo.path(), &out, &TARGET) else {
        return;
    };
    if ours != expected {
        explain_mismatch(&ours, expected, &out, &reference);
    }
    assert_eq!(
        std::fs::read_to_string(out.join(".fetcher-version")).unwrap(),
        "4\n"
    );
    // The streaming path and pnpm 11.28.11 (same store for this project, per the replay).
    for pnpm in ["11", "11.28.11"] {
        let print = util::uph(
            repo.path(),
            &shared_cache(),
            &[
                "--print",
                "--fetcher-version",
                "4",
                "--pnpm",
                pnpm,
                "--offline",
                "--recompute",
            ],
        );
        print.expect_code(0);
        assert_eq!(print.stdout().trim(), expected, "--pnpm {pnpm}: {print}");
    }
}

#[test]
fn records_fetcher_version_4_and_checks_it() {
    let p = Project::new();
    p.uph(&TARGET).expect_code(0);
    let record = p.record();
    assert!(
        record.contains(
            "\nfetcher = \"fetchPnpmDeps\"\nfetcher-version = 4\npnpm = \"11\"\nhash = \"sha256-"
        ),
        "{record}"
    );
    p.uph(&["--check"])
        .expect_code(0)
        .expect_stdout_contains("up to date");
    p.uph(&["--check", "--full", "--offline"]).expect_code(0);
    // The v10 store is another output: another hash, and stale against this record.
    let v3 = p.uph(&[
        "--print",
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
        "--offline",
    ]);
    v3.expect_code(0);
    let v4 = p.uph(&["--print", "--offline"]);
    v4.expect_code(0);
    assert_ne!(v3.stdout(), v4.stdout());
    p.uph(&["--check", "--fetcher-version", "3", "--pnpm", "10"])
        .expect_code(1);
    // --materialize writes exactly the output whose hash is recorded.
    let out = p.dir().join("out");
    p.uph(&["--materialize", out.to_str().unwrap(), "--offline"])
        .expect_code(0);
    let nix = util::nix(&["hash", "path", out.to_str().unwrap()]);
    if nix.code() == 0 {
        assert_eq!(nix.stdout(), v4.stdout());
    } else {
        test_support::skip(&format!("nix hash path failed\n{nix}"));
    }
}

#[test]
fn pnpm_11_minors_nobody_verified_are_refused() {
    let p = Project::new();
    p.uph(&["--fetcher-version", "4", "--pnpm", "11.23.0"])
        .expect_code(2)
        .expect_stderr_contains("--fetcher-version 4 --pnpm 11 (or 11.22.0)");
    p.uph(&["--fetcher-version", "3", "--pnpm", "11"])
        .expect_code(2);
}

/// The hash pnpm 11.28.11 gives for pnpm11-patched (its side-effects key has `;format=2`):
/// the replay's figure in fixtures/pnpm11-patched.reference/README.md.
const PATCHED_11_28_HASH: &str = "sha256-D7zzDrDtm8gf5gvFYfNSMLnUdJfqpwcZk5KOwWEX8k0=";

/// pnpm 11.22.0 under Node 24.22.3 (key `linux;x64;node24;patch=…`): the replay's figure in
/// fixtures/pnpm11-patched.reference/README.md.
const PATCHED_NODE_24_HASH: &str = "sha256-/FdZJ3ueoxknqMs7abG3WAzLYJQnQya5rpfd3HnYlHI=";

/// pnpm11-patched in a fresh git repository.
fn patched_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    util::copy_tree(&tests_dir().join("fixtures/pnpm11-patched"), repo.path());
    util::git(repo.path(), &["init", "-q"]);
    repo
}

/// A patched dependency under the side-effects cache nixpkgs leaves on: the row's
/// `sideEffects` (which names the Node major) and the patched file in the store, for both
/// pnpm 11 minors and both Node majors replayed.
#[test]
fn patched_project_fv4_hash_equals_the_reference_replay() {
    let reference = tests_dir().join("fixtures/pnpm11-patched.reference");
    let expected = std::fs::read_to_string(reference.join("hash")).unwrap();
    let expected = expected.trim();
    let repo = patched_repo();
    let out = repo.path().join("out");
    let Some((_, ours)) = materialized(
        repo.path(),
        &out,
        &[&TARGET[..], &["--node", "22"]].concat(),
    ) else {
        return;
    };
    if ours != expected {
        explain_mismatch(&ours, expected, &out, &reference);
    }
    for (pnpm, node, want) in [
        ("11.28.11", "22", PATCHED_11_28_HASH),
        ("11", "24", PATCHED_NODE_24_HASH),
    ] {
        let print = util::uph(
            repo.path(),
            &shared_cache(),
            &[
                "--print",
                "--fetcher-version",
                "4",
                "--pnpm",
                pnpm,
                "--node",
                node,
                "--offline",
            ],
        );
        print.expect_code(0);
        assert_eq!(
            print.stdout().trim(),
            want,
            "--pnpm {pnpm} --node {node}: {print}"
        );
    }
}

/// The Node major is part of the target for a patched lockfile: never guessed, only the
/// replayed majors accepted, and recorded so later runs and --check reuse it.
#[test]
fn a_patched_lockfile_needs_a_verified_node_major_and_records_it() {
    let repo = patched_repo();
    let mut args = vec!["--print", "--offline"];
    args.extend(TARGET);
    util::uph(repo.path(), &shared_cache(), &args)
        .expect_code(2)
        .expect_stderr_contains("pnpm-lock.yaml: ms@2.1.3 is patched (patchedDependencies)")
        .expect_stderr_contains("pass it with --node. Verified: --node 22, --node 24");
    for (pnpm, node, verified) in [
        ("11", "20", "--node 22, --node 24"),
        ("11.28.11", "24", "--node 22 ("),
    ] {
        util::uph(
            repo.path(),
            &shared_cache(),
            &[
                "--print",
                "--fetcher-version",
                "4",
                "--pnpm",
                pnpm,
                "--node",
                node,
            ],
        )
        .expect_code(2)
        .expect_stderr_contains(&format!(
            "--node {node} with --fetcher-version 4 --pnpm {pnpm} has not been verified"
        ))
        .expect_stderr_contains(verified);
    }
    let mut args: Vec<&str> = TARGET.to_vec();
    args.extend(["--node", "24"]);
    let run = util::uph(repo.path(), &shared_cache(), &args);
    if run.code() == 3 {
        test_support::skip(&format!("the npm registry is not reachable\n{run}"));
        return;
    }
    run.expect_code(0);
    let record = std::fs::read_to_string(repo.path().join(".nix/yarn-deps.toml")).unwrap();
    assert!(
        record.contains(&format!(
            "fetcher-version = 4\npnpm = \"11\"\nnode = 24\nhash = \"{PATCHED_NODE_24_HASH}\""
        )),
        "{record}"
    );
    // The recorded target, Node included, is what --check recomputes.
    util::uph(
        repo.path(),
        &shared_cache(),
        &["--check", "--full", "--offline"],
    )
    .expect_code(0);
}

/// Ghost 6.65.0 (../shared/fixtures/ghost-pnpm, ~350 MB of tarballs from npm) against
/// the reference replayed with pnpm 11.22.0 (fixtures/ghost-pnpm.reference/README.md).
/// Runs under CI=true or with NIXCI_GHOST_FV4=1.
#[test]
fn ghost_fv4_hash_equals_the_reference_replay() {
    if !test_support::in_ci() && std::env::var_os("NIXCI_GHOST_FV4").is_none() {
        eprintln!("skipping: set NIXCI_GHOST_FV4=1 to fetch Ghost's ~350 MB of tarballs");
        return;
    }
    let Some(ghost) = test_support::shared_fixture("fixtures/ghost-pnpm") else {
        return;
    };
    let reference = tests_dir().join("fixtures/ghost-pnpm.reference");
    let expected = std::fs::read_to_string(reference.join("hash")).unwrap();
    let repo = tempfile::tempdir().unwrap();
    util::copy_tree(&ghost, repo.path());
    util::git(repo.path(), &["init", "-q"]);
    let mut args = vec!["--print", "--lockfile", "pnpm-lock.yaml"];
    args.extend(TARGET);
    args.extend(["--node", "22"]);
    let run = util::uph(repo.path(), &shared_cache(), &args);
    run.expect_code(0);
    assert_eq!(run.stdout().trim(), expected.trim(), "{run}");
}

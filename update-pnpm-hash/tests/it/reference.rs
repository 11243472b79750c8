//! The native hash against the reference replay of nixpkgs' fetchPnpmDeps
//! (../reference/fetch-pnpm-deps.sh: real pnpm 10.34.5, GNU tar 1.35, zstd 1.5.7, jq,
//! then `nix hash path`). On a mismatch the output is described in layers
//! (../reference/describe-out.sh) and the first differing layer is shown: the store
//! tree, then the tar bytes, then the compressed bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::project::Project;
use crate::util::{self, Run};

pub(crate) fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

pub(crate) fn tools_dir() -> PathBuf {
    std::env::var_os("NIXCI_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/nixci-tools")
        })
}

/// nixpkgs' pnpm_10 as `cargo xtask reference-tools` installs it (NIXCI_PNPM overrides).
pub(crate) fn pnpm() -> PathBuf {
    std::env::var_os("NIXCI_PNPM")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_dir().join("pnpm-10.34.5/bin/pnpm"))
}

/// A tarball cache kept between runs, so the reference project downloads once.
pub(crate) fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("update-pnpm-hash-cache")
}

/// `--materialize OUT --json TARGET…` run in `repo`: its report and the hash it computed;
/// `None` (after a skip, which fails under CI=true) when the npm registry is unreachable.
pub(crate) fn materialized(
    repo: &Path,
    out: &Path,
    target: &[&str],
) -> Option<(serde_json::Value, String)> {
    let mut args = vec!["--materialize", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(target);
    let run = util::uph(repo, &shared_cache(), &args);
    if run.code() == 3 {
        test_support::skip(&format!("the npm registry is not reachable\n{run}"));
        return None;
    }
    run.expect_code(0);
    let report: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let hash = report["lockfiles"][0]["current"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    Some((report, hash))
}

/// The hash of `ours` (a `--json --materialize` run writing `out`) equals the one `replay`
/// printed (a replay kept in `keep/replay`); on a mismatch the replay's output is
/// described and every differing layer named. Returns the hash.
#[track_caller]
pub(crate) fn assert_report_equals_replay(
    ours: &Run,
    replay: &Run,
    keep: &Path,
    out: &Path,
) -> String {
    let report: serde_json::Value = serde_json::from_str(&ours.stdout()).unwrap();
    let native = report["lockfiles"][0]["current"]["hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected = replay.stdout().trim().to_owned();
    if native != expected {
        let described = keep.join("replay-described");
        let mut describe = Command::new(tests_dir().join("reference/describe-out.sh"));
        describe.arg(keep.join("replay/out")).arg(&described);
        util::run(describe).expect_code(0);
        explain_mismatch(&native, &expected, out, &described);
    }
    expected
}

/// Describes `out` with describe-out.sh and panics naming the first layer that differs
/// from the reference description in `reference`.
#[track_caller]
pub(crate) fn explain_mismatch(ours: &str, theirs: &str, out: &Path, reference: &Path) -> ! {
    let dest = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(tests_dir().join("reference/describe-out.sh"));
    cmd.arg(out).arg(dest.path());
    let described = util::run(cmd);
    let mut report = format!("native {ours} != reference {theirs}\n");
    for layer in ["store-manifest.txt", "layers.txt"] {
        let a = std::fs::read_to_string(dest.path().join(layer)).unwrap_or_default();
        let b = std::fs::read_to_string(reference.join(layer)).unwrap_or_default();
        if a != b {
            let first = a
                .lines()
                .zip(b.lines())
                .find(|(x, y)| x != y)
                .map(|(x, y)| format!("native:    {x}\nreference: {y}"))
                .unwrap_or_else(|| format!("{} vs {} lines", a.lines().count(), b.lines().count()));
            report.push_str(&format!("first difference in {layer}:\n{first}\n"));
            break;
        }
    }
    panic!("{report}\n{described}");
}

/// The fixture's recorded reference output (fetcherVersion 3, pnpm 10.34.5), computed
/// natively from the npm registry.
#[test]
fn pnpm10_project_hash_equals_the_reference_replay() {
    fixture_hash_equals_the_reference_replay("pnpm10-project", 120);
}

/// The few-hundred-package Ghost-shaped fixture the benchmark runs on (sharp's and
/// esbuild's platform packages, knex, bookshelf, sqlite3, jsdom, a `file:` tarball).
#[test]
fn pnpm10_monorepo_hash_equals_the_reference_replay() {
    fixture_hash_equals_the_reference_replay("pnpm10-monorepo", 453);
}

/// `tests/fixtures/NAME` computed natively (materialized, then streamed with --print)
/// equals the replay's hash recorded in `tests/fixtures/NAME.reference/`.
fn fixture_hash_equals_the_reference_replay(name: &str, packages: u64) {
    let fixtures = tests_dir().join("fixtures");
    let reference = fixtures.join(format!("{name}.reference"));
    let expected = std::fs::read_to_string(reference.join("hash")).unwrap();
    let expected = expected.trim();
    let repo = tempfile::tempdir().unwrap();
    util::copy_tree(&fixtures.join(name), repo.path());
    util::git(repo.path(), &["init", "-q"]);
    let out = repo.path().join("out");
    let target = ["--fetcher-version", "3", "--pnpm", "10"];
    let Some((report, ours)) = materialized(repo.path(), &out, &target) else {
        return;
    };
    assert_eq!(report["lockfiles"][0]["packages"], packages);
    if ours != expected {
        explain_mismatch(&ours, expected, &out, &reference);
    }
    // --print (the streaming path, no directory) agrees with the materialized output.
    let print = util::uph(
        repo.path(),
        &shared_cache(),
        &[
            "--print",
            "--fetcher-version",
            "3",
            "--pnpm",
            "10",
            "--offline",
            "--recompute",
        ],
    );
    print.expect_code(0);
    assert_eq!(print.stdout().trim(), expected, "{print}");
}

/// The loopback project replayed by real pnpm (its registry the loopback server) and
/// computed natively: equal hashes.
#[test]
fn loopback_project_hash_equals_a_fresh_replay() {
    let pnpm = pnpm();
    let tools = tools_dir();
    if !util::have_path(&pnpm, "pnpm 10.34.5: cargo xtask reference-tools")
        || !util::have_path(
            &tools.join("gnutar-1.35/bin/tar"),
            "GNU tar 1.35: cargo xtask reference-tools",
        )
        || !util::have_path(
            &tools.join("zstd-1.5.7/bin/zstd"),
            "zstd 1.5.7: cargo xtask reference-tools",
        )
        || !util::have_tool("sponge", "moreutils, for the replay")
        || !util::have_tool("nix", "nix hash path, for the replay")
    {
        return;
    }
    let p = Project::new();
    let mut cmd = Command::new(tests_dir().join("reference/fetch-pnpm-deps.sh"));
    cmd.args(["--fetcher-version", "3", "--pnpm"])
        .arg(&pnpm)
        .args(["--registry", &p.server.base])
        .arg(p.dir());
    let jq = tools.join("jq-1.8.2/bin/jq");
    if jq.exists() {
        cmd.arg("--jq").arg(&jq);
    }
    let keep = tempfile::tempdir().unwrap();
    cmd.arg("--keep").arg(keep.path().join("replay"));
    let replay: Run = util::run(cmd);
    replay.expect_code(0);
    let out = keep.path().join("native");
    let ours = p.uph(&[
        "--materialize",
        out.to_str().unwrap(),
        "--fetcher-version",
        "3",
        "--pnpm",
        "10",
        "--json",
    ]);
    ours.expect_code(0);
    assert_report_equals_replay(&ours, &replay, keep.path(), &out);
}

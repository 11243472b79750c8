//! The fetcherVersion 4 reference replay (../reference/fetch-pnpm-deps.sh with real pnpm
//! 11 under Node 22, our pnpm-fixup-state-db, the sqlite 3.53.4 `.dump` rewritten to the
//! old form, GNU tar 1.35, zstd 1.5.7, `nix hash path`) against the recorded references
//! the native side is tested with, layer by layer; and a planted fault, to show that a
//! single wrong dump line changes the hash and is named.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::layers;
use crate::util;

/// Ghost 6.65.0 downloads ~350 MB from the npm registry: CI runs it (once, in this test),
/// locally it runs when asked.
const GHOST_OPT_IN: &str = "NIXCI_REPLAY_GHOST";

fn tools_dir() -> PathBuf {
    test_support::reference_tools::tools_dir().expect("HOME or NIXCI_TOOLS_DIR")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Whether everything the fv4 replay runs is installed (skips, or fails under CI=true).
pub(crate) fn have_fv4_tools(pnpm_version: &str) -> bool {
    use test_support::reference_tools::{NODE_22, SQLITE};
    if NODE_22.for_test().is_none() || SQLITE.for_test().is_none() {
        return false;
    }
    let tools = tools_dir();
    let fix = "cargo xtask reference-tools";
    [
        format!("pnpm-{pnpm_version}/bin/pnpm"),
        "pnpm-fixup-state-db/node_modules/msgpackr/package.json".to_string(),
        "gnutar-1.35/bin/tar".to_string(),
        "zstd-1.5.7/bin/zstd".to_string(),
        "jq-1.8.2/bin/jq".to_string(),
    ]
    .iter()
    .all(|p| util::have_path(&tools.join(p), fix))
        && util::have_tool("sponge", "moreutils, for the replay")
        && util::have_tool("perl", "describe-out.sh and normalize-dump.sh")
        && util::have_tool("nix", "nix hash path, for the replay")
}

/// Replays fetcherVersion 4 on `project`, with `--keep DIR` (`$out`, the store, the tar)
/// or `--out DIR` (`$out` only); returns the printed hash.
fn replay_fv4(project: &Path, pnpm_version: &str, keep: (&str, &Path)) -> String {
    let mut cmd = Command::new(layers::reference_dir().join("fetch-pnpm-deps.sh"));
    cmd.args(["--fetcher-version", "4", "--pnpm", pnpm_version, keep.0])
        .arg(keep.1)
        .arg(project);
    let run = util::run(cmd);
    run.expect_code(0);
    run.stdout().trim().to_owned()
}

/// A temporary directory holding kept stores (directories 555), removable when dropped.
struct Work(tempfile::TempDir);

impl Work {
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.0.path())
            .status();
    }
}

/// Replays and compares the hash with `reference`'s; on a mismatch describes the output
/// and panics with every differing layer. `keep_store`: keep the store too (in `keep/`),
/// else only `$out` (in `out/`: Ghost's store and tar are 2.3 GB).
#[track_caller]
fn assert_replay_matches(
    project: &Path,
    pnpm_version: &str,
    reference: &Path,
    keep_store: bool,
) -> Work {
    let work = Work(tempfile::tempdir().unwrap());
    let (hash, out) = if keep_store {
        let keep = work.path().join("keep");
        let hash = replay_fv4(project, pnpm_version, ("--keep", &keep));
        (hash, keep.join("out"))
    } else {
        let out = work.path().join("out");
        (replay_fv4(project, pnpm_version, ("--out", &out)), out)
    };
    let expected = std::fs::read_to_string(reference.join("hash")).unwrap();
    if hash != expected.trim() {
        // Equal NAR hashes mean equal outputs: the layers are only needed to say where.
        let described = work.path().join("described");
        layers::describe(&out, &described);
        panic!(
            "the fv4 replay ({hash}) differs from {} ({}):\n{}",
            reference.display(),
            expected.trim(),
            layers::differences(&described, reference).join("\n")
        );
    }
    work
}

#[test]
fn pnpm10_project_fv4_replay_equals_the_recorded_reference_and_a_wrong_dump_line_is_named() {
    if !have_fv4_tools("11.22.0") {
        return;
    }
    let reference = fixtures().join("pnpm10-project.fv4.reference");
    let work = assert_replay_matches(
        &fixtures().join("pnpm10-project"),
        "11.22.0",
        &reference,
        true,
    );
    let store = work.path().join("keep/store");

    // Control: the kept store packed again as the fixup packs it gives the reference.
    let again = pack_like_the_fixup(&store, &work.path().join("again"));
    layers::describe(&again, &work.path().join("again-described"));
    let differences = layers::differences(&work.path().join("again-described"), &reference);
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // Fault: one row in the newer shell's blob form (`x''`, what a missing rewrite leaves).
    let faulty = work.path().join("faulty-store");
    util::run({
        let mut c = Command::new("cp");
        c.arg("-a").arg(&store).arg(&faulty);
        c
    })
    .expect_code(0);
    let dump = faulty.join("v11/index.db.sql");
    let text = std::fs::read_to_string(&dump).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let changed = lines[7].replacen(",X'", ",x'", 1);
    assert_ne!(changed, lines[7], "line 8 is the first row");
    lines[7] = &changed;
    set_writable(&faulty, true);
    std::fs::remove_file(&dump).unwrap();
    std::fs::write(&dump, lines.concat()).unwrap();
    std::fs::set_permissions(&dump, std::fs::Permissions::from_mode(0o444)).unwrap();
    set_writable(&faulty, false);
    let out = pack_like_the_fixup(&faulty, &work.path().join("faulty"));
    layers::describe(&out, &work.path().join("faulty-described"));
    let report = layers::differences(&work.path().join("faulty-described"), &reference).join("\n");
    assert!(
        report.contains("store-manifest.txt differs at") && report.contains("./v11/index.db.sql"),
        "the store layer names the file:\n{report}"
    );
    assert!(
        report.contains("index-dump.txt differs at line 8:") && report.contains("x'<"),
        "the dump layer names the row and shows the form:\n{report}"
    );
    assert!(report.contains("hash differs"), "{report}");
}

/// A patched dependency under the side-effects cache nixpkgs leaves on: the row's
/// `sideEffects` entry and the patched file in the store.
#[test]
fn patched_project_fv4_replay_equals_the_recorded_reference() {
    if !have_fv4_tools("11.22.0") {
        return;
    }
    let reference = fixtures().join("pnpm11-patched.reference");
    assert_replay_matches(
        &fixtures().join("pnpm11-patched"),
        "11.22.0",
        &reference,
        false,
    );
}

#[test]
fn ghost_fv4_replay_equals_the_recorded_reference() {
    if !test_support::in_ci() && std::env::var_os(GHOST_OPT_IN).is_none() {
        test_support::skip(&format!(
            "set {GHOST_OPT_IN}=1 to replay Ghost 6.65.0 (downloads ~350 MB from the npm registry)"
        ));
        return;
    }
    let Some(ghost) = test_support::shared_fixture("fixtures/ghost-pnpm") else {
        return;
    };
    if !have_fv4_tools("11.22.0") {
        return;
    }
    assert_replay_matches(
        &ghost,
        "11.22.0",
        &fixtures().join("ghost-pnpm.reference"),
        false,
    );
}

/// `$out` for `store` as the fixupPhase makes it: `.fetcher-version` and the tar of the
/// store (the phases' command, GNU tar 1.35 calling zstd 1.5.7 for `--zstd`).
fn pack_like_the_fixup(store: &Path, out: &Path) -> PathBuf {
    let tools = tools_dir();
    std::fs::create_dir_all(out).unwrap();
    std::fs::write(out.join(".fetcher-version"), "4\n").unwrap();
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(tools.join("zstd-1.5.7/bin/zstd"), bin.path().join("zstd")).unwrap();
    let mut tar = Command::new(tools.join("gnutar-1.35/bin/tar"));
    tar.current_dir(store)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .args([
            "--sort=name",
            "--mtime=@315532800",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
            "--zstd",
            "-cf",
        ])
        .arg(out.join("pnpm-store.tar.zst"))
        .arg(".");
    util::run(tar).expect_code(0);
    out.to_path_buf()
}

/// The store's directories writable for the edit, then back to the fixup's 555.
fn set_writable(store: &Path, writable: bool) {
    let mode = if writable { "u+w" } else { "a-w" };
    let mut cmd = Command::new("find");
    cmd.arg(store)
        .args(["-type", "d", "-exec", "chmod", mode, "{}", "+"]);
    util::run(cmd).expect_code(0);
}

//! A project without dependencies: pnpm still creates its store (all 512 shard
//! directories under `v10/`, or `v11/` and an `index.db` without rows), and the hash is
//! that store's. It used to fail: the archive's temp file goes beside the tarball cache,
//! which a run that fetches nothing had never created; and for pnpm 11 an empty index's
//! dump has no `sqlite_stat1` (PRAGMA optimize skips empty tables), where one row has.

use std::path::Path;
use std::process::Command;

use crate::git_packages::{assert_native_equals_replay, have_replay_tools};
use crate::reference_fv4::have_fv4_tools;
use crate::util;

const LOCKFILE: &str = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .: {}\n";

#[test]
fn a_project_without_dependencies_hashes_as_the_replay_for_both_fetcher_versions() {
    if !have_replay_tools() || !have_fv4_tools("11.22.0") {
        return;
    }
    let project = empty_project();
    // A cache directory that does not exist yet, as on a new machine.
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("not-yet");
    let v3 = assert_native_equals_replay(project.path(), "http://127.0.0.1:9");
    let fv3 = ["--fetcher-version", "3", "--pnpm", "10"];
    assert_eq!(print(project.path(), &cache, &fv3), v3);

    let keep = tempfile::tempdir().unwrap();
    let fv4 = ["--fetcher-version", "4", "--pnpm", "11"];
    let v4 = print(project.path(), &cache, &fv4);
    assert_eq!(v4, replay_fv4(project.path(), &keep.path().join("empty")));
    assert_ne!(v3, v4);

    // One package, a `file:` tarball: its index's one row has its statistics.
    let one = one_package_project();
    let ours = print(one.path(), &cache, &fv4);
    assert_eq!(ours, replay_fv4(one.path(), &keep.path().join("one")));
}

fn print(project: &Path, cache: &Path, target: &[&str]) -> String {
    let mut args = vec!["--print"];
    args.extend(target);
    let run = util::uph(project, cache, &args);
    run.expect_code(0);
    run.stdout().trim().to_owned()
}

fn replay_fv4(project: &Path, out: &Path) -> String {
    let mut replay = Command::new(crate::layers::reference_dir().join("fetch-pnpm-deps.sh"));
    replay
        .args(["--fetcher-version", "4", "--pnpm", "11.22.0", "--out"])
        .arg(out)
        .arg(project);
    let run = util::run(replay);
    run.expect_code(0);
    run.stdout().trim().to_owned()
}

/// A package.json without dependencies and the lockfile pnpm 10.34.5 writes for it
/// (`pnpm install --lockfile-only`), in a git repository.
fn empty_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        "{\n  \"name\": \"e\",\n  \"version\": \"1.0.0\"\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pnpm-lock.yaml"), LOCKFILE).unwrap();
    util::git(dir.path(), &["init", "-q"]);
    dir
}

/// `x@file:x.tgz` and the lockfile real pnpm 10.34.5 writes for it.
fn one_package_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src/package");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("package.json"),
        "{\"name\":\"x\",\"version\":\"1.0.0\"}\n",
    )
    .unwrap();
    let mut tar = Command::new("tar");
    tar.current_dir(dir.path().join("src"))
        .args(["-czf", "../x.tgz", "package"]);
    util::run(tar).expect_code(0);
    std::fs::remove_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        "{\n  \"name\": \"e\",\n  \"version\": \"1.0.0\",\n  \"dependencies\": {\"x\": \"file:x.tgz\"}\n}\n",
    )
    .unwrap();
    util::write_lockfile_with_pnpm(dir.path());
    util::git(dir.path(), &["init", "-q"]);
    dir
}

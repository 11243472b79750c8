//! Test helpers over `test_support::run` (the one harness: on failure it shows the
//! command, cwd, exit status, stdout and stderr).

use std::path::Path;
use std::process::Command;

pub use test_support::run::{git, nix, run, Run};

/// `update-pnpm-hash ARGS` in `cwd`, with a private cache.
pub fn uph(cwd: &Path, cache: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_update-pnpm-hash"));
    cmd.current_dir(cwd)
        .args(args)
        .env("UPDATE_YARN_HASH_CACHE", cache)
        .env("HOME", cache)
        .env_remove("XDG_CACHE_HOME");
    run(cmd)
}

/// Whether `path` exists; when it does not, the test skips (and fails under CI=true).
pub fn have_path(path: &Path, why: &str) -> bool {
    if path.exists() {
        return true;
    }
    test_support::skip(&format!("{} is missing ({why})", path.display()));
    false
}

/// Whether `tool` is on PATH; when it is not, the test skips (and fails under CI=true).
pub fn have_tool(tool: &str, why: &str) -> bool {
    test_support::tool(tool, why).is_some()
}

/// Copies the directory tree `from` into `to` (created).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `pnpm install --lockfile-only --ignore-scripts` with real pnpm 10.34.5 in `dir`, in a
/// throwaway HOME and store: the lockfile pnpm writes for the project there.
pub fn write_lockfile_with_pnpm(dir: &Path) {
    let home = tempfile::tempdir().unwrap();
    let mut lock = Command::new(crate::reference::pnpm());
    lock.current_dir(dir)
        .args([
            "install",
            "--lockfile-only",
            "--ignore-scripts",
            "--store-dir",
        ])
        .arg(home.path().join("store"))
        .env("HOME", home.path())
        .env_remove("CI");
    run(lock).expect_code(0);
}

//! Test helpers over `test_support::run` (the one harness: on failure it shows the
//! command, cwd, exit status, stdout and stderr).

use std::path::Path;
use std::process::Command;

pub use test_support::run::{git, nix, run, Run};

/// `update-yarn-hash ARGS` in `cwd`, with a private cache and no user git config.
pub fn uyh(cwd: &Path, cache: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"));
    cmd.current_dir(cwd)
        .args(args)
        .env("UPDATE_YARN_HASH_CACHE", cache)
        .env("HOME", cache)
        .env_remove("XDG_CACHE_HOME");
    run(cmd)
}

/// A temp git repository.
pub fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    dir
}

/// Whether `tool` is on PATH; when it is not, the test skips (and fails under CI=true).
pub fn have(tool: &str, why: &str) -> bool {
    test_support::tool(tool, why).is_some()
}

/// Asserts that `ours` printed exactly what `nix hash path DIR` prints.
#[track_caller]
pub fn assert_same_as_nix_hash_path(ours: &Run, dir: &Path) {
    ours.expect_code(0);
    let theirs = nix(&["hash", "path", dir.to_str().unwrap()]);
    theirs.expect_code(0);
    assert_eq!(
        ours.stdout(),
        theirs.stdout(),
        "\nours: {ours}\nnix: {theirs}"
    );
}

//! In-place mode: the hash inside a `.nix` file's fetchYarnDeps call.

use std::fs;

use crate::fixture::{lockfile, mirror, Package};
use crate::server::Server;
use crate::util::{repo, uyh};

const NIX: &str =
    "{ pkgs }:\npkgs.fetchYarnDeps {\n  yarnLock = ./yarn.lock;\n  # keep me\n  hash = \"\";\n}\n";

#[test]
fn rewrites_the_literal_once_then_leaves_the_file_alone() {
    let dir = repo();
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start();
    let pkgs = [Package::new("a", "1.0.0", 100)];
    pkgs[0].serve(&server);
    fs::write(dir.path().join("yarn.lock"), lockfile(&pkgs)).unwrap();
    fs::write(dir.path().join("deps.nix"), NIX).unwrap();
    let m = mirror(&server);

    let printed = uyh(
        dir.path(),
        cache.path(),
        &["--print", "--lockfile", "yarn.lock", "--mirror", &m],
    );
    let hash = printed.stdout().trim().to_owned();
    let run = uyh(
        dir.path(),
        cache.path(),
        &["--nix-file", "deps.nix", "--mirror", &m],
    );
    run.expect_code(0)
        .expect_stderr_contains(&format!("+  hash = \"{hash}\";"));
    assert_eq!(
        fs::read_to_string(dir.path().join("deps.nix")).unwrap(),
        NIX.replace("hash = \"\"", &format!("hash = \"{hash}\""))
    );
    uyh(
        dir.path(),
        cache.path(),
        &["--nix-file", "deps.nix", "--check", "--offline"],
    )
    .expect_code(0);

    fs::write(dir.path().join("yarn.lock"), lockfile(&[])).unwrap();
    uyh(
        dir.path(),
        cache.path(),
        &["--nix-file", "deps.nix", "--check", "--offline"],
    )
    .expect_code(1)
    .expect_stdout_contains("stale");
}

#[test]
fn refuses_an_ambiguous_file_without_touching_it() {
    let dir = repo();
    let cache = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("yarn.lock"), lockfile(&[])).unwrap();
    let two = format!(
        "[ ({}) ({}) ]\n",
        NIX.replace("{ pkgs }:\n", ""),
        NIX.replace("{ pkgs }:\n", "")
    );
    fs::write(dir.path().join("deps.nix"), &two).unwrap();
    uyh(dir.path(), cache.path(), &["--nix-file", "deps.nix"])
        .expect_code(2)
        .expect_stderr_contains("2 `fetchYarnDeps` calls found");
    assert_eq!(
        fs::read_to_string(dir.path().join("deps.nix")).unwrap(),
        two
    );
}

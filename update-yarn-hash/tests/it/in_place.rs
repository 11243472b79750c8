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

/// The file `pid` has open in `repo` (work tree or git dir) whose name says it is a
/// temp file (`.tmpXXXXXX`, `.nixci-tmp-…`): watching /proc is how the test sees the
/// write in progress.
fn open_temp_file(pid: u32, repo: &std::path::Path) -> Option<std::path::PathBuf> {
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    fds.flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .find(|target| {
            target
                .strip_prefix(repo)
                .ok()
                .and_then(|inside| inside.file_name())
                .is_some_and(|n| n.to_string_lossy().contains("tmp"))
        })
}

fn porcelain(dir: &std::path::Path) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(["status", "--porcelain", "--untracked-files=all"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_kill_during_the_write_leaves_nothing_in_git_status_and_the_next_run_cleans_up() {
    let dir = repo();
    let cache = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("yarn.lock"), lockfile(&[])).unwrap();
    // A 64 MiB comment makes the write long enough to be caught in progress.
    let nix = format!("# {}\n{NIX}", "x".repeat(64 << 20));
    fs::write(dir.path().join("deps.nix"), &nix).unwrap();
    crate::util::git(dir.path(), &["add", "."]);
    crate::util::git(dir.path(), &["commit", "-qm", "init"]);
    let args = ["--quiet", "--offline", "--nix-file", "deps.nix"];
    let repo_path = fs::canonicalize(dir.path()).unwrap();
    let mut caught = None;
    for _attempt in 0..20 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"))
            .current_dir(dir.path())
            .args(args)
            .env("UPDATE_YARN_HASH_CACHE", cache.path())
            .spawn()
            .unwrap();
        let temp = loop {
            if let Some(temp) = open_temp_file(child.id(), &repo_path) {
                break Some(temp);
            }
            if child.try_wait().unwrap().is_some() {
                break None;
            }
        };
        child.kill().unwrap(); // SIGKILL, mid-write when `temp` is Some
        child.wait().unwrap();
        if temp.as_ref().is_some_and(|t| t.exists()) {
            caught = temp;
            break;
        }
        crate::util::git(dir.path(), &["checkout", "--", "deps.nix"]);
    }
    let temp = caught.expect("a run killed while its temp file was open");
    assert_eq!(
        fs::read_to_string(dir.path().join("deps.nix")).unwrap(),
        nix
    );
    assert_eq!(porcelain(dir.path()), "", "left behind: {}", temp.display());

    uyh(dir.path(), cache.path(), &args).expect_code(0);
    assert!(!temp.exists(), "the stale {} was removed", temp.display());
    assert_eq!(porcelain(dir.path()), " M deps.nix\n");
}

/// `update-yarn-hash ARGS` in `dir` on a 1 MiB main stack (`ulimit -s 1024`).
fn uyh_small_stack(
    dir: &std::path::Path,
    cache: &std::path::Path,
    args: &[&str],
) -> crate::util::Run {
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(dir)
        .arg("-c")
        .arg("ulimit -s 1024 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_update-yarn-hash"))
        .args(args)
        .env("UPDATE_YARN_HASH_CACHE", cache)
        .env("HOME", cache);
    crate::util::run(cmd)
}

#[test]
fn nesting_at_the_bound_works_and_past_it_is_bad_input_on_a_1_mib_stack() {
    let dir = repo();
    let cache = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("yarn.lock"), lockfile(&[])).unwrap();
    let bound = common::nix::nix_nesting::MAX_NESTING;
    let with = |x: &str| NIX.replace("  # keep me\n", &format!("  x = {x};\n"));
    let args = ["--offline", "--check", "--nix-file", "deps.nix"];
    // The lambda, the application and the call's `{` put the value three levels down.
    for (link, close) in [("(", ")"), ("[", "]"), ("- ", ""), ("x: ", ""), ("f ", "")] {
        let at_bound = bound - 3;
        fs::write(
            dir.path().join("deps.nix"),
            with(&format!(
                "{}1{}",
                link.repeat(at_bound),
                close.repeat(at_bound)
            )),
        )
        .unwrap();
        // Stale: the hash literal is empty. What matters is that it parsed.
        uyh_small_stack(dir.path(), cache.path(), &args).expect_code(1);
        for deep in [at_bound + 1, 100_000] {
            let x = format!("{}1{}", link.repeat(deep), close.repeat(deep));
            fs::write(dir.path().join("deps.nix"), with(&x)).unwrap();
            uyh_small_stack(dir.path(), cache.path(), &args)
                .expect_code(2)
                .expect_stderr_contains("deps.nix:4:")
                .expect_stderr_contains(&format!("nested more than {bound} levels"));
        }
    }
}

#[test]
fn a_lockfile_nested_3000_deep_is_bad_input_on_a_1_mib_stack() {
    let dir = repo();
    let cache = tempfile::tempdir().unwrap();
    let mut lock = lockfile(&[]);
    // 2,000 levels overflowed a 1 MiB stack; each is indented two more spaces.
    for level in 0..3_000 {
        lock.push_str(&"  ".repeat(level));
        lock.push_str(&format!("k{level}:\n"));
    }
    fs::write(dir.path().join("yarn.lock"), lock).unwrap();
    let bound = common::yarn::yarn_lock::MAX_NESTING;
    uyh_small_stack(
        dir.path(),
        cache.path(),
        &["--offline", "--print", "--lockfile", "yarn.lock"],
    )
    .expect_code(2)
    .expect_stderr_contains(&format!("yarn.lock:{}:", 4 + bound))
    .expect_stderr_contains(&format!("nested more than {bound} levels"));
}

//! Git dependencies end to end: a lockfile naming a GitHub repository, reached through
//! git's `url.<base>.insteadOf` (a local repository here), hashed by the binary and by
//! Nix over a directory built with real git and real GNU tar the way upstream does.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::util::{assert_same_as_nix_hash_path, git, have, run};

/// umask 022 as in a Nix builder, so the reference checkout has the builder's modes.
fn sh(cwd: &Path, script: &str) {
    let mut cmd = Command::new("sh");
    cmd.current_dir(cwd)
        .args(["-c", &format!("umask 022 && {script}")]);
    run(cmd).expect_code(0);
}

fn source_repo(dir: &Path) -> String {
    fs::create_dir_all(dir.join("lib")).unwrap();
    fs::write(
        dir.join("package.json"),
        "{\"name\":\"repo\",\"version\":\"1.0.0\"}\n",
    )
    .unwrap();
    fs::write(dir.join("lib/index.js"), "module.exports = 42;\n").unwrap();
    fs::write(dir.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    git(dir, &["init", "-q"]);
    git(dir, &["add", "."]);
    git(dir, &["update-index", "--chmod=+x", "run.sh"]);
    git(dir, &["commit", "-qm", "v1"]);
    let out = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What prefetch-yarn-deps writes for one git dependency: nix-prefetch-git's checkout
/// (no .git), packed by GNU tar with upstream's flags.
fn reference_tarball(repo: &Path, sha: &str, out: &Path) {
    let work = tempfile::tempdir().unwrap();
    let checkout = work.path().join("co");
    sh(
        work.path(),
        &format!(
            "git clone -q {} co && cd co && git checkout -q {sha} && rm -rf .git",
            repo.display()
        ),
    );
    sh(
        work.path(),
        &format!(
            "tar --owner=0 --group=0 --numeric-owner --format=gnu --sort=name --mtime=@1 --mode u+w -C {} -cf {} .",
            checkout.display(),
            out.display()
        ),
    );
}

#[test]
fn codeload_and_git_urls_hash_like_upstream_through_insteadof() {
    if !have("nix", "the hash must equal what Nix computes")
        || !have("tar", "GNU tar is the reference")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let sha = source_repo(&repo);
    let gitconfig = tmp.path().join("gitconfig");
    fs::write(
        &gitconfig,
        format!(
            "[url \"file://{}\"]\n\tinsteadOf = https://github.com/owner/repo.git\n",
            repo.display()
        ),
    )
    .unwrap();
    let project = tmp.path().join("project");
    fs::create_dir_all(&project).unwrap();
    let lock = format!(
        "# yarn lockfile v1\n\n\n\"repo@github:owner/repo#{sha}\":\n  version \"1.0.0\"\n  resolved \"https://codeload.github.com/owner/repo/tar.gz/{sha}\"\n\n\"repo@git+https://github.com/owner/repo.git#{sha}\":\n  version \"1.0.0\"\n  resolved \"git+https://github.com/owner/repo.git#{sha}\"\n"
    );
    fs::write(project.join("yarn.lock"), &lock).unwrap();

    let cache = tmp.path().join("cache");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"));
    cmd.current_dir(&project)
        .args(["--print", "--lockfile", "yarn.lock"])
        .env("UPDATE_YARN_HASH_CACHE", &cache)
        .env("HOME", tmp.path())
        .env("GIT_CONFIG_GLOBAL", &gitconfig);
    let ours = run(cmd);
    ours.expect_code(0);

    let expected = tmp.path().join("expected");
    fs::create_dir_all(&expected).unwrap();
    reference_tarball(&repo, &sha, &expected.join(&sha));
    reference_tarball(&repo, &sha, &expected.join("repo.git"));
    fs::write(expected.join("yarn.lock"), &lock).unwrap();
    assert_same_as_nix_hash_path(&ours, &expected);
}

/// An unreachable remote is said once: the message, then no `{:#}` chain repeating it and
/// libgit2's raw `class=`/`code=` text (issue 11 item 6).
#[test]
fn an_unreachable_git_remote_is_reported_once() {
    let dir = crate::util::repo();
    // A loopback port nothing listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "git+https://127.0.0.1:{port}/none/foo.git#0123456789abcdef0123456789abcdef01234567"
    );
    fs::write(
        dir.path().join("yarn.lock"),
        format!(
            "# yarn lockfile v1\n\n\n\"foo@{url}\":\n  version \"1.0.0\"\n  resolved \"{url}\"\n"
        ),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = crate::util::uyh(dir.path(), cache.path(), &["--print"]);
    run.expect_code(3);
    let stderr = run.stderr();
    assert_eq!(
        stderr.matches("cannot reach the git remote").count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("yarn.lock:4:1: foo@git+https://127.0.0.1:"),
        "{stderr}"
    );
    assert!(!stderr.contains("class="), "{stderr}");
}

//! Each failure has its own message and exit code, and leaves the cache untouched.

use crate::util::*;

#[test]
fn missing_nix_says_how_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_precache-package"));
    cmd.env("PATH", empty.path())
        .args(["--check", "--from", "file:///x", ".", "x"]);
    run(cmd, empty.path())
        .expect_code(3)
        .expect_contains("install Nix");
}

#[test]
fn a_failure_under_json_is_one_document_with_its_exit_code() {
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_precache-package"));
    cmd.env("PATH", empty.path())
        .args(["--json", "--check", "--from", "file:///x", ".", "x"]);
    let r = run(cmd, empty.path());
    r.expect_code(3);
    test_support::json_schema::assert_valid(&r.stdout());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(
        (&v["exit_code"], &v["error"]["exit_code"]),
        (&3.into(), &3.into()),
        "{r}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("install Nix"),
        "{r}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    precache(dir.path(), &[".", "x"])
        .expect_code(2)
        .expect_contains("--cache NAME");
    precache(dir.path(), &["--cache", "c", "--sign-key", "/k", ".", "x"]).expect_code(2);
    std::fs::write(dir.path().join("bad.sec"), "name:c2VjcmV0LW1hdGVyaWFs").unwrap();
    precache(
        dir.path(),
        &["--to", "file:///tmp/x", "--sign-key", "bad.sec", ".", "x"],
    )
    .expect_code(2)
    .expect_contains("not a Nix secret key")
    .expect_lacks("c2VjcmV0LW1hdGVyaWFs");
    precache(dir.path(), &["--to", "s3://bucket", ".", "x"])
        .expect_code(2)
        .expect_contains("--from");
    // The name becomes the host CACHIX_AUTH_TOKEN is sent to.
    for hostile in ["evil.example/x", "a.b", "Upper", ""] {
        precache(dir.path(), &["--check", "--cache", hostile, ".", "x"])
            .expect_code(2)
            .expect_contains("not a Cachix cache name");
    }
    // A missing cachix is found before anything is built.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_precache-package"));
    cmd.env("PATH", dir.path())
        .env_remove("CACHIX_CACHE")
        .args(["--cache", "mycache", ".", "x"]);
    run(cmd, dir.path())
        .expect_code(3)
        .expect_contains("`cachix` was not found");
    let help = precache(dir.path(), &["--help"]);
    help.expect_code(0)
        .expect_contains("Exit codes:")
        .expect_contains("7  the cache could not be queried");
}

#[test]
fn missing_output_lists_the_available_ones() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let attr = repo.attr("nope");
    let check = |public: &str| {
        let from = "file:///nonexistent";
        let args = ["--check", "--from", from, "--trusted-public-key", public];
        precache(&repo.dir, &[&args[..], &[".", &attr]].concat())
    };
    check("k:").expect_code(2);
    let key = common::binary_cache::narinfo::SecretKey::from_seed("k", [2; 32])
        .public()
        .to_string();
    // Nix's own message names the attribute inside each prefix it tried (doubling the
    // full path) with `.outPath` appended: not passed on.
    check(&key)
        .expect_code(4)
        .expect_contains(&format!("has no output `{attr}`"))
        .expect_contains("a, b, broken, c, e")
        .expect_lacks(&format!("packages.{0}.packages.{0}", system()))
        .expect_lacks(".outPath");
}

#[test]
fn build_failure_exits_5_and_pushes_nothing() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-broken-1");
    cache
        .push(&repo, "broken")
        .expect_code(5)
        .expect_contains("this build fails on purpose")
        .expect_contains("nix build failed");
    let narinfos = std::fs::read_dir(&cache.dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(narinfos, 0, "nothing was written to the cache");
}

#[test]
fn push_failure_exits_6() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let (empty, from) = empty_cache();
    // Signed, so the push is attempted (an unsigned one is refused before `nix copy`).
    let keys = tempfile::tempdir().unwrap();
    let key = make_key(keys.path(), "test-push-fails-1");
    // Nothing can be created below /dev/null, not even by root.
    let args = [
        "--to",
        "file:///dev/null/cache",
        "--from",
        &from,
        "--sign-key",
        key.secret_file.to_str().unwrap(),
        "--trusted-public-key",
        &key.public,
    ];
    precache(&repo.dir, &[&args[..], &[".", &repo.attr("b")]].concat())
        .expect_code(6)
        .expect_contains("push failed")
        .expect_contains("'/dev/null' is not a directory");
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        1,
        "the read cache is untouched (only its nix-cache-info)"
    );
}

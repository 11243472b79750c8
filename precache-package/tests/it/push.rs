//! Precache to a signed file:// cache, then prove another store substitutes instead of building.

use std::process::Command;

use crate::util::*;

#[test]
fn pushed_closure_is_substituted_by_a_second_store_without_building() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-push-1");
    let key = &cache.key;
    let attr = repo.attr("a");
    let args = [&cache.push_args()[..], &[".", &attr]].concat();

    let first = precache(&repo.dir, &args);
    first
        .expect_code(0)
        .expect_contains("pushed 3 paths")
        .expect_contains(&format!("flake: {}", repo.pinned()))
        .expect_lacks(&key.secret)
        .expect_lacks(key.secret.split_once(':').unwrap().1);
    let mut built = repo.builds();
    built.sort();
    assert_eq!(built, ["a", "b", "c"], "each builder ran once\n{first}");
    for name in ["a", "b", "c"] {
        assert!(
            cache.narinfo(&repo.out_path(name)).exists(),
            "{name} pushed\n{first}"
        );
    }

    precache(&repo.dir, &args)
        .expect_code(0)
        .expect_contains("nothing to push, all 3 paths already cached");
    precache(&repo.dir, &[&["--check"][..], &args].concat()).expect_code(0);

    // A second, empty store realises the output from the cache alone.
    let store2 = cache.tmp.path().join("store2");
    let mut cmd = Command::new("nix");
    cmd.args([
        "build",
        "--no-link",
        "--json",
        "--store",
        store2.to_str().unwrap(),
    ])
    .args(["--option", "substituters", &cache.url])
    .args(["--option", "trusted-public-keys", &key.public])
    .arg(format!("{}#{attr}", repo.pinned()));
    let realised = run(cmd, &repo.dir);
    realised.expect_code(0);
    assert_eq!(
        repo.builds().len(),
        3,
        "no builder ran for the second store\n{realised}"
    );
    let out = repo.out_path("a");
    let hash_name = out.rsplit('/').next().unwrap();
    assert!(
        store2.join("nix/store").join(hash_name).exists(),
        "{out} realised in the second store\n{realised}"
    );
}

#[test]
fn unsigned_paths_the_cache_already_holds_are_signed_in_place() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-unsigned-held-1");
    let attr = repo.attr("b");
    let to_and_trust = [
        "--to",
        &cache.url,
        "--trusted-public-key",
        &cache.key.public,
    ];
    // Without --sign-key the unsigned closure is refused before anything is copied.
    precache(&repo.dir, &[&to_and_trust[..], &[".", &attr]].concat())
        .expect_code(6)
        .expect_contains("refusing to push")
        .expect_contains("Nothing was pushed");
    assert!(!cache.narinfo(&repo.out_path("b")).exists());
    // A plain `nix copy` (no key) leaves the cache holding them unsigned; pushing again
    // without a key is refused the same way, since a push never replaces a narinfo.
    let mut copy = Command::new("nix");
    copy.args(["copy", "--to", &cache.url, &repo.out_path("b")]);
    run(copy, &repo.dir).expect_code(0);
    assert!(cache.narinfo(&repo.out_path("b")).exists());
    precache(&repo.dir, &[&to_and_trust[..], &[".", &attr]].concat())
        .expect_code(6)
        .expect_contains("refusing to push")
        .expect_contains("signed in place");
    // `nix copy` skips paths the cache has, so a signed push must sign them in place.
    cache
        .push(&repo, "b")
        .expect_code(0)
        .expect_contains("signed 2 paths the cache already held");
    precache(
        &repo.dir,
        &[
            "--check",
            "--from",
            &cache.url,
            "--trusted-public-key",
            &cache.key.public,
            ".",
            &attr,
        ],
    )
    .expect_code(0);
}

#[test]
fn build_deps_are_pushed_only_when_asked() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-deps-1");
    let attr = repo.attr("e");

    cache
        .push(&repo, "e")
        .expect_code(0)
        .expect_contains("pushed 1 path (");
    assert!(
        !cache.narinfo(&repo.out_path("c")).exists(),
        "c is build-time only"
    );

    let run = precache(
        &repo.dir,
        &[
            &cache.push_args()[..],
            &["--include-build-deps", "--json", ".", &attr],
        ]
        .concat(),
    );
    run.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let pushed: Vec<&str> = v["pushed"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        pushed.contains(&repo.out_path("c").as_str()),
        "c pushed with --include-build-deps\n{run}"
    );
    assert!(cache.narinfo(&repo.out_path("c")).exists());
}

#[test]
fn a_sign_key_ci_is_not_told_to_trust_is_trusted_for_the_read_back_with_a_warning() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-signonly-1");
    let secret = cache.key.secret_file.to_str().unwrap();
    let attr = repo.attr("b");
    // No --trusted-public-key: the check trusts nix.conf's keys (cache.nixos.org's only).
    let sign_only = |json: &[&str]| {
        let args = ["--to", &cache.url, "--sign-key", secret];
        precache(&repo.dir, &[&args[..], json, &[".", &attr]].concat())
    };
    let r = sign_only(&[]);
    r.expect_code(0)
        .expect_contains("pushed 2 paths")
        .expect_lacks("already has")
        .expect_lacks(&cache.key.secret);
    // The key derived from the secret is the one `nix key convert-secret-to-public` prints,
    // and the warning comes before anything is built.
    let warning = format!(
        "warning: the --sign-key's public key {} is not among the keys CI is told to trust (from nix.conf)",
        cache.key.public
    );
    let stderr = r.stderr();
    let warned = stderr
        .find(&warning)
        .unwrap_or_else(|| panic!("no warning\n{r}"));
    assert!(warned < stderr.find("building ").unwrap(), "{r}");
    assert!(
        stderr.contains(&format!("--trusted-public-key {}", cache.key.public)),
        "{r}"
    );
    let r = sign_only(&["--json"]);
    r.expect_code(0);
    test_support::json_schema::assert_valid(&r.stdout());
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(
        (&v["version"], &v["exit_code"]),
        (&1.into(), &0.into()),
        "{r}"
    );
    assert_eq!(v["status"], "nothing-to-push", "{r}");
    assert_eq!(v["trusted_keys_from"], "nix.conf + --sign-key", "{r}");

    // Told to trust it: no warning, and everything is already there.
    cache
        .push(&repo, "b")
        .expect_code(0)
        .expect_contains("nothing to push, all 2 paths already cached")
        .expect_lacks("warning:");

    // A different trusted key of the same name makes every signature useless to Nix: refused
    // before anything is built.
    let elsewhere = tempfile::tempdir().unwrap();
    let impostor = make_key(elsewhere.path(), "test-signonly-1");
    let builds = repo.builds().len();
    precache(
        &repo.dir,
        &[
            "--to",
            &cache.url,
            "--sign-key",
            secret,
            "--trusted-public-key",
            &impostor.public,
            ".",
            &repo.attr("a"),
        ],
    )
    .expect_code(2)
    .expect_contains("is not the trusted key named \"test-signonly-1\"");
    assert_eq!(repo.builds().len(), builds, "nothing was built");
}

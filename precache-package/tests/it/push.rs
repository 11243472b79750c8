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
fn unsigned_push_is_reported_as_unusable() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-unsigned-1");
    let attr = repo.attr("b");
    // Pushing without --sign-key leaves unsigned narinfos CI would refuse: exit 6, not success.
    let to_and_trust = [
        "--to",
        &cache.url,
        "--trusted-public-key",
        &cache.key.public,
    ];
    precache(&repo.dir, &[&to_and_trust[..], &[".", &attr]].concat())
        .expect_code(6)
        .expect_contains("still not usable by CI")
        .expect_contains("unsigned")
        .expect_contains("nix store sign --store");
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

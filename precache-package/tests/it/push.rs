//! Precache to a signed file:// cache, then prove another store substitutes instead of building.

use std::process::Command;

use crate::util::*;

#[test]
fn pushed_closure_is_substituted_by_a_second_store_without_building() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let key = make_key(tmp.path(), "test-push-1");
    let cache = tmp.path().join("cache");
    let to = format!("file://{}", cache.display());
    let sign = key.secret_file.to_str().unwrap();
    let attr = repo.attr("a");
    let args = [
        "--to",
        &to,
        "--sign-key",
        sign,
        "--trusted-public-key",
        &key.public,
        ".",
        &attr,
    ];

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
            narinfo(&cache, &repo.out_path(name)).exists(),
            "{name} pushed\n{first}"
        );
    }

    precache(&repo.dir, &args)
        .expect_code(0)
        .expect_contains("nothing to push, all 3 paths already cached");
    precache(&repo.dir, &[&["--check"][..], &args].concat()).expect_code(0);

    // A second, empty store realises the output from the cache alone.
    let store2 = tmp.path().join("store2");
    let mut cmd = Command::new("nix");
    cmd.args([
        "build",
        "--no-link",
        "--json",
        "--store",
        store2.to_str().unwrap(),
    ])
    .args(["--option", "substituters", &to])
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
    let tmp = tempfile::tempdir().unwrap();
    let key = make_key(tmp.path(), "test-unsigned-1");
    let to = format!("file://{}", tmp.path().join("cache").display());
    let attr = repo.attr("b");
    // Pushing without --sign-key leaves unsigned narinfos CI would refuse: exit 6, not success.
    precache(
        &repo.dir,
        &["--to", &to, "--trusted-public-key", &key.public, ".", &attr],
    )
    .expect_code(6)
    .expect_contains("still not usable by CI")
    .expect_contains("unsigned");
}

#[test]
fn build_deps_are_pushed_only_when_asked() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    let key = make_key(tmp.path(), "test-deps-1");
    let cache = tmp.path().join("cache");
    let to = format!("file://{}", cache.display());
    let sign = key.secret_file.to_str().unwrap();
    let attr = repo.attr("e");
    let base = [
        "--to",
        &to,
        "--sign-key",
        sign,
        "--trusted-public-key",
        &key.public,
    ];

    precache(&repo.dir, &[&base[..], &[".", &attr]].concat())
        .expect_code(0)
        .expect_contains("pushed 1 path (");
    assert!(
        !narinfo(&cache, &repo.out_path("c")).exists(),
        "c is build-time only"
    );

    let run = precache(
        &repo.dir,
        &[&base[..], &["--include-build-deps", "--json", ".", &attr]].concat(),
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
    assert!(narinfo(&cache, &repo.out_path("c")).exists());
}

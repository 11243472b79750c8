//! Without --trusted-public-key, trust what CI's Nix trusts: the flake's nixConfig and nix.conf.

use crate::util::*;

/// Pushes `a` signed with a fresh key; returns the repo (whose flake trusts the key if
/// `in_flake`), the cache URL and the key.
fn setup(in_flake: bool) -> (FlakeRepo, tempfile::TempDir, String, Key) {
    let tmp = tempfile::tempdir().unwrap();
    let key = make_key(tmp.path(), "test-trust-1");
    let repo = if in_flake {
        FlakeRepo::with_nix_config(&format!(
            "nixConfig.extra-trusted-public-keys = [ \"{}\" ];",
            key.public
        ))
    } else {
        FlakeRepo::new()
    };
    let to = format!("file://{}", tmp.path().join("cache").display());
    let sign = key.secret_file.to_str().unwrap().to_owned();
    let attr = repo.attr("a");
    precache(
        &repo.dir,
        &[
            "--to",
            &to,
            "--sign-key",
            &sign,
            "--trusted-public-key",
            &key.public,
            ".",
            &attr,
        ],
    )
    .expect_code(0);
    (repo, tmp, to, key)
}

#[test]
fn keys_come_from_the_flake_nix_config() {
    if !have_nix_and_git() {
        return;
    }
    let (repo, _tmp, from, _key) = setup(true);
    let r = precache(
        &repo.dir,
        &["--check", "--json", "--from", &from, ".", &repo.attr("a")],
    );
    r.expect_code(0)
        .expect_contains("\"trustedKeysFrom\": \"flake nixConfig + nix.conf\"");
}

#[test]
fn keys_come_from_nix_conf_and_unknown_keys_are_not_trusted() {
    if !have_nix_and_git() {
        return;
    }
    let (repo, _tmp, from, key) = setup(false);
    let args = ["--check", "--json", "--from", &from, ".", &repo.attr("a")];
    let trusting = format!("{NIX_CONFIG}\ntrusted-public-keys = {}", key.public);
    precache_with_nix_config(&repo.dir, &args, &trusting)
        .expect_code(0)
        .expect_contains("\"trustedKeysFrom\": \"nix.conf\"");
    // The default nix.conf trusts only cache.nixos.org: our signatures count for nothing.
    precache(&repo.dir, &args)
        .expect_code(1)
        .expect_contains("\"status\": \"not-cached\"");
}

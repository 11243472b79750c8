//! Without --trusted-public-key, trust what CI's Nix trusts: the flake's nixConfig and nix.conf.

use crate::util::*;

/// Pushes `a` signed with a fresh key; returns the repo (whose flake trusts the key if
/// `in_flake`) and the cache.
fn setup(in_flake: bool) -> (FlakeRepo, SignedFileCache) {
    let cache = SignedFileCache::new("test-trust-1");
    let repo = if in_flake {
        FlakeRepo::with_nix_config(&format!(
            "nixConfig.extra-trusted-public-keys = [ \"{}\" ];",
            cache.key.public
        ))
    } else {
        FlakeRepo::new()
    };
    cache.push(&repo, "a").expect_code(0);
    (repo, cache)
}

#[test]
fn flake_keys_count_only_with_accept_flake_config() {
    if !have_nix_and_git() {
        return;
    }
    let (repo, cache) = setup(true);
    let from = &cache.url;
    let args = ["--check", "--json", "--from", from, ".", &repo.attr("a")];
    // CI's Nix ignores nixConfig without accept-flake-config: so must we, loudly.
    precache(&repo.dir, &args)
        .expect_code(1)
        .expect_contains("ignoring the flake's nixConfig trusted keys (test-trust-1)")
        .expect_contains("accept-flake-config");
    let accepting = format!("{NIX_CONFIG}\naccept-flake-config = true");
    precache_with_nix_config(&repo.dir, &args, &accepting)
        .expect_code(0)
        .expect_contains("\"trusted_keys_from\": \"flake nixConfig + nix.conf\"");
}

#[test]
fn keys_come_from_nix_conf_and_unknown_keys_are_not_trusted() {
    if !have_nix_and_git() {
        return;
    }
    let (repo, cache) = setup(false);
    let from = &cache.url;
    let args = ["--check", "--json", "--from", from, ".", &repo.attr("a")];
    let trusting = format!("{NIX_CONFIG}\ntrusted-public-keys = {}", cache.key.public);
    precache_with_nix_config(&repo.dir, &args, &trusting)
        .expect_code(0)
        .expect_contains("\"trusted_keys_from\": \"nix.conf\"");
    // The default nix.conf trusts only cache.nixos.org: our signatures count for nothing.
    precache(&repo.dir, &args)
        .expect_code(1)
        .expect_contains("\"status\": \"not-cached\"");
}

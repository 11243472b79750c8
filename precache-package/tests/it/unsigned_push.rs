//! A push that would write paths without a trusted signature is refused before anything is
//! copied; a path the local store already holds signed by a trusted key is pushed as is.

use std::process::Command;

use crate::http_server::CacheServer;
use crate::signed_narinfo::new_cache_dir;
use crate::util::*;

fn narinfos(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".narinfo"))
            })
            .count()
    })
}

#[test]
fn unsigned_paths_without_sign_key_are_refused_before_pushing() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-unsigned-1");
    let attr = repo.attr("a");
    // CI trusts only our key; the push has no --sign-key, and nothing built here is signed.
    let args = [
        "--to",
        &cache.url,
        "--trusted-public-key",
        &cache.key.public,
        ".",
        &attr,
    ];
    let r = precache(&repo.dir, &args);
    r.expect_code(6)
        .expect_contains("refusing to push")
        .expect_contains(
            "3 of the 3 paths to push carry no signature by a key CI trusts (test-unsigned-1)",
        )
        .expect_contains("Nothing was pushed")
        .expect_contains("--sign-key FILE")
        .expect_contains(&repo.out_path("c"))
        .expect_lacks("pushing 3 paths");
    assert_eq!(narinfos(&cache.dir), 0, "nothing was copied\n{r}");
}

#[test]
fn read_back_over_http_refuses_unsigned_and_pushes_locally_signed_paths() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-unsigned-2");
    new_cache_dir(&cache.dir);
    let server = CacheServer::serve(cache.dir.clone());
    let attr = repo.attr("a");
    let from = server.url();
    let args = [
        "--to",
        &cache.url,
        "--from",
        &from,
        "--trusted-public-key",
        &cache.key.public,
        ".",
        &attr,
    ];
    precache(&repo.dir, &args)
        .expect_code(6)
        .expect_contains("Nothing was pushed");
    assert_eq!(narinfos(&cache.dir), 0);

    // Signed in the local store by the trusted key: `nix copy` carries the signatures.
    let mut sign = Command::new("nix");
    sign.args(["store", "sign", "--recursive", "--key-file"])
        .arg(&cache.key.secret_file)
        .arg(repo.out_path("a"));
    run(sign, &repo.dir).expect_code(0);
    precache(&repo.dir, &args)
        .expect_code(0)
        .expect_contains("pushed 3 paths");
    assert_eq!(narinfos(&cache.dir), 3);
}

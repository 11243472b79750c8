//! "cached" only when Nix can substitute: the NAR a narinfo names must be in the cache too.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::http_server::CacheServer;
use crate::util::*;

/// Whether real Nix realises `path` into a fresh store from `cache_url` alone, and its output.
fn nix_substitutes(tmp: &Path, cache_url: &str, public: &str, path: &str) -> (bool, String) {
    let store = tempfile::tempdir_in(tmp).unwrap();
    let mut cmd = Command::new("nix-store");
    cmd.args(["--store", store.path().to_str().unwrap(), "--realise", path])
        .args(["--option", "substituters", cache_url])
        .args(["--option", "trusted-public-keys", public]);
    let r = run(cmd, tmp);
    (r.code() == 0, r.all())
}

fn nar_files(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache.join("nar"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[test]
fn a_narinfo_whose_nar_is_gone_is_not_cached() {
    if !have_nix_and_git() || !have("nix-store") {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-nar-1");
    let public = &cache.key.public;
    let out = repo.out_path("c");
    let attr = repo.attr("c");
    cache.push(&repo, "c").expect_code(0);
    let check = |from: &str, json: bool| {
        let mut args = vec!["--check", "--from", from, "--trusted-public-key", public];
        if json {
            args.push("--json");
        }
        precache(&repo.dir, &[&args[..], &[".", &attr]].concat())
    };
    check(&cache.url, false)
        .expect_code(0)
        .expect_contains("cached: all 1 paths");
    assert!(nix_substitutes(cache.tmp.path(), &cache.url, public, &out).0);

    let nars = nar_files(&cache.dir);
    assert_eq!(nars.len(), 1, "{nars:?}");
    let nar = &nars[0];
    let nar_url = format!("nar/{}", nar.file_name().unwrap().to_str().unwrap());
    let saved = cache.tmp.path().join("saved.nar");
    std::fs::rename(nar, &saved).unwrap();
    let (substituted, said) = nix_substitutes(cache.tmp.path(), &cache.url, public, &out);
    assert!(
        !substituted && said.contains("does not exist in binary cache"),
        "{said}"
    );
    check(&cache.url, false)
        .expect_code(1)
        .expect_lacks("cached: all")
        .expect_contains("not cached: 1 of 1 paths")
        .expect_contains(&format!(
            "{out}  (its narinfo is there but its NAR {nar_url} is not"
        ));
    let r = check(&cache.url, true);
    r.expect_code(1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["missing"][0]["kind"], "nar-missing", "{r}");
    assert_eq!(v["missing"][0]["path"], out.trim(), "{r}");

    // Over HTTP the NAR is tested with HEAD: 404 is the same verdict, a 500 is an error.
    let server = CacheServer::serve(cache.dir.clone());
    check(&server.url(), false)
        .expect_code(1)
        .expect_contains(&format!("its NAR {nar_url} is not"));
    std::fs::rename(&saved, nar).unwrap();
    check(&server.url(), false)
        .expect_code(0)
        .expect_contains("cached: all 1 paths");
    server.set_status(&nar_url, 500);
    check(&server.url(), false)
        .expect_code(7)
        .expect_contains("HTTP 500")
        .expect_lacks("not cached");
}

#[test]
fn a_push_says_how_to_repair_a_narinfo_whose_nar_is_gone() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let cache = SignedFileCache::new("test-nar-2");
    cache.push(&repo, "c").expect_code(0);
    for nar in nar_files(&cache.dir) {
        std::fs::remove_file(nar).unwrap();
    }
    // `nix copy` skips a path whose narinfo the cache has, so pushing again repairs nothing.
    cache
        .push(&repo, "c")
        .expect_code(6)
        .expect_contains("its NAR nar/")
        .expect_contains("delete those .narinfo files")
        .expect_lacks("nix store sign");
    std::fs::remove_file(cache.narinfo(&repo.out_path("c"))).unwrap();
    cache
        .push(&repo, "c")
        .expect_code(0)
        .expect_contains("pushed 1 path (");
}

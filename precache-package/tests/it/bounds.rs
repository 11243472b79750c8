//! The cache decides how much there is to read, so reading is bounded: an oversized narinfo
//! and an endless closure are cache errors (exit 7), not memory and time without end.

use std::sync::Arc;

use common::binary_cache::store_path::StorePath;
use common::nix::nix_base32;
use common::nix::nix_hash::Sha256Hash;

use crate::http_server::CacheServer;
use crate::signed_narinfo::new_cache_dir;
use crate::util::*;

fn check(repo: &FlakeRepo, from: &str, extra: &[&str]) -> Run {
    let key = common::binary_cache::narinfo::SecretKey::from_seed("k", [3; 32])
        .public()
        .to_string();
    let args = ["--check", "--from", from, "--trusted-public-key", &key];
    precache(
        &repo.dir,
        &[&args[..], extra, &[".", &repo.attr("a")]].concat(),
    )
}

#[test]
fn an_oversized_narinfo_is_a_cache_error() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let tmp = tempfile::tempdir().unwrap();
    new_cache_dir(tmp.path());
    let narinfo = narinfo(tmp.path(), &repo.out_path("a"));
    // Valid lines, so only the size can be what is refused.
    let line = "Sig: x:AAAA\n";
    std::fs::write(&narinfo, line.repeat((2 << 20) / line.len())).unwrap();
    let url = format!("file://{}", tmp.path().display());
    check(&repo, &url, &[])
        .expect_code(7)
        .expect_contains("is larger than 1048576 bytes")
        .expect_lacks("not cached");
    let server = CacheServer::serve(tmp.path().to_owned());
    check(&repo, &server.url(), &[])
        .expect_code(7)
        .expect_contains("is larger than 1048576 bytes");
}

/// `/nix/store/<hash of seed>-gen`
fn generated(seed: &str) -> StorePath {
    let digest = Sha256Hash::of(seed.as_bytes());
    let hash = nix_base32::encode(&digest.0[..20]);
    format!("/nix/store/{hash}-gen").parse().unwrap()
}

#[test]
fn an_endless_closure_is_a_cache_error() {
    if !have_nix_and_git() {
        return;
    }
    let repo = FlakeRepo::new();
    let root: StorePath = repo.out_path("a").trim().parse().unwrap();
    // Every narinfo references four paths nobody asked for yet, and every NAR exists.
    let server = CacheServer::serve_generated(Arc::new(move |file: &str| {
        if file == "nix-cache-info" {
            return Some(b"StoreDir: /nix/store\n".to_vec());
        }
        if file.starts_with("nar/") {
            return Some(b"nar".to_vec());
        }
        let hash = file.strip_suffix(".narinfo")?;
        let path = if hash == root.hash_part() {
            root.clone()
        } else {
            format!("/nix/store/{hash}-gen").parse().ok()?
        };
        let refs: Vec<String> = (0..4)
            .map(|i| generated(&format!("{hash}{i}")).base_name().to_owned())
            .collect();
        Some(
            format!(
                "StorePath: {path}\nURL: nar/{hash}.nar\nNarHash: sha256:0w1357qw948jcqkr9c0y9b8kgv2yafx9cqrbkpkljs3vrahcgds7\nNarSize: 1\nReferences: {}\n",
                refs.join(" ")
            )
            .into_bytes(),
        )
    }));
    check(&repo, &server.url(), &["--max-closure-paths", "500"])
        .expect_code(7)
        .expect_contains("the closure has more than 500 paths")
        .expect_contains("--max-closure-paths")
        .expect_lacks("not cached");
    // The walk stopped at the bound: about a narinfo and a NAR per path, plus those in flight.
    assert!(
        server.requests() <= 2 * 500 + 64,
        "{} requests",
        server.requests()
    );
}

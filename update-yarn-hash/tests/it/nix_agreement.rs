//! Our hash against real Nix: `nix hash path` of the output directory.

use crate::fixture::{expected_dir, lockfile, mirror, Package};
use crate::server::Server;
use crate::util::{assert_same_as_nix_hash_path, have, nix, uyh};

#[test]
fn printed_hash_equals_nix_hash_path_of_a_hand_built_output() {
    if !have("nix", "the hash must equal what Nix computes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start();
    let pkgs = [
        Package::new("@babel/core", "7.0.0", 5000),
        Package::new("dotcom", "1.0.0", 700_001),
        Package::new("empty", "0.0.0", 0),
    ];
    for p in &pkgs {
        p.serve(&server);
    }
    let lock = lockfile(&pkgs);
    std::fs::write(dir.path().join("yarn.lock"), &lock).unwrap();
    let m = mirror(&server);
    let ours = uyh(
        dir.path(),
        cache.path(),
        &["--print", "--lockfile", "yarn.lock", "--mirror", &m],
    );
    ours.expect_code(0);

    // Names spelled out by hand from nixpkgs' urlToName, quirks included.
    let out = tempfile::tempdir().unwrap();
    let expected = out.path().join("out");
    expected_dir(
        &expected,
        &[
            ("_babel_core___core_7.0.0.tgz", &pkgs[0].bytes),
            ("__dotcom_1.0.0.tgz", &pkgs[1].bytes),
            ("empty___empty_0.0.0.tgz", &pkgs[2].bytes),
        ],
        &lock,
    );
    assert_same_as_nix_hash_path(&ours, &expected);

    let materialized = out.path().join("materialized");
    uyh(
        dir.path(),
        cache.path(),
        &[
            "--materialize",
            materialized.to_str().unwrap(),
            "--lockfile",
            "yarn.lock",
            "--offline",
        ],
    )
    .expect_code(0);
    let of_materialized = nix(&["hash", "path", materialized.to_str().unwrap()]);
    assert_eq!(of_materialized.stdout(), ours.stdout());
}

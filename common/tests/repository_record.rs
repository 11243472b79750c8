//! The repository's own `.nix/yarn-deps.toml` is fresh for every lockfile it names: the
//! flake reads it as is. Read with the library's loader, so it is the rule the tools and
//! the hook apply (this was an xtask tidy test; it lives here so xtask need not build
//! `common`).

use std::path::Path;

use common::record::hash_record::{Freshness, HashRecord, DEFAULT_RECORD_PATH};

#[test]
fn the_repository_hash_record_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("common lives one level below the workspace root");
    let record = HashRecord::load(&root.join(DEFAULT_RECORD_PATH))
        .unwrap()
        .expect(".nix/yarn-deps.toml exists");
    assert!(!record.entries.is_empty(), "the record names no lockfile");
    for lockfile in record.entries.keys() {
        let bytes = std::fs::read(root.join(lockfile)).unwrap();
        assert_eq!(
            record.freshness(lockfile, &bytes),
            Freshness::Fresh,
            ".nix/yarn-deps.toml is not up to date for {lockfile}, run `cargo run -p update-yarn-hash -- --lockfile {lockfile}`"
        );
    }
}

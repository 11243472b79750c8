//! The store tree, natively, against the one real pnpm 10.34.5 left for the pnpm10-project
//! fixture after nixpkgs' fixup (update-pnpm-hash/tests/fixtures/pnpm10-project.reference/
//! store-manifest.txt): every entry's type, mode, size, content digest and path, in
//! archive order. The first layer of the end-to-end comparison; it needs the npm registry.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::fetch::tarball_fetch::{FetchOptions, NoProgress};
use common::pnpm::prefetch::{PrefetchOptions, Prefetcher};
use common::pnpm::store::StoreSink;
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../update-pnpm-hash/tests/fixtures")
}

/// Lines as describe-out.sh writes them: `<type> <mode> <size|-> <sha256|-> <path>`,
/// directories with a trailing `/`.
#[derive(Default)]
struct Manifest(Vec<String>);

/// The member name GNU tar lists for a store path (`.`, `v10/files`, … as the sink gets
/// them), `./`-prefixed.
fn member(path: &str) -> String {
    match path.trim_start_matches("./") {
        "." => "./".to_owned(),
        p => format!("./{p}"),
    }
}

impl StoreSink for Manifest {
    fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let name = member(path);
        let name = if name.ends_with('/') {
            name
        } else {
            format!("{name}/")
        };
        self.0.push(format!("d {mode:o} - - {name}"));
        Ok(())
    }

    fn file(&mut self, path: &str, mode: u32, size: u64, data: &mut dyn Read) -> io::Result<()> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes)?;
        assert_eq!(bytes.len() as u64, size, "{path}");
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.0
            .push(format!("f {mode:o} {size} {digest} {}", member(path)));
        Ok(())
    }
}

#[test]
fn pnpm10_project_store_tree_equals_the_reference() {
    let dir = fixtures().join("pnpm10-project");
    let lock = dir.join("pnpm-lock.yaml");
    let prefetcher = Prefetcher::new(PrefetchOptions {
        cache_dir: Path::new(env!("CARGO_TARGET_TMPDIR")).join("update-pnpm-hash-cache"),
        fetch: FetchOptions::default(),
        offline: false,
        recompute: true,
    })
    .unwrap();
    let bytes = std::fs::read(&lock).unwrap();
    let (store, _) = match prefetcher.store(&lock, &bytes, Arc::new(NoProgress)) {
        Ok(s) => s,
        Err(e) if !e.is_bad_input() => {
            test_support::skip(&format!("the npm registry is not reachable: {e}"));
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut ours = Manifest::default();
    store.write(&mut ours, 64 << 20, 2).unwrap();
    let reference =
        std::fs::read_to_string(fixtures().join("pnpm10-project.reference/store-manifest.txt"))
            .unwrap();
    let theirs: Vec<&str> = reference.lines().collect();
    for (i, (a, b)) in ours.0.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "entry {i} differs");
    }
    assert_eq!(ours.0.len(), theirs.len());
}

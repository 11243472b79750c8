//! Layer-by-layer comparison of two fetchPnpmDeps outputs as `describe-out.sh` describes
//! them: the store tree (full manifest, or its per-directory summary), the index dump
//! (fetcherVersion 4), then the tar, compressed and NAR hashes. A mismatch is reported at
//! the first differing line of each layer that differs, so it says where.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util;

/// The layers, finest first within the store, in the order a reader wants them.
pub const LAYERS: [&str; 5] = [
    "store-manifest.txt",
    "store-summary.txt",
    "index-dump.txt",
    "layers.txt",
    "hash",
];

pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference")
}

/// `describe-out.sh OUT DEST`, which must succeed.
pub fn describe(out: &Path, dest: &Path) {
    let mut cmd = Command::new(reference_dir().join("describe-out.sh"));
    cmd.arg(out).arg(dest);
    util::run(cmd).expect_code(0);
}

/// For each layer the recorded `reference` has and `described` differs in: the layer's
/// name and its first differing line on both sides. Empty when they agree.
pub fn differences(described: &Path, reference: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for layer in LAYERS {
        let Ok(want) = std::fs::read_to_string(reference.join(layer)) else {
            continue;
        };
        let got = std::fs::read_to_string(described.join(layer)).unwrap_or_default();
        if got == want {
            continue;
        }
        let first = got
            .lines()
            .zip(want.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  got:       {a}\n  reference: {b}", i + 1))
            .unwrap_or_else(|| {
                format!(
                    "{} lines vs {} in the reference",
                    got.lines().count(),
                    want.lines().count()
                )
            });
        found.push(format!("{layer} differs at {first}"));
    }
    found
}

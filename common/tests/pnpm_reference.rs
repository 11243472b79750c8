//! The fetchPnpmDeps reference replay (`update-pnpm-hash/tests/reference/fetch-pnpm-deps.sh`:
//! nixpkgs' install and fixup phases with real pnpm, GNU tar 1.35, zstd 1.5.7, jq 1.8.2, then
//! `nix hash path`) reproduces the output recorded for the pnpm 10 fixture, layer by layer.
//!
//! This is the oracle's own test: it proves the replay is deterministic (a fresh empty store,
//! another build directory, the registry's bytes again) and pins what the native pipeline must
//! produce. A mismatch names the first layer that differs: the store tree (entries, modes,
//! sizes, contents), then the tar bytes, then the compressed bytes, then the NAR hash.
//! The tools come from `cargo xtask reference-tools` (CI runs it); without them the test
//! skips locally and fails under CI=true. It downloads the fixture's ~85 MB of tarballs from
//! the npm registry into an empty store, as the fixed-output derivation does.

use std::path::{Path, PathBuf};
use std::process::Command;

/// nixpkgs' pnpm_10 (xtask/src/reference_tools.rs installs it).
const PNPM_10: &str = "10.34.5";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn reference_dir() -> PathBuf {
    repo_root().join("update-pnpm-hash/tests/reference")
}

fn tools_dir() -> PathBuf {
    std::env::var_os("NIXCI_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/nixci-tools")
        })
}

/// The replay's programs at nixpkgs' versions, or None (after `test_support::skip`).
fn tools() -> Option<Vec<(&'static str, PathBuf)>> {
    let tools = tools_dir();
    let wanted = [
        ("NIXCI_PNPM", tools.join(format!("pnpm-{PNPM_10}/bin/pnpm"))),
        ("NIXCI_GNUTAR", tools.join("gnutar-1.35/bin/tar")),
        ("NIXCI_ZSTD", tools.join("zstd-1.5.7/bin/zstd")),
        ("NIXCI_JQ", tools.join("jq-1.8.2/bin/jq")),
    ];
    let mut found = Vec::new();
    for (var, default) in wanted {
        let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
        if !path.is_file() {
            test_support::skip(&format!(
                "{} ({var}) is missing: run `cargo xtask reference-tools`",
                path.display()
            ));
            return None;
        }
        found.push((var, path));
    }
    for program in ["node", "sponge", "nix", "sha256sum"] {
        test_support::tool(program, "the replay runs it; `cargo xtask reference-tools`")?;
    }
    Some(found)
}

/// Runs a reference script, failing with its whole output.
fn run_script(script: &str, args: &[&Path], env: &[(&'static str, PathBuf)]) -> String {
    let path = reference_dir().join(script);
    let out = Command::new(&path)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{script} {args:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares two `describe-out.sh` descriptions, first layer first.
fn assert_same_layers(expected: &Path, actual: &Path) {
    let read = |dir: &Path, name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
    };
    let (want, got) = (
        read(expected, "store-manifest.txt"),
        read(actual, "store-manifest.txt"),
    );
    if want != got {
        panic!("{}", first_differences(&want, &got, expected, actual));
    }
    for layer in ["layers.txt", "hash"] {
        let (want, got) = (read(expected, layer), read(actual, layer));
        assert_eq!(
            want,
            got,
            "the store trees agree but {layer} differs ({} vs {})",
            expected.display(),
            actual.display()
        );
    }
}

/// The store-tree layer's mismatch: the first differing manifest lines.
fn first_differences(want: &str, got: &str, expected: &Path, actual: &Path) -> String {
    let (w, g): (Vec<_>, Vec<_>) = (want.lines().collect(), got.lines().collect());
    let mut report = format!(
        "the store tree differs ({} entries expected, {} got; `<type> <mode> <size> <sha256> <path>`)\n",
        w.len(),
        g.len()
    );
    let mut shown = 0;
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i).copied(), g.get(i).copied());
        if a != b {
            report += &format!(
                "entry {}:\n  expected {}\n  got      {}\n",
                i + 1,
                a.unwrap_or("(none)"),
                b.unwrap_or("(none)")
            );
            shown += 1;
            if shown == 5 {
                break;
            }
        }
    }
    report
        + &format!(
            "full manifests: {} and {}",
            expected.join("store-manifest.txt").display(),
            actual.join("store-manifest.txt").display()
        )
}

#[test]
fn replay_reproduces_the_recorded_pnpm10_output() {
    let Some(tools) = tools() else { return };
    let fixtures = repo_root().join("update-pnpm-hash/tests/fixtures");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let hash = run_script(
        "fetch-pnpm-deps.sh",
        &[
            Path::new("--fetcher-version"),
            Path::new("3"),
            Path::new("--out"),
            &out,
            &fixtures.join("pnpm10-project"),
        ],
        &tools,
    );
    // Under target/, not the temp dir: a failure's report points at it, after the temp dir is gone.
    let described = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pnpm10-project.described");
    let _ = std::fs::remove_dir_all(&described);
    run_script("describe-out.sh", &[&out, &described], &tools);
    assert_eq!(
        std::fs::read_to_string(described.join("hash")).unwrap(),
        hash,
        "the harness printed another hash than `nix hash path` of its $out"
    );
    let expected = fixtures.join("pnpm10-project.reference");
    assert_same_layers(&expected, &described);
}

/// Writes a description as `describe-out.sh` does, for the comparison's own tests.
fn description(dir: &Path, manifest: &str, layers: &str, hash: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("store-manifest.txt"), manifest).unwrap();
    std::fs::write(dir.join("layers.txt"), layers).unwrap();
    std::fs::write(dir.join("hash"), hash).unwrap();
    dir.to_path_buf()
}

const MANIFEST: &str = "d 555 - - ./\nf 444 3 ab ./v10/x\n";

#[test]
#[should_panic(expected = "the store tree differs")]
fn a_planted_store_difference_is_reported_as_the_store_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let want = description(&tmp.path().join("a"), MANIFEST, "t 1\n", "sha256-A\n");
    let got = MANIFEST.replace("f 444", "f 555");
    let got = description(&tmp.path().join("b"), &got, "t 2\n", "sha256-B\n");
    assert_same_layers(&want, &got);
}

#[test]
#[should_panic(expected = "the store trees agree but layers.txt differs")]
fn same_tree_other_tar_bytes_is_reported_as_the_tar_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let want = description(&tmp.path().join("a"), MANIFEST, "t 1\n", "sha256-A\n");
    let got = description(&tmp.path().join("b"), MANIFEST, "t 2\n", "sha256-B\n");
    assert_same_layers(&want, &got);
}

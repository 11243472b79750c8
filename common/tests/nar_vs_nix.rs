//! NAR serialisation and hash notations against real Nix on generated trees.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::nix::nar;
use common::nix::nix_hash::Sha256Hash;

fn nix_available() -> bool {
    let ok = Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "nix is required in CI");
        eprintln!("skipping: nix is not installed");
    }
    ok
}

fn nix(args: &[&str]) -> Vec<u8> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .env(
            "NIX_CONFIG",
            "experimental-features = nix-command flakes\nsubstituters = ",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn write_exec(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every node kind and the awkward cases: empty files, executables, symlinks (also
/// dangling and to directories), nested and empty dirs, odd names, padding edges, and
/// a file larger than any buffer on the way.
fn generate(root: &Path) {
    fs::create_dir_all(root.join("nested/deeper/deepest")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    for len in [1usize, 7, 8, 9, 15, 16, 17] {
        fs::write(root.join(format!("len-{len}")), vec![b'x'; len]).unwrap();
    }
    write_exec(&root.join("run.sh"), b"#!/bin/sh\necho hi\n");
    write_exec(&root.join("nested/empty-exec"), b"");
    fs::write(root.join("nested/deeper/deepest/leaf"), b"leaf").unwrap();
    symlink("nested/deeper", root.join("to-dir")).unwrap();
    symlink("does-not-exist", root.join("dangling")).unwrap();
    symlink("../../run.sh", root.join("nested/deeper/up")).unwrap();
    for name in [
        "with space",
        "ünïcödé",
        "-dash",
        "UPPER",
        "a.b.c",
        "quote\"s",
        "new\nline",
        "zz",
    ] {
        fs::write(root.join(name), name.as_bytes()).unwrap();
    }
    let large: Vec<u8> = (0..3_000_003u32).map(|i| (i * 31 % 251) as u8).collect();
    fs::write(root.join("large.bin"), large).unwrap();
}

#[test]
fn dump_and_hash_equal_nix_on_a_generated_tree() {
    if !nix_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    fs::create_dir(&root).unwrap();
    generate(&root);
    let p = root.to_str().unwrap();

    let mut ours = Vec::new();
    nar::dump_path(&root, &mut ours).unwrap();
    let theirs = nix(&["nix-store", "--dump", p]);
    assert!(
        ours == theirs,
        "NAR differs from nix-store --dump ({} vs {} bytes)",
        ours.len(),
        theirs.len()
    );

    let (hash, size) = nar::hash_path(&root).unwrap();
    assert_eq!(size, theirs.len() as u64);
    let sri = String::from_utf8(nix(&["nix", "hash", "path", p])).unwrap();
    assert_eq!(hash.to_sri(), sri.trim());
    let base32 = String::from_utf8(nix(&["nix", "hash", "path", "--base32", p])).unwrap();
    assert_eq!(hash.to_nix_base32(), base32.trim());
    let hex = String::from_utf8(nix(&["nix", "hash", "path", "--base16", p])).unwrap();
    assert_eq!(hash.to_hex(), hex.trim());
}

#[test]
fn single_files_and_symlinks_as_roots_match_nix() {
    if !nix_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    write_exec(&file, b"exec");
    let link = dir.path().join("l");
    symlink("f", &link).unwrap();
    for p in [&file, &link] {
        let mut ours = Vec::new();
        nar::dump_path(p, &mut ours).unwrap();
        assert_eq!(
            ours,
            nix(&["nix-store", "--dump", p.to_str().unwrap()]),
            "{}",
            p.display()
        );
    }
}

#[test]
fn base32_conversion_matches_nix_hash_to_base32() {
    if !nix_available() {
        return;
    }
    for input in [&b""[..], b"a", b"hello world", &[0xffu8; 1000][..]] {
        let h = Sha256Hash::of(input);
        let theirs = String::from_utf8(nix(&["nix", "hash", "to-base32", &h.to_sri()])).unwrap();
        assert_eq!(h.to_nix_base32(), theirs.trim());
        let back = String::from_utf8(nix(&[
            "nix",
            "hash",
            "to-sri",
            "--type",
            "sha256",
            theirs.trim(),
        ]))
        .unwrap();
        assert_eq!(h.to_sri(), back.trim());
    }
}

//! `common::pnpm::store` against the real thing: synthetic package tarballs (every rule of
//! pnpm's own tar parser) installed by real pnpm 10 as nixpkgs' fetchPnpmDeps runs it, the
//! store fixed up as its fixupPhase does (jq 1.8.2, chmod), and compared file by file
//! (names, modes, bytes, order) with the tree our store emits; plus our jq printer against
//! Node's `JSON.stringify` piped through the real jq 1.8.2.
//!
//! Tools: pnpm (NIXCI_PNPM, else $NIXCI_TOOLS_DIR/pnpm-<ver>/bin/pnpm as `cargo xtask
//! reference-tools` installs it, else installed here from npm into that directory) and jq
//! 1.8.2 (NIXCI_JQ, else $NIXCI_TOOLS_DIR/jq-1.8.2/bin/jq). Under CI=true a missing tool
//! fails the test.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::pnpm::store::{
    PackageTarball, Store, StoreError, StoreLayout, StoreSink, TarballSource,
};
use sha2::{Digest, Sha512};

/// nixpkgs' pnpm_10 (R's /work/notes: 10.34.5; the store is the same with 10.34.9).
const PNPM_VERSION: &str = "10.34.5";

fn tools_dir() -> PathBuf {
    std::env::var_os("NIXCI_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/nixci-tools")
        })
}

fn missing(what: &str) -> Option<PathBuf> {
    assert!(std::env::var_os("CI").is_none(), "{what} is required in CI");
    eprintln!("skipping: {what}");
    None
}

/// Real pnpm 10: the env override, R's nixpkgs-layout install, or an npm install here.
fn pnpm() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIXCI_PNPM") {
        return Some(PathBuf::from(p));
    }
    let dir = tools_dir().join(format!("pnpm-{PNPM_VERSION}"));
    for candidate in [dir.join("bin/pnpm"), dir.join("node_modules/.bin/pnpm")] {
        if candidate.exists() {
            return Some(candidate);
        }
    }
    let installed = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(format!("pnpm@{PNPM_VERSION}"))
        .status()
        .is_ok_and(|s| s.success());
    let bin = dir.join("node_modules/.bin/pnpm");
    if installed && bin.exists() {
        Some(bin)
    } else {
        missing(&format!("pnpm {PNPM_VERSION} (npm install failed)"))
    }
}

fn jq() -> Option<PathBuf> {
    let path = std::env::var_os("NIXCI_JQ")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools_dir().join("jq-1.8.2/bin/jq"));
    if path.exists() {
        Some(path)
    } else {
        missing(&format!(
            "jq 1.8.2 at {} (cargo xtask reference-tools builds it)",
            path.display()
        ))
    }
}

// ---------------------------------------------------------------- synthetic tarballs

/// One raw tar header block with a correct checksum.
fn header(name: &[u8], mode: &str, size: u64, kind: u8, link: &[u8], prefix: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name);
    h[100..100 + mode.len()].copy_from_slice(mode.as_bytes());
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

#[derive(Default)]
struct TarBuilder(Vec<u8>);

impl TarBuilder {
    fn raw(&mut self, h: [u8; 512], data: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&h);
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.resize(self.0.len() + pad, 0);
        self
    }
    fn file(&mut self, name: &str, mode: &str, data: &[u8]) -> &mut Self {
        self.raw(
            header(name.as_bytes(), mode, data.len() as u64, b'0', b"", b""),
            data,
        )
    }
    fn entry(&mut self, name: &[u8], kind: u8, link: &[u8]) -> &mut Self {
        self.raw(header(name, "0000755", 0, kind, link, b""), b"")
    }
    fn pax(&mut self, kind: u8, records: &[(&str, &str)]) -> &mut Self {
        let mut body = String::new();
        for (k, v) in records {
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while format!("{len}{rest}").len() != len {
                len += 1;
            }
            body.push_str(&format!("{len}{rest}"));
        }
        let h = header(
            b"PaxHeaders/x",
            "0000644",
            body.len() as u64,
            kind,
            b"",
            b"",
        );
        self.raw(h, body.as_bytes())
    }
    fn long_name(&mut self, name: &str) -> &mut Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        let h = header(
            b"././@LongLink",
            "0000644",
            data.len() as u64,
            b'L',
            b"",
            b"",
        );
        self.raw(h, &data)
    }
    fn finish(&mut self) -> Vec<u8> {
        self.0.resize(self.0.len() + 1024, 0);
        std::mem::take(&mut self.0)
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn manifest(name: &str, extra: &str) -> Vec<u8> {
    format!("{{\"name\": \"{name}\", \"version\": \"1.0.0\"{extra}}}\n").into_bytes()
}

/// The synthetic packages: (dependency name, tarball bytes).
fn synthetic_packages() -> Vec<(&'static str, Vec<u8>)> {
    let shared = b"shared content, stored once\n";
    let long = format!("package/{}/deep-file.js", "d".repeat(120));
    let pax_path = format!("package/{}.txt", "p".repeat(140));
    let a = TarBuilder::default()
        .entry(b"package/", b'5', b"")
        .file(
            "package/package.json",
            "0000644",
            &manifest("syn-rules", ""),
        )
        .file("package/plain.txt", "0000644", b"plain\n")
        .file("package/bin/tool", "0000755", b"#!/bin/sh\necho tool\n")
        .file("package/group-exec", "0000010", b"only group may run me\n")
        .file("package/setuid", "0004755", b"setuid\n")
        .file("package/typed-mode", "0100644", b"mode with type bits\n")
        .file("package/no-perms", "0000000", b"mode 0\n")
        .file("package/empty", "0000644", b"")
        .file("package/shared.txt", "0000644", shared)
        .file("package/shared-exec", "0000755", shared)
        .file("package/dup.txt", "0000644", b"first\n")
        .file("package/dup.txt", "0000755", b"second, wins\n")
        .entry(b"package/hardlink", b'1', b"package/plain.txt")
        .entry(b"package/symlink", b'2', b"plain.txt")
        .entry(b"package/subdir/", b'5', b"")
        .long_name(&long)
        .file("package/truncated-by-L", "0000644", b"gnu long name\n")
        .pax(b'x', &[("path", &pax_path), ("mtime", "1.5")])
        .file("package/short", "0000644", b"pax path\n")
        .pax(b'g', &[("comment", "global comment only")])
        .pax(b'x', &[("path", "nodirectory.txt")])
        .file(
            "package/ignored",
            "0000644",
            b"pax path without a slash keeps its name\n",
        )
        .file("package/a/./b/../c.txt", "0000644", b"normalised\n")
        .file("package//double//slash.txt", "0000644", b"double slashes\n")
        .file("package/../../escape.txt", "0000644", b"dotdot\n")
        .file("toplevel.txt", "0000644", b"no slash: kept whole\n")
        .file(
            "package\\backslash.txt",
            "0000644",
            b"stripped at a backslash\n",
        )
        .file("package/checkedAt", "0000644", b"jq deletes this key\n")
        .file(
            "package/ctl-\x01-\x7f-é-\u{2028}.txt",
            "0000644",
            b"odd names\n",
        )
        .raw(
            header(b"package/deep.txt", "0000644", 7, b'0', b"", b"package/pre"),
            b"prefix\n",
        )
        .raw(
            header(b"x/y.txt", "0000644", 6, b'0', b"", b"package"),
            b"pfx2\n\n",
        )
        .raw(
            header(b"package/bad-\xff\xfe.txt", "0000644", 4, b'0', b"", b""),
            b"bad\n",
        )
        .finish();
    let b = TarBuilder::default()
        .file("root-not-package/package.json", "0000644", &{
            let mut m = b"\xef\xbb\xbf".to_vec();
            m.extend(manifest(
                "syn-build",
                r#", "scripts": {"install": "node-gyp rebuild", "test": ""}"#,
            ));
            m
        })
        .file("root-not-package/binding.gyp", "0000644", b"{}\n")
        .file("root-not-package/shared.txt", "0000644", shared)
        .finish();
    let c = TarBuilder::default()
        .file(
            "package/package.json",
            "0000644",
            &manifest("syn-hooks", r#", "scripts": {"postinstall": ""}"#),
        )
        .file("package/.hooks/pre", "0000755", b"hook\n")
        .finish();
    let mut multi = gzip(&b[..1024]);
    multi.extend(gzip(&b[1024..]));
    vec![
        ("syn-rules", gzip(&a)),
        ("syn-build", multi),
        ("syn-hooks", c), // not gzipped: pnpm parses the bytes as they are
        ("syn-large", large_files_package()),
    ]
}

/// Files from 1 MB on are hashed after pass 1, eight at a time from the spill: more of
/// them than lanes, on both sides of the threshold and of the reader's 1 MB chunk, one
/// also as an exec file and one twice under two names.
fn large_files_package() -> Vec<u8> {
    let mut tar = TarBuilder::default();
    tar.file(
        "package/package.json",
        "0000644",
        &manifest("syn-large", ""),
    );
    // Pseudo-random bytes: the top byte of Knuth's MMIX linear congruential generator.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = |len: usize| -> Vec<u8> {
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        };
        std::iter::repeat_with(&mut next).take(len).collect()
    };
    let mib = 1 << 20;
    let sizes = [
        mib - 1,
        mib,
        mib + 1,
        mib + 112,
        3 * mib / 2,
        2 * mib,
        2 * mib + 127,
    ];
    let sizes = sizes.into_iter().chain([3 * mib, 1, 5 * mib + 3]);
    let mut last = Vec::new();
    for (i, size) in sizes.enumerate() {
        last = noise(size);
        tar.file(&format!("package/blob-{i}.bin"), "0000644", &last);
    }
    tar.file("package/blob-again.bin", "0000644", &last)
        .file("package/bin/blob", "0000755", &last);
    gzip(&tar.finish())
}

// ---------------------------------------------------------------- the reference replay

/// nixpkgs' install and fixup phases (pkgs/build-support/node/fetch-pnpm-deps/default.nix,
/// 00d3e9499656a99482f2d245bb600253927e40d2) with real pnpm and jq; returns the store.
fn replay(pnpm: &Path, jq: &Path, project: &Path, work: &Path) -> PathBuf {
    let store = work.join("store");
    let home = work.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let script = r#"
        set -euo pipefail
        pnpm() { "$PNPM" "$@"; }
        (cd "$HOME" && pnpm config set manage-package-manager-versions false \
          && pnpm config set side-effects-cache false && pnpm config set update-notifier false)
        pnpm install --lockfile-only --ignore-scripts >&2
        pnpm config set store-dir "$storePath"
        pnpm install --force --ignore-scripts --registry=https://registry.npmjs.org/ --frozen-lockfile >&2
        rm -rf $storePath/{v3,v10}/tmp
        for f in $(find $storePath -name "*.json"); do
          "$JQ" --sort-keys "del(.. | .checkedAt?)" $f > "$f.sponge"; mv "$f.sponge" $f
        done
        rm -rf $storePath/{v3,v10}/projects
        find $storePath -type f -name "*-exec" -print0 | xargs --no-run-if-empty -0 chmod 555
        find $storePath -type f -not -name "*-exec" -print0 | xargs --no-run-if-empty -0 chmod 444
        find $storePath -type d -print0 | xargs --no-run-if-empty -0 chmod 555
    "#;
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(project)
        .env("HOME", &home)
        .env("PNPM", pnpm)
        .env("JQ", jq)
        .env("storePath", &store)
        .env("npm_config_update_notifier", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    store
}

/// (kind, mode, sha512) of a tree entry; kind is 'd' or 'f'.
type Entry = (char, u32, Vec<u8>);

/// Every entry of a directory tree, keyed by its path relative to the root (`.`, `v10`, …).
fn walk(root: &Path) -> BTreeMap<String, Entry> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), ".".to_owned())];
    while let Some((path, name)) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            out.insert(name.clone(), ('d', mode, Vec::new()));
            for child in std::fs::read_dir(&path).unwrap() {
                let child = child.unwrap();
                let file_name = child.file_name().to_str().unwrap().to_owned();
                let child_name = match name.as_str() {
                    "." => file_name,
                    _ => format!("{name}/{file_name}"),
                };
                stack.push((child.path(), child_name));
            }
        } else {
            assert!(meta.is_file(), "unexpected non-file {name} in the store");
            let digest = Sha512::digest(std::fs::read(&path).unwrap()).to_vec();
            out.insert(name, ('f', mode, digest));
        }
    }
    out
}

/// Collects what the store emits, in order, and the text of its JSON files.
#[derive(Default)]
struct Collect(Vec<(String, Entry)>, BTreeMap<String, String>);

impl StoreSink for Collect {
    fn dir(&mut self, path: &str, mode: u32) -> std::io::Result<()> {
        self.0.push((path.to_owned(), ('d', mode, Vec::new())));
        Ok(())
    }
    fn file(
        &mut self,
        path: &str,
        mode: u32,
        size: u64,
        data: &mut dyn Read,
    ) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes)?;
        assert_eq!(
            bytes.len() as u64,
            size,
            "{path}: size given differs from the bytes"
        );
        if path.ends_with(".json") {
            self.1.insert(
                path.to_owned(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
        self.0.push((
            path.to_owned(),
            ('f', mode, Sha512::digest(&bytes).to_vec()),
        ));
        Ok(())
    }
}

/// GNU tar's `--sort=name` order: component by component, bytes within a component.
fn tar_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

fn assert_same_tree(ours: Collect, theirs: &BTreeMap<String, Entry>, store: &Path) {
    let names: Vec<&String> = ours.0.iter().map(|(n, _)| n).collect();
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| tar_order(a, b));
    assert_eq!(names, sorted, "entries are not in --sort=name order");
    let our_json = ours.1;
    let ours: BTreeMap<String, Entry> = ours.0.into_iter().collect();
    let only_ours: Vec<_> = ours.keys().filter(|k| !theirs.contains_key(*k)).collect();
    let only_theirs: Vec<_> = theirs.keys().filter(|k| !ours.contains_key(*k)).collect();
    let differ: Vec<_> = ours
        .iter()
        .filter(|(k, v)| theirs.get(*k).is_some_and(|t| t != *v))
        .map(|(k, v)| {
            format!(
                "{k}: ours {:?} {:o}, pnpm's {:?} {:o}",
                v.0, v.1, theirs[k].0, theirs[k].1
            )
        })
        .collect();
    if !(only_ours.is_empty() && only_theirs.is_empty() && differ.is_empty()) {
        let index_files: Vec<String> = our_json
            .iter()
            .filter(|(k, text)| std::fs::read_to_string(store.join(k)).ok().as_ref() != Some(*text))
            .map(|(k, text)| {
                let pnpm = std::fs::read_to_string(store.join(k)).unwrap_or_default();
                format!("{k}\n--- ours:\n{text}--- pnpm's:\n{pnpm}")
            })
            .collect();
        panic!(
            "store trees differ\nonly ours: {only_ours:#?}\nonly pnpm's: {only_theirs:#?}\ndiffer: {differ:#?}\nJSON files that differ:\n{}",
            index_files.join("\n")
        );
    }
}

#[test]
fn synthetic_tarballs_give_pnpm_10s_store() {
    let (Some(pnpm), Some(jq)) = (pnpm(), jq()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    std::fs::create_dir_all(project.join("tarballs")).unwrap();
    let mut deps = Vec::new();
    let mut packages = Vec::new();
    for (name, bytes) in synthetic_packages() {
        let rel = format!("tarballs/{name}.tgz");
        std::fs::write(project.join(&rel), &bytes).unwrap();
        deps.push(format!("\"{name}\": \"file:{rel}\""));
        // What the lockfile records: `file:` pkgId, the tarball's sha512 integrity.
        let sri = {
            use base64::Engine;
            let digest = Sha512::digest(&bytes);
            format!(
                "sha512-{}",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        };
        packages.push(PackageTarball {
            pkg_id: format!("file:{rel}"),
            integrity: Some(sri),
            source: TarballSource::Bytes(Arc::from(bytes)),
        });
    }
    std::fs::write(
        project.join("package.json"),
        format!("{{\"name\": \"probe\", \"version\": \"1.0.0\", \"private\": true, \"dependencies\": {{{}}}}}", deps.join(", ")),
    )
    .unwrap();
    let store_dir = replay(&pnpm, &jq, &project, work.path());
    let lockfile = std::fs::read_to_string(project.join("pnpm-lock.yaml")).unwrap();
    for p in &packages {
        assert!(
            lockfile.contains(p.integrity.as_deref().unwrap()),
            "lockfile lacks {}: {lockfile}",
            p.pkg_id
        );
    }

    let store = Store::build(packages, 2).unwrap();
    // 4 index files; 25 + 2 + 2 + 12 distinct (content, exec) pairs: syn-build's shared.txt
    // is syn-rules' (stored once), the same bytes as an exec file are a file of their own.
    assert_eq!((store.index_count(), store.file_count()), (4, 41));
    let mut ours = Collect::default();
    // A tiny budget forces many groups, so regrouping is exercised too.
    store.write(&mut ours, 64, 2).unwrap();
    assert_same_tree(ours, &walk(&store_dir), &store_dir);
}

#[test]
fn jq_printer_matches_node_and_jq_1_8_2() {
    let Some(jq) = jq() else { return };
    // Values as pnpm's JSON.parse/JSON.stringify see them, then jq; ours from the same text.
    let corpus = r#"{"name": "x\u0001\u001f\u007f\t\n\"\\/é\u2028😀\ufffd", "version": 1.5,
        "n": [0, -0, 1e21, 1e20, 1.5e-7, 0.000001, 123456789012345678901234, -2.5, 1.0, 33188],
        "nested": {"checkedAt": 1, "b": {"checkedAt": {"x": 1}, "a": []}, "e": {}},
        "Z": true, "a": null, "\u00e9": 1, "é": 2, "\uffff": 3, "😀": 4}"#;
    let node = Command::new("node")
        .args([
            "-e",
            "process.stdout.write(JSON.stringify(JSON.parse(process.argv[1])))",
            corpus,
        ])
        .output();
    let Some(node) = node.ok().filter(|o| o.status.success()) else {
        assert!(std::env::var_os("CI").is_none(), "node is required in CI");
        eprintln!("skipping: node is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.json");
    std::fs::write(&file, &node.stdout).unwrap();
    let theirs = Command::new(&jq)
        .args(["--sort-keys", "del(.. | .checkedAt?)"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(theirs.status.success());
    let mut value: serde_json::Value = serde_json::from_str(corpus).unwrap();
    common::pnpm::store::jq_json::delete_checked_at(&mut value);
    let ours = common::pnpm::store::jq_json::jq_pretty(&value);
    assert_eq!(ours, String::from_utf8(theirs.stdout).unwrap());
}

/// `(pkgId, integrity)` of each `packages:` entry of a pnpm-lock.yaml v9 (test-only reader:
/// keys are the two-space-indented lines, integrity the `resolution:` line below them).
fn lockfile_packages(lockfile: &str) -> Vec<(String, String)> {
    let section = lockfile.split("\npackages:\n").nth(1).unwrap_or_default();
    let section = section.split("\nsnapshots:\n").next().unwrap_or_default();
    let mut out = Vec::new();
    let mut key = None;
    for line in section.lines() {
        if let Some(k) = line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            key = Some(k.trim_end_matches(':').trim_matches('\'').to_owned());
        } else if let Some(rest) = line.trim().strip_prefix("resolution: {integrity: ") {
            let integrity = rest.trim_end_matches('}').trim().to_owned();
            out.push((key.take().unwrap(), integrity));
        }
    }
    out
}

#[test]
fn registry_packages_give_pnpm_10s_store() {
    let (Some(pnpm), Some(jq)) = (pnpm(), jq()) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    // Scoped, an alias, bins and exec files, a native binary package for another platform
    // (fetched anyway under --force), a transitive dependency.
    std::fs::write(
        project.join("package.json"),
        r#"{"name": "probe", "version": "1.0.0", "private": true, "dependencies": {
            "is-number": "7.0.0", "@types/node": "20.11.0", "node-gyp-build": "4.8.0",
            "@esbuild/darwin-arm64": "0.19.12", "my-ms": "npm:ms@2.1.3"}}"#,
    )
    .unwrap();
    let store_dir = replay(&pnpm, &jq, &project, work.path());
    let lockfile = std::fs::read_to_string(project.join("pnpm-lock.yaml")).unwrap();
    let locked = lockfile_packages(&lockfile);
    assert_eq!(locked.len(), 6, "{lockfile}");
    let tarballs = work.path().join("tarballs");
    std::fs::create_dir_all(&tarballs).unwrap();
    let mut packages = Vec::new();
    for (pkg_id, integrity) in locked {
        // `npm pack` downloads the very tarball the registry serves pnpm. Tried three
        // times: a registry hiccup (or another npm on the machine) is not a store bug.
        let pack = || {
            Command::new("npm")
                .args(["pack", "--json", "--silent", &pkg_id])
                .current_dir(&tarballs)
                .output()
                .unwrap()
        };
        let mut out = pack();
        for _ in 0..2 {
            if out.status.success() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
            out = pack();
        }
        assert!(out.status.success(), "npm pack {pkg_id}: {out:?}");
        let packed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(packed[0]["integrity"], integrity.as_str(), "{pkg_id}");
        let file = tarballs.join(packed[0]["filename"].as_str().unwrap());
        packages.push(PackageTarball {
            pkg_id,
            integrity: Some(integrity),
            source: TarballSource::File(file),
        });
    }
    let store = Store::build(packages, 2).unwrap();
    let mut ours = Collect::default();
    store.write(&mut ours, 1 << 20, 2).unwrap();
    assert_same_tree(ours, &walk(&store_dir), &store_dir);
}

/// Runs `pnpm install` on a project depending on one `file:` tarball; pnpm's stderr+stdout
/// when it fails, `None` when it succeeds.
fn pnpm_refusal(pnpm: &Path, tarball: &[u8]) -> Option<String> {
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("bad.tgz"), tarball).unwrap();
    std::fs::write(
        project.join("package.json"),
        r#"{"name": "probe", "version": "1.0.0", "private": true, "dependencies": {"bad": "file:bad.tgz"}}"#,
    )
    .unwrap();
    let out = Command::new(pnpm)
        .args(["install", "--ignore-scripts", "--store-dir"])
        .arg(work.path().join("store"))
        .current_dir(&project)
        .env("HOME", work.path())
        .env("npm_config_update_notifier", "false")
        .output()
        .unwrap();
    (!out.status.success()).then(|| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn tarballs_pnpm_refuses_are_refused() {
    let Some(pnpm) = pnpm() else { return };
    let good = |t: &mut TarBuilder| {
        t.file("package/package.json", "0000644", &manifest("bad", ""));
    };
    let mut long_link = TarBuilder::default();
    good(&mut long_link);
    let mut k = b"package/target".to_vec();
    k.push(0);
    long_link.raw(
        header(b"././@LongLink", "0000644", k.len() as u64, b'K', b"", b""),
        &k,
    );
    let mut checksum = TarBuilder::default();
    good(&mut checksum);
    let mut h = header(b"package/x.txt", "0000644", 2, b'0', b"", b"");
    h[150] ^= 1;
    checksum.raw(h, b"x\n");
    let cases = [
        (
            "GNU K long link name",
            long_link.finish(),
            "Unsupported file type",
            "unsupported tar entry type 'K'",
        ),
        (
            "bad header checksum",
            checksum.finish(),
            "Invalid checksum",
            "invalid checksum",
        ),
    ];
    for (what, tar, theirs, ours) in cases {
        let refusal =
            pnpm_refusal(&pnpm, &gzip(&tar)).unwrap_or_else(|| panic!("pnpm accepted: {what}"));
        assert!(refusal.contains(theirs), "{what}: pnpm said {refusal}");
        let err = Store::build(
            vec![PackageTarball {
                pkg_id: "file:bad.tgz".into(),
                integrity: None,
                source: TarballSource::Bytes(Arc::from(gzip(&tar))),
            }],
            1,
        )
        .err()
        .unwrap_or_else(|| panic!("we accepted: {what}"));
        let message = err.to_string();
        assert!(
            message.contains(ours) && message.contains("file:bad.tgz"),
            "{what}: {message}"
        );
    }
}

/// Packages may reach the store in any order (a cold run sends each as its download
/// ends): the store is the same; one that never arrives is an error, not a smaller store.
#[test]
fn arrival_order_does_not_change_the_store_and_a_missing_package_is_an_error() {
    let packages: Vec<PackageTarball> = synthetic_packages()
        .into_iter()
        .map(|(name, bytes)| PackageTarball {
            pkg_id: format!("file:tarballs/{name}.tgz"),
            integrity: None,
            source: TarballSource::Bytes(Arc::from(bytes)),
        })
        .collect();
    let emitted = |store: Store| {
        let mut out = Collect::default();
        store.write(&mut out, 1 << 20, 2).unwrap();
        out.0
    };
    let in_order = emitted(Store::build(packages.clone(), 2).unwrap());
    let patches = BTreeMap::new();
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, p) in packages.iter().enumerate().rev() {
        tx.send((i, p.clone())).unwrap();
    }
    drop(tx);
    let reversed =
        Store::build_streaming(StoreLayout::V10, packages.len(), rx, &patches, 3).unwrap();
    assert_eq!(emitted(reversed), in_order);

    let (tx, rx) = std::sync::mpsc::channel();
    for (i, p) in packages.iter().enumerate().skip(1) {
        tx.send((i, p.clone())).unwrap();
    }
    drop(tx);
    let err = Store::build_streaming(StoreLayout::V10, packages.len(), rx, &patches, 2)
        .err()
        .expect("a package never arrived");
    assert!(
        matches!(err, StoreError::NotArrived { missing: 1 }),
        "{err}"
    );
}

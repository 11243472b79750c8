//! The pnpm store archive (`pnpm-store.tar.zst`) against the programs nixpkgs makes it with:
//! `PaxTarWriter` against GNU tar 1.35, `zstd_cli::Encoder` against the zstd 1.5.7 CLI, and
//! the two together against `tar --zstd` run exactly as fetchPnpmDeps runs it. Every
//! comparison is of bytes. The tools come from `cargo xtask reference-tools`.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::archive::pax_tar::{compare_paths, PaxTarWriter};
use common::archive::zstd_cli::Encoder;
use test_support::reference_tools::{GNU_TAR, ZSTD};

/// `$SOURCE_DATE_EPOCH` in a Nix build.
const SOURCE_DATE_EPOCH: u64 = 315532800;

/// fetchPnpmDeps' tar flags (NixOS/nixpkgs pkgs/build-support/node/fetch-pnpm-deps/default.nix
/// at 00d3e9499656a99482f2d245bb600253927e40d2), before `--zstd -cf OUT .`.
const NIXPKGS_TAR_FLAGS: [&str; 6] = [
    "--sort=name",
    "--mtime=@315532800",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
];

// ---------------------------------------------------------------------------------------
// Deterministic data

/// xorshift64*: the same bytes on every machine, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[(self.next() % 16) as usize]))
            .collect()
    }
}

/// Source-code-like data of `len` bytes: words from a small vocabulary, numbers and runs
/// of noise, so it compresses about as well as a JS package does and matches cross the
/// multithreaded compressor's job boundaries.
struct Generated {
    rng: Rng,
    left: u64,
    pending: Vec<u8>,
}

impl Generated {
    fn new(seed: u64, len: u64) -> Self {
        Self {
            rng: Rng(seed | 1),
            left: len,
            pending: Vec::new(),
        }
    }

    fn refill(&mut self) {
        const WORDS: [&str; 16] = [
            "function",
            "return",
            "const",
            "module.exports",
            "require(",
            "=>",
            "{\n  ",
            "}\n",
            "this.",
            "undefined",
            "async ",
            "await ",
            "import ",
            "from '",
            "';\n",
            "export default ",
        ];
        for _ in 0..64 {
            let r = self.rng.next();
            match r % 8 {
                0 => {
                    let noise = (r >> 8) % 24;
                    for _ in 0..noise {
                        self.pending.push((self.rng.next() >> 24) as u8);
                    }
                }
                1 => self
                    .pending
                    .extend_from_slice(((r >> 8) % 100_000).to_string().as_bytes()),
                _ => self
                    .pending
                    .extend_from_slice(WORDS[((r >> 8) % 16) as usize].as_bytes()),
            }
        }
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        while self.pending.len() < buf.len().min(self.left as usize) {
            self.refill();
        }
        let n = buf.len().min(self.left as usize).min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.left -= n as u64;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------
// Trees

#[derive(Clone)]
enum Kind {
    Dir,
    File { mode: u32, seed: u64, len: u64 },
}

/// A tree as `(path, kind)` in `--sort=name` order; the root `.` comes first.
struct Tree(Vec<(Vec<u8>, Kind)>);

impl Tree {
    fn new() -> Self {
        Self(vec![(b".".to_vec(), Kind::Dir)])
    }

    fn dir(&mut self, path: impl AsRef<[u8]>) {
        self.0.push((path.as_ref().to_vec(), Kind::Dir));
    }

    fn file(&mut self, path: impl AsRef<[u8]>, mode: u32, len: u64) {
        let seed = self.0.len() as u64 * 7919 + len;
        self.0
            .push((path.as_ref().to_vec(), Kind::File { mode, seed, len }));
    }

    fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| compare_paths(&a.0, &b.0));
        self
    }

    fn bytes(&self) -> u64 {
        self.0
            .iter()
            .map(|(_, k)| {
                if let Kind::File { len, .. } = k {
                    *len
                } else {
                    0
                }
            })
            .sum()
    }

    /// Writes the tree under `root` with fetchPnpmDeps' fixup permissions (dirs as given,
    /// set last so that read-only directories can be filled).
    fn materialize(&self, root: &Path) {
        for (path, kind) in &self.0 {
            let p = on_disk(root, path);
            match kind {
                Kind::Dir => std::fs::create_dir_all(&p).unwrap(),
                Kind::File { mode, seed, len } => {
                    let mut f = std::fs::File::create(&p).unwrap();
                    io::copy(&mut Generated::new(*seed, *len), &mut f).unwrap();
                    f.set_permissions(PermissionsExt::from_mode(*mode)).unwrap();
                }
            }
        }
        for (path, _) in self.0.iter().rev().filter(|(_, k)| matches!(k, Kind::Dir)) {
            let p = on_disk(root, path);
            std::fs::set_permissions(p, PermissionsExt::from_mode(0o555)).unwrap();
        }
    }

    /// Our archive of the tree, file contents streamed from the generator.
    fn archive<W: Write>(&self, out: W) -> io::Result<W> {
        self.archive_with(out, |_, seed, len| Box::new(Generated::new(seed, len)))
    }

    /// Our archive of the tree materialized at `root`, file contents read from there (as
    /// the store builder streams them from the tarball cache).
    fn archive_from(&self, root: &Path, out: impl Write) -> io::Result<()> {
        let open = |path: &[u8], _, _| -> Box<dyn Read> {
            Box::new(std::fs::File::open(root.join(OsStr::from_bytes(path))).unwrap())
        };
        self.archive_with(out, open).map(drop)
    }

    fn archive_with<W: Write>(
        &self,
        out: W,
        mut open: impl FnMut(&[u8], u64, u64) -> Box<dyn Read>,
    ) -> io::Result<W> {
        let mut w = PaxTarWriter::new(out, SOURCE_DATE_EPOCH)?;
        for (path, kind) in &self.0 {
            match kind {
                Kind::Dir => w.dir(path, 0o555)?,
                Kind::File { mode, seed, len } => {
                    w.file(path, *mode, *len, &mut open(path, *seed, *len))?
                }
            }
        }
        w.finish()
    }
}

/// Where the tree's `path` lives under `root` (`.` is the root itself).
fn on_disk(root: &Path, path: &[u8]) -> std::path::PathBuf {
    if path == b"." {
        return root.to_path_buf();
    }
    root.join(OsStr::from_bytes(path))
}

/// A temporary directory whose read-only members are made writable again before removal,
/// so the tree is removed even when the tests do not run as root.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(self.0.path())
            .status();
    }
}

/// Runs fetchPnpmDeps' tar command in `root` (the C locale of a Nix build, no zstd
/// settings from the environment), `zstd` first on PATH when `zstd` is given.
fn nixpkgs_tar(tar: &Path, root: &Path, out: &Path, zstd: Option<&Path>) {
    let mut cmd = Command::new(tar);
    cmd.current_dir(root)
        .env("LC_ALL", "C")
        .env_remove("ZSTD_CLEVEL")
        .env_remove("ZSTD_NBTHREADS")
        .args(NIXPKGS_TAR_FLAGS);
    if let Some(zstd) = zstd {
        let dir = zstd.parent().unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap())
            .arg("--zstd");
    }
    let output = cmd.arg("-cf").arg(out).arg(".").output().unwrap();
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Fails with where the two byte strings first differ, and a hex dump around it.
fn assert_same_bytes(what: &str, ours: &[u8], theirs: &[u8]) {
    if ours == theirs {
        return;
    }
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let around = |b: &[u8]| {
        let start = at.saturating_sub(16);
        let end = (at + 48).min(b.len());
        format!("{:?}", String::from_utf8_lossy(&b[start.min(end)..end]))
    };
    panic!(
        "{what}: ours is {} bytes, the reference {}; first difference at byte {at} (block {}, offset {} in it)\n  ours:      {}\n  reference: {}",
        ours.len(),
        theirs.len(),
        at / 512,
        at % 512,
        around(ours),
        around(theirs)
    );
}

fn tar_matches(tree: Tree) {
    let Some(tar) = GNU_TAR.for_test() else {
        return;
    };
    let tree = tree.sorted();
    let scratch = Scratch::new();
    let root = scratch.path().join("store");
    tree.materialize(&root);
    let out = scratch.path().join("out.tar");
    nixpkgs_tar(&tar, &root, &out, None);
    let theirs = std::fs::read(&out).unwrap();
    let ours = tree.archive(Vec::new()).unwrap();
    assert_same_bytes("tar", &ours, &theirs);
}

// ---------------------------------------------------------------------------------------
// PaxTarWriter vs GNU tar 1.35

#[test]
fn empty_store_matches_gnu_tar() {
    tar_matches(Tree::new());
}

#[test]
fn long_odd_and_large_names_match_gnu_tar() {
    let mut t = Tree::new();
    // Around the 100-byte name field: "./" + n (+ "/" for directories).
    for n in [97, 98, 99, 100] {
        t.file("f".repeat(n), 0o444, 1);
        t.dir("d".repeat(n));
        t.file(format!("{}/x", "d".repeat(n)), 0o444, 3);
    }
    // Past 155 (ustar's prefix) and 255, with '/' where ustar would have split the name.
    let a = "a".repeat(60);
    let b = "b".repeat(98);
    let c = "c".repeat(250);
    t.dir(&a);
    t.dir(format!("{a}/{b}"));
    t.file(format!("{a}/{b}/{}", "n".repeat(40)), 0o444, 10); // 203 bytes
    t.file(format!("{a}/{b}/{}", "m".repeat(100)), 0o555, 10); // 263 bytes
    t.dir(format!("{a}/{b}/{c}"));
    t.file(format!("{a}/{b}/{c}/{c}"), 0o444, 20); // > 600 bytes
                                                   // Paths of 990 to 1010 bytes: the pax record's length goes from 3 to 4 digits.
    let deep = ["p".repeat(240), "q".repeat(240), "r".repeat(240)];
    t.dir(&deep[0]);
    t.dir(format!("{}/{}", deep[0], deep[1]));
    t.dir(format!("{}/{}/{}", deep[0], deep[1], deep[2]));
    for n in 260..=282 {
        t.file(
            format!(
                "{}/{}/{}/{}",
                deep[0],
                deep[1],
                deep[2],
                "s".repeat(n - 255)
            ),
            0o444,
            0,
        );
    }
    // Non-ASCII and odd bytes: a `path` record for short names too.
    for n in 84..=96 {
        t.file(format!("caf\u{e9}{}", "e".repeat(n - 5)), 0o444, 2);
    }
    t.file("snow \u{2603} man", 0o444, 5);
    t.file(b"raw \xff\xfe bytes".as_slice(), 0o555, 5);
    t.file(b"ctl \x01 \t \\ = %d %f \n".as_slice(), 0o444, 5);
    t.dir("\u{e9}t\u{e9}");
    t.file("\u{e9}t\u{e9}/inner", 0o444, 5);
    // Sort order: '-' and '.' sort before '/' by name, after it by path.
    t.dir("s");
    t.file("s/x", 0o444, 1);
    t.file("s-x", 0o444, 1);
    t.file("s.x", 0o444, 1);
    t.file("S", 0o444, 1);
    // Empty files, exec files, sizes around block boundaries, a large file.
    t.dir("sizes");
    for (i, len) in [0u64, 1, 511, 512, 513, 1024, 10239, 10240, 10241]
        .into_iter()
        .enumerate()
    {
        t.file(
            format!("sizes/{i}"),
            if i % 2 == 0 { 0o444 } else { 0o555 },
            len,
        );
    }
    t.file("sizes/large", 0o444, 24 << 20);
    tar_matches(t);
}

/// The shape fetchPnpmDeps' fixup leaves: `v10/files/XX/<hex>[-exec]`,
/// `v10/index/XX/<hex>-<pkgId>.json`, all 256 + 256 shard directories.
fn pnpm_store(files: usize, mean_len: u64) -> Tree {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut t = Tree::new();
    t.dir("v10");
    t.dir("v10/files");
    t.dir("v10/index");
    for shard in 0..256 {
        t.dir(format!("v10/files/{shard:02x}"));
        t.dir(format!("v10/index/{shard:02x}"));
    }
    let ids = [
        "lodash@4.17.21",
        "@babel+core@7.24.0",
        "@esbuild+linux-x64@0.21.5",
        "@tryghost+kg-default-nodes@1.2.3_@tryghost+kg-clean-basic-html@4.1.1_react@18.3.1",
        "@aws-sdk+client-s3@3.600.0_@aws-sdk+credential-provider-node@3.600.0_@aws-sdk+client-sts@3.600.0",
    ];
    for i in 0..files {
        let shard = rng.hex(2);
        let exec = if rng.next().is_multiple_of(10) {
            "-exec"
        } else {
            ""
        };
        let len = rng.next() % (2 * mean_len);
        t.file(
            format!("v10/files/{shard}/{}{exec}", rng.hex(126)),
            if exec.is_empty() { 0o444 } else { 0o555 },
            len,
        );
        if i % 8 == 0 {
            let id = ids[(rng.next() % ids.len() as u64) as usize];
            t.file(
                format!("v10/index/{}/{}-{id}.json", rng.hex(2), rng.hex(62)),
                0o444,
                300 + rng.next() % 3000,
            );
        }
    }
    t
}

#[test]
fn pnpm_store_shape_matches_gnu_tar() {
    tar_matches(pnpm_store(3000, 4000));
}

// ---------------------------------------------------------------------------------------
// zstd_cli::Encoder vs the zstd 1.5.7 CLI

/// The CLI's output for `len` generated bytes on stdin (as `tar --zstd` feeds it).
fn cli_zstd(zstd: &Path, seed: u64, len: u64) -> Vec<u8> {
    let mut child = Command::new(zstd)
        .env_remove("ZSTD_CLEVEL")
        .env_remove("ZSTD_NBTHREADS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder =
        std::thread::spawn(move || io::copy(&mut Generated::new(seed, len), &mut stdin).unwrap());
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    feeder.join().unwrap();
    assert!(child.wait().unwrap().success());
    out
}

fn ours_zstd(seed: u64, len: u64, workers: Option<u32>) -> Vec<u8> {
    let mut e = match workers {
        Some(n) => Encoder::with_workers(Vec::new(), n).unwrap(),
        None => Encoder::new(Vec::new()).unwrap(),
    };
    // Odd-sized writes: the output must not depend on how the input is cut.
    let mut src = Generated::new(seed, len);
    let mut buf = vec![0; 77_777];
    loop {
        let n = src.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        e.write_all(&buf[..n]).unwrap();
    }
    e.finish().unwrap()
}

#[test]
fn zstd_matches_the_cli_on_small_inputs() {
    let Some(zstd) = ZSTD.for_test() else { return };
    for len in [0, 1, 100, 128 << 10, (128 << 10) + 1, 1 << 20] {
        assert_same_bytes(
            &format!("zstd of {len} bytes"),
            &ours_zstd(len + 3, len, Some(1)),
            &cli_zstd(&zstd, len + 3, len),
        );
    }
}

#[test]
fn zstd_matches_the_cli_across_job_boundaries_with_any_worker_count() {
    let Some(zstd) = ZSTD.for_test() else { return };
    // Jobs are 8 MiB at level 3: exactly one, one and a byte, and several.
    for len in [8 << 20, (8 << 20) + 1, 41 << 20] {
        let theirs = cli_zstd(&zstd, len, len);
        for workers in [1, 3] {
            let what = format!("zstd of {len} bytes with {workers} workers");
            assert_same_bytes(&what, &ours_zstd(len, len, Some(workers)), &theirs);
        }
    }
}

#[test]
fn zstd_matches_the_cli_on_hundreds_of_megabytes() {
    let Some(zstd) = ZSTD.for_test() else { return };
    let len = 320 << 20;
    assert_same_bytes(
        "zstd of 320 MiB",
        &ours_zstd(11, len, None),
        &cli_zstd(&zstd, 11, len),
    );
}

// ---------------------------------------------------------------------------------------
// Both vs `tar --zstd` as fetchPnpmDeps runs it

#[test]
fn store_archive_matches_tar_zstd_as_nixpkgs_runs_it() {
    let (Some(tar), Some(zstd)) = (GNU_TAR.for_test(), ZSTD.for_test()) else {
        return;
    };
    let tree = pnpm_store(12_000, 10_000).sorted();
    let scratch = Scratch::new();
    let root = scratch.path().join("store");
    tree.materialize(&root);
    let out = scratch.path().join("pnpm-store.tar.zst");
    nixpkgs_tar(&tar, &root, &out, Some(&zstd));
    let theirs = std::fs::read(&out).unwrap();

    // Read the files from disk first, so the timing below is of tar + zstd alone.
    tree.archive_from(&root, io::sink()).unwrap();
    let start = Instant::now();
    let mut encoder = Encoder::new(Vec::new()).unwrap();
    tree.archive_from(&root, &mut encoder).unwrap();
    let ours = encoder.finish().unwrap();
    let secs = start.elapsed().as_secs_f64();
    // Not an assertion (speed belongs to benchmarks): for the record.
    eprintln!(
        "tar+zstd of {} entries, {:.1} MB of file data from the page cache: {:.2} s, {:.0} MB/s",
        tree.0.len(),
        tree.bytes() as f64 / 1e6,
        secs,
        tree.bytes() as f64 / 1e6 / secs
    );
    if ours != theirs {
        // Layered: say whether the tar stream or the compression differs.
        let tar_ours = tree.archive(Vec::new()).unwrap();
        let tar_theirs = zstd::decode_all(&theirs[..]).unwrap();
        assert_same_bytes("the tar inside pnpm-store.tar.zst", &tar_ours, &tar_theirs);
        assert_same_bytes("pnpm-store.tar.zst", &ours, &theirs);
    }
}

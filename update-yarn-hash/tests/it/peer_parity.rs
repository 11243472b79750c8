//! Side by side with nixpkgs' own prefetch-yarn-deps (the peer in
//! `../shared/peers/prefetch-yarn-deps/run.sh`, the exact fetchYarnDeps builder, then
//! `nix hash path`) on lockfiles where upstream computes a hash that this tool once
//! refused: merge-conflict markers, bytes that are not UTF-8, and one URL pinned by
//! digests of two algorithms.
//!
//! Upstream downloads only `https://` URLs, so a loopback Node server serves the same
//! files over HTTPS (self-signed, for the peer) and over HTTP (for us, via `--mirror`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::fixture::Package;
use crate::util::{have, run, uyh, Run};

const SERVER_JS: &str = r#"
const fs = require('fs'), http = require('http'), https = require('https'), path = require('path');
const [root, key, cert] = process.argv.slice(2);
const handler = (req, res) => fs.readFile(path.join(root, req.url.split('?')[0]), (err, body) => {
  if (err) { res.writeHead(404, { 'Content-Length': 0 }); res.end(); return; }
  res.writeHead(200, { 'Content-Length': body.length }); res.end(body);
});
const tls = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, handler);
tls.listen(0, '127.0.0.1', () => {
  const plain = http.createServer(handler);
  plain.listen(0, '127.0.0.1', () => console.log(`${tls.address().port} ${plain.address().port}`));
});
"#;

fn shared_dir() -> PathBuf {
    std::env::var_os("NIXCI_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// The peer's `run.sh`, when it and what it needs are here.
fn peer() -> Option<PathBuf> {
    let run_sh = shared_dir().join("peers/prefetch-yarn-deps/run.sh");
    if !run_sh.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is required in CI (set NIXCI_SHARED_DIR)",
            run_sh.display()
        );
        eprintln!(
            "skipping: {} not found (set NIXCI_SHARED_DIR)",
            run_sh.display()
        );
        return None;
    }
    let why = "the prefetch-yarn-deps peer";
    let tools = ["node", "npm", "nix", "openssl"];
    tools.iter().all(|t| have(t, why)).then_some(run_sh)
}

/// A registry on 127.0.0.1: files under `root`, over HTTPS and HTTP.
struct Registry {
    child: Child,
    root: tempfile::TempDir,
    https_port: u16,
    http_port: u16,
}

impl Registry {
    fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        let openssl = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .args(["-keyout", "key.pem", "-out", "cert.pem"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(openssl.status.success(), "{openssl:?}");
        std::fs::write(dir.join("server.js"), SERVER_JS).unwrap();
        let mut child = Command::new("node")
            .args(["server.js", "files", "key.pem", "cert.pem"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Vec<u16> = line
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        Self {
            child,
            root,
            https_port: ports[0],
            http_port: ports[1],
        }
    }

    /// The HTTPS URL of `p`, as it goes into the lockfile.
    fn serve(&self, p: &Package) -> String {
        let file = self
            .root
            .path()
            .join("files")
            .join(p.path().trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, &p.bytes).unwrap();
        format!("https://127.0.0.1:{}{}", self.https_port, p.path())
    }

    fn mirror(&self) -> String {
        format!(
            "https://127.0.0.1:{}/=http://127.0.0.1:{}/",
            self.https_port, self.http_port
        )
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Both hashes of `lock`: ours (the run, for its warnings) and the peer's.
fn side_by_side(run_sh: &Path, registry: &Registry, lock: &[u8]) -> (Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("yarn.lock"), lock).unwrap();
    let mirror = registry.mirror();
    let ours = uyh(
        dir.path(),
        cache.path(),
        &["--print", "--lockfile", "yarn.lock", "--mirror", &mirror],
    );
    let mut cmd = Command::new(run_sh);
    cmd.arg(dir.path().join("yarn.lock"))
        .env("NODE_TLS_REJECT_UNAUTHORIZED", "0");
    let theirs = run(cmd);
    theirs.expect_code(0);
    (ours, theirs.stdout())
}

#[track_caller]
fn assert_same_hash(ours: &Run, theirs: &str) {
    ours.expect_code(0);
    assert!(theirs.starts_with("sha256-"), "peer printed {theirs:?}");
    assert_eq!(ours.stdout(), theirs, "\nours: {ours}");
}

fn entry(key: &str, url: &str, pin: &str) -> String {
    format!("\n{key}:\n  version \"1.0.0\"\n  resolved \"{url}\"\n{pin}")
}

#[test]
fn merge_conflict_markers_hash_as_upstream_merges_them() {
    let Some(run_sh) = peer() else { return };
    let registry = Registry::start();
    let (a1, a2, b, c) = (
        Package::new("a", "1.0.0", 300),
        Package::new("a", "1.1.0", 400),
        Package::new("b", "1.0.0", 500),
        Package::new("c", "1.0.0", 600),
    );
    let pinned = |p: &Package| {
        let url = format!("{}#{}", registry.serve(p), p.sha1_hex());
        (url, format!("  integrity {}\n", p.sri()))
    };
    let [(a1_url, a1_pin), (a2_url, a2_pin), (b_url, b_pin), (c_url, _)] =
        [&a1, &a2, &b, &c].map(pinned);
    // diff3 style, CRLF line ends, an entry only on the later side, and `b` after
    // the conflict: the later side wins `a@^1`, and `a` 1.0.0 is never fetched.
    let lock = format!(
        "# yarn lockfile v1\n\n\n<<<<<<< HEAD{}||||||| base\na@^1:\n  version \"0.9.0\"\n======={}{}\r\n>>>>>>> feature\n{}",
        entry("a@^1", &a1_url, &a1_pin),
        entry("a@^1", &a2_url, &a2_pin).replace('\n', "\r\n"),
        entry("c@^1", &c_url, ""),
        entry("b@^1", &b_url, &b_pin),
    );
    let (ours, theirs) = side_by_side(&run_sh, &registry, lock.as_bytes());
    assert_same_hash(&ours, &theirs);
    ours.expect_stderr_contains("yarn.lock:4: merge-conflict markers");
}

#[test]
fn bytes_that_are_not_utf8_hash_as_upstream_decodes_them() {
    let Some(run_sh) = peer() else { return };
    let registry = Registry::start();
    let a = Package::new("a", "1.0.0", 300);
    let url = format!("{}#{}", registry.serve(&a), a.sha1_hex());
    let mut lock = b"# yarn lockfile v1\n# caf\xe9, \xed\xa0\x80, \xf0\x9f\x98, \xc0\xaf, \xff\xfe, \xe2\x82\n\n".to_vec();
    lock.extend(entry("a@^1", &url, "").bytes());
    lock.extend(b"  license \"MIT\xc3\"\n");
    let (ours, theirs) = side_by_side(&run_sh, &registry, &lock);
    assert_same_hash(&ours, &theirs);
    ours.expect_stderr_contains("yarn.lock:2: not UTF-8");
}

#[test]
fn one_url_pinned_by_sha1_and_sha512_is_checked_against_both() {
    let Some(run_sh) = peer() else { return };
    let registry = Registry::start();
    let a = Package::new("a", "1.0.0", 300);
    let url = registry.serve(&a);
    let lock = format!(
        "# yarn lockfile v1\n\n{}{}",
        entry("a@^1", &format!("{url}#{}", a.sha1_hex()), ""),
        entry("a@~1.0", &url, &format!("  integrity {}\n", a.sri())),
    );
    let (ours, theirs) = side_by_side(&run_sh, &registry, lock.as_bytes());
    assert_same_hash(&ours, &theirs);
}

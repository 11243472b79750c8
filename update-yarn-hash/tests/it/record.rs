//! The hash record on temp git repositories: update, no-op, check, bad input.

use std::fs;
use std::path::Path;

use crate::fixture::{lockfile, mirror, Package};
use crate::server::Server;
use crate::util::{repo, uyh, Run};

struct Repo {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    server: Server,
}

impl Repo {
    fn new() -> Self {
        let r = Self {
            dir: repo(),
            cache: tempfile::tempdir().unwrap(),
            server: Server::start(),
        };
        fs::create_dir_all(r.dir.path().join("example")).unwrap();
        r.set_packages(&[
            Package::new("a", "1.0.0", 100),
            Package::new("b", "2.0.0", 200),
        ]);
        r
    }

    fn set_packages(&self, pkgs: &[Package]) {
        for p in pkgs {
            p.serve(&self.server);
        }
        fs::write(self.path("example/yarn.lock"), lockfile(pkgs)).unwrap();
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn run(&self, cwd: &str, args: &[&str]) -> Run {
        let m = mirror(&self.server);
        let mut all = vec!["--mirror", m.as_str()];
        all.extend_from_slice(args);
        uyh(&self.path(cwd), self.cache.path(), &all)
    }

    fn record(&self) -> String {
        fs::read_to_string(self.path(".nix/yarn-deps.toml")).unwrap()
    }
}

fn mtime(p: &Path) -> std::time::SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

#[test]
fn update_writes_the_documented_record_then_is_a_no_op() {
    let r = Repo::new();
    let first = r.run(".", &["--lockfile", "example/yarn.lock"]);
    first
        .expect_code(0)
        .expect_stdout_contains("example/yarn.lock: sha256-");
    let record = r.record();
    let lock = fs::read(r.path("example/yarn.lock")).unwrap();
    let lock_sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&lock)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let hash = first.stdout().split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(
        record,
        format!(
            "# Written by update-yarn-hash; read by the Nix code. Do not edit by hand.\n\n[\"example/yarn.lock\"]\nlock-sha256 = \"{lock_sha}\"\nhash = \"{hash}\"\n"
        )
    );
    first.expect_stderr_contains("+hash = ");

    // From a subdirectory, with no --lockfile: the record names the lockfile.
    let before = mtime(&r.path(".nix/yarn-deps.toml"));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = r.run("example", &[]);
    again.expect_code(0).expect_stdout_contains("(unchanged)");
    assert_eq!(r.record(), record);
    assert_eq!(
        mtime(&r.path(".nix/yarn-deps.toml")),
        before,
        "an unchanged record is not rewritten"
    );
}

#[test]
fn check_is_fresh_then_stale_and_never_writes() {
    let r = Repo::new();
    r.run(".", &["--lockfile", "example/yarn.lock"])
        .expect_code(0);
    r.run(".", &["--check"])
        .expect_code(0)
        .expect_stdout_contains("up to date");
    let record = r.record();

    r.set_packages(&[Package::new("a", "1.0.1", 100)]);
    let hits = r.server.total_hits();
    let stale = r.run(".", &["--check"]);
    stale
        .expect_code(1)
        .expect_stdout_contains("example/yarn.lock: stale")
        .expect_stdout_contains("run `update-yarn-hash --lockfile example/yarn.lock`");
    assert_eq!(r.record(), record, "--check writes nothing");
    assert_eq!(r.server.total_hits(), hits, "--check fetches nothing");

    let json = r.run(".", &["--check", "--json"]);
    json.expect_code(1);
    test_support::json_schema::assert_valid(&json.stdout());
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    let l = &v["lockfiles"][0];
    assert_eq!(
        (&l["status"], &l["reason"]),
        (&"stale".into(), &"lockfile-changed".into())
    );
    // Both sides: what the record holds (hash with the digest it was computed from),
    // and the lockfile as it is now.
    let field = |name: &str| {
        let line = record.lines().find(|l| l.starts_with(name)).unwrap();
        line.split('"').nth(1).unwrap().to_owned()
    };
    assert_eq!(l["recorded"]["hash"], field("hash ="));
    assert_eq!(l["recorded"]["lock_sha256"], field("lock-sha256 ="));
    assert_ne!(l["current"]["lock_sha256"], field("lock-sha256 ="));
    assert_eq!(
        l["current"]["hash"],
        serde_json::Value::Null,
        "--check computes nothing"
    );
    assert_eq!(l["fix"], "update-yarn-hash --lockfile example/yarn.lock");

    let full = r.run(".", &["--check", "--full"]);
    full.expect_code(1);
    r.run(".", &[])
        .expect_code(0)
        .expect_stdout_contains("written to .nix/yarn-deps.toml");
    r.run(".", &["--check", "--full", "--offline"])
        .expect_code(0);
}

#[test]
fn check_without_a_record_is_stale() {
    let r = Repo::new();
    r.run(".", &["--check", "--lockfile", "example/yarn.lock"])
        .expect_code(1)
        .expect_stdout_contains("not recorded");
}

#[test]
fn a_malformed_lockfile_names_file_line_and_column_and_writes_nothing() {
    let r = Repo::new();
    r.run(".", &["--lockfile", "example/yarn.lock"])
        .expect_code(0);
    let record = r.record();
    fs::write(r.path("example/yarn.lock"), "a@1:\n  version: \"1\"\n").unwrap();
    r.run(".", &[])
        .expect_code(2)
        .expect_stderr_contains("example/yarn.lock:2:15:")
        .expect_stderr_contains("no colon");
    assert_eq!(r.record(), record);
}

#[test]
fn a_berry_lockfile_names_the_right_tool() {
    let r = Repo::new();
    fs::write(
        r.path("example/yarn.lock"),
        "# This file is generated by running \"yarn install\" inside your project.\n\n__metadata:\n  version: 6\n",
    )
    .unwrap();
    r.run(".", &["--lockfile", "example/yarn.lock"])
        .expect_code(2)
        .expect_stderr_contains("yarn-berry-fetcher");
}

#[test]
fn a_garbage_record_is_bad_input_and_left_alone() {
    let r = Repo::new();
    fs::create_dir_all(r.path(".nix")).unwrap();
    fs::write(r.path(".nix/yarn-deps.toml"), "this is [not toml\n").unwrap();
    r.run(".", &[])
        .expect_code(2)
        .expect_stderr_contains(".nix/yarn-deps.toml:1:")
        .expect_stderr_contains("fix: update-yarn-hash --rewrite-record");
    assert_eq!(r.record(), "this is [not toml\n");
}

#[test]
fn a_missing_lockfile_is_bad_input() {
    let r = Repo::new();
    r.run(".", &["--lockfile", "nope/yarn.lock"])
        .expect_code(2)
        .expect_stderr_contains("no such lockfile");
}

#[test]
fn a_hostile_resolved_url_is_refused_before_any_write() {
    let r = Repo::new();
    fs::write(
        r.path("example/yarn.lock"),
        "evil@1:\n  resolved \"git+https://example.org/x/..#deadbeef\"\n",
    )
    .unwrap();
    r.run(".", &["--lockfile", "example/yarn.lock"])
        .expect_code(2)
        .expect_stderr_contains("would be saved as \"..\", which is not a file name");
    assert!(!r.path(".nix/yarn-deps.toml").exists());
}

#[test]
fn a_killed_run_leaves_the_record_intact() {
    let r = Repo::new();
    r.run(".", &["--lockfile", "example/yarn.lock"])
        .expect_code(0);
    let record = r.record();
    let slow = Package::new("slow", "1.0.0", 10);
    r.server.route(
        &slow.path(),
        crate::server::Route::Slow {
            body: slow.bytes.clone(),
            delay: std::time::Duration::from_secs(30),
        },
    );
    fs::write(r.path("example/yarn.lock"), lockfile(&[slow])).unwrap();
    let m = mirror(&r.server);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"))
        .current_dir(r.dir.path())
        .args(["--mirror", &m])
        .env("UPDATE_YARN_HASH_CACHE", r.cache.path())
        .spawn()
        .unwrap();
    while r.server.hits("/slow/-/slow-1.0.0.tgz") == 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(r.record(), record);
    let leftovers: Vec<_> = fs::read_dir(r.path(".nix")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp files beside the record");
}

#[test]
fn concurrent_runs_for_different_lockfiles_keep_both_entries() {
    let r = Repo::new();
    fs::create_dir_all(r.path("other")).unwrap();
    let fast = Package::new("fast", "1.0.0", 10);
    fast.serve(&r.server);
    fs::write(r.path("other/yarn.lock"), lockfile(&[fast])).unwrap();
    let slow = Package::new("slow", "1.0.0", 10);
    r.server.route(
        &slow.path(),
        crate::server::Route::Slow {
            body: slow.bytes.clone(),
            delay: std::time::Duration::from_secs(2),
        },
    );
    fs::write(r.path("example/yarn.lock"), lockfile(&[slow])).unwrap();

    let m = mirror(&r.server);
    let slow_run = std::process::Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"))
        .current_dir(r.dir.path())
        .args(["--mirror", &m, "--lockfile", "example/yarn.lock"])
        .env("UPDATE_YARN_HASH_CACHE", r.cache.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while r.server.hits("/slow/-/slow-1.0.0.tgz") == 0 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While the first run waits for its tarball, another records a different lockfile.
    r.run(".", &["--lockfile", "other/yarn.lock"])
        .expect_code(0);
    let out = slow_run.wait_with_output().unwrap();
    assert!(out.status.success());
    let record = r.record();
    assert!(record.contains("[\"example/yarn.lock\"]"), "{record}");
    assert!(
        record.contains("[\"other/yarn.lock\"]"),
        "the other run's entry survived:\n{record}"
    );
}

#[test]
fn six_concurrent_writers_lose_no_entry() {
    // Each run records its own lockfile; without a lock on the read-merge-write, runs
    // that overlap overwrite each other's entries (the issue measured 330 of 600 lost).
    const WRITERS: usize = 6;
    const ROUNDS: usize = 15;
    let r = Repo::new();
    let keys: Vec<String> = (0..WRITERS).map(|k| format!("p{k}/yarn.lock")).collect();
    for (k, key) in keys.iter().enumerate() {
        let pkg = Package::new(&format!("pkg{k}"), "1.0.0", 10 + k);
        pkg.serve(&r.server);
        fs::create_dir_all(r.path(&format!("p{k}"))).unwrap();
        fs::write(r.path(key), lockfile(&[pkg])).unwrap();
        // Fills the cache, so the concurrent runs are offline and overlap closely.
        r.run(".", &["--lockfile", key]).expect_code(0);
    }
    let m = mirror(&r.server);
    let mut lost = Vec::new();
    for round in 0..ROUNDS {
        fs::remove_file(r.path(".nix/yarn-deps.toml")).unwrap();
        let children: Vec<_> = keys
            .iter()
            .map(|key| {
                std::process::Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"))
                    .current_dir(r.dir.path())
                    .args(["--offline", "--quiet", "--mirror", &m, "--lockfile", key])
                    .env("UPDATE_YARN_HASH_CACHE", r.cache.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let record = r.record();
        for key in &keys {
            if !record.contains(&format!("[\"{key}\"]")) {
                lost.push((round, key.clone()));
            }
        }
    }
    assert_eq!(
        lost,
        [],
        "entries lost (round, lockfile) over {ROUNDS} rounds"
    );
}

/// A record shared with update-pnpm-hash: its pnpm entries are neither read as yarn
/// lockfiles nor dropped.
#[test]
fn pnpm_entries_in_the_record_are_left_to_update_pnpm_hash() {
    let r = Repo::new();
    r.run("example", &["--lockfile", "yarn.lock"])
        .expect_code(0);
    let pnpm_entry = "\n[\"pnpm-lock.yaml\"]\nlock-sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\nfetcher = \"fetchPnpmDeps\"\nfetcher-version = 3\npnpm = \"10\"\nhash = \"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"\n";
    let with_pnpm = r.record().replace(
        "Written by update-yarn-hash;",
        "Written by update-yarn-hash and update-pnpm-hash;",
    ) + pnpm_entry;
    fs::write(r.path(".nix/yarn-deps.toml"), &with_pnpm).unwrap();
    fs::write(r.path("pnpm-lock.yaml"), "not yarn").unwrap();
    r.run("example", &["--check"]).expect_code(0);
    r.run("example", &[]).expect_code(0);
    assert_eq!(r.record(), with_pnpm);
}

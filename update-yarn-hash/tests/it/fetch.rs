//! Downloads against a loopback HTTP server: cache hits, cold fetch, failures.

use std::path::Path;
use std::time::Duration;

use crate::fixture::{lockfile, mirror, Package};
use crate::server::{Route, Server};
use crate::util::uyh;

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub cache: tempfile::TempDir,
    pub server: Server,
}

impl Setup {
    pub fn new(packages: &[Package]) -> Self {
        let s = Self {
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            server: Server::start(),
        };
        for p in packages {
            p.serve(&s.server);
        }
        s.write_lock(packages);
        s
    }

    pub fn write_lock(&self, packages: &[Package]) {
        std::fs::write(self.dir.path().join("yarn.lock"), lockfile(packages)).unwrap();
    }

    pub fn print(&self, extra: &[&str]) -> crate::util::Run {
        let m = mirror(&self.server);
        let mut args = vec!["--print", "--lockfile", "yarn.lock", "--mirror", &m];
        args.extend_from_slice(extra);
        uyh(self.dir.path(), self.cache.path(), &args)
    }
}

pub fn packages() -> Vec<Package> {
    vec![
        Package::new("left-pad", "1.3.0", 3000),
        Package::new("@scope/util", "2.0.1", 70_000),
        Package::new("tiny", "0.0.1", 0),
    ]
}

/// Files in the cache that are entries (not the temp dir).
pub fn cache_entries(cache: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![cache.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn cold_fetch_fills_the_cache_and_a_warm_run_needs_no_network() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let cold = s.print(&[]);
    cold.expect_code(0);
    assert_eq!(s.server.total_hits(), 3, "{cold}");
    let hash = cold.stdout();
    assert!(
        hash.starts_with("sha256-") && hash.ends_with('\n') && hash.lines().count() == 1,
        "{cold}"
    );

    let warm = s.print(&["--offline"]);
    warm.expect_code(0);
    assert_eq!(warm.stdout(), hash, "same hash from the cache");
    assert_eq!(s.server.total_hits(), 3, "warm run made requests\n{warm}");
}

#[test]
fn a_lockfile_change_downloads_only_the_new_tarball() {
    let mut pkgs = packages();
    let s = Setup::new(&pkgs);
    s.print(&[]).expect_code(0);
    let added = Package::new("added", "1.0.0", 500);
    added.serve(&s.server);
    pkgs.push(added.clone());
    s.write_lock(&pkgs);
    s.print(&[]).expect_code(0);
    assert_eq!(s.server.hits(&added.path()), 1);
    assert_eq!(s.server.total_hits(), 4, "only the new tarball was fetched");
}

#[test]
fn not_found_is_final_and_names_the_package_and_url() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    s.server.route(&pkgs[1].path(), Route::Status(404));
    let run = s.print(&[]);
    run.expect_code(3)
        .expect_stderr_contains("@scope/util@^2.0.1")
        .expect_stderr_contains("/@scope/util/-/util-2.0.1.tgz")
        .expect_stderr_contains("HTTP 404");
    assert_eq!(s.server.hits(&pkgs[1].path()), 1, "a 404 is not retried");
    assert!(run.stdout().is_empty(), "no hash printed on failure\n{run}");
}

#[test]
fn server_errors_are_retried_with_backoff() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    s.server.route(
        &pkgs[0].path(),
        Route::FailFirst {
            failures: 2,
            status: 503,
            body: pkgs[0].bytes.clone(),
        },
    );
    let run = s.print(&[]);
    run.expect_code(0);
    assert_eq!(s.server.hits(&pkgs[0].path()), 3);
}

#[test]
fn a_truncated_body_is_retried_and_never_cached() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let body = pkgs[1].bytes.clone();
    s.server.route(
        &pkgs[1].path(),
        Route::Truncated {
            sent: body.len() / 2,
            body,
        },
    );
    let run = s.print(&["--retries", "2"]);
    run.expect_code(3)
        .expect_stderr_contains("gave up after 3 attempts");
    assert_eq!(s.server.hits(&pkgs[1].path()), 3);
    let entries = cache_entries(s.cache.path());
    assert_eq!(
        entries.len(),
        2,
        "only the two good tarballs are cached: {entries:?}"
    );
}

#[test]
fn an_integrity_mismatch_is_refused_and_not_cached() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    s.server
        .route(&pkgs[0].path(), Route::Ok(b"tampered".to_vec()));
    let run = s.print(&[]);
    run.expect_code(3)
        .expect_stderr_contains("left-pad@^1.3.0")
        .expect_stderr_contains("does not match the lockfile's integrity");
    assert_eq!(s.server.hits(&pkgs[0].path()), 1, "a mismatch is final");
    assert!(cache_entries(s.cache.path())
        .iter()
        .all(|e| !e.contains(&pkgs[0].sha1_hex())));
}

#[test]
fn a_silent_server_times_out() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    s.server.route(
        &pkgs[2].path(),
        Route::Slow {
            body: pkgs[2].bytes.clone(),
            delay: Duration::from_secs(4),
        },
    );
    let run = s.print(&["--timeout", "1", "--retries", "0"]);
    run.expect_code(3).expect_stderr_contains("timed out");
}

#[test]
fn offline_lists_what_is_missing() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let run = s.print(&["--offline"]);
    run.expect_code(3)
        .expect_stderr_contains("3 of 3 files are not in the tarball cache")
        .expect_stderr_contains("tiny@^0.0.1");
    assert_eq!(s.server.total_hits(), 0);
}

#[test]
fn a_corrupted_cache_entry_is_detected_and_fetched_again() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let hash = s.print(&[]).stdout();
    let victim = cache_entries(s.cache.path())
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&victim, b"bit rot").unwrap();
    let run = s.print(&["--recompute"]);
    run.expect_code(0);
    assert_eq!(run.stdout(), hash);
    assert_eq!(
        s.server.total_hits(),
        4,
        "the corrupted entry was downloaded again"
    );
}

#[test]
fn a_remembered_hash_is_reused_until_recompute_is_asked_for() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let hash = s.print(&[]).stdout();
    // Without the tarballs, only the memo can answer: same inputs, same hash.
    for p in cache_entries(s.cache.path())
        .iter()
        .filter(|p| p.contains("/sha512/"))
    {
        std::fs::remove_file(p).unwrap();
    }
    let remembered = s.print(&["--offline"]);
    remembered.expect_code(0);
    assert_eq!(remembered.stdout(), hash);
    assert_eq!(s.server.total_hits(), 3);

    let recomputed = s.print(&["--recompute"]);
    recomputed.expect_code(0);
    assert_eq!(recomputed.stdout(), hash);
    assert_eq!(
        s.server.total_hits(),
        6,
        "--recompute fetched and hashed again"
    );

    // A lockfile that differs by one byte is a different key.
    let lock = s.dir.path().join("yarn.lock");
    let mut text = std::fs::read_to_string(&lock).unwrap();
    text.push('\n');
    std::fs::write(&lock, text).unwrap();
    let changed = s.print(&["--offline"]);
    changed.expect_code(0);
    assert_ne!(changed.stdout(), hash);
}

#[test]
fn redirects_are_followed_as_upstream_follows_them() {
    let pkgs = packages();
    let s = Setup::new(&pkgs);
    let moved = format!("/moved{}", pkgs[0].path());
    s.server.route(&moved, Route::Ok(pkgs[0].bytes.clone()));
    s.server.route(
        &pkgs[0].path(),
        Route::Redirect {
            status: 302,
            location: moved.clone(),
        },
    );
    s.print(&[]).expect_code(0);
    assert_eq!(s.server.hits(&moved), 1);

    // prefetch-yarn-deps follows only 301 and 302; a 307 would fail there, so it
    // fails here too, naming the status.
    let s = Setup::new(&pkgs);
    s.server.route(&moved, Route::Ok(pkgs[0].bytes.clone()));
    s.server.route(
        &pkgs[0].path(),
        Route::Redirect {
            status: 307,
            location: moved.clone(),
        },
    );
    s.print(&[])
        .expect_code(3)
        .expect_stderr_contains("HTTP 307");
    assert_eq!(s.server.hits(&moved), 0);
}

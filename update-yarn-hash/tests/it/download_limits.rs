//! What bounds a download against a loopback server: an overall deadline, a capped
//! backoff that honours Retry-After, one failure for a redirect loop, a size bound,
//! and URLs that cannot be fetched refused as bad input.

use std::path::Path;
use std::time::Duration;

use crate::fixture::{lockfile, mirror, Package};
use crate::server::{Route, Server};
use crate::util::{uyh, Run};

struct Setup {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    server: Server,
}

impl Setup {
    fn new(packages: &[Package]) -> Self {
        let s = Self {
            dir: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            server: Server::start(),
        };
        for p in packages {
            p.serve(&s.server);
        }
        s.write(&lockfile(packages));
        s
    }

    fn write(&self, lock: &str) {
        std::fs::write(self.dir.path().join("yarn.lock"), lock).unwrap();
    }

    fn print(&self, extra: &[&str]) -> Run {
        let m = mirror(&self.server);
        let mut args = vec!["--print", "--lockfile", "yarn.lock", "--mirror", &m];
        args.extend_from_slice(extra);
        uyh(self.dir.path(), self.cache.path(), &args)
    }
}

/// Every file under the cache, temp files included.
fn cache_files(cache: &Path) -> Vec<String> {
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

/// The delays of the retries the run announced ("retrying URL in 1.0 s …").
fn announced_delays(run: &Run) -> Vec<f64> {
    run.stderr()
        .lines()
        .filter(|l| l.starts_with("retrying "))
        .filter_map(|l| l.split(" in ").nth(1)?.split(" s ").next()?.parse().ok())
        .collect()
}

#[test]
fn a_trickling_body_stops_at_the_deadline() {
    let tiny = Package::new("tiny", "0.0.1", 0);
    let s = Setup::new(std::slice::from_ref(&tiny));
    // Ten bytes at one a second: never silent for --timeout, but slower than the deadline.
    s.server.route(
        &tiny.path(),
        Route::Drip {
            body: tiny.bytes.clone(),
            interval: Duration::from_secs(1),
        },
    );
    let run = s.print(&["--deadline", "2", "--timeout", "30"]);
    run.expect_code(3)
        .expect_stderr_contains("tiny@^0.0.1")
        .expect_stderr_contains("not done after 2 s, the deadline for one download");
    assert_eq!(
        s.server.hits(&tiny.path()),
        1,
        "a deadline is not retried\n{run}"
    );
    assert!(cache_files(s.cache.path()).is_empty(), "{run}");
}

#[test]
fn retry_after_is_honoured_up_to_the_backoff_cap() {
    let pkgs = [
        Package::new("polite", "1.0.0", 100),
        Package::new("greedy", "1.0.0", 100),
    ];
    let s = Setup::new(&pkgs);
    let route = |after: &str, p: &Package| Route::RetryAfter {
        failures: 1,
        status: 503,
        after: after.to_owned(),
        body: p.bytes.clone(),
    };
    s.server.route(&pkgs[0].path(), route("2", &pkgs[0]));
    // An hour is more than anybody waits: the cap (1 s here) decides.
    s.server.route(&pkgs[1].path(), route("3600", &pkgs[1]));
    let run = s.print(&["--max-backoff", "1"]);
    run.expect_code(0);
    let mut delays = announced_delays(&run);
    delays.sort_by(f64::total_cmp);
    assert_eq!(delays, [1.0, 1.0], "{run}");

    let s = Setup::new(&pkgs[..1]);
    s.server.route(&pkgs[0].path(), route("2", &pkgs[0]));
    let run = s.print(&[]);
    run.expect_code(0);
    assert_eq!(announced_delays(&run), [2.0], "{run}");
    let times = s.server.request_times(&pkgs[0].path());
    assert_eq!(times.len(), 2, "{run}");
    assert!(
        times[1] - times[0] >= Duration::from_secs(2),
        "retried before Retry-After had passed\n{run}"
    );
}

#[test]
fn the_backoff_doubles_up_to_its_cap() {
    let p = Package::new("flaky", "1.0.0", 100);
    let s = Setup::new(std::slice::from_ref(&p));
    s.server.route(
        &p.path(),
        Route::FailFirst {
            failures: 4,
            status: 503,
            body: p.bytes.clone(),
        },
    );
    let run = s.print(&["--retries", "4", "--max-backoff", "1"]);
    run.expect_code(0);
    assert_eq!(announced_delays(&run), [0.2, 0.5, 1.0, 1.0], "{run}");
    assert_eq!(s.server.hits(&p.path()), 5);
}

#[test]
fn a_redirect_loop_fails_once_and_says_so() {
    let p = Package::new("loop", "1.0.0", 100);
    let s = Setup::new(std::slice::from_ref(&p));
    s.server.route(
        &p.path(),
        Route::Redirect {
            status: 302,
            location: p.path(),
        },
    );
    let run = s.print(&[]);
    run.expect_code(3)
        .expect_stderr_contains("loop@^1.0.0")
        .expect_stderr_contains("redirect loop: redirected back to http://127.0.0.1:");
    assert!(!run.stderr().contains("HTTP 302"), "{run}");
    assert!(!run.stderr().contains("retrying"), "{run}");
    assert_eq!(
        s.server.hits(&p.path()),
        1,
        "asked once, the loop seen in its answer\n{run}"
    );
}

/// A package pinned by nothing: before the bound, its oversized body was cached.
fn unpinned_lock(p: &Package) -> String {
    format!(
        "# yarn lockfile v1\n\n\n{}@^{}:\n  version \"{}\"\n  resolved \"{}\"\n",
        p.name,
        p.version,
        p.version,
        p.url()
    )
}

#[test]
fn an_oversized_tarball_is_refused_and_nothing_is_cached() {
    let big = Package::new("big", "1.0.0", 3 << 20);
    let s = Setup::new(std::slice::from_ref(&big));
    s.write(&unpinned_lock(&big));
    let run = s.print(&["--max-tarball-size", "1M"]);
    let announced = format!(
        "is larger than 1048576 bytes (Content-Length: {})",
        big.bytes.len()
    );
    run.expect_code(3)
        .expect_stderr_contains("big@^1.0.0")
        .expect_stderr_contains(&announced);
    assert!(cache_files(s.cache.path()).is_empty(), "{run}");

    // Without a Content-Length the body is cut off as it passes the bound.
    s.server
        .route(&big.path(), Route::Unsized(big.bytes.clone()));
    let run = s.print(&["--max-tarball-size", "1M"]);
    run.expect_code(3)
        .expect_stderr_contains("is larger than 1048576 bytes, the bound for one tarball");
    assert!(cache_files(s.cache.path()).is_empty(), "{run}");
    assert_eq!(
        s.server.hits(&big.path()),
        2,
        "a size is not retried\n{run}"
    );

    // Within the bound it is fetched, Content-Length or not.
    let run = s.print(&["--max-tarball-size", "4M"]);
    run.expect_code(0);
}

#[test]
fn a_url_without_a_host_is_bad_input_at_once() {
    let s = Setup::new(&[]);
    s.write("# yarn lockfile v1\n\n\nnohost@^1:\n  version \"1\"\n  resolved \"https://\"\n");
    let run = s.print(&[]);
    run.expect_code(2).expect_stderr_contains(
        "yarn.lock:4:1: \"https://\" is not a URL that can be downloaded: empty host",
    );
    assert!(!run.stderr().contains("gave up"), "{run}");
    assert_eq!(s.server.total_hits(), 0);
}

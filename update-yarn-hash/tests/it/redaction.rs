//! Credentials in lockfile URLs and `--mirror` targets never reach the output: every
//! error and note shows them as `<redacted>`, while what is fetched and the file names
//! (and so the hash) still use the URL as written.

use std::net::TcpListener;

use crate::fixture::{lockfile, Package, REGISTRY};
use crate::server::{Route, Server};
use crate::util::{uyh, Run};

const SECRET: &str = "s3cr3t";

#[track_caller]
fn assert_redacted(run: &Run) {
    let all = format!("{}{}", run.stdout(), run.stderr());
    assert!(!all.contains(SECRET), "a secret leaked\n{run}");
    assert!(
        all.contains("<redacted>"),
        "nothing was shown redacted\n{run}"
    );
}

fn run_with(lock: &str, mirror: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("yarn.lock"), lock).unwrap();
    let mut args = vec!["--print", "--lockfile", "yarn.lock", "--mirror", mirror];
    args.extend_from_slice(extra);
    uyh(dir.path(), cache.path(), &args)
}

#[test]
fn download_failures_with_credentials_in_url_and_mirror_are_redacted() {
    let p = Package::new("left-pad", "1.3.0", 300);
    // A token in the lockfile's URL, and user:password in the mirror's.
    let lock = lockfile(std::slice::from_ref(&p)).replace(
        &format!("{}#", p.url()),
        &format!("{}?token={SECRET}#", p.url()),
    );
    assert!(lock.contains(SECRET));
    let server = Server::start();
    let mirror = format!(
        "{REGISTRY}={}",
        server
            .base
            .replace("http://", &format!("http://user:{SECRET}@"))
    );
    let run = run_with(&lock, &mirror, &[]);
    run.expect_code(3).expect_stderr_contains("HTTP 404");
    assert_redacted(&run);

    let path = format!("{}?token={SECRET}", p.path());
    for (route, says) in [
        (Route::Status(503), "HTTP 503"),
        (Route::Ok(b"tampered".to_vec()), "does not match"),
    ] {
        server.route(&path, route);
        let run = run_with(&lock, &mirror, &["--retries", "0"]);
        run.expect_code(3).expect_stderr_contains(says);
        assert_redacted(&run);
    }
    server.route(&path, Route::Ok(p.bytes.clone()));
    run_with(&lock, &mirror, &[]).expect_code(0);

    // Connection refused: a port nobody listens on any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = format!("{REGISTRY}=http://user:{SECRET}@{closed}/");
    let run = run_with(&lock, &refused, &["--retries", "0"]);
    run.expect_code(3)
        .expect_stderr_contains("gave up after 1 attempts");
    assert_redacted(&run);
}

#[test]
fn credentials_in_lockfile_urls_are_redacted_in_refusals_and_notes() {
    let server = Server::start();
    let refusal = |resolved: &str| {
        let lock =
            format!("# yarn lockfile v1\n\n\np@1:\n  version \"1\"\n  resolved \"{resolved}\"\n");
        run_with(&lock, &format!("{REGISTRY}={}", server.base), &[])
    };
    let unsupported = refusal(&format!("http://user:{SECRET}@registry.example/p.tgz"));
    unsupported
        .expect_code(2)
        .expect_stderr_contains("don't know how to download");
    assert_redacted(&unsupported);
    let long = "a".repeat(300);
    let unsafe_name = refusal(&format!(
        "https://user:{SECRET}@registry.example/{long}.tgz"
    ));
    unsafe_name
        .expect_code(2)
        .expect_stderr_contains("at most 255 bytes");
    assert_redacted(&unsafe_name);

    // An unpinned entry whose key and URL hold a token: warned about, redacted, and
    // fetched with the token (the server sees the URL as written).
    let url = format!("https://user:{SECRET}@registry.example/p/-/p-1.tgz?token={SECRET}");
    server.route(
        &format!("/p/-/p-1.tgz?token={SECRET}"),
        Route::Ok(b"p".to_vec()),
    );
    let lock =
        format!("# yarn lockfile v1\n\n\n\"p@{url}\":\n  version \"1\"\n  resolved \"{url}\"\n");
    let mirror = format!("https://user:{SECRET}@registry.example/={}", server.base);
    let noted = run_with(&lock, &mirror, &[]);
    noted
        .expect_code(0)
        .expect_stderr_contains("no integrity and no #sha1");
    assert_redacted(&noted);
}

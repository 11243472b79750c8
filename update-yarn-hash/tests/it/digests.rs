//! One URL pinned by entries with digests of different algorithms: the bytes must
//! match each, whether downloaded now or already in the cache (as upstream, which
//! downloads once per entry, checks each against its own digest).

use crate::fixture::{mirror, Package};
use crate::server::Server;
use crate::util::{uyh, Run};

fn lock(p: &Package, sha1: &str, both: bool) -> String {
    let mut text = format!(
        "# yarn lockfile v1\n\n\na@~1.0:\n  version \"1.0.0\"\n  resolved \"{}\"\n  integrity {}\n",
        p.url(),
        p.sri()
    );
    if both {
        text += &format!(
            "\na@^1:\n  version \"1.0.0\"\n  resolved \"{}#{sha1}\"\n",
            p.url()
        );
    }
    text
}

#[test]
fn bytes_must_match_the_digest_of_every_algorithm_cold_and_warm() {
    let p = Package::new("a", "1.0.0", 300);
    let server = Server::start();
    p.serve(&server);
    let dir = tempfile::tempdir().unwrap();
    let m = mirror(&server);
    let run = |cache: &std::path::Path, text: &str, extra: &[&str]| -> Run {
        std::fs::write(dir.path().join("yarn.lock"), text).unwrap();
        let mut args = vec!["--print", "--lockfile", "yarn.lock", "--mirror", &m];
        args.extend_from_slice(extra);
        uyh(dir.path(), cache, &args)
    };
    let wrong = Package::new("b", "1.0.0", 10).sha1_hex();

    let cold = tempfile::tempdir().unwrap();
    run(cold.path(), &lock(&p, &wrong, true), &[])
        .expect_code(3)
        .expect_stderr_contains("line 4: a@~1.0")
        .expect_stderr_contains("does not match the lockfile's integrity: expected sha1-");
    run(cold.path(), &lock(&p, &p.sha1_hex(), true), &[]).expect_code(0);

    // Cached by its sha512 for another lockfile: the sha1 is still checked.
    let warm = tempfile::tempdir().unwrap();
    run(warm.path(), &lock(&p, "", false), &[]).expect_code(0);
    run(warm.path(), &lock(&p, &wrong, true), &["--offline"])
        .expect_code(3)
        .expect_stderr_contains("expected sha1-");
    run(warm.path(), &lock(&p, &p.sha1_hex(), true), &["--offline"]).expect_code(0);
}

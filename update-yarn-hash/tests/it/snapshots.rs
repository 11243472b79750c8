//! Output that is the contract, snapshotted (insta): `--help`, the record diff, and the
//! `--check` report. Hashes, ports and temp paths are filtered, as uv's snapshots do.

use crate::fixture::{lockfile, mirror, Package};
use crate::server::Server;
use crate::util::{repo, uyh, Run};

/// Exit code, stdout and stderr of a run, with the volatile parts replaced.
macro_rules! assert_run_snapshot {
    ($name:expr, $run:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"sha256-[A-Za-z0-9+/]{43}=", "sha256-[HASH]"),
                (r"\b[0-9a-f]{64}\b", "[SHA256]"),
                (r"/tmp/\.tmp[0-9A-Za-z]+", "[TMP]"),
                (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[PORT]"),
            ]
        }, {
            let run: &Run = &$run;
            insta::assert_snapshot!(
                $name,
                format!("exit: {}\n--- stdout\n{}--- stderr\n{}", run.code(), run.stdout(), run.stderr())
            );
        });
    };
}

#[test]
fn help() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_update-yarn-hash"));
    cmd.current_dir(dir.path())
        .arg("--help")
        .env("COLUMNS", "100")
        .env_remove("UPDATE_YARN_HASH_CACHE");
    let run = crate::util::run(cmd);
    assert_help_layout(&run.stdout());
    assert_run_snapshot!("help", run);
}

/// clap wraps help at the terminal (COLUMNS=100 here): nothing may run past it, and
/// the text after the options must fit 80 columns, with every example a command line
/// and its description indented under it, so no line is ever broken out of its column (issue 11 item 9).
fn assert_help_layout(help: &str) {
    for line in help.lines() {
        assert!(line.chars().count() <= 100, "over 100 columns: {line:?}");
    }
    let after = &help[help.find("Print version").expect("the options end")..];
    for line in after.lines().skip(1) {
        assert!(line.chars().count() <= 80, "over 80 columns: {line:?}");
    }
    let examples = &after[after.find("\nExamples:\n").expect("an Examples section") + 11..];
    // A command, or its description (or continuation) indented under it.
    for line in examples.lines().take_while(|l| !l.is_empty()) {
        assert!(
            line.starts_with("  update-yarn-hash") || line.starts_with("      "),
            "an example line broken out of its column: {line:?}"
        );
    }
}

#[test]
fn record_update_then_stale_check() {
    let dir = repo();
    let cache = tempfile::tempdir().unwrap();
    let server = Server::start();
    let pkgs = [
        Package::new("a", "1.0.0", 100),
        Package::new("@scope/b", "2.0.0", 10),
    ];
    for p in &pkgs {
        p.serve(&server);
    }
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/yarn.lock"), lockfile(&pkgs)).unwrap();
    let m = mirror(&server);
    let first = uyh(
        dir.path(),
        cache.path(),
        &["--mirror", &m, "--lockfile", "app/yarn.lock"],
    );
    assert_run_snapshot!("record_update", first);

    std::fs::write(dir.path().join("app/yarn.lock"), lockfile(&pkgs[..1])).unwrap();
    let stale = uyh(dir.path(), cache.path(), &["--check"]);
    assert_run_snapshot!("check_stale", stale);
}

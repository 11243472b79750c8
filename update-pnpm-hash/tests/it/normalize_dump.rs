//! ../reference/normalize-dump.sh (nixpkgs#538919's rewrite of a newer sqlite shell's
//! `.dump` to the older text) against the real shells: the 3.53.4 dump of a database,
//! rewritten, is byte for byte the 3.46.1 dump of it, on values pnpm's index never holds
//! too (quotes, backslashes, other control characters, non-ASCII, empty blobs).

use std::path::Path;
use std::process::{Command, Stdio};

use test_support::reference_tools::{SQLITE, SQLITE_OLD};

use crate::layers;
use crate::util;

fn dump(shell: &Path, db: &Path) -> Vec<u8> {
    let mut cmd = Command::new(shell);
    cmd.arg(db).arg(".dump");
    let run = util::run(cmd);
    run.expect_code(0);
    run.output.stdout
}

fn normalize(text: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(layers::reference_dir().join("normalize-dump.sh"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text).unwrap();
    child.wait_with_output().unwrap()
}

fn database(sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(SQLITE_OLD.path().unwrap());
    cmd.arg(dir.path().join("t.db")).arg(sql);
    util::run(cmd).expect_code(0);
    dir
}

#[test]
fn the_rewritten_3_53_dump_is_the_3_46_dump() {
    let (Some(new), Some(old)) = (SQLITE.for_test(), SQLITE_OLD.for_test()) else {
        return;
    };
    let dir = database(
        "CREATE TABLE package_index (\n          key TEXT PRIMARY KEY,\n          data BLOB NOT NULL\n        ) WITHOUT ROWID\n      ;\
         INSERT INTO package_index VALUES('sha512-x=='||char(9)||'@scope/a@1.0.0', x'd47240');\
         INSERT INTO package_index VALUES('it''s'||char(9)||'back\\slash', x'');\
         INSERT INTO package_index VALUES('é'||char(1)||char(31)||'z', x'00ff');\
         INSERT INTO package_index VALUES('plain, x''41''', x'41');\
         ANALYZE;",
    );
    let db = dir.path().join("t.db");
    let newer = dump(&new, &db);
    let older = dump(&old, &db);
    assert_ne!(newer, older, "the two shells print these rows differently");
    assert!(String::from_utf8_lossy(&newer).contains("unistr("));
    let rewritten = normalize(&newer);
    assert!(rewritten.status.success(), "{rewritten:?}");
    assert_eq!(
        String::from_utf8_lossy(&rewritten.stdout),
        String::from_utf8_lossy(&older)
    );
    // The older text is left as it is.
    assert_eq!(normalize(&older).stdout, older);
}

#[test]
fn a_line_feed_is_refused_naming_the_line() {
    let Some(new) = SQLITE.for_test() else {
        return;
    };
    if SQLITE_OLD.for_test().is_none() {
        return;
    }
    let dir = database(
        "CREATE TABLE t (k TEXT PRIMARY KEY) WITHOUT ROWID; INSERT INTO t VALUES('a'||char(10)||'b');",
    );
    let out = normalize(&dump(&new, &dir.path().join("t.db")));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("normalize-dump.sh: line 4:") && stderr.contains("LF or CR"),
        "{stderr}"
    );
}

//! `common::pnpm::store::sqlite_dump` against the real sqlite3 shell's `.dump` on generated
//! databases shaped as pnpm 11 leaves `index.db`: pnpm's own `CREATE TABLE` text, rows
//! inserted in random order with keys given as UTF-8 hex (so our quoting is not used to
//! build the input), `ANALYZE` for `sqlite_stat1`.
//!
//! The shell: NIXCI_SQLITE3 (any 3.22–3.49 shell), else the sqlite 3.46.1 `cargo xtask
//! reference-tools` builds (test_support's SQLITE_OLD, NIXCI_SQLITE_OLD), never whatever
//! `sqlite3` is on PATH; it must print the older dump form (before `unistr()`, sqlite <
//! 3.50), which fetcherVersion 4 normalises to. Under CI=true a missing shell fails the test.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::pnpm::store::sqlite_dump::IndexDump;

fn sqlite3() -> Option<PathBuf> {
    let path = match std::env::var_os("NIXCI_SQLITE3") {
        Some(p) => PathBuf::from(p),
        None => test_support::reference_tools::SQLITE_OLD.for_test()?,
    };
    let version = Command::new(&path).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    let minor: u32 = version
        .strip_prefix("3.")
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if !(22..50).contains(&minor) {
        test_support::skip(&format!(
            "{} is sqlite {version}; the older .dump form needs a 3.22–3.49 shell (set NIXCI_SQLITE3)",
            path.display()
        ));
        return None;
    }
    Some(path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn generated(rows: usize, seed: u64) -> IndexDump {
    const PIECES: &[&str] = &[
        "sha512-", "AbC+/=", "\t", "@scope/", "pkg", "'", "é", "😀", "\n", "\r", "1.0.0",
    ];
    let mut gen = Gen(seed);
    let mut dump = IndexDump::default();
    while dump.row_count() < rows {
        let key: String = (0..1 + gen.next() % 12)
            .map(|_| PIECES[gen.next() as usize % PIECES.len()])
            .collect();
        let len = [0, 1, 37, 4096, 70000][gen.next() as usize % 5];
        let data: Vec<u8> = (0..len).map(|_| gen.next() as u8).collect();
        dump.insert(key, data);
    }
    dump
}

fn real_dump(dump: &IndexDump, order_seed: u64) -> Vec<u8> {
    let shell = sqlite3().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("index.db");
    // The rows, from the generated set, in a shuffled order.
    let mut text = Vec::new();
    dump.reader().read_to_end(&mut text).unwrap();
    let rows = parse_rows(dump);
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut gen = Gen(order_seed);
    for i in (1..order.len()).rev() {
        order.swap(i, gen.next() as usize % (i + 1));
    }
    let mut script = String::from(
        "PRAGMA journal_mode=WAL;\n\n        CREATE TABLE IF NOT EXISTS package_index (\n          key TEXT PRIMARY KEY,\n          data BLOB NOT NULL\n        ) WITHOUT ROWID\n      ;\nBEGIN;\n",
    );
    for i in order {
        let (key, data) = &rows[i];
        script.push_str(&format!(
            "INSERT OR REPLACE INTO package_index (key, data) VALUES (CAST(X'{}' AS TEXT), X'{}');\n",
            hex(key.as_bytes()),
            hex(data)
        ));
    }
    script.push_str("COMMIT;\nANALYZE;\nVACUUM;\n");
    let mut child = Command::new(&shell)
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    let out = Command::new(&shell).arg(&db).arg(".dump").output().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// The generated rows back, by reading our own model (keys and blobs only).
fn parse_rows(dump: &IndexDump) -> Vec<(String, Vec<u8>)> {
    dump.rows()
        .map(|(k, d)| (k.to_owned(), d.to_vec()))
        .collect()
}

fn ours(dump: &IndexDump) -> Vec<u8> {
    let mut text = Vec::new();
    dump.reader().read_to_end(&mut text).unwrap();
    assert_eq!(text.len() as u64, dump.byte_len());
    text
}

fn assert_same(ours: &[u8], real: &[u8]) {
    if ours != real {
        let at = ours.iter().zip(real).take_while(|(a, b)| a == b).count();
        let line = ours[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        panic!(
            "dump differs at byte {at} (line {line}): ours {:?}, sqlite3 {:?}",
            String::from_utf8_lossy(&ours[at.saturating_sub(40)..(at + 40).min(ours.len())]),
            String::from_utf8_lossy(&real[at.saturating_sub(40)..(at + 40).min(real.len())])
        );
    }
}

#[test]
fn dump_matches_the_sqlite_shell() {
    if sqlite3().is_none() {
        return;
    }
    for (rows, seed) in [(1, 1), (7, 2), (300, 3)] {
        let dump = generated(rows, seed);
        assert_same(&ours(&dump), &real_dump(&dump, seed + 100));
    }
}

#[test]
fn ghost_sized_dump_matches_the_sqlite_shell() {
    if sqlite3().is_none() {
        return;
    }
    let mut gen = Gen(7);
    let mut dump = IndexDump::default();
    for i in 0..2100 {
        let key = format!("sha512-{:016x}{i}==\t@scope/pkg-{i}@1.{i}.0", gen.next());
        let data: Vec<u8> = (0..gen.next() % 3000).map(|_| gen.next() as u8).collect();
        dump.insert(key, data);
    }
    assert_same(&ours(&dump), &real_dump(&dump, 9));
}

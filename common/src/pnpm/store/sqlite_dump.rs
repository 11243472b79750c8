//! `v11/index.db.sql`: the text `sqlite3 index.db .dump` prints for pnpm 11's store index
//! after pnpm-fixup-state-db, in the older form nixpkgs' fetcherVersion 4 normalises it to
//! (nixpkgs #538919), streamed row by row.
//!
//! What the shell prints (sqlite's src/shell.c.in `dump_callback`, and
//! `output_quoted_escaped_string` of the shells before `unistr()`, e.g. 3.40–3.46):
//! `PRAGMA foreign_keys=OFF;`, `BEGIN TRANSACTION;`, each table's stored `CREATE`
//! text and `;`, its rows as `INSERT INTO t VALUES(…);` in primary key order (memcmp of
//! the UTF-8 key for a WITHOUT ROWID table), `sqlite_stat1` as `ANALYZE sqlite_schema;`
//! plus its rows, then `COMMIT;`. Text is quoted with `'` doubled, other bytes as they
//! are, except CR and LF which the shell writes as `\r`/`\n` inside
//! `replace(…,'\r',char(13))` / `replace(…,'\n',char(10))`; blobs are `X'<lowercase hex>'`.
//! The `CREATE TABLE` text is what pnpm's @pnpm/store.index 1100.0.0 executes, from
//! `CREATE` to the end (sqlite drops `IF NOT EXISTS` and keeps the trailing whitespace).
//! `sqlite_stat1` holds the one row `PRAGMA optimize`'s ANALYZE writes for the table:
//! index named after the table, stat `"<rows> 1"` (a unique key); an empty table is not
//! analyzed, so a store without packages has no `sqlite_stat1` at all.

use std::collections::BTreeMap;
use std::io::{self, Read};

/// `package_index`'s schema text as sqlite stores it.
pub const PACKAGE_INDEX_SQL: &str = "CREATE TABLE package_index (\n          key TEXT PRIMARY KEY,\n          data BLOB NOT NULL\n        ) WITHOUT ROWID\n      ";

/// The rows of `package_index`, by key.
#[derive(Debug, Default, Clone)]
pub struct IndexDump {
    rows: BTreeMap<String, Vec<u8>>,
}

impl IndexDump {
    /// Adds a row; a repeated key replaces it (`INSERT OR REPLACE`).
    pub fn insert(&mut self, key: String, data: Vec<u8>) {
        self.rows.insert(key, data);
    }

    /// The rows in dump order.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.rows.iter().map(|(k, d)| (k.as_str(), d.as_slice()))
    }

    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    /// The dump's length in bytes.
    pub fn byte_len(&self) -> u64 {
        let head = (header().len() + footer(self.rows.len()).len()) as u64;
        head + self
            .rows
            .iter()
            .map(|(k, d)| row_line_len(k, d))
            .sum::<u64>()
    }

    /// The dump's bytes, generated as they are read.
    pub fn reader(&self) -> DumpReader<'_> {
        DumpReader {
            dump: self,
            rows: self.rows.iter(),
            buf: header().into_bytes(),
            pos: 0,
            footer_done: false,
        }
    }
}

fn header() -> String {
    format!("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n{PACKAGE_INDEX_SQL};\n")
}

fn footer(rows: usize) -> String {
    // PRAGMA optimize analyzes no empty table: with no rows there is no `sqlite_stat1`
    // (replays with pnpm 11.22.0: 0 rows, none; 1 row, `'1 1'`).
    if rows == 0 {
        return "COMMIT;\n".to_owned();
    }
    let mut s = String::from("ANALYZE sqlite_schema;\n");
    s.push_str("INSERT INTO sqlite_stat1 VALUES(");
    push_text(&mut s, "package_index");
    s.push(',');
    push_text(&mut s, "package_index");
    s.push(',');
    push_text(&mut s, &format!("{rows} 1"));
    s.push_str(");\nCOMMIT;\n");
    s
}

fn row_line(key: &str, data: &[u8], out: &mut Vec<u8>) {
    let mut s = String::with_capacity(key.len() + 40);
    s.push_str("INSERT INTO package_index VALUES(");
    push_text(&mut s, key);
    s.push_str(",X'");
    out.extend_from_slice(s.as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(data.len() * 2 + 4);
    for b in data {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out.extend_from_slice(b"');\n");
}

fn row_line_len(key: &str, data: &[u8]) -> u64 {
    let mut s = String::new();
    push_text(&mut s, key);
    ("INSERT INTO package_index VALUES(".len()
        + s.len()
        + ",X'".len()
        + data.len() * 2
        + "');\n".len()) as u64
}

/// A text value as the shell's `.dump` quotes it.
fn push_text(out: &mut String, text: &str) {
    let cr = text.contains('\r');
    let lf = text.contains('\n');
    if lf {
        out.push_str("replace(");
    }
    if cr {
        out.push_str("replace(");
    }
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    if cr {
        out.push_str(",'\\r',char(13))");
    }
    if lf {
        out.push_str(",'\\n',char(10))");
    }
}

/// [`IndexDump::reader`]: one line in memory at a time.
pub struct DumpReader<'a> {
    dump: &'a IndexDump,
    rows: std::collections::btree_map::Iter<'a, String, Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    footer_done: bool,
}

impl Read for DumpReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if let Some((key, data)) = self.rows.next() {
                row_line(key, data, &mut self.buf);
            } else if !self.footer_done {
                self.footer_done = true;
                self.buf = footer(self.dump.rows.len()).into_bytes();
            } else {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_length() {
        let mut d = IndexDump::default();
        d.insert("b\tit's".into(), vec![0x00, 0xff]);
        d.insert("a\r\nz".into(), vec![]);
        let mut text = String::new();
        d.reader().read_to_string(&mut text).unwrap();
        assert_eq!(text.len() as u64, d.byte_len());
        assert!(text.contains(
            "VALUES(replace(replace('a\\r\\nz','\\r',char(13)),'\\n',char(10)),X'');\nINSERT INTO package_index VALUES('b\tit''s',X'00ff');\n"
        ));
        assert!(text.ends_with("VALUES('package_index','package_index','2 1');\nCOMMIT;\n"));
    }

    #[test]
    fn an_empty_index_has_no_statistics() {
        let mut text = String::new();
        let empty = IndexDump::default();
        empty.reader().read_to_string(&mut text).unwrap();
        assert_eq!(text, format!("{}COMMIT;\n", header()));
        assert_eq!(text.len() as u64, empty.byte_len());
    }
}

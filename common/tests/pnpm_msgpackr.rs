//! `common::pnpm::store::msgpackr` against the real msgpackr 1.11.8 (the version
//! @pnpm/store.index 1100.0.0 pins, which pnpm-fixup-state-db packs with), run under node
//! with `new Packr({ useRecords: true, moreTypes: true })` as @pnpm/store.index creates it.
//! One Packr packs every case in turn, as the fixup packs every row with one, so state
//! kept between `pack` calls would show.
//!
//! msgpackr: NIXCI_MSGPACKR (a node_modules directory holding msgpackr), else
//! $NIXCI_TOOLS_DIR/msgpackr-1.11.8/node_modules, installed there from npm if missing.
//! Under CI=true a missing tool fails the test.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::pnpm::store::js_value::JsValue;
use common::pnpm::store::msgpackr::pack;
use serde_json::{json, Value};

const MSGPACKR_VERSION: &str = "1.11.8";

fn msgpackr_modules() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIXCI_MSGPACKR") {
        return Some(PathBuf::from(p));
    }
    let dir = test_support::reference_tools::tools_dir()?.join(format!("msgpackr-{MSGPACKR_VERSION}"));
    let modules = dir.join("node_modules");
    if modules.join("msgpackr/package.json").exists() {
        return Some(modules);
    }
    let installed = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(format!("msgpackr@{MSGPACKR_VERSION}"))
        .status()
        .is_ok_and(|s| s.success());
    if installed && modules.join("msgpackr/package.json").exists() {
        return Some(modules);
    }
    test_support::skip(&format!("msgpackr {MSGPACKR_VERSION} (npm install failed)"));
    None
}

/// The value in a tagged JSON form node rebuilds exactly (Maps, undefined, key order).
fn tagged(v: &JsValue) -> Value {
    match v {
        JsValue::Undefined => json!(["u"]),
        JsValue::Null => json!(["z"]),
        JsValue::Bool(b) => json!(["b", b]),
        JsValue::Number(n) => json!(["n", n]),
        JsValue::String(s) => json!(["s", s]),
        JsValue::Array(items) => json!(["a", items.iter().map(tagged).collect::<Vec<_>>()]),
        JsValue::Object(props) => json!([
            "o",
            props
                .iter()
                .map(|(k, v)| json!([k, tagged(v)]))
                .collect::<Vec<_>>()
        ]),
        JsValue::Map(entries) => json!([
            "m",
            entries
                .iter()
                .map(|(k, v)| json!([tagged(k), tagged(v)]))
                .collect::<Vec<_>>()
        ]),
    }
}

const NODE_SCRIPT: &str = r#"
const { Packr } = require('msgpackr');
const packr = new Packr({ useRecords: true, moreTypes: true });
const build = ([t, v]) => {
  switch (t) {
    case 'u': return undefined;
    case 'z': return null;
    case 'b': case 's': return v;
    case 'n': return v;
    case 'a': return v.map(build);
    case 'o': { const o = {}; for (const [k, x] of v) o[k] = build(x); return o; }
    case 'm': return new Map(v.map(([k, x]) => [build(k), build(x)]));
  }
};
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const line of lines) process.stdout.write(Buffer.from(packr.pack(build(JSON.parse(line)))).toString('hex') + '\n');
"#;

fn real_msgpackr(cases: &[JsValue]) -> Option<Vec<String>> {
    let modules = msgpackr_modules()?;
    let node = test_support::tool("node", "runs msgpackr")?;
    let mut child = Command::new(node)
        .arg("-e")
        .arg(NODE_SCRIPT)
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for case in cases {
        input.push_str(&tagged(case).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "node failed");
    Some(String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn s(v: &str) -> JsValue {
    JsValue::String(v.to_owned())
}

fn n(v: f64) -> JsValue {
    JsValue::Number(v)
}

fn obj(props: &[(&str, JsValue)]) -> JsValue {
    JsValue::object(props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// A deterministic generator of nested values (xorshift).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self) -> String {
        const PIECES: &[&str] = &["a", "Z", "-", "é", "日本", "😀", "\t", "\"", "0", "lodash"];
        let len = [0, 1, 5, 31, 32, 63, 64, 100][self.next() as usize % 8];
        (0..len).map(|_| PIECES[self.next() as usize % PIECES.len()]).collect()
    }

    fn value(&mut self, depth: u32) -> JsValue {
        let kind = if depth == 0 { self.next() % 5 } else { self.next() % 9 };
        match kind {
            0 => n([0.0, 63.0, 64.0, 255.0, 256.0, 65535.0, 65536.0, 4294967295.0][self.next() as usize % 8]),
            1 => n(-((self.next() % 70000) as f64)),
            2 => s(&self.string()),
            3 => JsValue::Bool(self.next() % 2 == 0),
            4 => [JsValue::Null, JsValue::Undefined, n(0.1), n(4294967296.0), n(9007199254740993.0)]
                [self.next() as usize % 5]
                .clone(),
            5 => JsValue::Array((0..self.next() % 18).map(|_| self.value(depth - 1)).collect()),
            6 => JsValue::Map(
                (0..self.next() % 18)
                    .map(|i| (s(&format!("k{i}:{}", self.string())), self.value(depth - 1)))
                    .collect(),
            ),
            _ => {
                // Few key names, so structures repeat across and within values.
                let keys = ["name", "version", "bin", "0", "7", "dependencies", "é"];
                let count = self.next() % 6;
                JsValue::object(
                    (0..count)
                        .map(|_| (keys[self.next() as usize % keys.len()].to_owned(), self.value(depth - 1)))
                        .collect(),
                )
            }
        }
    }
}

fn cases() -> Vec<JsValue> {
    let mut cases = vec![
        JsValue::Map(vec![]),
        obj(&[]),
        JsValue::Array(vec![]),
        JsValue::Array(vec![obj(&[]), obj(&[]), obj(&[("a", n(1.0))])]),
        s(&"x".repeat(0xffff)),
        s(&"x".repeat(0x10000)),
        s(&"é".repeat(0x80)),
        s(&"日".repeat(21)),
        s(&"😀".repeat(63)),
        n(-0.0),
        n(-2147483648.0),
        n(-2147483649.0),
        n(1e21),
        n(f64::MAX),
        // Many keys: map16 of an object is never used, records are.
        JsValue::object((0..70).map(|i| (format!("key{i}"), n(i as f64))).collect()),
        JsValue::Map((0..70000).map(|i| (s(&format!("{i}")), n(1.0))).collect()),
        // More than 64 distinct structures in one value: ids cycle and get redefined.
        JsValue::Array(
            (0..150)
                .map(|i| obj(&[(&format!("k{}", i % 80), n(i as f64)), ("x", obj(&[("y", n(0.0))]))]))
                .collect(),
        ),
    ];
    // An index entry as pnpm 11 + pnpm-fixup-state-db leave it.
    let file = |size: f64| {
        obj(&[
            ("checkedAt", n(0.0)),
            ("digest", s(&"ab".repeat(64))),
            ("mode", n(420.0)),
            ("size", n(size)),
        ])
    };
    cases.push(obj(&[
        ("requiresBuild", JsValue::Bool(false)),
        (
            "manifest",
            obj(&[
                ("version", s("1.2.3")),
                ("bin", obj(&[("tsc", s("./bin/tsc"))])),
                ("engines", obj(&[("node", s(">=14.17"))])),
                ("name", s("typescript")),
            ]),
        ),
        ("algo", s("sha512")),
        (
            "files",
            JsValue::Map(vec![
                (s("package.json"), file(1234.0)),
                (s("lib/tsc.js"), file(9_000_000.0)),
                (s("LICENSE.txt"), file(0.0)),
            ]),
        ),
    ]));
    cases.push(obj(&[
        ("requiresBuild", JsValue::Bool(true)),
        ("manifest", JsValue::Undefined),
        ("algo", s("sha512")),
        ("files", JsValue::Map(vec![])),
    ]));
    let mut gen = Gen(0x9e3779b97f4a7c15);
    cases.extend((0..400).map(|_| gen.value(4)));
    cases
}

#[test]
fn pack_matches_real_msgpackr() {
    let cases = cases();
    let Some(real) = real_msgpackr(&cases) else {
        return;
    };
    assert_eq!(real.len(), cases.len());
    for (i, (case, expected)) in cases.iter().zip(&real).enumerate() {
        let ours = hex(&pack(case));
        if &ours != expected {
            let at = ours.bytes().zip(expected.bytes()).take_while(|(a, b)| a == b).count() / 2;
            panic!(
                "case {i} differs from msgpackr at byte {at}: ours {}…, msgpackr {}…\nvalue: {}",
                &ours[(at * 2).saturating_sub(16)..(at * 2 + 32).min(ours.len())],
                &expected[(at * 2).saturating_sub(16)..(at * 2 + 32).min(expected.len())],
                tagged(case).to_string().chars().take(400).collect::<String>()
            );
        }
    }
}

//! pnpm 11's JavaScript pieces in `common::pnpm::store` against the real npm packages run
//! under node: `msgpackr` against msgpackr 1.11.8 (the version @pnpm/store.index 1100.0.0
//! pins, which pnpm-fixup-state-db packs with) with `new Packr({ useRecords: true,
//! moreTypes: true })` as @pnpm/store.index creates it (one Packr packs every case in turn,
//! as the fixup packs every row with one, so state kept between `pack` calls would show);
//! `semver_clean` against semver 7.8.5 (the one pnpm 11.22.0's bundle holds).
//!
//! Node: the Node 22 `cargo xtask reference-tools` installs (test_support's NODE_22,
//! NIXCI_NODE22), never whatever `node` is on PATH. Modules: NIXCI_NODE_MODULES (a
//! node_modules directory holding both), else the reference tools' fixup modules
//! ($NIXCI_TOOLS_DIR/pnpm-fixup-state-db/node_modules, NIXCI_FIXUP_NODE_MODULES) when they
//! hold both, else $NIXCI_TOOLS_DIR/pnpm11-js/node_modules, installed there by npm if
//! missing. Under CI=true a missing tool fails the test.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::pnpm::store::js_value::JsValue;
use common::pnpm::store::msgpackr::pack;
use common::pnpm::store::semver_clean::clean_loose;
use serde_json::{json, Value};

const MODULES: [&str; 2] = ["msgpackr@1.11.8", "semver@7.8.5"];

fn node_modules() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIXCI_NODE_MODULES") {
        return Some(PathBuf::from(p));
    }
    let tools = test_support::reference_tools::tools_dir()?;
    let present = |modules: &std::path::Path| {
        MODULES.iter().all(|m| {
            let (name, version) = m.split_once('@').unwrap();
            std::fs::read_to_string(modules.join(name).join("package.json"))
                .is_ok_and(|p| p.contains(&format!("\"version\": \"{version}\"")))
        })
    };
    let fixup = std::env::var_os("NIXCI_FIXUP_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| tools.join("pnpm-fixup-state-db/node_modules"));
    if present(&fixup) {
        return Some(fixup);
    }
    let dir = tools.join("pnpm11-js");
    let modules = dir.join("node_modules");
    if present(&modules) {
        return Some(modules);
    }
    let installed = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .args(MODULES)
        .status()
        .is_ok_and(|s| s.success());
    if installed && present(&modules) {
        return Some(modules);
    }
    test_support::skip(&format!("{} (npm install failed)", MODULES.join(", ")));
    None
}

/// Runs `script` under node with the modules, `input` on stdin; stdout's lines.
fn node(script: &str, input: String) -> Option<Vec<String>> {
    let modules = node_modules()?;
    let node = test_support::reference_tools::NODE_22.for_test()?;
    let mut child = Command::new(node)
        .arg("-e")
        .arg(script)
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "node failed");
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
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
    let mut input = String::new();
    for case in cases {
        input.push_str(&tagged(case).to_string());
        input.push('\n');
    }
    node(NODE_SCRIPT, input)
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
    JsValue::object(
        props
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
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
        (0..len)
            .map(|_| PIECES[self.next() as usize % PIECES.len()])
            .collect()
    }

    fn value(&mut self, depth: u32) -> JsValue {
        let kind = if depth == 0 {
            self.next() % 5
        } else {
            self.next() % 9
        };
        match kind {
            0 => n([
                0.0,
                63.0,
                64.0,
                255.0,
                256.0,
                65535.0,
                65536.0,
                4294967295.0,
            ][self.next() as usize % 8]),
            1 => n(-((self.next() % 70000) as f64)),
            2 => s(&self.string()),
            3 => JsValue::Bool(self.next().is_multiple_of(2)),
            4 => [
                JsValue::Null,
                JsValue::Undefined,
                n(0.1),
                n(4294967296.0),
                n(9007199254740993.0),
            ][self.next() as usize % 5]
                .clone(),
            5 => JsValue::Array(
                (0..self.next() % 18)
                    .map(|_| self.value(depth - 1))
                    .collect(),
            ),
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
                        .map(|_| {
                            (
                                keys[self.next() as usize % keys.len()].to_owned(),
                                self.value(depth - 1),
                            )
                        })
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
                .map(|i| {
                    obj(&[
                        (&format!("k{}", i % 80), n(i as f64)),
                        ("x", obj(&[("y", n(0.0))])),
                    ])
                })
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
            let at = ours
                .bytes()
                .zip(expected.bytes())
                .take_while(|(a, b)| a == b)
                .count()
                / 2;
            panic!(
                "case {i} differs from msgpackr at byte {at}: ours {}…, msgpackr {}…\nvalue: {}",
                &ours[(at * 2).saturating_sub(16)..(at * 2 + 32).min(ours.len())],
                &expected[(at * 2).saturating_sub(16)..(at * 2 + 32).min(expected.len())],
                tagged(case)
                    .to_string()
                    .chars()
                    .take(400)
                    .collect::<String>()
            );
        }
    }
}

const SEMVER_SCRIPT: &str = r#"
const semver = require('semver');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const line of lines) process.stdout.write(JSON.stringify(semver.clean(JSON.parse(line), { loose: true })) + '\n');
"#;

#[test]
fn clean_loose_matches_real_semver() {
    let mut cases: Vec<String> = [
        "1.2.3",
        " =v1.2.3 ",
        "v=1.2.3",
        "==vv1.2.3",
        "01.002.3",
        "1.2.3beta",
        "1.2.3-beta.01+build.7",
        "1.2.34.5",
        "1.2.3-",
        "1.2.3--x",
        "1.2",
        "1.2.3.4.5",
        "9007199254740991.0.0",
        "9007199254740992.0.0",
        "1.2.3-9007199254740991",
        "1.2.3-9007199254740990",
        "1.2.3-00",
        "1.2.3+",
        "1.2.3-a..b",
        "\u{feff}1.2.3",
        "\u{a0}1.2.3\u{3000}",
        "\u{85}1.2.3",
        "1.2.3 -beta",
        " 1.2.3-rc.1 ",
        "1.0.0-alpha-1",
        "1.2.3-é",
        "",
        "v",
        "1.2.3\n",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cases.push(format!("1.2.3-{}", "a".repeat(250)));
    cases.push(format!("1.2.3-{}", "a".repeat(251)));
    cases.push(format!("  1.2.3-{}  ", "a".repeat(250)));
    let input: String = cases.iter().map(|c| json!(c).to_string() + "\n").collect();
    let Some(real) = node(SEMVER_SCRIPT, input) else {
        return;
    };
    for (case, expected) in cases.iter().zip(&real) {
        let expected: Option<String> = serde_json::from_str(expected).unwrap();
        assert_eq!(
            clean_loose(case),
            expected,
            "semver.clean({case:?}, {{ loose: true }})"
        );
    }
}

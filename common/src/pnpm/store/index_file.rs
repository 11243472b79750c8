//! A package's index file (`v10/index/XX/<hex>-<pkgId>.json`) as nixpkgs' fixup leaves it.
//!
//! pnpm 10 writes `JSON.stringify({name, version, requiresBuild, files})` (worker
//! `writeFilesIndexFile` in pnpm's worker/src/start.ts), `name` and `version` copied from
//! the tarball's `package.json` (absent keys omitted, no manifest: `{}`), each file as
//! `{checkedAt, integrity: "sha512-<base64>", mode, size}`. nixpkgs then runs
//! `jq --sort-keys "del(.. | .checkedAt?)"` over it, which also drops a package file that
//! is itself named `checkedAt`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{Map, Value};

use super::jq_json::{delete_checked_at, jq_pretty};
use super::requires_build::requires_build;

/// One file of the package as pnpm indexes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    pub path: String,
    pub sha512: [u8; 64],
    pub mode: u32,
    pub size: u64,
}

/// The manifest as pnpm's `parseJsonBufferSync` reads `package.json`: UTF-8 (invalid bytes
/// replaced), a leading BOM stripped, `JSON.parse`.
pub fn parse_manifest(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    serde_json::from_str(text)
}

/// The index file's bytes after nixpkgs' fixup.
pub fn index_file_bytes(manifest: Option<&Value>, files: &[IndexedFile]) -> Vec<u8> {
    let mut index = Map::new();
    if let Some(Value::Object(m)) = manifest {
        for key in ["name", "version"] {
            if let Some(v) = m.get(key) {
                index.insert(key.to_owned(), v.clone());
            }
        }
    }
    let build = requires_build(manifest, files.iter().map(|f| f.path.as_str()));
    index.insert("requiresBuild".to_owned(), Value::Bool(build));
    let entries = files.iter().map(|f| {
        let entry = serde_json::json!({
            "integrity": format!("sha512-{}", BASE64.encode(f.sha512)),
            "mode": f.mode,
            "size": f.size,
        });
        (f.path.clone(), entry)
    });
    index.insert("files".to_owned(), Value::Object(entries.collect()));
    let mut index = Value::Object(index);
    delete_checked_at(&mut index);
    jq_pretty(&index).into_bytes()
}

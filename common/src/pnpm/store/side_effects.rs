//! The `sideEffects` entry pnpm 11 adds to a patched package's index row.
//!
//! nixpkgs' fetchPnpmDeps for pnpm >= 11 means to turn the side-effects cache off but
//! writes `export npm_config_side_effects_cache false` (a bash slip that sets nothing), so
//! the cache is on: after applying a `patchedDependencies` patch in node_modules pnpm
//! uploads the package directory (`addFilesFromDir`: mode = `stat.mode & 0o777`) and
//! stores `calculateDiff(base files, directory files)` under
//! `<platform>;<arch>;node<major>[;format=2];patch=<patch hash>` (pnpm's `calcDepState`;
//! `;format=2` from 11.28). The directory holds the store's files as imported (0644, or
//! 0755 for `-exec` ones), the patched contents, and the package's own bins made
//! executable by bin linking. Observed in the fetcherVersion 4 replay of Ghost 6.65.0
//! (/work/notes/s2/p11-facts.md): juice's `bin/juice` 0644 -> 0755 is in `added`.

use std::collections::BTreeMap;

use super::index_file::IndexedFile;
use super::js_value::JsValue;
use crate::nix::nix_hash::hex_encode as hex;
use crate::pnpm::posix_path::join_root;

/// The platform part of the key, before the Node major: nixpkgs builds the FOD on
/// x86_64-linux (pnpm's `process.platform;process.arch`); another system gives another
/// hash, and the profile offers no other.
pub const PLATFORM: &str = "linux;x64";

/// `calcDepState`'s key for a patched package under Node `node_major`.
pub fn cache_key(format2: bool, node_major: u32, patch_hash: &str) -> String {
    let format = if format2 { ";format=2" } else { "" };
    format!("{PLATFORM};node{node_major}{format};patch={patch_hash}")
}

/// A package's `patchedDependencies` patch: its hash (sha256 hex of the text with CRLF
/// made LF, as the lockfile records it) and its parsed file changes.
#[derive(Debug, Clone)]
pub struct PackagePatch {
    pub hash: String,
    pub files: Vec<super::patch_file::FilePatch>,
}

/// A file of the package directory after the patch: what `addFilesFromDir` records.
#[derive(Debug, Clone)]
pub struct DirFile {
    pub file: IndexedFile,
    pub content: Vec<u8>,
}

/// `calculateDiff(base, dir)` as the `{added}` record (no file is ever deleted: patches
/// that delete files are refused), and the files it adds to the store.
pub fn diff(base: &[IndexedFile], dir: &[DirFile]) -> (JsValue, Vec<DirFile>) {
    let base_by_path: BTreeMap<&str, &IndexedFile> =
        base.iter().map(|f| (f.path.as_str(), f)).collect();
    // `new Set([...base.keys(), ...dir.keys()])`: base order, then new paths.
    let mut added = Vec::new();
    for d in dir {
        let changed = match base_by_path.get(d.file.path.as_str()) {
            None => true,
            Some(b) => b.sha512 != d.file.sha512 || b.mode != d.file.mode,
        };
        if changed {
            added.push(d.clone());
        }
    }
    let entries = added
        .iter()
        .map(|d| {
            let meta = JsValue::Object(vec![
                ("checkedAt".to_owned(), JsValue::Number(0.0)),
                ("digest".to_owned(), JsValue::String(hex(&d.file.sha512))),
                ("mode".to_owned(), JsValue::Number(f64::from(d.file.mode))),
                ("size".to_owned(), JsValue::Number(d.file.size as f64)),
            ]);
            (JsValue::String(d.file.path.clone()), meta)
        })
        .collect();
    let record = if added.is_empty() {
        JsValue::Object(vec![])
    } else {
        JsValue::Object(vec![("added".to_owned(), JsValue::Map(entries))])
    };
    (record, added)
}

/// The package's own bin targets (`bin` as a string or an object), normalised as
/// `path.join` does; `directories.bin` is not emulated.
pub fn bin_targets(manifest: Option<&JsValue>) -> Vec<String> {
    let targets: Vec<&str> = match manifest.and_then(|m| m.get("bin")) {
        Some(JsValue::String(s)) => vec![s.as_str()],
        Some(JsValue::Object(props)) => props
            .iter()
            .filter_map(|(_, v)| match v {
                JsValue::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => vec![],
    };
    // pnpm's bin paths, without join_root's trailing slash.
    targets
        .into_iter()
        .map(|t| join_root(t).trim_end_matches('/').to_owned())
        .collect()
}

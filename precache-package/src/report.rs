//! The summary: one short human paragraph, or one JSON object for scripts.

use std::collections::BTreeMap;

use common::binary_cache::store_path::StorePath;
use common::binary_cache::{ClosureReport, PathStatus};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub flake: String,
    pub output: String,
    pub out_path: String,
    /// `cached`, `not-cached`, `nothing-to-push` or `pushed`.
    pub status: &'static str,
    pub cache: String,
    pub trusted_keys_from: String,
    pub closure_paths: usize,
    /// False when the closure was discovered through the cache and stops at missing paths.
    pub closure_complete: bool,
    pub cached_paths: usize,
    pub missing: Vec<Missing>,
    pub missing_bytes: u64,
    pub pushed: Option<Pushed>,
    pub query_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Missing {
    pub path: StorePath,
    /// `missing`, `untrusted`, `nar-missing` (the narinfo is there, its NAR is not) or `invalid`.
    pub kind: &'static str,
    pub reason: String,
    pub nar_size: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Pushed {
    pub paths: Vec<StorePath>,
    pub bytes: u64,
    pub seconds: f64,
}

/// The version of the JSON convention (docs/json.md) the documents follow.
pub const JSON_VERSION: u32 = 1;

/// `--json`: the summary in the documented envelope (docs/json.md).
pub fn json(summary: &Summary, exit_code: u8) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        version: u32,
        tool: &'static str,
        exit_code: u8,
        #[serde(flatten)]
        summary: &'a Summary,
    }
    let doc = Document {
        version: JSON_VERSION,
        tool: "precache-package",
        exit_code,
        summary,
    };
    serde_json::to_string_pretty(&doc).expect("serialisable")
}

/// `--json` on failure: the error and the exit code (docs/json.md).
pub fn error_json(message: &str, exit_code: u8) -> String {
    serde_json::json!({
        "version": JSON_VERSION,
        "tool": "precache-package",
        "exit_code": exit_code,
        "error": { "message": message, "exit_code": exit_code },
    })
    .to_string()
}

/// Missing paths with the best size known: the local store's, else the narinfo's.
pub fn missing(report: &ClosureReport, local_sizes: &BTreeMap<StorePath, u64>) -> Vec<Missing> {
    report
        .not_cached()
        .map(|(path, status)| {
            let (kind, reason) = kind_and_reason(status);
            Missing {
                path: path.clone(),
                kind,
                reason,
                nar_size: local_sizes.get(path).copied().or(status.nar_size()),
            }
        })
        .collect()
}

/// Why a path is not cached, for people and (the kind) for scripts.
pub fn kind_and_reason(status: &PathStatus) -> (&'static str, String) {
    match status {
        PathStatus::Missing => ("missing", "not in the cache".to_owned()),
        PathStatus::Untrusted { why, .. } => ("untrusted", why.clone()),
        PathStatus::NarMissing { url, .. } => (
            "nar-missing",
            format!("its narinfo is there but its NAR {url} is not: Nix cannot substitute it"),
        ),
        PathStatus::Invalid { why } => ("invalid", why.clone()),
        PathStatus::Cached { .. } => unreachable!("only paths that are not cached have a reason"),
    }
}

pub fn human(s: &Summary) -> String {
    let mut out = String::new();
    match s.status {
        "cached" => {
            out += &format!(
                "cached: all {} paths of {} are in {}, validly signed\n",
                s.closure_paths, s.out_path, s.cache
            )
        }
        "nothing-to-push" => {
            out += &format!(
                "nothing to push, all {} paths already cached in {}\n",
                s.closure_paths, s.cache
            )
        }
        "not-cached" => {
            let sized = s.missing.iter().filter(|m| m.nar_size.is_some()).count();
            let size = if sized == s.missing.len() {
                bytes(s.missing_bytes)
            } else if sized == 0 {
                "size unknown".to_owned()
            } else {
                format!(
                    "{} for the {sized} whose size is known",
                    bytes(s.missing_bytes)
                )
            };
            out += &format!(
                "not cached: {} of {} paths {} {} ({size})\n",
                s.missing.len(),
                s.closure_paths,
                why_not_cached(&s.missing),
                s.cache,
            );
            if !s.closure_complete {
                out += "  (what the missing paths reference is unknown until they are built or pushed)\n";
            }
            for m in s.missing.iter().take(20) {
                out += &format!("  {}  ({})\n", m.path, m.reason);
            }
            if s.missing.len() > 20 {
                out += &format!(
                    "  ... and {} more (--json lists all)\n",
                    s.missing.len() - 20
                );
            }
        }
        "pushed" => {
            if let Some(p) = &s.pushed {
                out += &format!(
                    "pushed {} ({}) to {} in {:.1}s; all {} closure paths are now cached\n",
                    plural(p.paths.len(), "path"),
                    bytes(p.bytes),
                    s.cache,
                    p.seconds,
                    s.closure_paths
                );
            }
        }
        _ => {}
    }
    out
}

/// "missing from", or, when some are present but unusable, what each kind counts:
/// "not usable from ...: 1 missing, 2 untrusted". An untrusted path is in the cache.
fn why_not_cached(missing: &[Missing]) -> String {
    if missing.iter().all(|m| m.kind == "missing") {
        return "missing from".to_owned();
    }
    let counts: Vec<String> = [
        ("missing", "missing"),
        ("untrusted", "untrusted"),
        ("nar-missing", "without their NAR"),
        ("invalid", "invalid"),
    ]
    .iter()
    .filter_map(|(kind, words)| {
        let n = missing.iter().filter(|m| m.kind == *kind).count();
        (n > 0).then(|| format!("{n} {words}"))
    })
    .collect();
    format!("not usable ({}) from", counts.join(", "))
}

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

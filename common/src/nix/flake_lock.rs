//! `flake.lock` validity, checked without Nix: JSON with `version`, `root` and `nodes`,
//! the root node present, and every input reference resolving to a node.
//!
//! An input is either a node name (`"nixpkgs": "nixpkgs_2"`) or a path of input names
//! followed from the root (`"nixpkgs": ["dwarffs", "nixpkgs"]`, a `follows`).

use std::collections::BTreeMap;

use serde_json::Value;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{path}: {message}\nfix: regenerate it with `nix flake lock` (or restore it with `git checkout HEAD -- {path}`)")]
pub struct FlakeLockError {
    pub path: String,
    pub message: String,
}

/// Checks `bytes` as a flake.lock; `path` names it in errors.
pub fn validate(bytes: &[u8], path: &str) -> Result<(), FlakeLockError> {
    let err = |message: String| FlakeLockError {
        path: path.to_owned(),
        message,
    };
    let json: Value = serde_json::from_slice(bytes).map_err(|e| {
        err(format!(
            "line {}, column {}: not JSON: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let top = json
        .as_object()
        .ok_or_else(|| err("not a JSON object".into()))?;
    match top.get("version").and_then(Value::as_u64) {
        Some(5..=7) => {}
        Some(v) => {
            return Err(err(format!(
                "unsupported lock version {v} (expected 5 to 7)"
            )))
        }
        None => return Err(err("`version` is missing or not a number".into())),
    }
    let root = top
        .get("root")
        .and_then(Value::as_str)
        .ok_or_else(|| err("`root` is missing or not a string".into()))?;
    let nodes = top
        .get("nodes")
        .and_then(Value::as_object)
        .ok_or_else(|| err("`nodes` is missing or not an object".into()))?;
    if !nodes.contains_key(root) {
        return Err(err(format!("the root node {root:?} is not in `nodes`")));
    }
    let inputs = node_inputs(nodes).map_err(err)?;
    for (node, node_inputs) in &inputs {
        for (name, target) in node_inputs {
            resolve(&inputs, root, target).map_err(|m| {
                err(format!(
                    "node {node:?}: input {name:?} does not resolve: {m}"
                ))
            })?;
        }
    }
    Ok(())
}

enum InputRef {
    Node(String),
    Follows(Vec<String>),
}

type Inputs = BTreeMap<String, BTreeMap<String, InputRef>>;

fn node_inputs(nodes: &serde_json::Map<String, Value>) -> Result<Inputs, String> {
    let mut out = BTreeMap::new();
    for (name, node) in nodes {
        let node = node
            .as_object()
            .ok_or_else(|| format!("node {name:?} is not an object"))?;
        let mut refs = BTreeMap::new();
        if let Some(inputs) = node.get("inputs") {
            let inputs = inputs
                .as_object()
                .ok_or_else(|| format!("node {name:?}: `inputs` is not an object"))?;
            for (input, target) in inputs {
                let r = match target {
                    Value::String(s) => InputRef::Node(s.clone()),
                    Value::Array(path) => InputRef::Follows(
                        path.iter()
                            .map(|p| p.as_str().map(str::to_owned))
                            .collect::<Option<_>>()
                            .ok_or_else(|| {
                                format!(
                                    "node {name:?}: input {input:?} has a non-string path element"
                                )
                            })?,
                    ),
                    _ => {
                        return Err(format!(
                            "node {name:?}: input {input:?} is neither a node name nor a path"
                        ))
                    }
                };
                refs.insert(input.clone(), r);
            }
        }
        out.insert(name.clone(), refs);
    }
    Ok(out)
}

/// The node an input reference ends at, following `follows` paths from the root.
fn resolve<'a>(inputs: &'a Inputs, root: &'a str, target: &'a InputRef) -> Result<&'a str, String> {
    resolve_within(inputs, root, target, 0)
}

fn resolve_within<'a>(
    inputs: &'a Inputs,
    root: &'a str,
    target: &'a InputRef,
    depth: usize,
) -> Result<&'a str, String> {
    let mut current = target;
    // A cycle of follows can't be longer than the number of inputs in the file; the
    // same bound caps the nesting of intermediate steps, which would otherwise
    // recurse until the stack overflows on a cycle through a path's prefix.
    let budget: usize = inputs.values().map(BTreeMap::len).sum::<usize>() + 1;
    if depth > budget {
        return Err("the `follows` references form a cycle".into());
    }
    for _ in 0..budget {
        match current {
            InputRef::Node(node) => {
                return inputs
                    .get_key_value(node.as_str())
                    .map(|(k, _)| k.as_str())
                    .ok_or_else(|| format!("there is no node {node:?}"));
            }
            InputRef::Follows(path) => {
                let mut node = root;
                let mut next = None;
                for (i, step) in path.iter().enumerate() {
                    let r = inputs[node].get(step).ok_or_else(|| {
                        format!("node {node:?} has no input {step:?} (path {path:?})")
                    })?;
                    if i + 1 == path.len() {
                        next = Some(r);
                    } else {
                        node = resolve_within(inputs, root, r, depth + 1)?;
                    }
                }
                match next {
                    Some(r) => current = r,
                    // An empty path means the root itself.
                    None => return Ok(root),
                }
            }
        }
    }
    Err("the `follows` references form a cycle".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
  "nodes": {
    "a": { "inputs": { "nixpkgs": ["nixpkgs"] }, "locked": {}, "original": {} },
    "nixpkgs": { "locked": {}, "original": {} },
    "root": { "inputs": { "a": "a", "nixpkgs": "nixpkgs" } }
  },
  "root": "root",
  "version": 7
}"#;

    #[test]
    fn a_lock_with_follows_is_valid() {
        validate(GOOD.as_bytes(), "flake.lock").unwrap();
    }

    #[test]
    fn an_empty_flake_lock_from_nix_is_valid() {
        let nix_28 = r#"{"nodes":{"root":{}},"root":"root","version":7}"#;
        validate(nix_28.as_bytes(), "flake.lock").unwrap();
    }

    #[test]
    fn broken_locks_are_rejected_with_a_reason() {
        let cases = [
            ("{", "not JSON"),
            ("[]", "not a JSON object"),
            (r#"{"nodes":{},"root":"root"}"#, "version"),
            (r#"{"nodes":{},"root":"root","version":7}"#, "root node"),
            (r#"{"nodes":{"root":{}},"version":7}"#, "`root`"),
            (
                r#"{"nodes":{"root":{"inputs":{"x":"gone"}}},"root":"root","version":7}"#,
                "no node \"gone\"",
            ),
            (
                r#"{"nodes":{"root":{"inputs":{"x":["y","z"]}}},"root":"root","version":7}"#,
                "no input \"y\"",
            ),
            (
                r#"{"nodes":{"root":{"inputs":{"x":["y"],"y":["x"]}}},"root":"root","version":7}"#,
                "cycle",
            ),
            (
                r#"{"nodes":{"root":{"inputs":{"x":["x","y"]}}},"root":"root","version":7}"#,
                "cycle",
            ),
            (
                r#"{"nodes":{"a":{"inputs":{"b":["a","b","c"]}},"root":{"inputs":{"a":["a","b"]}}},"root":"root","version":7}"#,
                "cycle",
            ),
        ];
        for (text, expected) in cases {
            let err = validate(text.as_bytes(), "sub/flake.lock")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("sub/flake.lock: "), "{err}");
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}

//! `flake.lock` validity, checked without Nix: JSON with `version`, `root` and `nodes`,
//! the root node present, and every input reference resolving to a node.
//!
//! An input is either a node name (`"nixpkgs": "nixpkgs_2"`) or a path of input names
//! followed from the root (`"nixpkgs": ["dwarffs", "nixpkgs"]`, a `follows`).

use std::collections::{BTreeMap, HashMap, HashSet};

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
    let mut resolver = Resolver::new(&inputs, root);
    for (node, node_inputs) in &inputs {
        for name in node_inputs.keys() {
            resolver.resolve(node, name).map_err(|m| {
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

/// Resolves input references, each `(node, input)` once: a chain of N inputs, each
/// following the one before, takes N steps in all rather than N per input. The walk
/// keeps its own stack, so a chain of any length cannot overflow the thread's.
struct Resolver<'a> {
    inputs: &'a Inputs,
    root: &'a str,
    done: HashMap<(&'a str, &'a str), &'a str>,
    /// Inputs whose `follows` path is being walked: meeting one again is a cycle.
    resolving: HashSet<(&'a str, &'a str)>,
}

/// A `follows` path being walked from the root: `at` is the node `step` steps reach.
struct Walk<'a> {
    key: (&'a str, &'a str),
    path: &'a [String],
    step: usize,
    at: &'a str,
}

impl<'a> Resolver<'a> {
    fn new(inputs: &'a Inputs, root: &'a str) -> Self {
        Self {
            inputs,
            root,
            done: HashMap::new(),
            resolving: HashSet::new(),
        }
    }

    /// The node that `node`'s input `name` ends at, following `follows` paths from the
    /// root (an empty path is the root itself).
    fn resolve(&mut self, node: &'a str, name: &'a str) -> Result<&'a str, String> {
        let mut walks: Vec<Walk<'a>> = Vec::new();
        let mut answer = self.start(&mut walks, (node, name))?;
        loop {
            let Some(walk) = walks.last_mut() else {
                return Ok(answer.expect("an input with no walk left is answered"));
            };
            if let Some(to) = answer.take() {
                walk.at = to;
                walk.step += 1;
            }
            if walk.step == walk.path.len() {
                let walk = walks.pop().expect("the walk just looked at");
                self.resolving.remove(&walk.key);
                self.done.insert(walk.key, walk.at);
                answer = Some(walk.at);
                continue;
            }
            let (at, path) = (walk.at, walk.path);
            let step = path[walk.step].as_str();
            if !self.inputs[at].contains_key(step) {
                return Err(format!("node {at:?} has no input {step:?} (path {path:?})"));
            }
            answer = self.start(&mut walks, (at, step))?;
        }
    }

    /// The answer for `key` when it is known at once; otherwise starts walking its path.
    fn start(
        &mut self,
        walks: &mut Vec<Walk<'a>>,
        key: (&'a str, &'a str),
    ) -> Result<Option<&'a str>, String> {
        if let Some(&to) = self.done.get(&key) {
            return Ok(Some(to));
        }
        if self.resolving.contains(&key) {
            return Err("the `follows` references form a cycle".into());
        }
        match &self.inputs[key.0][key.1] {
            InputRef::Node(to) => self
                .inputs
                .get_key_value(to.as_str())
                .map(|(k, _)| Some(k.as_str()))
                .ok_or_else(|| format!("there is no node {to:?}")),
            InputRef::Follows(path) => {
                self.resolving.insert(key);
                walks.push(Walk {
                    key,
                    path,
                    step: 0,
                    at: self.root,
                });
                Ok(None)
            }
        }
    }
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

    /// A lock of `n` nodes where `n{i}`'s input `x` follows `n{i-1}`'s through the
    /// root, and `n{i}` also names `n{i+1}`: resolving the last input walks all of them.
    pub(crate) fn chain_lock(n: usize) -> String {
        let mut nodes = Vec::with_capacity(n + 1);
        let root_inputs: Vec<String> = (0..n).map(|i| format!("\"a{i}\":\"n{i}\"")).collect();
        nodes.push(format!(
            "\"root\":{{\"inputs\":{{{}}}}}",
            root_inputs.join(",")
        ));
        for i in 0..n {
            let x = if i == 0 {
                "\"n0\"".to_owned()
            } else {
                format!("[\"a{}\",\"x\"]", i - 1)
            };
            let next = format!("n{}", (i + 1) % n);
            nodes.push(format!(
                "\"n{i}\":{{\"inputs\":{{\"x\":{x},\"next\":\"{next}\"}}}}"
            ));
        }
        format!(
            "{{\"nodes\":{{{}}},\"root\":\"root\",\"version\":7}}",
            nodes.join(",")
        )
    }

    #[test]
    fn a_long_follows_chain_resolves_in_linear_time_without_recursion() {
        // The old resolver summed every node's inputs for each input (quadratic) and
        // recursed once per link (a stack overflow at this length).
        validate(chain_lock(100_000).as_bytes(), "flake.lock").unwrap();
    }
}

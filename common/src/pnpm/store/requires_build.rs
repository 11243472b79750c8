//! pnpm's `requiresBuild` flag for a package, as it stores it in the index file.
//!
//! pnpm's `exec/pkg-requires-build/src/index.ts` (v10): the manifest has a truthy
//! `scripts.preinstall`, `scripts.install` or `scripts.postinstall` (JavaScript truthiness),
//! or the package holds `binding.gyp` at its root or anything under `.hooks/` (or `.hooks\`).

use serde_json::Value;

pub fn requires_build<'a>(
    manifest: Option<&Value>,
    mut files: impl Iterator<Item = &'a str>,
) -> bool {
    let scripts = manifest
        .and_then(|m| m.as_object())
        .and_then(|m| m.get("scripts"));
    let has_script = scripts.and_then(Value::as_object).is_some_and(|scripts| {
        ["preinstall", "install", "postinstall"]
            .iter()
            .any(|name| scripts.get(*name).is_some_and(truthy))
    });
    has_script
        || files
            .any(|f| f == "binding.gyp" || f.starts_with(".hooks/") || f.starts_with(".hooks\\"))
}

/// JavaScript's `Boolean(value)` for a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scripts_and_files() {
        let none = std::iter::empty();
        assert!(requires_build(
            Some(&json!({"scripts": {"install": "x"}})),
            none.clone()
        ));
        assert!(!requires_build(
            Some(&json!({"scripts": {"install": ""}})),
            none.clone()
        ));
        assert!(!requires_build(
            Some(&json!({"scripts": {"build": "x", "postinstall": 0}})),
            none.clone()
        ));
        assert!(requires_build(
            Some(&json!({"scripts": {"preinstall": {}}})),
            none.clone()
        ));
        assert!(!requires_build(
            Some(&json!({"scripts": "install"})),
            none.clone()
        ));
        assert!(requires_build(None, ["binding.gyp"].into_iter()));
        assert!(!requires_build(
            None,
            ["src/binding.gyp", ".hooksx/a"].into_iter()
        ));
        assert!(requires_build(None, [".hooks/pre"].into_iter()));
    }
}

//! The parts of a `package.json` that `yarn install` turns into yarn.lock entries.

use std::collections::BTreeMap;

use serde_json::Value;

/// Fields whose change means yarn.lock may need regenerating.
pub const DEPENDENCY_FIELDS: [&str; 6] = [
    "dependencies",
    "devDependencies",
    "optionalDependencies",
    "peerDependencies",
    "resolutions",
    "workspaces",
];

/// The dependency fields present in `bytes`, by name; an error when it is not a JSON object.
pub fn dependency_fields(bytes: &[u8]) -> Result<BTreeMap<&'static str, Value>, String> {
    let json: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("line {}, column {}: not JSON: {e}", e.line(), e.column()))?;
    let object = json.as_object().ok_or("not a JSON object")?;
    Ok(DEPENDENCY_FIELDS
        .iter()
        .filter_map(|f| object.get(*f).map(|v| (*f, v.clone())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dependency_fields_count_and_order_does_not() {
        let a = br#"{"name":"a","version":"1.0.0","dependencies":{"x":"^1","y":"^2"}}"#;
        let b = br#"{"version":"1.0.1","name":"a","dependencies":{"y":"^2","x":"^1"}}"#;
        let c = br#"{"name":"a","dependencies":{"x":"^1.1","y":"^2"}}"#;
        assert_eq!(dependency_fields(a), dependency_fields(b));
        assert_ne!(dependency_fields(a), dependency_fields(c));
        assert!(dependency_fields(b"[1]").is_err());
        assert!(dependency_fields(b"{").unwrap_err().contains("line 1"));
    }
}

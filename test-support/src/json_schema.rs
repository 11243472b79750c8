//! Checks a tool's `--json` output against the documented schema
//! (`docs/json.schema.json`, described in `docs/json.md`) with `check-jsonschema`, the
//! validator CI already installs for the workflow files: the schema file users read is
//! the one the tests hold the real output to, so the two cannot drift apart.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::run;

/// The schema every tool's `--json` document follows.
pub fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/json.schema.json")
}

/// Asserts that `document` (one tool's stdout under `--json`) is valid against the
/// schema; skips (failing under CI=true) without `check-jsonschema`.
#[track_caller]
pub fn assert_valid(document: &str) {
    let Some(checker) = crate::tool(
        "check-jsonschema",
        "validates --json output against docs/json.schema.json",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("document.json");
    std::fs::write(&file, document).unwrap();
    let mut cmd = Command::new(checker);
    cmd.arg("--schemafile").arg(schema_path()).arg(&file);
    let r = run(cmd);
    assert_eq!(
        r.code(),
        0,
        "output does not follow docs/json.schema.json\n--- document:\n{document}\n{r}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_off_the_schema_is_refused() {
        if which::which("check-jsonschema").is_err() {
            return crate::skip("`check-jsonschema` is not installed");
        }
        assert_valid(
            r#"{"version":1,"tool":"nix-hooks","exit_code":2,"error":{"message":"m","exit_code":2}}"#,
        );
        for bad in [
            // camelCase, no version, a bare error string: the shapes before the convention.
            r#"{"error":"m","exitCode":2}"#,
            r#"{"exit":2,"error":"m","findings":[]}"#,
            r#"{"version":1,"tool":"nix-hooks","exit_code":2,"error":{"message":"m","exit_code":2},"extra":1}"#,
        ] {
            let refused = std::panic::catch_unwind(|| assert_valid(bad));
            assert!(refused.is_err(), "accepted {bad}");
        }
    }
}

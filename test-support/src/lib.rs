//! What every test binary needs: where the shared fixtures are, and one rule for what is
//! missing. A missing fixture or tool skips the test locally, with the reason printed,
//! and fails it under `CI=true`, so that CI can never pass by testing nothing.

use std::path::{Path, PathBuf};

pub mod json_schema;
pub mod reference_tools;
pub mod run;

/// Whether this run is CI's (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Ends a test that cannot run here: panics under CI, else prints `skipping: REASON`.
/// Callers `return` right after it.
pub fn skip(reason: &str) {
    if let Err(failure) = skip_in(reason, in_ci()) {
        panic!("{failure}");
    }
}

fn skip_in(reason: &str, ci: bool) -> Result<(), String> {
    if ci {
        return Err(format!(
            "{reason}, and under CI=true nothing may be skipped"
        ));
    }
    eprintln!("skipping: {reason}");
    Ok(())
}

/// `../shared` beside the workspace, or `NIXCI_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("NIXCI_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

/// A file or directory under the shared fixtures, e.g. `fixtures/ghost/yarn.lock`;
/// `None` (after [`skip`]) when it is missing.
pub fn shared_fixture(relative: &str) -> Option<PathBuf> {
    let path = shared_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    skip(&format!(
        "{} is missing (set NIXCI_SHARED_DIR to the shared directory)",
        path.display()
    ));
    None
}

/// A program on PATH; `None` (after [`skip`]) when it is missing.
pub fn tool(name: &str, why: &str) -> Option<PathBuf> {
    match which::which(name) {
        Ok(path) => Some(path),
        Err(_) => {
            skip(&format!("`{name}` is not installed ({why})"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_a_failure_in_ci_only() {
        assert!(skip_in("fixture gone", false).is_ok());
        let failure = skip_in("fixture gone", true).unwrap_err();
        assert!(
            failure.starts_with("fixture gone, and under CI=true"),
            "{failure}"
        );
    }

    #[test]
    fn the_shared_directory_holds_the_fixtures_the_tests_name() {
        // Run with the real ../shared: the paths the tests use must exist there.
        for relative in [
            "fixtures/ghost/yarn.lock",
            "fixtures/ghost-pnpm/pnpm-lock.yaml",
        ] {
            let Some(path) = shared_fixture(relative) else {
                return;
            };
            assert!(path.is_file(), "{}", path.display());
        }
    }
}

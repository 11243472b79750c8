//! Which `--fetcher-version` / `--pnpm` to suggest for a pnpm lockfile nobody recorded
//! yet: the pnpm the project itself names, so the advice fits it. Read, in order, the root
//! `package.json`'s `packageManager` (`pnpm@11.1.0+sha512…`, corepack's field) and the
//! lockfile's `packageManagerDependencies` (pnpm 11 writes the pnpm it manages there,
//! `importers['.'].packageManagerDependencies.pnpm.version`); with neither, pnpm 10.
//! The record entry still holds only what the user ran: this is advice, not a target.

use serde_yaml::Value;

/// The flags to suggest, and what to say beside the command when they are a fallback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHint {
    /// E.g. ` --fetcher-version 4 --pnpm 11`.
    pub flags: String,
    /// Shown after the command, in parentheses, when the project's pnpm has no target.
    pub note: Option<String>,
}

/// The hint for `lockfile` (its bytes) and the `package.json` beside it, if any.
pub fn hint(lockfile: &[u8], package_json: Option<&[u8]>) -> TargetHint {
    let named = package_manager(package_json).or_else(|| managed_pnpm(lockfile));
    let patched = has_patches(lockfile);
    let v4 = |note: Option<String>| TargetHint {
        // A patched lockfile's fetcherVersion 4 hash depends on the Node major; 22 is the
        // one the replays cover for both pnpm 11 minors (`Profile::require_node`).
        flags: if patched {
            " --fetcher-version 4 --pnpm 11 --node 22".to_owned()
        } else {
            " --fetcher-version 4 --pnpm 11".to_owned()
        },
        note: note.or_else(|| {
            patched
                .then(|| "--node: the Node major nixpkgs' pnpm_11 runs under, 22 or 24".to_owned())
        }),
    };
    let v3 = |note: Option<String>| TargetHint {
        flags: " --fetcher-version 3 --pnpm 10".to_owned(),
        note,
    };
    let Some(version) = named else {
        return v3(Some(
            "no packageManager field names the pnpm; use the fetcherVersion and pnpm of its fetchPnpmDeps call"
                .to_owned(),
        ));
    };
    match version.split('.').next().and_then(|m| m.parse::<u32>().ok()) {
        Some(10) => v3(None),
        Some(11) => v4(None),
        Some(m) if m >= 12 => v4(Some(format!(
            "the project names pnpm {version}, which nixpkgs' fetchPnpmDeps does not support yet; this is the target for a fetchPnpmDeps call with pnpm_11"
        ))),
        _ => v3(Some(format!(
            "the project names pnpm {version}; nixpkgs' fetchPnpmDeps targets verified here are pnpm 10 (fetcherVersion 3) and 11 (4)"
        ))),
    }
}

/// [`hint`] for the lockfile at `path` and the `package.json` beside it; a file that
/// cannot be read counts as absent (this is advice, never a target).
pub fn hint_for(path: &std::path::Path) -> TargetHint {
    let read = |p: &std::path::Path| std::fs::read(p).ok();
    hint(
        &read(path).unwrap_or_default(),
        read(&path.with_file_name("package.json")).as_deref(),
    )
}

/// `packageManager: "pnpm@VERSION[+hash]"`.
fn package_manager(package_json: Option<&[u8]>) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(package_json?).ok()?;
    let field = json.get("packageManager")?.as_str()?;
    let version = field.strip_prefix("pnpm@")?;
    Some(version.split('+').next().unwrap_or(version).to_owned())
}

/// `importers['.'].packageManagerDependencies.pnpm.version` (its last YAML document, as
/// pnpm 11 may put an env document first).
fn managed_pnpm(lockfile: &[u8]) -> Option<String> {
    let doc = last_document(lockfile)?;
    let version = doc
        .get("importers")?
        .get(".")?
        .get("packageManagerDependencies")?
        .get("pnpm")?
        .get("version")?;
    match version {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn has_patches(lockfile: &[u8]) -> bool {
    last_document(lockfile)
        .and_then(|d| d.get("patchedDependencies").cloned())
        .is_some_and(|p| p.as_mapping().is_some_and(|m| !m.is_empty()))
}

fn last_document(lockfile: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(lockfile).ok()?;
    text.split("\n---\n")
        .last()
        .and_then(|d| serde_yaml::from_str(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &[u8] = b"lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n";

    #[test]
    fn the_project_names_the_pnpm() {
        let pm = |v: &str| format!("{{\"packageManager\": \"pnpm@{v}\"}}");
        let flags = |v: &str| hint(LOCK, Some(pm(v).as_bytes())).flags;
        assert_eq!(flags("10.34.5"), " --fetcher-version 3 --pnpm 10");
        assert_eq!(flags("11.1.0+sha512.abc"), " --fetcher-version 4 --pnpm 11");
        let twelve = hint(LOCK, Some(pm("12.4.2").as_bytes()));
        assert_eq!(twelve.flags, " --fetcher-version 4 --pnpm 11");
        assert!(twelve
            .note
            .unwrap()
            .contains("pnpm 12.4.2, which nixpkgs' fetchPnpmDeps does not support yet"));
        let none = hint(LOCK, Some(b"{}"));
        assert_eq!(none.flags, " --fetcher-version 3 --pnpm 10");
        assert!(none.note.unwrap().starts_with("no packageManager field"));
        let managed = b"---\nx: 1\n---\nlockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    packageManagerDependencies:\n      pnpm:\n        specifier: 11.22.0\n        version: 11.22.0\n\npatchedDependencies:\n  ms@2.1.3: abc\n";
        let h = hint(managed, None);
        assert_eq!(h.flags, " --fetcher-version 4 --pnpm 11 --node 22");
        assert!(h.note.unwrap().contains("22 or 24"));
    }
}

//! pnpm 10's `--frozen-lockfile` refusals on Ghost 6.65.0's real pnpm project (the
//! fixture's SOURCE.txt: pnpm 10.34.9 refuses it with ERR_PNPM_LOCKFILE_CONFIG_MISMATCH
//! on patchedDependencies, as pnpm 10.34.5, nixpkgs' pnpm_10, does here).

use std::path::PathBuf;

use common::pnpm::frozen_check::{self, outdated_setting, PnpmRules};
use common::pnpm::lockfile::{self, LineIndex};
use common::pnpm::project_config::ProjectConfig;

fn ghost_dir() -> Option<PathBuf> {
    test_support::shared_fixture("fixtures/ghost-pnpm/pnpm-lock.yaml")
        .map(|lock| lock.parent().unwrap().to_owned())
}

#[test]
fn ghost_is_refused_for_its_patched_dependencies_at_their_line() {
    let Some(dir) = ghost_dir() else { return };
    let path = dir.join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lock = lockfile::parse(&text).expect("Ghost's lockfile parses");
    let config = ProjectConfig::load(&dir).unwrap();
    let err = frozen_check::check(&path, &lock, &LineIndex::new(&text), &config).unwrap_err();
    assert_eq!(err.code, "ERR_PNPM_LOCKFILE_CONFIG_MISMATCH", "{err}");
    assert!(err.message.contains("\"patchedDependencies\""), "{err}");
    assert_eq!(err.line, 251, "{err}");
    assert!(
        err.to_string()
            .contains("fix: run `pnpm install --lockfile-only`"),
        "{err}"
    );
}

/// pnpm 11 (nixpkgs' pnpm_11) installs it: its frozen check reads the lockfile's bare
/// patch hashes (pnpm 11.28.11 and 11.22.0 fetch it in the fetcherVersion 4 replay).
#[test]
fn ghost_passes_pnpm_11s_frozen_check() {
    let Some(dir) = ghost_dir() else { return };
    let path = dir.join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lock = lockfile::parse(&text).unwrap();
    let config = ProjectConfig::load(&dir).unwrap();
    let lines = LineIndex::new(&text);
    frozen_check::check_as(PnpmRules::V11, &path, &lock, &lines, &config).unwrap();
    // A patch whose content changed is refused by pnpm 11 too, at patchedDependencies.
    let tmp = tempfile::tempdir().unwrap();
    for name in ["pnpm-workspace.yaml", "package.json"] {
        std::fs::copy(dir.join(name), tmp.path().join(name)).unwrap();
    }
    for rel in config.patched_dependencies.values() {
        let to = tmp.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let mut patch = std::fs::read(dir.join(rel)).unwrap();
        patch.extend_from_slice(b"\n");
        std::fs::write(&to, patch).unwrap();
    }
    let changed = ProjectConfig::load(tmp.path()).unwrap();
    let err = frozen_check::check_as(PnpmRules::V11, &path, &lock, &lines, &changed).unwrap_err();
    assert_eq!(err.line, 251, "{err}");
    assert!(err.message.contains("\"patchedDependencies\""), "{err}");
    assert!(err.fix.contains("with pnpm 11"), "{err}");
}

#[test]
fn ghost_catalogs_overrides_and_package_extensions_agree_with_what_pnpm_wrote() {
    // pnpm 11 wrote the lockfile from the same pnpm-workspace.yaml, so every setting
    // before patchedDependencies must compare equal; with the patch entries in pnpm
    // 10's {hash, path} shape the whole settings check passes.
    let Some(dir) = ghost_dir() else { return };
    let text = std::fs::read_to_string(dir.join("pnpm-lock.yaml")).unwrap();
    let mut lock = lockfile::parse(&text).unwrap();
    let config = ProjectConfig::load(&dir).unwrap();
    assert_eq!(
        outdated_setting(&lock, &config).unwrap(),
        Some("patchedDependencies")
    );
    let patches = lock.patched_dependencies.as_mut().unwrap();
    for (key, value) in patches.iter_mut() {
        let mut entry = serde_yaml::Mapping::new();
        entry.insert("hash".into(), value.clone());
        entry.insert(
            "path".into(),
            config.patched_dependencies[key].clone().into(),
        );
        *value = serde_yaml::Value::Mapping(entry);
    }
    assert_eq!(outdated_setting(&lock, &config).unwrap(), None);
    // And a changed override is caught.
    lock.overrides.as_mut().unwrap().insert(
        "cron-validate".to_owned(),
        lockfile::Scalar("9.9.9".to_owned()),
    );
    assert_eq!(outdated_setting(&lock, &config).unwrap(), Some("overrides"));
}

//! The plan against the store real pnpm 10.34.5 left for the pnpm10-project fixture
//! (update-pnpm-hash/tests/fixtures/pnpm10-project.reference/store-manifest.txt, from the
//! reference replay of nixpkgs' fetchPnpmDeps): one index file per planned package,
//! named by its integrity and package id, and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::pnpm::lockfile::{self, LineIndex};
use common::pnpm::plan::{self, Source};
use common::pnpm::project_config::ProjectConfig;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../update-pnpm-hash/tests/fixtures")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn index_files_are_the_planned_packages() {
    let dir = fixture().join("pnpm10-project");
    let path = dir.join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lock = lockfile::parse(&text).unwrap();
    let config = ProjectConfig::load(&dir).unwrap();
    let planned = plan::plan(&path, &lock, &LineIndex::new(&text), &config.registries).unwrap();
    assert_eq!(planned.len(), 120);
    // pnpm's index file name (store/cafs getIndexFilePathInCafs): the tarball digest's
    // first 64 hex digits, sharded by two, then the package id with \/:*?"<>| as `+`.
    let ours: BTreeSet<String> = planned
        .iter()
        .map(|p| {
            let digest = hex(&p.integrity.as_ref().expect("all have integrity").digest);
            let id: String = p
                .pkg_id
                .chars()
                .map(|c| if "\\/:*?\"<>|".contains(c) { '+' } else { c })
                .collect();
            format!("./v10/index/{}/{}-{id}.json", &digest[..2], &digest[2..64])
        })
        .collect();
    let manifest =
        std::fs::read_to_string(fixture().join("pnpm10-project.reference/store-manifest.txt"))
            .unwrap();
    let theirs: BTreeSet<String> = manifest
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with("./v10/index/") && p.ends_with(".json"))
        .map(str::to_owned)
        .collect();
    assert_eq!(ours, theirs);
    // The file: tarball is read from the project; everything else from the registry.
    let local: Vec<&str> = planned
        .iter()
        .filter_map(|p| match &p.source {
            Source::LocalFile { relative, .. } => Some(relative.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(local, ["components/tryghost-local-tpl-1.0.0.tgz"]);
    let esbuild = planned
        .iter()
        .find(|p| p.pkg_id == "@esbuild/linux-x64@0.19.12")
        .unwrap();
    assert_eq!(
        esbuild.source,
        Source::Url(
            "https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-0.19.12.tgz".to_owned()
        )
    );
}

#[test]
fn the_fixture_passes_the_frozen_lockfile_checks_and_a_changed_specifier_does_not() {
    let dir = fixture().join("pnpm10-project");
    let path = dir.join("pnpm-lock.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lock = lockfile::parse(&text).unwrap();
    let config = ProjectConfig::load(&dir).unwrap();
    let lines = LineIndex::new(&text);
    common::pnpm::frozen_check::check(&path, &lock, &lines, &config).unwrap();
    let edited = text.replace("specifier: 4.1.2", "specifier: ^4.1.2");
    assert_ne!(edited, text);
    let err = common::pnpm::frozen_check::check(
        &path,
        &lockfile::parse(&edited).unwrap(),
        &LineIndex::new(&edited),
        &config,
    )
    .unwrap_err();
    assert_eq!(err.code, "ERR_PNPM_OUTDATED_LOCKFILE", "{err}");
    assert!(err.message.contains("chalk"), "{err}");
}

//! The model on Ghost's real lockfile: every entry accounted for.

use common::yarn::dependency_source::Fetch;
use common::yarn::offline_cache::OfflineCache;

fn model(name: &str) -> Option<OfflineCache> {
    let path = test_support::shared_fixture(&format!("fixtures/ghost/{name}"))?;
    let text = std::fs::read_to_string(&path).unwrap();
    let lock = common::yarn::yarn_lock::parse(&text).expect("Ghost's lockfile parses");
    assert_eq!(lock.ignored_from_line, None);
    Some(OfflineCache::from_lockfile(&lock).expect("Ghost's lockfile models"))
}

#[test]
fn ghost_lockfile_has_4055_tarballs_and_6_git_dependencies() {
    let Some(m) = model("yarn.lock") else { return };
    let git = m
        .files
        .iter()
        .filter(|f| matches!(f.fetch, Fetch::Git { .. }))
        .count();
    assert_eq!((m.files.len() - git, git), (4055, 6));
    let tarballs = m
        .files
        .iter()
        .filter(|f| matches!(f.fetch, Fetch::Tarball { .. }));
    assert!(
        tarballs.clone().all(|f| f.integrity.is_some()),
        "every tarball states a digest"
    );
}

#[test]
fn registry_only_variant_has_just_the_tarballs() {
    let Some(m) = model("yarn.registry-only.lock") else {
        return;
    };
    assert_eq!(m.files.len(), 4055);
    assert!(m
        .files
        .iter()
        .all(|f| matches!(f.fetch, Fetch::Tarball { .. }) && f.integrity.is_some()));
}

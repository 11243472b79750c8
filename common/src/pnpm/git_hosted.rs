//! Git-hosted tarballs (`resolution: {tarball: https://codeload.github.com/…, gitHosted:
//! true}`): when pnpm 10 stores them exactly as registry tarballs, and when it does not.
//!
//! pnpm 10's `gitHostedTarballFetcher` (fetching/tarball-fetcher, read in pnpm@10.34.5's
//! `dist/pnpm.cjs`) downloads the tarball into the store as any remote tarball (its index
//! written to `<index>_tmp_<pid>_<threadId>`), copies it to a temp directory, asks
//! `preparePackage` (exec/prepare-package) whether it must be built, and lists it with
//! npm-packlist ([`packlist`](crate::pnpm::packlist)). The index goes to
//! `v10/<depPathToFilename(pkgId)>/integrity-not-built.json` (package-requester
//! `getFilesIndexFilePath`, `gitHosted` and `--ignore-scripts`). Then:
//!
//! - packlist keeps every file and no build is needed: the temp index is renamed there, so
//!   the store is the tarball's, index included: emulated ([`check`] passes);
//! - packlist keeps every file and a build is needed: under `--ignore-scripts` pnpm
//!   returns early and leaves the index at its temp name, which holds pnpm's process id,
//!   so the output depends on a pid we cannot know: refused;
//! - packlist drops files: pnpm indexes the directory copy instead (modes as stat gives
//!   them, the dropped files' contents still in `files/`): not emulated yet, refused.
//!
//! Verified against real pnpm 10.34.5 through a loopback server standing in for codeload
//! (update-pnpm-hash/tests/it/git_packages.rs).

use serde_json::Value;

use crate::pnpm::packlist::packlist;
use crate::pnpm::store::extract::{parse_tarball, tar_bytes};
use crate::pnpm::store::index_file::parse_manifest;

/// Why pnpm would not store this git-hosted tarball as it stores a registry one.
pub fn check(tarball: &[u8]) -> Result<(), String> {
    let tar = tar_bytes(tarball).map_err(|e| format!("pnpm cannot unpack it: {e}"))?;
    let entries = parse_tarball(&tar).map_err(|e| format!("pnpm cannot unpack it: {e}"))?;
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let manifest = entries
        .iter()
        .find(|e| e.path == "package.json")
        .map(|e| parse_manifest(e.data(&tar)))
        .transpose()
        .map_err(|e| format!("its package.json is not valid JSON ({e}); pnpm fails on it too"))?;
    let contents: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.data(&tar)))
        .collect();
    // pnpm's extraction leaves symlinks out, so its copy on disk has none.
    let kept = packlist(&contents, &[], manifest.as_ref()).map_err(|e| {
        format!("pnpm lists its files with npm-packlist, and {e}; update-pnpm-hash does not emulate that yet")
    })?;
    if kept.len() != paths.len() {
        let dropped = paths
            .iter()
            .find(|p| !kept.iter().any(|k| k == *p))
            .unwrap_or(&"");
        return Err(format!(
            "npm-packlist drops {dropped}, so pnpm re-indexes the package from a copy on disk; update-pnpm-hash does not emulate that yet"
        ));
    }
    if should_be_built(manifest.as_ref(), &paths)? {
        return Err("its package.json asks for a build (`prepare`, or `prepublish`/`prepack`/`publish` without its main file); under --ignore-scripts pnpm then leaves the package's index at a temp name holding its process id, so fetchPnpmDeps' output depends on that pid and no hash can be computed ahead".to_owned());
    }
    Ok(())
}

/// `preparePackage`'s `packageShouldBeBuilt`, on the manifest as `read-package-json`
/// leaves it (normalize-package-data drops a non-object `scripts` and non-string scripts).
fn should_be_built(manifest: Option<&Value>, paths: &[&str]) -> Result<bool, String> {
    let Some(Value::Object(m)) = manifest else {
        return Ok(false);
    };
    let Some(Value::Object(scripts)) = m.get("scripts") else {
        return Ok(false);
    };
    let has = |name: &str| matches!(scripts.get(name), Some(Value::String(s)) if !s.is_empty());
    if has("prepare") {
        return Ok(true);
    }
    if !["prepublish", "prepack", "publish"].iter().any(|s| has(s)) {
        return Ok(false);
    }
    let main = match m.get("main") {
        None | Some(Value::Null) => "index.js",
        Some(Value::String(s)) if !s.contains("..") && !s.contains("/./") => s.as_str(),
        Some(other) => {
            return Err(format!(
                "its package.json's main {other} would be resolved by Node's path.join, which update-pnpm-hash does not emulate here"
            ))
        }
    };
    // `fs.existsSync(path.join(pkgDir, main))`: a file, or a directory holding files.
    let main = main.trim_start_matches("./").trim_matches('/');
    Ok(!(main.is_empty()
        || paths
            .iter()
            .any(|p| *p == main || p.starts_with(&format!("{main}/")))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builds_follow_prepare_package() {
        let m = |v: Value| should_be_built(Some(&v), &["package.json", "lib/index.js"]);
        assert_eq!(m(json!({"scripts": {"prepare": "tsc"}})), Ok(true));
        assert_eq!(m(json!({"scripts": {"prepare": ""}})), Ok(false));
        assert_eq!(m(json!({"scripts": {"prepare": 1}})), Ok(false));
        assert_eq!(m(json!({"scripts": "prepare"})), Ok(false));
        assert_eq!(m(json!({"scripts": {"prepack": "x"}})), Ok(true));
        assert_eq!(
            m(json!({"main": "./lib/index.js", "scripts": {"prepack": "x"}})),
            Ok(false)
        );
        assert_eq!(
            m(json!({"main": "lib", "scripts": {"publish": "x"}})),
            Ok(false)
        );
        assert!(m(json!({"main": 3, "scripts": {"publish": "x"}})).is_err());
        assert_eq!(should_be_built(None, &[]), Ok(false));
    }
}

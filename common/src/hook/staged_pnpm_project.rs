//! A pnpm project as the index stages it, written to a directory so `--fix` hashes
//! exactly what the commit will contain. Hashing a pnpm lockfile reads more than the
//! lockfile (see `pnpm::prefetch::check_and_plan`): `pnpm-workspace.yaml`, `.npmrc`,
//! the workspace's `package.json` files, patch files and `file:` tarballs. Only those
//! are written, at their repository paths, never the whole tree (Ghost's is
//! thousands of files).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::git::git_index::{GitIndexError, StagedRepo};
use crate::pnpm::lockfile::{self, LineIndex};
use crate::pnpm::plan::{self, Source};
use crate::pnpm::project_config::{ProjectConfig, WORKSPACE_FILE};

/// Files pnpm reads by name anywhere in the project (the workspace's projects included).
const CONFIG_NAMES: &[&str] = &[
    "package.json",
    WORKSPACE_FILE,
    ".npmrc",
    ".pnpmfile.cjs",
    ".pnpmfile.mjs",
];

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Git(#[from] GitIndexError),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Writes the staged project of `lockfile` (a repository path, its staged bytes
/// `lock_bytes`) under `dest`, each file at its repository path. What cannot be
/// parsed is left for the hashing to report, with the repository's own paths.
pub fn export(
    repo: &StagedRepo,
    lockfile: &str,
    lock_bytes: &[u8],
    dest: &Path,
) -> Result<(), ExportError> {
    let dir = lockfile.rfind('/').map_or("", |i| &lockfile[..i]);
    write(dest, lockfile, lock_bytes)?;
    for path in repo.tracked_named(CONFIG_NAMES) {
        if under(&path, dir) {
            copy(repo, dest, &path)?;
        }
    }
    let project = dest.join(dir);
    let Ok(config) = ProjectConfig::load(&project) else {
        return Ok(());
    };
    for rel in config.patched_dependencies.values() {
        copy_relative(repo, dest, dir, rel)?;
    }
    let Ok(text) = std::str::from_utf8(lock_bytes) else {
        return Ok(());
    };
    let Ok(lock) = lockfile::parse(text) else {
        return Ok(());
    };
    let lock_path = dest.join(lockfile);
    let Ok(packages) = plan::plan(&lock_path, &lock, &LineIndex::new(text), &config.registries)
    else {
        return Ok(());
    };
    for p in packages {
        if let Source::LocalFile { relative, .. } = &p.source {
            copy_relative(repo, dest, dir, relative)?;
        }
    }
    Ok(())
}

fn under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// Copies `rel` (relative to the project directory `dir`, as pnpm writes it) when it
/// names a staged file inside the repository.
fn copy_relative(repo: &StagedRepo, dest: &Path, dir: &str, rel: &str) -> Result<(), ExportError> {
    match normalize(dir, rel) {
        Some(path) => copy(repo, dest, &path),
        None => Ok(()),
    }
}

/// `dir/rel` as an index path, or `None` when it leaves the repository.
fn normalize(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn copy(repo: &StagedRepo, dest: &Path, path: &str) -> Result<(), ExportError> {
    match repo.staged(path)? {
        Some(bytes) => write(dest, path, &bytes),
        // Not staged: the hashing says what is missing, as it would for the working tree.
        None => Ok(()),
    }
}

fn write(dest: &Path, path: &str, bytes: &[u8]) -> Result<(), ExportError> {
    let target = dest.join(path);
    let err = |source| ExportError::Write {
        path: target.clone(),
        source,
    };
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(err)?;
    }
    fs::write(&target, bytes).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_stay_inside_the_repository() {
        assert_eq!(
            normalize("web", "./patches/a.patch").as_deref(),
            Some("web/patches/a.patch")
        );
        assert_eq!(
            normalize("web", "../components/x.tgz").as_deref(),
            Some("components/x.tgz")
        );
        assert_eq!(
            normalize("", "components/x.tgz").as_deref(),
            Some("components/x.tgz")
        );
        assert_eq!(normalize("", "../x.tgz"), None);
        assert!(under("web/package.json", "web") && !under("website/package.json", "web"));
        assert!(under("package.json", ""));
    }
}

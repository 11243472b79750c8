//! Git repositories (`resolution: {type: git, repo, commit[, path]}`), fetched as pnpm 10's
//! git fetcher stores them, as an uncompressed tarball the store reads like any other.
//!
//! pnpm 10 (`fetching/git-fetcher`, read in pnpm@10.34.5's `dist/pnpm.cjs`): `git clone
//! <repo>`, `git checkout <commit>` (a 40-hex commit, else `ERR_PNPM_INVALID_GIT_COMMIT`),
//! `preparePackage` (under `--ignore-scripts` only a warning: no script runs and nothing
//! changes), `.git` removed, npm-packlist ([`packlist`](crate::pnpm::packlist)) over the
//! package directory (`path` inside the checkout, or its root), and `addFilesFromDir`:
//! only the listed files go to `files/`, each with `stat.mode & 0o777` (a checkout under
//! the build's umask 022: 0644, or 0755 for git's executable mode), symlinks left out (npm-packlist skips them).
//! The index goes to `v10/<depPathToFilename(pkgId)>/integrity-not-built.json`, the
//! package having no integrity.
//!
//! We read the commit's tree from a kept bare clone ([`git_cache`]) instead of checking it
//! out: a checkout differs from the blobs only through `.gitattributes` (eol conversion,
//! filters such as LFS), so a tree holding one is refused. Verified against real pnpm 10.34.5 cloning a `file://`
//! repository (update-pnpm-hash/tests/it/git_packages.rs).

use std::path::Path;

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use thiserror::Error;

use crate::archive::pax_tar::{compare_paths, PaxTarWriter};
use crate::pnpm::git_cache::{self, GitCacheError};
use crate::pnpm::packlist::packlist;
use crate::pnpm::store::index_file::parse_manifest;
use crate::redact;

#[derive(Debug, Error)]
pub enum GitFetchError {
    /// The clone failed (network, access, a missing commit).
    #[error("{0}")]
    Fetch(String),
    /// The package is there, but pnpm would store it in a way not emulated, or refuse it.
    #[error("{0}")]
    Refused(String),
    /// `--offline`, and no kept clone holds the commit.
    #[error("{0}")]
    NotCached(String),
}

/// One file of the commit's tree: path, executable bit, blob.
struct TreeFile {
    path: String,
    executable: bool,
    blob: Oid,
}

/// The package pnpm would store for `commit` (and `path`) of `repo`, read from the kept
/// clone in `cache_root` ([`git_cache`]; cloned or fetched into unless `offline`), as an
/// uncompressed tarball whose entries are `./<file>` (the store strips the first
/// component). Errors are for people: they name the repository with its credentials
/// redacted.
pub fn fetch(
    repo: &str,
    commit: &str,
    path: Option<&str>,
    cache_root: &Path,
    offline: bool,
) -> Result<Vec<u8>, GitFetchError> {
    use GitFetchError::{Fetch, Refused};
    if !(commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(Refused(format!(
            "ERR_PNPM_INVALID_GIT_COMMIT: invalid git commit hash {commit:?}: pnpm expects a 40-character hexadecimal SHA; run `pnpm install` to rewrite the lockfile"
        )));
    }
    let shown = redact::url(repo);
    let oid = Oid::from_str(commit).map_err(|e| Refused(e.message().to_owned()))?;
    let clone = git_cache::repository(repo, oid, cache_root, offline).map_err(|e| match e {
        GitCacheError::NotCached { .. } => GitFetchError::NotCached(e.to_string()),
        GitCacheError::Fetch(m) => Fetch(m),
    })?;
    let (files, symlinks) = commit_files(&clone, commit, path).map_err(|e| match e {
        Fetch(m) => Fetch(format!("{shown}: {m}")),
        Refused(m) => Refused(format!("{shown}: {m}")),
        e @ GitFetchError::NotCached(_) => e,
    })?;
    let blobs = read_blobs(&clone, &files).map_err(|e| Fetch(format!("{shown}: {e}")))?;
    let manifest = files
        .iter()
        .position(|f| f.path == "package.json")
        .map(|i| parse_manifest(&blobs[i]))
        .transpose()
        .map_err(|e| Refused(format!("{shown}: package.json at {commit} is not valid JSON ({e}); pnpm fails on it too")))?
        .ok_or_else(|| Refused(format!("{shown}: no package.json at {commit}{}; pnpm would make one up from the lockfile, which update-pnpm-hash does not emulate", path.map(|p| format!(" in {p}")).unwrap_or_default())))?;
    let contents: Vec<(&str, &[u8])> = files
        .iter()
        .zip(&blobs)
        .map(|(f, b)| (f.path.as_str(), b.as_slice()))
        .collect();
    let symlinks: Vec<&str> = symlinks.iter().map(String::as_str).collect();
    let kept = packlist(&contents, &symlinks, Some(&manifest)).map_err(|e| {
        Refused(format!("{shown}: pnpm lists the package's files with npm-packlist, and {e}; update-pnpm-hash does not emulate that yet"))
    })?;
    tarball(&files, &blobs, &kept).map_err(|e| Fetch(format!("{shown}: {e}")))
}

/// The regular files of `commit`'s tree (under `path`, relative to it), sorted as GNU tar
/// sorts names, and the paths of its symlinks (npm-packlist reads ignore files and
/// globs through them).
fn commit_files(
    repo: &Repository,
    commit: &str,
    path: Option<&str>,
) -> Result<(Vec<TreeFile>, Vec<String>), GitFetchError> {
    use GitFetchError::{Fetch, Refused};
    let oid = Oid::from_str(commit).map_err(|e| Refused(e.message().to_owned()))?;
    let commit_obj = repo.find_commit(oid).map_err(|_| {
        Fetch(format!(
            "commit {commit} is not in the repository (pnpm's `git checkout` fails too)"
        ))
    })?;
    let tree = commit_obj
        .tree()
        .map_err(|e| Fetch(e.message().to_owned()))?;
    let prefix = match path.map(|p| p.trim_matches('/')) {
        Some(p) if p.split('/').any(|c| c == ".." || c == ".") => {
            return Err(Refused(format!(
                "ERR_PNPM_INVALID_PATH: path {p:?} should be a subdirectory"
            )))
        }
        Some(p) if !p.is_empty() => format!("{p}/"),
        _ => String::new(),
    };
    let mut files = Vec::new();
    let mut symlinks = Vec::new();
    let mut attributes = None;
    let mut bad_name = None;
    let walked = tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        let Ok(name) = std::str::from_utf8(entry.name_bytes()) else {
            bad_name.get_or_insert(format!(
                "{dir}{}",
                String::from_utf8_lossy(entry.name_bytes())
            ));
            return TreeWalkResult::Abort;
        };
        let full = format!("{dir}{name}");
        if name == ".gitattributes" {
            attributes.get_or_insert(full.clone());
        }
        let mode = entry.filemode();
        if entry.kind() == Some(ObjectType::Blob) && mode & 0o170000 == 0o100000 {
            if let Some(rel) = full.strip_prefix(&prefix) {
                files.push(TreeFile {
                    path: rel.to_owned(),
                    executable: mode & 0o111 != 0,
                    blob: entry.id(),
                });
            }
        } else if entry.kind() == Some(ObjectType::Blob) && mode & 0o170000 == 0o120000 {
            if let Some(rel) = full.strip_prefix(&prefix) {
                symlinks.push(rel.to_owned());
            }
        }
        TreeWalkResult::Ok
    });
    if let Some(name) = bad_name {
        return Err(Refused(format!("{name:?} at {commit}: a file name that is not UTF-8 (pnpm's index would hold it replaced), not emulated")));
    }
    walked.map_err(|e| Fetch(e.message().to_owned()))?;
    if let Some(a) = attributes {
        return Err(Refused(format!(
            "{a} at {commit}: a checkout applies git attributes (eol conversion, filters such as LFS), which update-pnpm-hash does not emulate"
        )));
    }
    files.sort_by(|a, b| compare_paths(a.path.as_bytes(), b.path.as_bytes()));
    Ok((files, symlinks))
}

/// Every file's blob, in order.
fn read_blobs(repo: &Repository, files: &[TreeFile]) -> Result<Vec<Vec<u8>>, String> {
    files
        .iter()
        .map(|f| {
            let blob = repo
                .find_blob(f.blob)
                .map_err(|e| format!("{}: {}", f.path, e.message()))?;
            Ok(blob.content().to_vec())
        })
        .collect()
}

/// The kept files as a tar: `./`, its directories, the files with the checkout's modes.
fn tarball(files: &[TreeFile], blobs: &[Vec<u8>], kept: &[String]) -> Result<Vec<u8>, String> {
    let kept: std::collections::HashSet<&str> = kept.iter().map(String::as_str).collect();
    let err = |e: std::io::Error| format!("cannot assemble the package: {e}");
    let mut tar = PaxTarWriter::new(Vec::new(), 0).map_err(err)?;
    tar.dir(".", 0o755).map_err(err)?;
    let mut open = std::collections::HashSet::new();
    for (f, data) in files.iter().zip(blobs) {
        if !kept.contains(f.path.as_str()) {
            continue;
        }
        let dirs = f.path.match_indices('/').map(|(i, _)| &f.path[..i]);
        for dir in dirs {
            if open.insert(dir) {
                tar.dir(dir, 0o755).map_err(err)?;
            }
        }
        let mode = if f.executable { 0o755 } else { 0o644 };
        tar.file(&f.path, mode, data.len() as u64, &mut &data[..])
            .map_err(err)?;
    }
    tar.finish().map_err(err)
}

//! Pinning local flake references to a commit.
//!
//! `git+file://$PWD` without `?rev=` makes Nix use the working tree, uncommitted edits
//! included, so its outputs are store paths that CI (which builds the commit) never asks
//! for. Local refs are therefore resolved to `git+file://ROOT?rev=<HEAD>` and a tree whose
//! tracked files differ from HEAD is refused unless the caller explicitly allows it.

use std::path::{Path, PathBuf};

use git2::{Repository, Status, StatusOptions};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FlakeRefError {
    #[error("{path} is not inside a git repository; run `git init && git add -A && git commit`, or pass a remote flake ref (github:owner/repo/rev)")]
    NotGitRepo { path: PathBuf },
    #[error("{path} does not exist")]
    NoSuchPath { path: PathBuf },
    #[error("{root} has no commits yet; commit the flake first (`git add -A && git commit`)")]
    NoCommits { root: PathBuf },
    #[error("{root} has uncommitted changes to tracked files:\n{}\nCI builds the commit, so outputs built from this tree would never be asked for.\nFix: commit them (`git commit -am ...`) or stash them (`git stash`), or pass --allow-uncommitted to build the working tree anyway.", list(.files))]
    Dirty { root: PathBuf, files: Vec<String> },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

fn list(files: &[String]) -> String {
    files
        .iter()
        .map(|f| format!("  {f}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolvedFlakeRef {
    /// A local repository pinned to HEAD: `git+file://ROOT?rev=SHA[&dir=SUB]`.
    Pinned {
        url: String,
        root: PathBuf,
        rev: String,
    },
    /// A local repository with uncommitted changes, allowed by the caller: the working tree.
    Uncommitted {
        url: String,
        root: PathBuf,
        files: Vec<String>,
    },
    /// Anything we do not pin ourselves (`github:`, `git+https:`, already pinned, ...).
    PassThrough { url: String },
}

impl ResolvedFlakeRef {
    pub fn url(&self) -> &str {
        match self {
            Self::Pinned { url, .. }
            | Self::Uncommitted { url, .. }
            | Self::PassThrough { url } => url,
        }
    }
}

/// Resolves `flake_ref` (relative paths against `cwd`).
pub fn resolve(
    flake_ref: &str,
    cwd: &Path,
    allow_uncommitted: bool,
) -> Result<ResolvedFlakeRef, FlakeRefError> {
    let Some((path, query)) = local_path(flake_ref) else {
        return Ok(ResolvedFlakeRef::PassThrough {
            url: flake_ref.to_owned(),
        });
    };
    let mut dir_param = None;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        match k {
            "rev" => {
                return Ok(ResolvedFlakeRef::PassThrough {
                    url: flake_ref.to_owned(),
                })
            }
            "dir" => dir_param = Some(v.to_owned()),
            _ => {}
        }
    }
    let abs = cwd.join(path);
    let abs = abs
        .canonicalize()
        .map_err(|_| FlakeRefError::NoSuchPath { path: abs.clone() })?;
    let repo =
        Repository::discover(&abs).map_err(|_| FlakeRefError::NotGitRepo { path: abs.clone() })?;
    let root = repo
        .workdir()
        .ok_or_else(|| FlakeRefError::NotGitRepo { path: abs.clone() })?
        .canonicalize()
        .map_err(|_| FlakeRefError::NotGitRepo { path: abs.clone() })?;
    let sub = abs
        .strip_prefix(&root)
        .unwrap_or(Path::new(""))
        .to_string_lossy()
        .into_owned();
    let dir = match (dir_param, sub.is_empty()) {
        (Some(d), true) => Some(d),
        (Some(d), false) => Some(format!("{sub}/{d}")),
        (None, false) => Some(sub),
        (None, true) => None,
    };
    let files = dirty_files(&repo)?;
    let base = format!("git+file://{}", root.display());
    if !files.is_empty() {
        if !allow_uncommitted {
            return Err(FlakeRefError::Dirty { root, files });
        }
        let url = with_params(&base, None, dir.as_deref());
        return Ok(ResolvedFlakeRef::Uncommitted { url, root, files });
    }
    let rev = match repo.head().and_then(|h| h.peel_to_commit()) {
        Ok(c) => c.id().to_string(),
        Err(_) => return Err(FlakeRefError::NoCommits { root }),
    };
    let url = with_params(&base, Some(&rev), dir.as_deref());
    Ok(ResolvedFlakeRef::Pinned { url, root, rev })
}

fn with_params(base: &str, rev: Option<&str>, dir: Option<&str>) -> String {
    let mut params = Vec::new();
    if let Some(r) = rev {
        params.push(format!("rev={r}"));
    }
    if let Some(d) = dir {
        params.push(format!("dir={d}"));
    }
    if params.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

/// The filesystem path and query of a local flake ref, or `None` for anything else.
fn local_path(flake_ref: &str) -> Option<(&str, &str)> {
    fn split(s: &str) -> (&str, &str) {
        s.split_once('?').unwrap_or((s, ""))
    }
    if let Some(rest) = flake_ref.strip_prefix("git+file://") {
        return Some(split(rest));
    }
    if let Some(rest) = flake_ref.strip_prefix("path:") {
        return Some(split(rest));
    }
    // Bare paths, as Nix accepts them: `.`, `./sub`, `/abs`, `../x`.
    if flake_ref == "."
        || flake_ref.starts_with('/')
        || flake_ref.starts_with("./")
        || flake_ref.starts_with("../")
        || flake_ref == ".."
    {
        let (path, query) = split(flake_ref);
        return Some((path, query));
    }
    None
}

/// Tracked files whose content differs from HEAD, staged or not (sorted, repo-relative).
/// Untracked files are not listed: a git flake does not see them.
pub fn dirty_files(repo: &Repository) -> Result<Vec<String>, git2::Error> {
    let mut opts = StatusOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .exclude_submodules(false);
    let statuses = repo.statuses(Some(&mut opts))?;
    let dirty = Status::INDEX_NEW
        | Status::INDEX_MODIFIED
        | Status::INDEX_DELETED
        | Status::INDEX_RENAMED
        | Status::INDEX_TYPECHANGE
        | Status::WT_MODIFIED
        | Status::WT_DELETED
        | Status::WT_RENAMED
        | Status::WT_TYPECHANGE;
    let mut files: Vec<String> = statuses
        .iter()
        .filter(|e| e.status().intersects(dirty))
        .filter_map(|e| e.path().map(str::to_owned))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_refs_are_touched() {
        assert_eq!(local_path("."), Some((".", "")));
        assert_eq!(local_path("git+file:///x?dir=a"), Some(("/x", "dir=a")));
        assert_eq!(local_path("path:/x"), Some(("/x", "")));
        assert_eq!(local_path("github:o/r/abc"), None);
        assert_eq!(local_path("git+https://h/r"), None);
    }
}

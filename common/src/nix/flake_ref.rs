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
    #[error("{root} has no branch or tag {name:?} (from `ref=`); list them with `git -C {root} show-ref`")]
    NoSuchRef { root: PathBuf, name: String },
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
    let mut git_ref = None;
    // Every other parameter (submodules=1, shallow=1, ...) changes what Nix fetches: kept.
    let mut others = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=').unwrap_or((kv, "")) {
            ("rev", _) => {
                return Ok(ResolvedFlakeRef::PassThrough {
                    url: flake_ref.to_owned(),
                })
            }
            ("dir", v) => dir_param = Some(percent_decode(v)),
            ("ref", v) => git_ref = Some(percent_decode(v)),
            _ => others.push(kv.to_owned()),
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
    let base = format!("git+file://{}", percent_encode(&root.to_string_lossy()));
    // Nix refuses to fetch `?rev=` from a shallow clone (CI checkouts are depth 1 by
    // default) unless told `shallow=1`; the result is the same store path.
    if repo.is_shallow() && !others.iter().any(|kv| kv.starts_with("shallow=")) {
        others.push("shallow=1".to_owned());
    }
    let params = |rev: Option<&str>| {
        let mut p = Vec::new();
        if let Some(r) = rev {
            p.push(format!("rev={r}"));
        }
        if let Some(r) = &git_ref {
            p.push(format!("ref={}", percent_encode(r)));
        }
        if let Some(d) = &dir {
            p.push(format!("dir={}", percent_encode(d)));
        }
        p.extend(others.iter().cloned());
        p
    };
    // With `ref=`, Nix fetches that ref's commit, not the working tree: pin it, and only
    // care about uncommitted edits when that ref is what is checked out.
    if let Some(r) = &git_ref {
        let commit = ref_commit(&repo, r).ok_or_else(|| FlakeRefError::NoSuchRef {
            root: root.clone(),
            name: r.clone(),
        })?;
        let head = repo.head().ok();
        let is_checkout = head.as_ref().and_then(|h| h.shorthand())
            == Some(r.trim_start_matches("refs/heads/"))
            && head.and_then(|h| h.peel_to_commit().ok()).map(|c| c.id()) == Some(commit);
        if !is_checkout {
            let rev = commit.to_string();
            let url = with_params(&base, &params(Some(&rev)));
            return Ok(ResolvedFlakeRef::Pinned { url, root, rev });
        }
    }
    let files = dirty_files(&repo)?;
    if !files.is_empty() {
        if !allow_uncommitted {
            return Err(FlakeRefError::Dirty { root, files });
        }
        let url = with_params(&base, &params(None));
        return Ok(ResolvedFlakeRef::Uncommitted { url, root, files });
    }
    let rev = match repo.head().and_then(|h| h.peel_to_commit()) {
        Ok(c) => c.id().to_string(),
        Err(_) => return Err(FlakeRefError::NoCommits { root }),
    };
    let url = with_params(&base, &params(Some(&rev)));
    Ok(ResolvedFlakeRef::Pinned { url, root, rev })
}

/// The commit a branch or tag name (or full `refs/...` name) points to.
fn ref_commit(repo: &Repository, name: &str) -> Option<git2::Oid> {
    let candidates = [
        name.to_owned(),
        format!("refs/heads/{name}"),
        format!("refs/tags/{name}"),
    ];
    candidates.iter().find_map(|n| {
        repo.find_reference(n)
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id())
    })
}

fn with_params(base: &str, params: &[String]) -> String {
    if params.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`, so a path with
/// spaces, `?`, `#` or `&` survives as one URL component.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The filesystem path and query of a local flake ref, or `None` for anything else.
fn local_path(flake_ref: &str) -> Option<(String, &str)> {
    fn split(s: &str) -> (&str, &str) {
        s.split_once('?').unwrap_or((s, ""))
    }
    if let Some(rest) = flake_ref.strip_prefix("git+file://") {
        let (path, query) = split(rest);
        return Some((percent_decode(path), query));
    }
    if let Some(rest) = flake_ref.strip_prefix("path:") {
        let (path, query) = split(rest);
        return Some((percent_decode(path), query));
    }
    // Bare paths, as Nix accepts them: `.`, `./sub`, `/abs`, `../x`.
    if flake_ref == "."
        || flake_ref.starts_with('/')
        || flake_ref.starts_with("./")
        || flake_ref.starts_with("../")
        || flake_ref == ".."
    {
        let (path, query) = split(flake_ref);
        return Some((path.to_owned(), query));
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
        assert_eq!(local_path("."), Some((".".into(), "")));
        assert_eq!(
            local_path("git+file:///x?dir=a"),
            Some(("/x".into(), "dir=a"))
        );
        assert_eq!(local_path("git+file:///a%20b"), Some(("/a b".into(), "")));
        assert_eq!(local_path("path:/x"), Some(("/x".into(), "")));
        assert_eq!(local_path("github:o/r/abc"), None);
        assert_eq!(local_path("git+https://h/r"), None);
    }

    #[test]
    fn paths_are_percent_encoded_both_ways() {
        let odd = "/tmp/a b/c#d?e&f%";
        assert_eq!(percent_encode(odd), "/tmp/a%20b/c%23d%3Fe%26f%25");
        assert_eq!(percent_decode(&percent_encode(odd)), odd);
    }
}

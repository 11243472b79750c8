//! Bare clones of `type: git` dependencies kept beside the tarballs
//! (`<cache>/git/<sha256 of the URL>`), so that a warm run (`--offline`, `--recompute`, a
//! hook's `--fix`) reads a package's commit without the network, and a cold one clones
//! each repository once. pnpm itself clones afresh into its store's tmp dir; what it
//! stores depends only on the commit's tree, which is what is read from here.
//!
//! A kept clone cannot hand back other bytes for a commit: git objects are named by their
//! SHA-1, and libgit2 checks each object's id as it reads it (its strict hash
//! verification, on by default). A clone that lacks the commit is fetched into (every
//! branch and tag, as `git clone` has them); clones are made in a temp dir and renamed
//! into place, under a lock on `<cache>/git`, so concurrent runs neither clash nor see
//! half a clone.

use std::path::{Path, PathBuf};

use git2::{build::RepoBuilder, Oid, Repository};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::file_lock::UpdateLock;
use crate::git::git_message::GitMessage;
use crate::redact;

#[derive(Debug, Error)]
pub enum GitCacheError {
    /// `--offline`, and the commit is not in a kept clone.
    #[error("{repo} at {commit} is not in the git cache under {}", dir.display())]
    NotCached {
        repo: String,
        commit: String,
        dir: PathBuf,
    },
    #[error("{0}")]
    Fetch(String),
}

/// The kept clone of `repo` holding `commit`: cloned or fetched into unless `offline`.
pub fn repository(
    repo: &str,
    commit: Oid,
    cache_root: &Path,
    offline: bool,
) -> Result<Repository, GitCacheError> {
    let shown = redact::url(repo);
    let dir = clone_dir(cache_root, repo);
    let io = |what: &str, e: std::io::Error| {
        GitCacheError::Fetch(format!("{what} {}: {e}", dir.display()))
    };
    let _lock = UpdateLock::acquire(&dir).map_err(|e| io("cannot lock the git cache at", e))?;
    let kept = Repository::open_bare(&dir).ok();
    let has_commit = |r: &Repository| r.find_commit(commit).is_ok();
    if kept.as_ref().is_some_and(has_commit) {
        return Ok(kept.expect("checked above"));
    }
    if offline {
        return Err(GitCacheError::NotCached {
            repo: shown,
            commit: commit.to_string(),
            dir,
        });
    }
    let fetched = match kept {
        Some(r) => fetch_into(&r, repo, &shown).map(|()| r),
        None => clone_into(&dir, repo, &shown),
    }?;
    if !has_commit(&fetched) {
        return Err(GitCacheError::Fetch(format!(
            "{shown}: commit {commit} is not in the repository (pnpm's `git checkout` fails too)"
        )));
    }
    Ok(fetched)
}

/// `<cache>/git/<sha256 hex of the URL as the lockfile writes it>`: a URL holding a
/// token names no directory.
fn clone_dir(cache_root: &Path, repo: &str) -> PathBuf {
    let key = crate::nix::nix_hash::hex_encode(&Sha256::digest(repo.as_bytes()));
    cache_root.join("git").join(key)
}

/// A bare clone made in a temp dir beside `dir`, then renamed to it.
fn clone_into(dir: &Path, repo: &str, shown: &str) -> Result<Repository, GitCacheError> {
    let parent = dir.parent().expect("clone dirs have a parent");
    let tmp = tempfile::Builder::new()
        .prefix(".git-clone-")
        .tempdir_in(parent)
        .map_err(|e| {
            GitCacheError::Fetch(format!(
                "cannot create a temp directory in {}: {e}",
                parent.display()
            ))
        })?;
    let cloned = RepoBuilder::new()
        .bare(true)
        .clone(repo, tmp.path())
        .map_err(|e| git_error(shown, &e))?;
    // The URL may hold a token: the kept clone must not (fetch_into names it each time).
    cloned
        .remote_delete("origin")
        .map_err(|e| git_error(shown, &e))?;
    drop(cloned);
    // A leftover from a run that died between creating and filling `dir`.
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(tmp.path(), dir).map_err(|e| {
        GitCacheError::Fetch(format!(
            "cannot keep the clone of {shown} at {}: {e}",
            dir.display()
        ))
    })?;
    let _ = tmp.keep();
    Repository::open_bare(dir).map_err(|e| git_error(shown, &e))
}

/// Every branch and tag of `repo` into the kept clone, as a fresh `git clone` has them.
fn fetch_into(kept: &Repository, repo: &str, shown: &str) -> Result<(), GitCacheError> {
    let mut remote = kept
        .remote_anonymous(repo)
        .map_err(|e| git_error(shown, &e))?;
    remote
        .fetch(
            &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            None,
            None,
        )
        .map_err(|e| git_error(shown, &e))
}

fn git_error(shown: &str, e: &git2::Error) -> GitCacheError {
    GitCacheError::Fetch(format!(
        "git clone {shown} failed: {}",
        redact::text(&GitMessage(e).to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit of one file on `main` in `repo`, as git2 writes it.
    fn commit(repo: &Repository, text: &str) -> Oid {
        let blob = repo.blob(text.as_bytes()).unwrap();
        let mut tree = repo.treebuilder(None).unwrap();
        tree.insert("package.json", blob, 0o100644).unwrap();
        let tree = repo.find_tree(tree.write().unwrap()).unwrap();
        let sig = git2::Signature::new("t", "t@example.com", &git2::Time::new(0, 0)).unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("refs/heads/main"), &sig, &sig, text, &tree, &parents)
            .unwrap()
    }

    #[test]
    fn a_kept_clone_serves_known_commits_offline_and_is_fetched_into_for_new_ones() {
        let source = tempfile::tempdir().unwrap();
        let src = Repository::init(source.path()).unwrap();
        src.set_head("refs/heads/main").unwrap();
        let first = commit(&src, "{}");
        let url = format!("file://{}", source.path().display());
        let cache = tempfile::tempdir().unwrap();
        let not_cached = |c: Oid| {
            matches!(
                repository(&url, c, cache.path(), true),
                Err(GitCacheError::NotCached { .. })
            )
        };
        assert!(not_cached(first), "nothing is kept before the first clone");
        repository(&url, first, cache.path(), false).unwrap();
        assert!(repository(&url, first, cache.path(), true).is_ok());
        let second = commit(&src, "{\"a\":1}");
        assert!(not_cached(second));
        let kept = repository(&url, second, cache.path(), false).unwrap();
        assert!(kept.find_commit(first).is_ok() && kept.find_commit(second).is_ok());
        assert!(kept.remotes().unwrap().is_empty(), "no URL (or token) kept");
        // One clone per URL, no temp dirs left.
        let entries: Vec<_> = std::fs::read_dir(cache.path().join("git"))
            .unwrap()
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let unknown = Oid::from_str(&"ab".repeat(20)).unwrap();
        let err = repository(&url, unknown, cache.path(), false)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("is not in the repository"),
            "{err}"
        );
    }
}

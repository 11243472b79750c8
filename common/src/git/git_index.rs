//! The staged side of a repository: file contents as the git index holds them, which
//! is what a commit will contain, never what happens to be in the working tree.
//!
//! Opened the way git's own hooks see the repository: `GIT_DIR`, `GIT_WORK_TREE` and
//! `GIT_INDEX_FILE` are honoured (git points the last one at a temporary index during
//! `git commit -a` and `git commit <paths>`), and linked worktrees resolve their own
//! index while sharing the object database.

use std::env;
use std::path::{Path, PathBuf};

use git2::{DiffOptions, Index, IndexEntry, IndexTime, Oid, Repository, Tree};
use thiserror::Error;

use crate::git::git_message::GitMessage;

#[derive(Debug, Error)]
pub enum GitIndexError {
    #[error("not inside a git repository ({}); run this from a checkout, or set GIT_DIR", GitMessage(.0))]
    NoRepository(git2::Error),
    // Not a `#[source]`: `{:#}` would print libgit2's text a second time, internals included.
    #[error("{what}: {}", GitMessage(.error))]
    Git { what: String, error: git2::Error },
    #[error("{path:?} {problem}")]
    BadPath { path: String, problem: &'static str },
}

/// Why `path` cannot name a file in the index, or `None` when it can: index paths are
/// slash-separated, relative to the repository root, with no `.`/`..` or empty parts
/// (libgit2 panics on some of these rather than reporting them).
pub fn repo_path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') {
        return Some("is absolute; use a path relative to the repository root");
    }
    if path.contains('\0') {
        return Some("contains a NUL byte");
    }
    if path.split('/').any(|part| part == "." || part == "..") {
        return Some("has a `.` or `..` part; write it relative to the repository root without them (e.g. `yarn.lock`, not `./yarn.lock`)");
    }
    if path.split('/').any(str::is_empty) {
        return Some("has an empty part (`//` or a trailing `/`)");
    }
    None
}

fn check_path(path: &str) -> Result<&Path, GitIndexError> {
    match repo_path_problem(path) {
        None => Ok(Path::new(path)),
        Some(problem) => Err(GitIndexError::BadPath {
            path: path.to_owned(),
            problem,
        }),
    }
}

const MODE_SYMLINK: u32 = 0o120000;
const MAX_SYMLINKS: usize = 40;

/// The repository path a symlink at `link` with contents `target` points at, or `None`
/// when it leaves the repository (absolute, or too many `..`).
fn join_link(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for part in target.split('/') {
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

fn git_err(what: impl Into<String>) -> impl FnOnce(git2::Error) -> GitIndexError {
    let what = what.into();
    move |error| GitIndexError::Git { what, error }
}

/// The repository the current process is in (`GIT_DIR` and friends honoured), with
/// the one wording every subcommand uses when there is none.
pub fn open_repository() -> Result<Repository, GitIndexError> {
    Repository::open_from_env().map_err(GitIndexError::NoRepository)
}

/// A repository together with the index a commit would be made from.
pub struct StagedRepo {
    repo: Repository,
    index: Index,
    index_path: PathBuf,
}

/// A path whose staged content differs from `HEAD`'s (every staged path on an unborn branch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedChange {
    /// Slash-separated, relative to the repository root.
    pub path: String,
    /// False when the change stages the file's deletion.
    pub present: bool,
}

impl StagedRepo {
    /// Opens the repository the current process is in, as git hooks see it.
    pub fn open_from_env() -> Result<Self, GitIndexError> {
        Self::with_index_from_env(open_repository()?)
    }

    /// Opens the repository containing `path` (still honouring `GIT_INDEX_FILE`).
    pub fn discover(path: &Path) -> Result<Self, GitIndexError> {
        let repo = Repository::discover(path).map_err(GitIndexError::NoRepository)?;
        Self::with_index_from_env(repo)
    }

    fn with_index_from_env(repo: Repository) -> Result<Self, GitIndexError> {
        // libgit2 re-hashes every object it reads (SHA-1 with collision detection,
        // ~10 ms for Ghost's 1.5 MB yarn.lock); git itself does not, and a corrupt
        // object store is `git fsck`'s business, not a pre-commit hook's.
        git2::opts::strict_hash_verification(false);
        let index_path = match env::var_os("GIT_INDEX_FILE") {
            // Relative values are relative to the current directory, as for git itself.
            Some(p) if !p.is_empty() => {
                let p = PathBuf::from(p);
                std::path::absolute(&p).unwrap_or(p)
            }
            _ => repo.path().join("index"),
        };
        let mut index = Index::open(&index_path).map_err(git_err(format!(
            "cannot read the index {}",
            index_path.display()
        )))?;
        repo.set_index(&mut index)
            .map_err(git_err("cannot attach the index to the repository"))?;
        Ok(Self {
            repo,
            index,
            index_path,
        })
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// The top of the working tree (`None` for a bare repository).
    pub fn workdir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// The index file in use (the one `GIT_INDEX_FILE` names, if set).
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    /// Whether the index is the repository's own, rather than a temporary one git made
    /// for `git commit -a` or `git commit <paths>`.
    pub fn uses_default_index(&self) -> bool {
        let own = self.repo.path().join("index");
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        canon(&own) == canon(&self.index_path)
    }

    /// The staged bytes of `path`, or `None` when the index has no such file. A staged
    /// symlink is followed to the staged file it points at, as git's checkout would.
    pub fn staged(&self, path: &str) -> Result<Option<Vec<u8>>, GitIndexError> {
        let resolved = self.resolve(path)?;
        match self.index.get_path(Path::new(&resolved), 0) {
            None => Ok(None),
            Some(entry) => self.blob(entry.id, path).map(Some),
        }
    }

    /// The index path `path` ends at after following staged symlinks (itself when it
    /// is not one, or is not staged).
    pub fn resolve(&self, path: &str) -> Result<String, GitIndexError> {
        let mut current = path.to_owned();
        // As the kernel does (ELOOP): a bound rather than cycle detection.
        for _ in 0..MAX_SYMLINKS {
            let Some(entry) = self.index.get_path(check_path(&current)?, 0) else {
                return Ok(current);
            };
            if entry.mode & 0o170000 != MODE_SYMLINK {
                return Ok(current);
            }
            let target = self.blob(entry.id, &current)?;
            let target = String::from_utf8_lossy(&target).into_owned();
            current = join_link(&current, &target).ok_or_else(|| GitIndexError::BadPath {
                path: path.to_owned(),
                problem: "is a staged symlink pointing outside the repository",
            })?;
        }
        Err(GitIndexError::BadPath {
            path: path.to_owned(),
            problem: "is a staged symlink in a loop (or a chain of more than 40)",
        })
    }

    /// Staged paths whose file name is one of `names`, in index (sorted) order.
    pub fn tracked_named(&self, names: &[&str]) -> Vec<String> {
        self.index
            .iter()
            // Stage 0 only: conflict stages (bits 12-13) name the same path again.
            .filter(|e| (e.flags >> 12) & 3 == 0)
            .filter_map(|e| String::from_utf8(e.path).ok())
            .filter(|p| names.contains(&p.rsplit('/').next().unwrap_or(p)))
            .collect()
    }

    /// Whether the index has an entry for `path`.
    pub fn is_tracked(&self, path: &str) -> Result<bool, GitIndexError> {
        Ok(self.index.get_path(check_path(path)?, 0).is_some())
    }

    /// The bytes of `path` in `HEAD`, or `None` (no such file, or no commit yet).
    pub fn at_head(&self, path: &str) -> Result<Option<Vec<u8>>, GitIndexError> {
        let Some(tree) = self.head_tree()? else {
            return Ok(None);
        };
        match tree.get_path(check_path(path)?) {
            Ok(entry) => self.blob(entry.id(), path).map(Some),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git_err(format!("cannot look up {path} in HEAD"))(e)),
        }
    }

    /// Paths whose staged content differs from `HEAD`, sorted.
    pub fn staged_changes(&self) -> Result<Vec<StagedChange>, GitIndexError> {
        let head = self.head_tree()?;
        let mut opts = DiffOptions::new();
        opts.ignore_submodules(true);
        let diff = self
            .repo
            .diff_tree_to_index(head.as_ref(), Some(&self.index), Some(&mut opts))
            .map_err(git_err("cannot compare the index with HEAD"))?;
        let mut out = Vec::new();
        for delta in diff.deltas() {
            let present = delta.status() != git2::Delta::Deleted;
            let file = if present {
                delta.new_file()
            } else {
                delta.old_file()
            };
            if let Some(path) = file.path().and_then(Path::to_str) {
                out.push(StagedChange {
                    path: path.to_owned(),
                    present,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Stages `contents` as `path` (a regular, non-executable file) and writes the
    /// index. Only that entry changes: every other staged path keeps its blob, and the
    /// working tree is not touched.
    /// A staged symlink is followed: its target is staged, and the link stays a link;
    /// an executable file stays executable.
    pub fn stage_bytes(&mut self, path: &str, contents: &[u8]) -> Result<(), GitIndexError> {
        let resolved = self.resolve(path)?;
        let path = resolved.as_str();
        let mode = match self.index.get_path(Path::new(path), 0) {
            Some(entry) if entry.mode == 0o100755 => 0o100755,
            _ => 0o100644,
        };
        let id = self.repo.blob(contents).map_err(git_err(format!(
            "cannot store {path} in the object database"
        )))?;
        let entry = IndexEntry {
            ctime: IndexTime::new(0, 0),
            mtime: IndexTime::new(0, 0),
            dev: 0,
            ino: 0,
            mode,
            uid: 0,
            gid: 0,
            file_size: contents.len() as u32,
            id,
            flags: 0,
            flags_extended: 0,
            path: path.as_bytes().to_vec(),
        };
        self.index
            .add(&entry)
            .map_err(git_err(format!("cannot stage {path}")))?;
        self.index.write().map_err(git_err(format!(
            "cannot write the index {}",
            self.index_path.display()
        )))
    }

    fn head_tree(&self) -> Result<Option<Tree<'_>>, GitIndexError> {
        match self.repo.head() {
            Ok(head) => head
                .peel_to_tree()
                .map(Some)
                .map_err(git_err("cannot read HEAD's tree")),
            Err(e)
                if matches!(
                    e.code(),
                    git2::ErrorCode::UnbornBranch | git2::ErrorCode::NotFound
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(git_err("cannot resolve HEAD")(e)),
        }
    }

    fn blob(&self, id: Oid, path: &str) -> Result<Vec<u8>, GitIndexError> {
        let blob = self
            .repo
            .find_blob(id)
            .map_err(git_err(format!("cannot read the staged blob of {path}")))?;
        Ok(blob.content().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_are_joined_inside_the_repository() {
        assert_eq!(
            join_link("yarn.lock", "app/yarn.lock").as_deref(),
            Some("app/yarn.lock")
        );
        assert_eq!(
            join_link(".nix/yarn-deps.toml", "../nix/deps.toml").as_deref(),
            Some("nix/deps.toml")
        );
        assert_eq!(join_link("a/b", "./c").as_deref(), Some("a/c"));
        assert_eq!(join_link("yarn.lock", "../outside/yarn.lock"), None);
        assert_eq!(join_link("yarn.lock", "/etc/passwd"), None);
    }

    #[test]
    fn odd_paths_are_named_not_panicked_on() {
        for bad in [
            "",
            "./yarn.lock",
            "../yarn.lock",
            "/yarn.lock",
            "a//b",
            "a/",
        ] {
            assert!(repo_path_problem(bad).is_some(), "{bad:?}");
        }
        assert_eq!(repo_path_problem("apps/admin/yarn.lock"), None);
    }
}

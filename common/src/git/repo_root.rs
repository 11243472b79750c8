//! Finding the repository a lockfile belongs to, and naming files relative to it.
//!
//! The hash record keys lockfiles by their path from the repository root, so the same
//! record reads the same from any working directory and in any clone.

use std::io;
use std::path::{Component, Path, PathBuf};

/// The work tree containing `start`: the nearest directory at or above it that holds a
/// `.git` directory with a `HEAD`, or a `.git` file (`gitdir: …`, a linked worktree or a
/// submodule), as libgit2's discovery finds it; `start` itself outside a repository.
///
/// A walk of the file system, not libgit2: initialising libgit2 initialises OpenSSL, and
/// with `SSL_CERT_FILE` set (as on many CI machines) that parses every CA certificate,
/// 5 of the 17 ms a `--check` took.
pub fn discover(start: &Path) -> PathBuf {
    let start: PathBuf = start.components().collect();
    let mut dir = start.as_path();
    loop {
        if holds_git_dir(dir) {
            return dir.to_path_buf();
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return start,
        }
    }
}

fn holds_git_dir(dir: &Path) -> bool {
    let git = dir.join(".git");
    match std::fs::metadata(&git) {
        Ok(m) if m.is_dir() => git.join("HEAD").is_file(),
        Ok(m) if m.is_file() => std::fs::read(&git).is_ok_and(|b| b.starts_with(b"gitdir: ")),
        _ => false,
    }
}

/// `path` relative to `root`, `/`-separated, as the record spells it.
pub fn relative_key(root: &Path, path: &Path) -> io::Result<String> {
    let root = root.canonicalize()?;
    let path = path.canonicalize()?;
    let rel = path.strip_prefix(&root).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is outside the repository {}",
                path.display(),
                root.display()
            ),
        )
    })?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => Ok(s.to_string_lossy().into_owned()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unexpected path component",
            )),
        })
        .collect::<io::Result<_>>()?;
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_root_relative_and_slash_separated() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/yarn.lock"), "").unwrap();
        let key = relative_key(dir.path(), &dir.path().join("a/./b/yarn.lock")).unwrap();
        assert_eq!(key, "a/b/yarn.lock");
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("yarn.lock"), "").unwrap();
        assert!(relative_key(dir.path(), &outside.path().join("yarn.lock")).is_err());
    }

    /// The work tree libgit2 discovers from `start`, normalised as [`discover`]'s.
    fn libgit2_says(start: &Path) -> PathBuf {
        git2::Repository::discover(start)
            .ok()
            .and_then(|r| r.workdir().map(Path::to_path_buf))
            .unwrap_or_else(|| start.to_path_buf())
            .components()
            .collect()
    }

    #[test]
    fn discovery_agrees_with_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        let repo = git2::Repository::init(&main).unwrap();
        std::fs::create_dir_all(main.join("a/b")).unwrap();
        // A linked worktree (a `.git` file) needs a commit to branch from.
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo
            .find_tree(repo.index().unwrap().write_tree().unwrap())
            .unwrap();
        repo.commit(Some("HEAD"), &sig, &sig, "init", &tree, &[])
            .unwrap();
        let linked = dir.path().join("linked");
        repo.worktree("linked", &linked, None).unwrap();
        std::fs::create_dir_all(linked.join("c")).unwrap();
        // A `.git` directory that is no repository is passed over, as libgit2 does.
        std::fs::create_dir_all(main.join("a/b/not-a-repo/.git")).unwrap();
        let outside = dir.path().join("outside/d");
        std::fs::create_dir_all(&outside).unwrap();
        for start in [
            main.clone(),
            main.join("a/b"),
            main.join("a/b/not-a-repo"),
            linked.clone(),
            linked.join("c"),
            outside,
        ] {
            assert_eq!(
                discover(&start),
                libgit2_says(&start),
                "from {}",
                start.display()
            );
        }
        assert_eq!(discover(&linked.join("c")), linked);
        assert_eq!(discover(&main.join("a/b")), main);
    }
}

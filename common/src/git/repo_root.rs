//! Finding the repository a lockfile belongs to, and naming files relative to it.
//!
//! The hash record keys lockfiles by their path from the repository root, so the same
//! record reads the same from any working directory and in any clone.

use std::io;
use std::path::{Component, Path, PathBuf};

/// The work tree containing `start` (via git2, so worktrees and `GIT_DIR` work), or
/// `start` itself outside a repository.
pub fn discover(start: &Path) -> PathBuf {
    git2::Repository::discover(start)
        .ok()
        .and_then(|r| r.workdir().map(Path::to_path_buf))
        .unwrap_or_else(|| start.to_path_buf())
        .components()
        .collect()
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
}

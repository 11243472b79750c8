//! Writes that either happen whole or not at all: a temp file, synced, then renamed
//! over the target.
//!
//! Where the temp file lives matters when the run is killed before the rename: a temp
//! file beside the target would show up in `git status` as untracked. So when the
//! target is in a git work tree, the temp file goes into the git dir (which git never
//! lists) if it is on the same file system, so the rename cannot cross file systems;
//! otherwise it is a dot-named sibling. Either way its name starts with [`TEMP_PREFIX`]
//! and its writer holds an `flock(2)` on it while it exists, so the next write removes
//! stale ones (those whose writer is dead, as the kernel released the lock) and never
//! one a live process is writing.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::file_lock::flock;

/// How every temp file of [`write_atomic`] is named, so stale ones can be recognised.
pub const TEMP_PREFIX: &str = ".nixci-tmp-";

/// Replaces `path` with `contents` atomically, keeping the old file's permissions. A
/// symlink is followed: its target is replaced, the link stays a link.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let path = resolve_symlink(path)?;
    let dir = parent_dir(&path);
    fs::create_dir_all(&dir)?;
    remove_stale_temp_files(&dir);
    if let Some(git_dir) = git_dir_beside(&dir) {
        remove_stale_temp_files(&git_dir);
        match write_via(&git_dir, &path, contents) {
            // A bind mount can look like one file system and still refuse the rename;
            // a read-only git dir refuses the temp file. The sibling still works.
            Err(e)
                if e.raw_os_error() == Some(libc::EXDEV)
                    || e.kind() == io::ErrorKind::PermissionDenied => {}
            done => return done,
        }
    }
    write_via(&dir, &path, contents)
}

/// Like [`write_atomic`], but leaves the file (and its mtime) alone when the contents
/// are already `contents`. Returns whether it wrote.
pub fn write_if_changed(path: &Path, contents: &[u8]) -> io::Result<bool> {
    match fs::read(path) {
        Ok(old) if old == contents => Ok(false),
        _ => write_atomic(path, contents).map(|()| true),
    }
}

/// `path`, or where it points when it is a symlink: the file a write really replaces.
pub(crate) fn resolve_symlink(path: &Path) -> io::Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path),
        _ => Ok(path.to_owned()),
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The git dir of the work tree `dir` is in, when it is on `dir`'s file system. `None`
/// outside a repository and inside the git dir itself (hooks), where a sibling is
/// already invisible to git.
fn git_dir_beside(dir: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::discover(dir).ok()?;
    let dir = fs::canonicalize(dir).ok()?;
    let git_dir = fs::canonicalize(repo.path()).ok()?;
    let work_tree = fs::canonicalize(repo.workdir()?).ok()?;
    let inside = dir.starts_with(&work_tree) && !dir.starts_with(&git_dir);
    let same_fs = fs::metadata(&dir).ok()?.dev() == fs::metadata(&git_dir).ok()?.dev();
    (inside && same_fs).then_some(git_dir)
}

fn write_via(temp_dir: &Path, path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = locked_temp_file(temp_dir)?;
    tmp.write_all(contents)?;
    let permissions = match fs::metadata(path) {
        Ok(meta) => meta.permissions(),
        Err(_) => {
            use std::os::unix::fs::PermissionsExt;
            fs::Permissions::from_mode(0o644)
        }
    };
    tmp.as_file().set_permissions(permissions)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A new temp file in `dir` whose flock this process holds until it is closed.
fn locked_temp_file(dir: &Path) -> io::Result<NamedTempFile> {
    loop {
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .rand_bytes(12)
            .tempfile_in(dir)?;
        flock(tmp.as_file(), libc::LOCK_EX)?;
        // Between the create and the lock, another run may have taken the unlocked
        // file for a stale one and removed it; then make another.
        if is_same_file(tmp.as_file(), tmp.path()) {
            return Ok(tmp);
        }
    }
}

/// Removes `dir`'s temp files whose writer is gone. Best effort: a file that cannot
/// be opened or locked is left alone.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(TEMP_PREFIX.as_bytes())
        {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // A live writer holds the lock; the kernel dropped a dead writer's.
        if flock(&file, libc::LOCK_EX | libc::LOCK_NB).is_ok() && is_same_file(&file, &path) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Whether `path` (not followed) still names the open `file`.
fn is_same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_reports_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/f.toml");
        assert!(write_if_changed(&p, b"a").unwrap());
        assert!(!write_if_changed(&p, b"a").unwrap());
        assert!(write_if_changed(&p, b"b").unwrap());
        assert_eq!(fs::read(&p).unwrap(), b"b");
        assert_eq!(
            fs::read_dir(p.parent().unwrap()).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[test]
    fn in_a_work_tree_the_temp_file_lives_in_the_git_dir() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let target = dir.path().join(".nix/record.toml");
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        assert_eq!(
            git_dir_beside(target.parent().unwrap()),
            Some(fs::canonicalize(repo.path()).unwrap())
        );
        assert_eq!(
            git_dir_beside(repo.path()),
            None,
            "hooks: a sibling is invisible"
        );
        write_atomic(&target, b"x").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"x");
    }

    #[test]
    fn stale_temp_files_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!("{TEMP_PREFIX}dead"));
        fs::write(&stale, b"left by a killed run").unwrap();
        let live = locked_temp_file(dir.path()).unwrap();
        let unrelated = dir.path().join(".tmp-someone-else");
        fs::write(&unrelated, b"").unwrap();
        write_atomic(&dir.path().join("f"), b"new").unwrap();
        assert!(!stale.exists(), "an unlocked temp file is stale");
        assert!(
            live.path().exists(),
            "a locked one belongs to a live writer"
        );
        assert!(unrelated.exists(), "only our own names are touched");
    }
}

//! The tarball cache's in-flight temp files: locked while written, swept when stale.
//!
//! A download streams into `.tmp-*` beside its entry and is renamed over it when whole
//! and verified. A run killed mid-download leaves its temp files behind, so every run
//! sweeps them, and must never remove one that a live run is still writing. Each temp
//! file is therefore held under an exclusive `flock` by its writer for its whole life
//! (the lock dies with the process, however it dies); the sweep removes only temp files
//! it can lock itself.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use tempfile::NamedTempFile;

pub const PREFIX: &str = ".tmp-";

/// A new temp file in `dir`, created read-only (entries are immutable; the open handle
/// can still write) and locked by this process until dropped or renamed and closed.
pub fn create_locked(dir: &Path) -> io::Result<NamedTempFile> {
    // Between creation and `flock` a sweeping run can lock and unlink the file: then
    // it has no name left (nlink 0) and a fresh one is made.
    for _ in 0..8 {
        let tmp = tempfile::Builder::new()
            .prefix(PREFIX)
            .permissions(fs::Permissions::from_mode(0o444))
            .tempfile_in(dir)?;
        lock(tmp.as_file(), true)?;
        if tmp.as_file().metadata()?.nlink() > 0 {
            return Ok(tmp);
        }
    }
    Err(io::Error::other(format!(
        "{}: temp files keep vanishing while being created",
        dir.display()
    )))
}

/// Removes every temp file in `dir` that no live process holds: what killed runs left.
/// Returns how many were removed.
pub fn sweep(dir: &Path) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        if !entry
            .file_name()
            .as_encoded_bytes()
            .starts_with(PREFIX.as_bytes())
        {
            continue;
        }
        let path = entry.path();
        let file = match File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(f) => f,
            // Renamed into place meanwhile, or a symlink: not a temp file of ours.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                fs::remove_file(&path)?;
                removed += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        if !lock(&file, false)? {
            continue; // a live run is writing it
        }
        // Still the file we locked under that name (not renamed away and replaced)?
        let same = fs::symlink_metadata(&path)
            .is_ok_and(|m| m.ino() == file.metadata().map_or(0, |f| f.ino()));
        if same {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// `flock(LOCK_EX)`, blocking or not. Returns whether the lock was taken.
fn lock(file: &File, wait: bool) -> io::Result<bool> {
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_held_temp_file_survives_the_sweep_and_an_abandoned_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut live = create_locked(dir.path()).unwrap();
        live.write_all(b"in flight").unwrap();
        // What a killed run leaves: a temp file nobody holds.
        let abandoned = dir.path().join(".tmp-abandoned");
        fs::write(&abandoned, b"half").unwrap();
        fs::write(dir.path().join("entry"), b"kept").unwrap();

        assert_eq!(sweep(dir.path()).unwrap(), 1);
        assert!(!abandoned.exists());
        assert!(live.path().exists(), "a live run's temp file was removed");
        assert!(dir.path().join("entry").exists());
        let path = live.path().to_owned();
        drop(live);
        assert!(!path.exists());
        assert_eq!(sweep(dir.path().join("missing").as_path()).unwrap(), 0);
    }
}

//! An exclusive advisory lock for a read-modify-write of one file (the hash record, a
//! `.nix` file), so that concurrent runs merge their changes instead of overwriting
//! each other's.
//!
//! The lock is `flock(2)` on the target's directory, not on the file: the file is
//! replaced by rename, so a lock on its inode would protect nothing, and a separate
//! lock file would be one more untracked file in the work tree. The kernel drops an
//! flock when its holder exits for any reason (kill -9 included), so a crashed run can
//! never leave the lock held.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Held while the guard lives; released on drop (or by the kernel at exit).
#[derive(Debug)]
pub struct UpdateLock {
    _dir: File,
}

impl UpdateLock {
    /// Waits until no other process holds the lock for `target`'s directory, creating
    /// the directory if it is missing. A symlinked `target` locks its target's
    /// directory, where the write happens.
    pub fn acquire(target: &Path) -> io::Result<Self> {
        let dir = lock_dir(target)?;
        fs::create_dir_all(&dir)?;
        let dir = File::open(&dir)?;
        flock(&dir, libc::LOCK_EX)?;
        Ok(Self { _dir: dir })
    }
}

fn lock_dir(target: &Path) -> io::Result<PathBuf> {
    let target = crate::atomic_write::resolve_symlink(target)?;
    Ok(match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    })
}

/// `flock(2)`, retried on EINTR.
pub(crate) fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock only reads the descriptor number, which `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/record.toml");
        let first = UpdateLock::acquire(&target).unwrap();
        let probe = File::open(dir.path().join("sub")).unwrap();
        let busy = flock(&probe, libc::LOCK_EX | libc::LOCK_NB).unwrap_err();
        assert_eq!(busy.raw_os_error(), Some(libc::EWOULDBLOCK));
        drop(first);
        flock(&probe, libc::LOCK_EX | libc::LOCK_NB).unwrap();
    }
}

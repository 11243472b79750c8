//! The store's file contents between its two passes: each distinct file's bytes appended,
//! as they are, to one unnamed temporary file, so pass 2 reads them back in the tar's
//! order without gunzipping any tarball again and without holding the 1.05 GB of a
//! Ghost-sized store in memory. The file has no name (`tempfile::tempfile`): the OS
//! reclaims it when the [`Spill`] is dropped or the process dies, and no store directory is
//! ever created.
//!
//! The bytes are not compressed. zstd at `--fast=5` halved the file but was a fifth of a
//! Ghost recompute's CPU time (compressing and decompressing 1.05 GB): without it, four
//! interleaved pairs of runs took 13.1-17.5 s of CPU instead of 16.9-22.7 s. The cost is
//! disk space under `$TMPDIR`: as many bytes as the store's files.
//!
//! Files of 1 MB and more are hashed from here ([`super::late_hash`], by
//! [`Spill::sha512_each`]), where eight of them can share the SHA-512 lanes.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use crate::parallel_map::{dealt_heaviest_first, parallel_map};

/// Where one file's bytes are in the spill file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stored {
    offset: u64,
    len: u64,
}

/// An append-only file of contents, shared by the threads of pass 1.
pub struct Spill {
    file: File,
    end: Mutex<u64>,
}

impl Spill {
    pub fn new() -> io::Result<Self> {
        Ok(Self {
            file: tempfile::tempfile()?,
            end: Mutex::new(0),
        })
    }

    /// Appends `data`; the copy runs outside the lock.
    pub fn put(&self, data: &[u8]) -> io::Result<Stored> {
        let len = data.len() as u64;
        let offset = {
            let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
            let offset = *end;
            *end += len;
            offset
        };
        self.file.write_all_at(data, offset)?;
        Ok(Stored { offset, len })
    }

    /// `buf.len()` of the bytes stored at `stored`, from `offset` on.
    fn read_at(&self, stored: Stored, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if offset + buf.len() as u64 > stored.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} bytes from {offset} of {} stored", buf.len(), stored.len),
            ));
        }
        self.file.read_exact_at(buf, stored.offset + offset)
    }

    /// The SHA-512 of each of `files`, eight at a time on each of `threads` threads
    /// (`sha512_lanes::sha512_many_read`), a chunk of each in memory at once.
    pub fn sha512_each(&self, files: &[Stored], threads: usize) -> io::Result<Vec<[u8; 64]>> {
        let threads = threads.clamp(1, files.len().div_ceil(8).max(1));
        let lens: Vec<u64> = files.iter().map(|f| f.len).collect();
        let shares = dealt_heaviest_first(&lens, threads);
        let hashed = parallel_map(&shares, threads, |_, share| {
            let lens: Vec<u64> = share.iter().map(|&i| files[i].len).collect();
            sha512_lanes::sha512_many_read(&lens, &|i, offset, buf| {
                self.read_at(files[share[i]], offset, buf)
            })
        })?;
        let mut digests = vec![[0; 64]; files.len()];
        for (share, hashed) in shares.iter().zip(hashed) {
            for (&i, digest) in share.iter().zip(hashed) {
                digests[i] = digest;
            }
        }
        Ok(digests)
    }

    /// The bytes stored at `stored`.
    pub fn get(&self, stored: Stored) -> io::Result<Vec<u8>> {
        use std::os::fd::AsRawFd;
        let len = usize::try_from(stored.len).map_err(io::Error::other)?;
        let mut data = Vec::with_capacity(len);
        // Read into the spare room as it is: zeroing it first was one more pass over every
        // byte of the store.
        while data.len() < len {
            let (got, spare) = (data.len(), data.spare_capacity_mut());
            let at = libc::off_t::try_from(stored.offset + got as u64).map_err(io::Error::other)?;
            // SAFETY: `spare` is writable memory of `spare.len()` bytes that pread fills
            // and nothing reads before `set_len` below admits exactly what it wrote.
            let n = unsafe {
                libc::pread(
                    self.file.as_raw_fd(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    at,
                )
            };
            match n {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "spill file too short",
                    ))
                }
                n if n < 0 => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
                // SAFETY: pread wrote these `n` bytes of the spare room.
                n => unsafe { data.set_len(got + n as usize) },
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_back_what_was_put_in_any_order() {
        let spill = Spill::new().unwrap();
        let a: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let (sa, sb, se) = (
            spill.put(&a).unwrap(),
            spill.put(b"hello").unwrap(),
            spill.put(b"").unwrap(),
        );
        assert_eq!(spill.get(sb).unwrap(), b"hello");
        assert_eq!(spill.get(se).unwrap(), b"");
        assert_eq!(spill.get(sa).unwrap(), a);
    }

    #[test]
    fn hashes_what_it_holds_on_any_number_of_threads() {
        use sha2::{Digest, Sha512};
        let spill = Spill::new().unwrap();
        let contents: Vec<Vec<u8>> = (0..19u32)
            .map(|i| (0..i * 70_001).map(|j| (j * 31 + i) as u8).collect())
            .collect();
        let stored: Vec<Stored> = contents.iter().map(|c| spill.put(c).unwrap()).collect();
        let want: Vec<[u8; 64]> = contents.iter().map(|c| Sha512::digest(c).into()).collect();
        for threads in [1, 2, 3, 8] {
            assert_eq!(
                spill.sha512_each(&stored, threads).unwrap(),
                want,
                "{threads} threads"
            );
        }
        assert!(spill.sha512_each(&[], 2).unwrap().is_empty());
    }

    #[test]
    fn a_short_file_is_an_error_not_short_bytes() {
        let spill = Spill::new().unwrap();
        let stored = spill.put(b"hello").unwrap();
        spill.file.set_len(3).unwrap();
        assert!(spill.get(stored).is_err());
        assert!(spill.sha512_each(&[stored], 1).is_err());
    }
}

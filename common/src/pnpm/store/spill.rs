//! The store's file contents between its two passes: each distinct file zstd-compressed
//! at a fast negative level into one unnamed temporary file, so pass 2 reads them back in the tar's order without
//! gunzipping any tarball again and without holding the 1.2 GB of a Ghost-sized store in
//! memory. The file has no name (`tempfile::tempfile`): the OS reclaims it when the
//! [`Spill`] is dropped or the process dies, and no unpacked store is ever on disk.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

/// zstd's `--fast=5`: on Ghost's store 570 MB/s in and 1.6 GB/s out at about half the
/// size, where level 1 gave 380 MB/s and 1.0 GB/s at a third (`zstd -b` on 400 MB of its
/// tar, this machine). The bytes only wait here; the speed of both passes is what counts.
const LEVEL: i32 = -5;

thread_local! {
    // One context per thread of each pass: creating one per file was 1.5% of a run.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    // And one buffer for the compressed bytes: a fresh one per file is a fresh mapping,
    // faulted in and zeroed, for each large file.
    static PACKED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A compressed-bytes buffer larger than this is freed after use, not kept.
const KEEP_PACKED: usize = 8 << 20;

/// `f` with this thread's compressed-bytes buffer, emptied and able to hold `capacity`.
fn with_packed<R>(capacity: usize, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut packed = PACKED.with(|p| p.take());
    packed.clear();
    packed.reserve(capacity);
    let r = f(&mut packed);
    if packed.capacity() <= KEEP_PACKED {
        PACKED.with(|p| p.replace(packed));
    }
    r
}

/// Where one file's compressed bytes are in the spill file.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    offset: u64,
    len: u64,
}

/// An append-only file of compressed contents, shared by the threads of pass 1.
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

    /// Compresses `data` and appends it; compression runs outside the lock.
    pub fn put(&self, data: &[u8]) -> io::Result<Stored> {
        with_packed(zstd::zstd_safe::compress_bound(data.len()), |packed| {
            COMPRESSOR.with(|c| -> io::Result<usize> {
                let mut c = c.borrow_mut();
                if c.is_none() {
                    *c = Some(zstd::bulk::Compressor::new(LEVEL)?);
                }
                c.as_mut()
                    .expect("set above")
                    .compress_to_buffer(data, packed)
            })?;
            let len = packed.len() as u64;
            let offset = {
                let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
                let offset = *end;
                *end += len;
                offset
            };
            self.file.write_all_at(packed, offset)?;
            Ok(Stored { offset, len })
        })
    }

    /// The `size` bytes stored at `stored`.
    pub fn get(&self, stored: Stored, size: u64) -> io::Result<Vec<u8>> {
        let data = with_packed(stored.len as usize, |packed| {
            packed.resize(stored.len as usize, 0);
            self.file.read_exact_at(packed, stored.offset)?;
            DECOMPRESSOR.with(|d| -> io::Result<Vec<u8>> {
                let mut d = d.borrow_mut();
                if d.is_none() {
                    *d = Some(zstd::bulk::Decompressor::new()?);
                }
                d.as_mut()
                    .expect("set above")
                    .decompress(packed, size as usize)
            })
        })?;
        if data.len() as u64 != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the temporary file gave {} bytes where {size} were stored",
                    data.len()
                ),
            ));
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
        assert_eq!(spill.get(sb, 5).unwrap(), b"hello");
        assert_eq!(spill.get(se, 0).unwrap(), b"");
        assert_eq!(spill.get(sa, a.len() as u64).unwrap(), a);
        assert!(spill.get(sb, 4).is_err());
    }
}

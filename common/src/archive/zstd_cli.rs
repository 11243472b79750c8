//! A zstd encoder whose output is byte for byte what the `zstd` 1.5.7 command line writes
//! when GNU tar 1.35's `--zstd` runs it to compress an archive.
//!
//! What that invocation is, from the sources:
//!
//! - GNU tar runs `/bin/sh -c zstd` with the archive on stdin and the output file on
//!   stdout (tar 1.35 `src/buffer.c` compression table, `src/system.c` `xexec`): no options.
//! - The CLI then compresses at level 3 with the checksum on (`programs/zstdcli.c`,
//!   `programs/fileio.c` defaults) and, reading a pipe, never knows the size in advance: it
//!   feeds the input with `ZSTD_e_continue` and ends the frame with `ZSTD_e_end` on an empty
//!   read, so the frame header carries no content size, except for empty input, where the
//!   first call already ends the frame and the library records a size of 0.
//! - It is multithreaded: the default worker count is `max(1, min(4, cores / 4))`
//!   (`ZSTDCLI_NBTHREADS_DEFAULT`), always at least one, and libzstd's multithreaded output
//!   does not depend on the number of workers (jobs are cut at a size derived from the
//!   compression parameters only: 8 MiB at level 3). The output is therefore the same on
//!   every machine, and so is ours with any worker count.
//!
//! The bundled libzstd is 1.5.7 (`zstd-sys` 2.0.15+zstd.1.5.7, pinned in the workspace's
//! Cargo.toml; its `lib/` equals the 1.5.7 release's), the library the CLI is built on;
//! [`LIBZSTD_VERSION`] is checked by a test so a bump cannot go unnoticed.

use std::io::{self, Write};

/// The CLI's default compression level.
pub const LEVEL: i32 = 3;
/// The libzstd version whose CLI output this reproduces (`ZSTD_versionNumber`).
pub const LIBZSTD_VERSION: u32 = 10507;
/// The CLI never uses more than 4 workers by default; more would not change the output.
const MAX_WORKERS: u32 = 4;

/// Compresses what is written to it into `W`; [`Encoder::finish`] ends the frame.
pub struct Encoder<W: Write> {
    inner: zstd::stream::write::Encoder<'static, W>,
}

impl<W: Write> Encoder<W> {
    /// An encoder using up to 4 worker threads, as many as the machine has cores.
    pub fn new(out: W) -> io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        Self::with_workers(out, cores.clamp(1, MAX_WORKERS))
    }

    /// An encoder with `workers` (at least 1) compression threads; the output is the same
    /// for every count.
    pub fn with_workers(out: W, workers: u32) -> io::Result<Self> {
        let mut inner = zstd::stream::write::Encoder::new(out, LEVEL)?;
        inner.include_checksum(true)?;
        inner.multithread(workers.max(1))?;
        Ok(Self { inner })
    }

    /// Ends the frame and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        self.inner.finish()
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // An empty first write would start the frame as "size unknown", which the CLI
        // never does for empty input (its first call ends the frame); skip it.
        if buf.is_empty() {
            return Ok(0);
        }
        self.inner.write(buf)
    }

    /// Writes out what the compressor has produced so far, without ending a block: the CLI
    /// never flushes mid-frame, so neither does this (a zstd flush would change the bytes).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.get_mut().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_libzstd_is_1_5_7() {
        assert_eq!(zstd::zstd_safe::version_number(), LIBZSTD_VERSION);
    }

    fn compress(data: &[u8], workers: u32) -> Vec<u8> {
        let mut e = Encoder::with_workers(Vec::new(), workers).unwrap();
        e.write_all(data).unwrap();
        e.flush().unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn empty_input_records_size_zero_like_the_cli() {
        // `printf '' | zstd | xxd`: magic, FHD 0x24 (single segment, checksum), FCS 0,
        // one empty last raw block, XXH64 checksum.
        let want = [
            0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51,
        ];
        assert_eq!(compress(b"", 1), want);
        let mut e = Encoder::with_workers(Vec::new(), 2).unwrap();
        e.write_all(b"").unwrap();
        assert_eq!(e.finish().unwrap(), want);
    }

    #[test]
    fn small_input_has_no_content_size_like_the_cli() {
        // `printf hello | zstd | xxd`
        let want = [
            0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
            0xa3, 0x6d, 0x9f, 0x88,
        ];
        assert_eq!(compress(b"hello", 1), want);
        assert_eq!(compress(b"hello", 3), want);
    }

    #[test]
    fn roundtrips() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let out = compress(&data, 2);
        assert_eq!(zstd::decode_all(&out[..]).unwrap(), data);
    }
}

//! SHA-512 of many independent messages at once.
//!
//! A pnpm store names every file by the SHA-512 of its bytes: Ghost's has 49,775 files and
//! 1.0 GB, and hashing them one after the other was the largest cost of a recompute after
//! zstd (18% of its CPU time). One SHA-512 is a serial chain of 80 rounds per block, so a
//! single message cannot use wide vectors well (the `sha2` crate's AVX2 path vectorises
//! only the message schedule; this CPU has SHA-NI for SHA-256, not SHA-512). Independent
//! messages can: with AVX-512, each 64-bit lane of a 512-bit register carries one message's
//! copy of a state word, so one instruction advances eight hashes. On the development
//! machine (Xeon, AVX-512) 20,000 messages of 0-400 KB, 520 MB in all, hashed at
//! 1.35-1.96 GB/s per core against 250-410 MB/s for `sha2`; what it does to a whole run is in
//! BENCHMARKS.md (`cargo xtask bench pnpm`).
//!
//! [`sha512_many`] runs the eight-lane kernel when the CPU has AVX-512F and AVX-512BW
//! (checked at run time) and `sha2` otherwise; both give the same digests, which the tests
//! check against `sha2` on every padding case and lane pattern.

mod lanes;
mod padding;

use std::io;

use sha2::{Digest, Sha512};

pub use padding::{ReadAt, CHUNK};

/// The SHA-512 digest of each message, in order.
pub fn sha512_many(messages: &[&[u8]]) -> Vec<[u8; 64]> {
    #[cfg(target_arch = "x86_64")]
    if lanes::available() {
        return lanes::hash_many(messages);
    }
    one_by_one(messages)
}

/// The SHA-512 digest of each of `lens.len()` messages too large to hold together:
/// message `i` is `lens[i]` bytes long, and `read(i, offset, buf)` fills `buf` with its
/// bytes from `offset` on. At most eight chunks of [`CHUNK`] bytes are held at once. The
/// first failed read is the error.
pub fn sha512_many_read(lens: &[u64], read: &ReadAt<'_>) -> io::Result<Vec<[u8; 64]>> {
    #[cfg(target_arch = "x86_64")]
    if lanes::available() {
        return lanes::hash_many_read(lens, read);
    }
    read_one_by_one(lens, read)
}

/// What [`sha512_many_read`] gives, computed by `sha2` one message at a time.
pub fn read_one_by_one(lens: &[u64], read: &ReadAt<'_>) -> io::Result<Vec<[u8; 64]>> {
    let mut buf = Vec::new();
    let mut digests = Vec::with_capacity(lens.len());
    for (i, &len) in lens.iter().enumerate() {
        let mut hasher = Sha512::new();
        let mut offset = 0;
        while offset < len {
            buf.resize((len - offset).min(CHUNK as u64) as usize, 0);
            read(i, offset, &mut buf)?;
            hasher.update(&buf);
            offset += buf.len() as u64;
        }
        digests.push(hasher.finalize().into());
    }
    Ok(digests)
}

/// What [`sha512_many`] gives, computed by `sha2` one message at a time.
pub fn one_by_one(messages: &[&[u8]]) -> Vec<[u8; 64]> {
    messages.iter().map(|m| Sha512::digest(m).into()).collect()
}

/// Whether [`sha512_many`] uses the eight-lane kernel on this CPU.
pub fn uses_lanes() -> bool {
    #[cfg(target_arch = "x86_64")]
    return lanes::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

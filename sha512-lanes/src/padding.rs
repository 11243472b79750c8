//! One message as the sequence of 128-byte blocks SHA-512 compresses (FIPS 180-4 §5.1.2):
//! its whole blocks read in place, then one or two padded blocks built from its tail.

pub const BLOCK: usize = 128;

/// The initial hash value (FIPS 180-4 §5.3.5).
pub const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// A message being hashed: which one it is, and how many of its blocks are done.
pub struct Job<'a> {
    pub index: usize,
    data: &'a [u8],
    whole: usize,
    total: usize,
    done: usize,
    tail: [u8; 2 * BLOCK],
}

impl<'a> Job<'a> {
    pub fn new(index: usize, data: &'a [u8]) -> Self {
        let whole = data.len() / BLOCK;
        let rest = &data[whole * BLOCK..];
        // The 0x80 byte and the 16-byte length must fit after the tail, else a second block.
        let tail_blocks = if rest.len() < BLOCK - 16 { 1 } else { 2 };
        let mut tail = [0u8; 2 * BLOCK];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        let bits = (data.len() as u128) * 8;
        let end = tail_blocks * BLOCK;
        tail[end - 16..end].copy_from_slice(&bits.to_be_bytes());
        Job {
            index,
            data,
            whole,
            total: whole + tail_blocks,
            done: 0,
            tail,
        }
    }

    /// The next block to compress.
    pub fn block(&self) -> &[u8] {
        if self.done < self.whole {
            &self.data[self.done * BLOCK..(self.done + 1) * BLOCK]
        } else {
            let i = self.done - self.whole;
            &self.tail[i * BLOCK..(i + 1) * BLOCK]
        }
    }

    /// Marks the block [`Job::block`] gave as compressed; true when it was the last.
    pub fn advance(&mut self) -> bool {
        self.done += 1;
        self.done == self.total
    }
}

/// The digest: the state words, big-endian.
pub fn digest_bytes(state: &[u64; 8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (chunk, word) in out.chunks_exact_mut(8).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

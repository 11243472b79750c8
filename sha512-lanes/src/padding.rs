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

/// What the scheduler needs of a message: its position in the output, and its blocks in
/// order.
pub trait Blocks {
    fn index(&self) -> usize;
    /// The next block to compress.
    fn block(&self) -> &[u8];
    /// Marks the block [`Blocks::block`] gave as compressed; true when it was the last.
    fn advance(&mut self) -> bool;
}

/// The one or two padded blocks that end a message of `len` bytes whose last partial
/// block is `rest`, and how many there are.
fn padded_tail(rest: &[u8], len: u64) -> ([u8; 2 * BLOCK], usize) {
    // The 0x80 byte and the 16-byte length must fit after the tail, else a second block.
    let tail_blocks = if rest.len() < BLOCK - 16 { 1 } else { 2 };
    let mut tail = [0u8; 2 * BLOCK];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let bits = u128::from(len) * 8;
    let end = tail_blocks * BLOCK;
    tail[end - 16..end].copy_from_slice(&bits.to_be_bytes());
    (tail, tail_blocks)
}

/// A message in memory being hashed: which one it is, and how many of its blocks are done.
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
        let (tail, tail_blocks) = padded_tail(&data[whole * BLOCK..], data.len() as u64);
        Job {
            index,
            data,
            whole,
            total: whole + tail_blocks,
            done: 0,
            tail,
        }
    }
}

impl Blocks for Job<'_> {
    fn index(&self) -> usize {
        self.index
    }

    fn block(&self) -> &[u8] {
        if self.done < self.whole {
            &self.data[self.done * BLOCK..(self.done + 1) * BLOCK]
        } else {
            let i = self.done - self.whole;
            &self.tail[i * BLOCK..(i + 1) * BLOCK]
        }
    }

    fn advance(&mut self) -> bool {
        self.done += 1;
        self.done == self.total
    }
}

/// How much of a message a [`ReadJob`] holds at once.
pub const CHUNK: usize = 1 << 20;

/// Fills `buf` with message `index`'s bytes from `offset` on.
pub type ReadAt<'r> = dyn Fn(usize, u64, &mut [u8]) -> std::io::Result<()> + 'r;

/// A message read a chunk at a time through a [`ReadAt`]. A failed read ends the job
/// early and leaves its error in `error`, for the caller to report instead of a digest.
pub struct ReadJob<'r> {
    index: usize,
    read: &'r ReadAt<'r>,
    whole: u64,
    total: u64,
    done: u64,
    /// Whole blocks `first..first + chunk.len() / BLOCK` of the message.
    chunk: Vec<u8>,
    first: u64,
    tail: [u8; 2 * BLOCK],
    pub error: Option<std::io::Error>,
}

impl<'r> ReadJob<'r> {
    pub fn new(index: usize, len: u64, read: &'r ReadAt<'r>) -> Self {
        let whole = len / BLOCK as u64;
        let at = (whole * BLOCK as u64) as usize;
        let mut chunk = Vec::new();
        let mut rest = [0u8; BLOCK];
        let rest_len = len as usize - at.min(len as usize);
        // A message that fits in one chunk is read in one call, its tail with it.
        let error = if len <= CHUNK as u64 {
            chunk.resize(len as usize, 0);
            let error = read(index, 0, &mut chunk).err();
            rest[..rest_len].copy_from_slice(&chunk[at..]);
            chunk.truncate(at);
            error
        } else {
            read(index, at as u64, &mut rest[..rest_len]).err()
        };
        let (tail, tail_blocks) = padded_tail(&rest[..rest_len], len);
        let mut job = ReadJob {
            index,
            read,
            whole,
            total: whole + tail_blocks as u64,
            done: 0,
            chunk,
            first: 0,
            tail,
            error,
        };
        if len > CHUNK as u64 {
            job.load(0);
        }
        job
    }

    /// Reads the chunk that starts at whole block `first`.
    fn load(&mut self, first: u64) {
        let blocks = (self.whole - first).min((CHUNK / BLOCK) as u64) as usize;
        if self.error.is_some() || blocks == 0 {
            return;
        }
        self.first = first;
        self.chunk.resize(blocks * BLOCK, 0);
        self.error = (self.read)(self.index, first * BLOCK as u64, &mut self.chunk).err();
    }
}

impl Blocks for ReadJob<'_> {
    fn index(&self) -> usize {
        self.index
    }

    fn block(&self) -> &[u8] {
        // After a failed read the job ends at its next `advance`; what it hashes is unused.
        const UNUSED: [u8; BLOCK] = [0; BLOCK];
        if self.error.is_some() {
            &UNUSED
        } else if self.done < self.whole {
            let at = (self.done - self.first) as usize * BLOCK;
            &self.chunk[at..at + BLOCK]
        } else {
            let i = (self.done - self.whole) as usize;
            &self.tail[i * BLOCK..(i + 1) * BLOCK]
        }
    }

    fn advance(&mut self) -> bool {
        self.done += 1;
        if self.done < self.whole && self.done == self.first + (self.chunk.len() / BLOCK) as u64 {
            self.load(self.done);
        }
        self.error.is_some() || self.done == self.total
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

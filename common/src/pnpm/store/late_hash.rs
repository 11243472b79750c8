//! The SHA-512 of the store's large files, computed from the spill rather than in pass 1's
//! batches, where each batch held at most a few of them and most of their bytes went
//! through one busy lane or `sha2`. Eight waiting files are hashed together as soon as
//! there are eight, between two batches of pass 1: on a cold run that is time the workers
//! would spend waiting for downloads. The rest are hashed once pass 1 is over.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use super::spill::{Spill, Stored};

/// Files hashed together: one per lane.
const LANES: usize = 8;

/// Large files waiting for their digest, and the digests known so far.
#[derive(Default)]
pub struct LateHashes {
    waiting: Mutex<Vec<Stored>>,
    done: Mutex<HashMap<Stored, [u8; 64]>>,
}

impl LateHashes {
    /// `stored` (a file of the spill) needs its digest.
    pub fn push(&self, stored: Stored) {
        lock(&self.waiting).push(stored);
    }

    /// Hashes eight waiting files, if eight are waiting.
    pub fn hash_eight(&self, spill: &Spill) -> io::Result<()> {
        let eight: Vec<Stored> = {
            let mut waiting = lock(&self.waiting);
            if waiting.len() < LANES {
                return Ok(());
            }
            let from = waiting.len() - LANES;
            waiting.drain(from..).collect()
        };
        let digests = spill.sha512_each(&eight, 1)?;
        lock(&self.done).extend(eight.into_iter().zip(digests));
        Ok(())
    }

    /// Every file's digest, those still waiting hashed now on `threads` threads.
    pub fn finish(self, spill: &Spill, threads: usize) -> io::Result<HashMap<Stored, [u8; 64]>> {
        let waiting = self.waiting.into_inner().unwrap_or_else(|e| e.into_inner());
        let mut done = self.done.into_inner().unwrap_or_else(|e| e.into_inner());
        let digests = spill.sha512_each(&waiting, threads)?;
        done.extend(waiting.into_iter().zip(digests));
        Ok(done)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha512};

    #[test]
    fn every_file_gets_its_digest_whether_hashed_early_or_at_the_end() {
        let spill = Spill::new().unwrap();
        let late = LateHashes::default();
        let mut want = HashMap::new();
        for i in 0..21u32 {
            let data: Vec<u8> = (0..(i + 1) * 50_000).map(|j| (j ^ i) as u8).collect();
            let stored = spill.put(&data).unwrap();
            want.insert(stored, <[u8; 64]>::from(Sha512::digest(&data)));
            late.push(stored);
            late.hash_eight(&spill).unwrap();
        }
        // 16 hashed early, in two groups of eight; 5 left for the end.
        assert_eq!(lock(&late.done).len(), 16);
        assert_eq!(late.finish(&spill, 2).unwrap(), want);
    }
}

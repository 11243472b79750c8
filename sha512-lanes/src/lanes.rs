//! The eight-lane AVX-512 kernel and the scheduler that keeps its lanes busy.
//!
//! Each of the eight state words and sixteen schedule words lives in one 512-bit register
//! whose lane `i` belongs to the message in lane `i`. Every call compresses one block of
//! each lane's message; a lane whose message ends takes the next one, longest messages
//! first so the lanes run dry together. When the queue is empty and only a few lanes are
//! left, `sha2` finishes them one by one: eight-wide work for one lane is slower than
//! scalar.

use crate::padding::{digest_bytes, Blocks, Job, ReadAt, ReadJob, BLOCK, IV};
use core::arch::x86_64::*;
use sha2::digest::generic_array::GenericArray;

const LANES: usize = 8;
/// With this few lanes busy and nothing queued, the scalar path is faster: one busy lane
/// of eight runs at an eighth of the kernel's 2 GB/s, below `sha2`'s 400 MB/s; two are above.
const SCALAR_BELOW: usize = 2;

/// The round constants (FIPS 180-4 §4.2.3).
#[rustfmt::skip]
const K: [u64; 80] = [
    0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
    0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
    0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
    0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
    0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
    0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
    0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
    0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
    0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
    0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
    0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
    0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
    0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
    0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
];

/// The state of all lanes, word-major: `state[w][lane]`, so word `w` loads as one vector.
type State = [[u64; LANES]; 8];

pub fn available() -> bool {
    std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
}

/// [`crate::sha512_many`] on the eight-lane kernel; the caller checked [`available`].
pub fn hash_many(messages: &[&[u8]]) -> Vec<[u8; 64]> {
    assert!(
        available(),
        "the AVX-512 kernel runs only where it was detected"
    );
    let order = longest_first(messages.iter().map(|m| m.len() as u64));
    let jobs = order.into_iter().map(|i| Job::new(i, messages[i]));
    // SAFETY: AVX-512F and AVX-512BW, all the kernel is compiled for, are present.
    unsafe { run(messages.len(), jobs) }
}

/// [`crate::sha512_many_read`] on the eight-lane kernel; the caller checked [`available`].
pub fn hash_many_read(lens: &[u64], read: &ReadAt<'_>) -> std::io::Result<Vec<[u8; 64]>> {
    assert!(
        available(),
        "the AVX-512 kernel runs only where it was detected"
    );
    let errors = std::cell::RefCell::new(None);
    let jobs = longest_first(lens.iter().copied())
        .into_iter()
        .map(|i| ReadJob::new(i, lens[i], read));
    // SAFETY: as in `hash_many`.
    let digests = unsafe {
        run_with(lens.len(), jobs, |job| {
            if let Some(e) = job.error.take() {
                errors.borrow_mut().get_or_insert(e);
            }
        })
    };
    match errors.into_inner() {
        Some(e) => Err(e),
        None => Ok(digests),
    }
}

/// Message indices, longest first, so the lanes run dry together.
fn longest_first(lens: impl Iterator<Item = u64>) -> Vec<usize> {
    let lens: Vec<u64> = lens.collect();
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lens[i]));
    order
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn run<J: Blocks>(count: usize, queue: impl Iterator<Item = J>) -> Vec<[u8; 64]> {
    // SAFETY: the caller's guarantee, passed on.
    unsafe { run_with(count, queue, |_| {}) }
}

/// The digests of `count` messages, each queued once; `done` sees each job as it ends.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn run_with<J: Blocks>(
    count: usize,
    queue: impl Iterator<Item = J>,
    mut done: impl FnMut(&mut J),
) -> Vec<[u8; 64]> {
    let mut out = vec![[0u8; 64]; count];
    let mut queue = queue.peekable();
    let mut state: State = [[0; LANES]; 8];
    let mut lanes: [Option<J>; LANES] = std::array::from_fn(|_| None);
    let take_next =
        |lane: usize, job: Option<J>, lanes: &mut [Option<J>; LANES], state: &mut State| {
            if job.is_some() {
                for (word, iv) in state.iter_mut().zip(IV) {
                    word[lane] = iv;
                }
            }
            lanes[lane] = job;
        };
    for lane in 0..LANES {
        take_next(lane, queue.next(), &mut lanes, &mut state);
    }
    // Idle lanes compress this block; their state is never read.
    let idle = [0u8; BLOCK];
    loop {
        let busy = lanes.iter().filter(|l| l.is_some()).count();
        if busy < SCALAR_BELOW && queue.peek().is_none() {
            break;
        }
        let blocks: [*const u8; LANES] = std::array::from_fn(|lane| match &lanes[lane] {
            Some(job) => job.block().as_ptr(),
            None => idle.as_ptr(),
        });
        // SAFETY: each pointer is to a whole 128-byte block that outlives the call.
        unsafe { compress8(&mut state, &blocks) };
        for lane in 0..LANES {
            if lanes[lane].as_mut().is_some_and(Blocks::advance) {
                let mut job = lanes[lane].take().expect("checked just above");
                out[job.index()] = digest_bytes(&std::array::from_fn(|w| state[w][lane]));
                done(&mut job);
                take_next(lane, queue.next(), &mut lanes, &mut state);
            }
        }
    }
    for (lane, job) in lanes.iter_mut().enumerate() {
        if let Some(mut job) = job.take() {
            let mut words: [u64; 8] = std::array::from_fn(|w| state[w][lane]);
            loop {
                sha2::compress512(&mut words, &[*GenericArray::from_slice(job.block())]);
                if job.advance() {
                    break;
                }
            }
            out[job.index()] = digest_bytes(&words);
            done(&mut job);
        }
    }
    out
}

#[inline]
#[target_feature(enable = "avx512f")]
fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
    _mm512_ternarylogic_epi64::<0x96>(a, b, c)
}

#[inline]
#[target_feature(enable = "avx512f")]
fn add(a: __m512i, b: __m512i) -> __m512i {
    _mm512_add_epi64(a, b)
}

/// One SHA-512 block compression (FIPS 180-4 §6.4.2) in each of the eight lanes.
///
/// # Safety
/// Each pointer in `blocks` must be valid for reading 128 bytes.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn compress8(state: &mut State, blocks: &[*const u8; LANES]) {
    // SAFETY: `blocks` is 8 pointers, 64 bytes.
    let base = unsafe { _mm512_loadu_si512(blocks.as_ptr().cast()) };
    // Big-endian words: reverse the bytes of each 64-bit lane.
    let bswap = _mm512_set_epi64(
        0x08090a0b0c0d0e0f,
        0x0001020304050607,
        0x08090a0b0c0d0e0f,
        0x0001020304050607,
        0x08090a0b0c0d0e0f,
        0x0001020304050607,
        0x08090a0b0c0d0e0f,
        0x0001020304050607,
    );
    let mut w = [_mm512_setzero_si512(); 16];
    for (t, word) in w.iter_mut().enumerate() {
        // Word t of every lane's block, gathered by absolute address (a null base).
        let at = add(base, _mm512_set1_epi64(8 * t as i64));
        // SAFETY: word t of a 128-byte block is in bounds (t < 16).
        let v = unsafe { _mm512_i64gather_epi64::<1>(at, std::ptr::null()) };
        *word = _mm512_shuffle_epi8(v, bswap);
    }
    // SAFETY: each `state[i]` is 8 u64s, one vector.
    let start: [__m512i; 8] =
        std::array::from_fn(|i| unsafe { _mm512_loadu_si512(state[i].as_ptr().cast()) });
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = start;
    for (t, k) in K.iter().enumerate() {
        let wt = if t < 16 {
            w[t]
        } else {
            let w2 = w[(t - 2) % 16];
            let w15 = w[(t - 15) % 16];
            let s1 = xor3(
                _mm512_ror_epi64::<19>(w2),
                _mm512_ror_epi64::<61>(w2),
                _mm512_srli_epi64::<6>(w2),
            );
            let s0 = xor3(
                _mm512_ror_epi64::<1>(w15),
                _mm512_ror_epi64::<8>(w15),
                _mm512_srli_epi64::<7>(w15),
            );
            let v = add(add(s1, w[(t - 7) % 16]), add(s0, w[t % 16]));
            w[t % 16] = v;
            v
        };
        let s1 = xor3(
            _mm512_ror_epi64::<14>(e),
            _mm512_ror_epi64::<18>(e),
            _mm512_ror_epi64::<41>(e),
        );
        // Ch(e, f, g) = e ? f : g; Maj(a, b, c) = the majority bit: ternary-logic tables.
        let ch = _mm512_ternarylogic_epi64::<0xCA>(e, f, g);
        let t1 = add(add(h, s1), add(ch, add(_mm512_set1_epi64(*k as i64), wt)));
        let s0 = xor3(
            _mm512_ror_epi64::<28>(a),
            _mm512_ror_epi64::<34>(a),
            _mm512_ror_epi64::<39>(a),
        );
        let maj = _mm512_ternarylogic_epi64::<0xE8>(a, b, c);
        h = g;
        g = f;
        f = e;
        e = add(d, t1);
        d = c;
        c = b;
        b = a;
        a = add(t1, add(s0, maj));
    }
    for (i, v) in [a, b, c, d, e, f, g, h].into_iter().enumerate() {
        // SAFETY: as for the load above.
        unsafe { _mm512_storeu_si512(state[i].as_mut_ptr().cast(), add(start[i], v)) };
    }
}

//! The digests of [`sha512_many`] against `sha2`'s, one message at a time, on every padding
//! case and on the lane patterns the scheduler has: fewer messages than lanes, lanes
//! refilled mid-batch, and a long message left alone at the end.

use std::io;

use sha512_lanes::{one_by_one, read_one_by_one, sha512_many, sha512_many_read, CHUNK};

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn assert_agrees(messages: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let got = sha512_many(&refs);
    let want = one_by_one(&refs);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "message {i} ({} bytes)", refs[i].len());
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn every_length_around_the_padding_boundaries() {
    // 0..=600 covers empty input, a tail of 111/112 bytes (one or two padding blocks) and
    // whole blocks, for up to four blocks.
    let messages: Vec<Vec<u8>> = (0..=600).map(|n| pseudo_random(n, n as u64)).collect();
    assert_agrees(&messages);
}

#[test]
fn the_known_answer_for_abc() {
    // FIPS 180-4's example "abc", among seven others so the kernel (not the tail) hashes it.
    let mut messages: Vec<Vec<u8>> = (0..7).map(|n| pseudo_random(1000 + n, 7)).collect();
    messages.insert(3, b"abc".to_vec());
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let abc = sha512_many(&refs)[3];
    let hex: String = abc.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
}

#[test]
fn batches_of_every_size_up_to_three_rounds_of_lanes() {
    for count in 0..=24 {
        let messages: Vec<Vec<u8>> = (0..count)
            .map(|i| pseudo_random(37 * i * i % 5000, (count * 100 + i) as u64))
            .collect();
        assert_agrees(&messages);
    }
}

#[test]
fn a_long_message_among_short_ones_and_identical_messages() {
    let mut messages: Vec<Vec<u8>> = (0..40).map(|i| pseudo_random(i * 300, i as u64)).collect();
    messages.push(pseudo_random(3_000_001, 99));
    messages.extend(std::iter::repeat_n(pseudo_random(4096, 5), 9));
    assert_agrees(&messages);
}

type ReadHasher = fn(&[u64], &sha512_lanes::ReadAt<'_>) -> io::Result<Vec<[u8; 64]>>;

/// `hash` (`sha512_many_read` or its fallback) over `messages`, read from memory.
fn read_digests(messages: &[Vec<u8>], hash: ReadHasher) -> io::Result<Vec<[u8; 64]>> {
    let lens: Vec<u64> = messages.iter().map(|m| m.len() as u64).collect();
    hash(&lens, &|i, offset, buf: &mut [u8]| {
        let at = offset as usize;
        buf.copy_from_slice(&messages[i][at..at + buf.len()]);
        Ok(())
    })
}

#[test]
fn messages_read_in_chunks_give_the_same_digests() {
    // Lengths around the chunk boundary (a chunk holds whole blocks only; the tail is read
    // apart) and around the padding boundary, more messages than lanes, and empty ones.
    let mut lens = vec![0, 1, 111, 112, 128, 5000, CHUNK - 1, CHUNK, CHUNK + 1];
    lens.extend([CHUNK + 112, 2 * CHUNK + 127, 3 * CHUNK + 5, 17, 0, 640_000]);
    let messages: Vec<Vec<u8>> = lens
        .iter()
        .enumerate()
        .map(|(i, &n)| pseudo_random(n, 1000 + i as u64))
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let want = one_by_one(&refs);
    assert_eq!(read_digests(&messages, sha512_many_read).unwrap(), want);
    // The fallback where the CPU lacks AVX-512, checked here too.
    assert_eq!(read_digests(&messages, read_one_by_one).unwrap(), want);
}

#[test]
fn a_message_within_one_chunk_is_read_in_one_call() {
    // Most npm tarballs are under a chunk: one read (one open, for a file) each.
    let lens = [0u64, 1, 127, 128, 5000, CHUNK as u64, CHUNK as u64 + 1];
    let calls = std::cell::Cell::new(0);
    sha512_many_read(&lens, &|_, _, _| {
        calls.set(calls.get() + 1);
        Ok(())
    })
    .unwrap();
    // Six messages in one read each; the last one in two: its one-byte tail, then its
    // whole blocks, one chunk. The `sha2` fallback (a CPU without AVX-512) reads nothing
    // for the empty message and the last one front to back, also in two.
    let want = if sha512_lanes::uses_lanes() {
        6 + 2
    } else {
        5 + 2
    };
    assert_eq!(calls.get(), want);
}

#[test]
fn a_failed_read_is_an_error_not_a_digest() {
    let messages: Vec<Vec<u8>> = (0..10)
        .map(|i| pseudo_random(i * 300_000, i as u64))
        .collect();
    let lens: Vec<u64> = messages.iter().map(|m| m.len() as u64).collect();
    for failing_at in [0, 2 * CHUNK as u64] {
        let got = sha512_many_read(&lens, &|i, offset, buf: &mut [u8]| {
            if i == 9 && offset >= failing_at {
                return Err(io::Error::other("the disk is gone"));
            }
            let at = offset as usize;
            buf.copy_from_slice(&messages[i][at..at + buf.len()]);
            Ok(())
        });
        let err = got.expect_err("a read failed");
        assert_eq!(err.to_string(), "the disk is gone");
    }
}

#[test]
fn the_eight_lane_kernel_is_what_these_tests_check_on_an_avx512_cpu() {
    // Without this, a detection slip would fall back to `sha2` and every test above would
    // compare `sha2` with itself.
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    if has("avx512f") && has("avx512bw") {
        assert!(
            sha512_lanes::uses_lanes(),
            "the CPU has AVX-512F and BW but the kernel is not used"
        );
    } else {
        eprintln!(
            "note: this CPU lacks AVX-512F/BW; the tests above checked the sha2 fallback only"
        );
    }
}

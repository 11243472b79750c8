//! Nix's base-32 encoding, as printed in store paths and by `nix hash to-base32`.
//!
//! It is not RFC 4648: the alphabet omits `e o u t`, and the digest is read from its
//! last bit backwards, so the first character encodes the digest's final bits.

use thiserror::Error;

const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Length of the encoding of `len` bytes.
pub fn encoded_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        (len * 8 - 1) / 5 + 1
    }
}

pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        let low = bytes[i] as u16 >> j;
        let high = if i + 1 < bytes.len() {
            (bytes[i + 1] as u16) << (8 - j)
        } else {
            0
        };
        out.push(ALPHABET[((low | high) & 0x1f) as usize] as char);
    }
    out
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("invalid character {0:?} in Nix base-32 string")]
    InvalidChar(char),
    #[error("Nix base-32 string of length {0} does not encode a whole number of bytes")]
    BadLength(usize),
    #[error("Nix base-32 string has non-zero padding bits")]
    NonZeroPadding,
}

/// Decodes a string of exactly `encoded_len(out_len)` characters.
pub fn decode(s: &str, out_len: usize) -> Result<Vec<u8>, DecodeError> {
    if s.len() != encoded_len(out_len) {
        return Err(DecodeError::BadLength(s.len()));
    }
    let mut out = vec![0u8; out_len];
    for (n, c) in s.chars().rev().enumerate() {
        let digit = ALPHABET
            .iter()
            .position(|&a| a as char == c)
            .ok_or(DecodeError::InvalidChar(c))? as u16;
        let b = n * 5;
        let i = b / 8;
        let j = b % 8;
        out[i] |= (digit << j) as u8;
        let carry = digit >> (8 - j);
        if i + 1 < out_len {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return Err(DecodeError::NonZeroPadding);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256_of_empty_string() {
        // `nix hash to-base32 --type sha256 e3b0c442...b855`
        let digest = hex_decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            encode(&digest),
            "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
        );
    }

    #[test]
    fn round_trips_every_length() {
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let s = encode(&bytes);
            assert_eq!(s.len(), encoded_len(len));
            assert_eq!(decode(&s, len).unwrap(), bytes, "len {len}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode("e", 1), Err(DecodeError::BadLength(1)));
        assert_eq!(decode("0e", 1), Err(DecodeError::InvalidChar('e')));
        // 2 chars carry 10 bits for one byte; the top two must be zero.
        assert_eq!(decode("z0", 1), Err(DecodeError::NonZeroPadding));
    }

    fn hex_decode(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

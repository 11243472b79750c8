//! The 512-byte tar header block and its number encodings, shared by the GNU-format and the
//! POSIX (pax) writers. Field offsets are POSIX ustar's (GNU tar's `src/tar.h`).

/// Tar blocks are 512 bytes; every header and every data run starts on a block boundary.
pub const BLOCK: usize = 512;
/// GNU tar's default blocking factor is 20, so an archive is padded to 10240-byte records.
pub const RECORD: usize = 20 * BLOCK;
/// The `name` (and `linkname`) field is 100 bytes; a name that fills it has no NUL.
pub const NAME_FIELD: usize = 100;
/// The largest value an 11-digit octal field (size, mtime) holds.
pub const MAX_OCTAL_11: u64 = (1 << 33) - 1;

/// Field ranges of a header block.
pub const NAME: std::ops::Range<usize> = 0..100;
pub const MODE: std::ops::Range<usize> = 100..108;
pub const UID: std::ops::Range<usize> = 108..116;
pub const GID: std::ops::Range<usize> = 116..124;
pub const SIZE: std::ops::Range<usize> = 124..136;
pub const MTIME: std::ops::Range<usize> = 136..148;
pub const CHKSUM: std::ops::Range<usize> = 148..156;
pub const TYPEFLAG: usize = 156;
pub const LINKNAME: std::ops::Range<usize> = 157..257;
/// `magic` and `version` together (8 bytes).
pub const MAGIC_VERSION: std::ops::Range<usize> = 257..265;

/// Fills in the checksum (the sum of all header bytes with the checksum field read as
/// spaces, written as six octal digits, NUL, space: GNU tar's `simple_finish_header`).
pub fn seal(h: &mut [u8; BLOCK]) {
    h[CHKSUM].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let digits = format!("{sum:06o}");
    h[148..154].copy_from_slice(digits.as_bytes());
    h[154] = 0;
}

/// The field's leading bytes get `src`, truncated to the field (GNU tar's `tar_copy_str`).
pub fn copy_truncated(field: &mut [u8], src: &[u8]) {
    let n = src.len().min(field.len());
    field[..n].copy_from_slice(&src[..n]);
}

/// Zero-padded octal filling all but the last byte of the field, which is NUL (GNU tar's
/// `to_octal` through `to_chars`). The caller makes sure the value fits.
pub fn write_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    debug_assert_eq!(
        digits.len(),
        width,
        "{value} does not fit in {width} octal digits"
    );
    field[..width].copy_from_slice(digits.as_bytes());
    field[width] = 0;
}

/// Zeros after `len` bytes of data up to the next block boundary.
pub fn padding(len: u64) -> usize {
    (len.next_multiple_of(BLOCK as u64) - len) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_six_octal_digits_nul_space() {
        let mut h = [0u8; BLOCK];
        seal(&mut h);
        // Only the eight spaces count: 8 * 32 = 256 = 0o400.
        assert_eq!(&h[CHKSUM], b"000400\0 ");
    }

    #[test]
    fn padding_reaches_the_next_block() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
        assert_eq!(padding(513), 511);
    }
}

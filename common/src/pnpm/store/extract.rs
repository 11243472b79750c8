//! Which files pnpm 10 takes from a package tarball, under which names and modes.
//!
//! pnpm does not use a tar library here: `store/cafs/src/parseTarball.ts` (pnpm v10, as
//! shipped in pnpm@10.34.9 `dist/worker.js`) is a small parser of its own, and the store
//! follows its quirks, not POSIX. [`parse_tarball`] mirrors it rule for rule:
//!
//! - headers are read until one starts with a NUL byte; every header's checksum must match;
//! - regular files (`0`, NUL) **and hard links (`1`)** become files of the header's size (a
//!   hard link, size 0, becomes an empty file); directories and symlinks are skipped; pax
//!   `x` headers give `path` and `size` to the next header (`g` headers may give neither);
//!   GNU `L` headers give the next name; every other type is an error;
//! - the first path component is stripped once (at the first `/` or `\` of the ustar
//!   prefix, then of the name; at the first `/` of an `L` or pax path); a top-level name
//!   without a slash keeps its name;
//! - names containing `./` or `.\` are normalised like `path.posix.join('/', name)`, then
//!   `//` becomes `/`;
//! - a later entry with the same name replaces the earlier one but keeps its position.
//!
//! Names are decoded as UTF-8 with U+FFFD for invalid bytes, as Node's `Buffer.toString`.
//! Where pnpm would compute with NaN or a negative size, loop forever, or misread sizes of
//! 2 GiB and more (its block arithmetic is 32-bit), we refuse instead of guessing.

use std::collections::HashMap;

use thiserror::Error;

use crate::pnpm::posix_path::join_root;

const BLOCK: usize = 512;
const MODE_OFFSET: usize = 100;
const SIZE_OFFSET: usize = 124;
const CHECKSUM_OFFSET: usize = 148;
const TYPE_OFFSET: usize = 156;
const PREFIX_OFFSET: usize = 345;

/// One file pnpm keeps: its store-relative name, its bytes' place in the tar and its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarballFile {
    pub path: String,
    /// The raw octal mode field (pnpm keeps any type bits a tar writer put there).
    pub mode: u32,
    pub offset: usize,
    pub size: usize,
}

impl TarballFile {
    /// The file's bytes within the tar they were parsed from.
    pub fn data<'a>(&self, tar: &'a [u8]) -> &'a [u8] {
        &tar[self.offset..self.offset + self.size]
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ExtractError {
    #[error("the gzip stream is corrupt or truncated: {0}")]
    Gzip(String),
    #[error("the tar ends inside the header at byte {offset} (no end-of-archive block); pnpm fails with \"Invalid checksum\" here")]
    Truncated { offset: usize },
    #[error(
        "invalid checksum for the tar header at byte {offset}: expected {expected}, got {actual}"
    )]
    Checksum {
        offset: usize,
        expected: String,
        actual: u64,
    },
    #[error("unsupported tar entry type {kind:?} for {name:?} at byte {offset}; pnpm refuses it as well")]
    UnsupportedType {
        kind: char,
        name: String,
        offset: usize,
    },
    #[error("the tar header at byte {offset} has a {field} field pnpm cannot read ({value:?}); pnpm would store a garbled entry")]
    BadNumber {
        offset: usize,
        field: &'static str,
        value: String,
    },
    #[error("the file data at byte {offset} runs past the end of the tar")]
    DataPastEnd { offset: usize },
    #[error("invalid pax record at byte {offset}: {record:?}")]
    PaxRecord { offset: usize, record: String },
    #[error("a global pax header at byte {offset} sets {keyword}, which pnpm refuses")]
    GlobalPax {
        offset: usize,
        keyword: &'static str,
    },
}

/// The tar inside a tarball: gunzipped when it starts like gzip (`1f 8b 08`, as the
/// `is-gzip` package checks), else the bytes as they are. Like Node's `gunzipSync`
/// (src/node_zlib.cc): after a member, the input ends, or a NUL byte starts padding that is
/// ignored, or another member must follow (anything else is an error).
pub fn tar_bytes(tarball: &[u8]) -> Result<Vec<u8>, ExtractError> {
    let mut out = Vec::new();
    tar_bytes_into(tarball, &mut out)?;
    Ok(out)
}

/// [`tar_bytes`] into `out` (cleared first), so a caller can reuse one buffer: a fresh
/// one per tarball faulted in and zeroed every page of a 1.2 GB store.
pub fn tar_bytes_into(tarball: &[u8], out: &mut Vec<u8>) -> Result<(), ExtractError> {
    out.clear();
    tar_bytes_append(tarball, out)
}

/// [`tar_bytes`] appended to `out`: several packages' tars in one buffer.
pub fn tar_bytes_append(tarball: &[u8], out: &mut Vec<u8>) -> Result<(), ExtractError> {
    if !tarball.starts_with(&[0x1f, 0x8b, 0x08]) {
        out.extend_from_slice(tarball);
        return Ok(());
    }
    out.reserve(tar_size_hint(tarball));
    let mut rest = tarball;
    loop {
        rest = gunzip_member(rest, out)?;
        if matches!(rest.first(), None | Some(0)) {
            return Ok(());
        }
    }
}

/// One gzip member of `input` appended to `out`, by zlib's own gzip wrapper (header,
/// header CRC, trailer CRC and length checked as Node's zlib checks them), straight into
/// `out`'s spare room: `Read::read_to_end` zeroed every byte of it first. Returns the input
/// after the member.
fn gunzip_member<'a>(input: &'a [u8], out: &mut Vec<u8>) -> Result<&'a [u8], ExtractError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut inflater = Decompress::new_gzip(15);
    loop {
        let consumed = inflater.total_in() as usize;
        if out.len() == out.capacity() {
            out.reserve(out.capacity().clamp(64 << 10, 64 << 20));
        }
        let status = inflater
            .decompress_vec(&input[consumed..], out, FlushDecompress::None)
            .map_err(|e| ExtractError::Gzip(e.to_string()))?;
        let used = inflater.total_in() as usize;
        match status {
            Status::StreamEnd => return Ok(&input[used..]),
            // No progress with room to write: the input ended inside the member.
            _ if used == input.len() && out.len() < out.capacity() => {
                return Err(ExtractError::Gzip("unexpected end of file".to_owned()))
            }
            _ => {}
        }
    }
}

/// About how many bytes [`tar_bytes`] gives, to reserve: gzip's last 4 bytes are the
/// (last) member's size mod 2^32, a hint only (at most 1 GiB is believed).
pub fn tar_size_hint(tarball: &[u8]) -> usize {
    if !tarball.starts_with(&[0x1f, 0x8b, 0x08]) {
        return tarball.len();
    }
    match tarball.len().checked_sub(4).map(|at| &tarball[at..]) {
        Some(isize) => {
            (u32::from_le_bytes(isize.try_into().expect("4 bytes")) as usize).min(1 << 30)
        }
        None => 0,
    }
}

/// The files pnpm 10 stores for this (uncompressed) tar, in pnpm's `Map` order.
pub fn parse_tarball(tar: &[u8]) -> Result<Vec<TarballFile>, ExtractError> {
    let mut parser = Parser {
        tar,
        files: Vec::new(),
        index: HashMap::new(),
        long_link_path: String::new(),
        pax_path: String::new(),
        pax_size: None,
    };
    parser.run()?;
    Ok(parser.files)
}

struct Parser<'a> {
    tar: &'a [u8],
    files: Vec<TarballFile>,
    index: HashMap<String, usize>,
    long_link_path: String,
    pax_path: String,
    pax_size: Option<usize>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), ExtractError> {
        let tar = self.tar;
        let mut start = 0usize;
        loop {
            let Some(header) = tar.get(start..start + BLOCK) else {
                // Reading past the end gives `undefined` in JS, so pnpm's checksum is NaN.
                return Err(ExtractError::Truncated { offset: start });
            };
            if header[0] == 0 {
                return Ok(());
            }
            let kind = header[TYPE_OFFSET];
            let size = match self.pax_size.take() {
                Some(size) => size,
                None => octal(header, start, SIZE_OFFSET, 12, "size")?,
            };
            let expected = parse_octal(&header[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8]);
            let actual = checksum(header);
            if expected != Some(actual as f64) {
                return Err(ExtractError::Checksum {
                    offset: start,
                    expected: js_string(&header[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 8]),
                    actual,
                });
            }
            let name = self.entry_name(header);
            let data = start + BLOCK;
            match kind {
                0 | b'0' | b'1' => {
                    let mode = octal(header, start, MODE_OFFSET, 8, "mode")?;
                    if data + size > self.tar.len() {
                        return Err(ExtractError::DataPastEnd { offset: data });
                    }
                    let mode = u32::try_from(mode).map_err(|_| ExtractError::BadNumber {
                        offset: start,
                        field: "mode",
                        value: js_string(&header[MODE_OFFSET..MODE_OFFSET + 8]),
                    })?;
                    self.insert(name.replace("//", "/"), mode, data, size);
                }
                b'5' | b'2' => {}
                b'x' => self.pax_header(data, size, false)?,
                b'g' => self.pax_header(data, size, true)?,
                b'L' => {
                    let end = (data + size).min(self.tar.len());
                    let text = cut_at_nul(&js_string(&self.tar[data.min(end)..end]));
                    self.long_link_path = match text.find('/') {
                        Some(slash) => text[slash + 1..].to_owned(),
                        None => text,
                    };
                }
                other => {
                    return Err(ExtractError::UnsupportedType {
                        kind: char::from(other),
                        name,
                        offset: start,
                    })
                }
            }
            // pnpm: (size & ~511) + (size & 511 ? 1024 : 512); sizes are < 2 GiB here.
            start += (size & !511) + if size & 511 != 0 { 1024 } else { 512 };
        }
    }

    /// The entry's name: a pending `L` name, else a pending pax path, else prefix + name
    /// with the first component stripped; normalised when it holds `./` or `.\`.
    fn entry_name(&mut self, header: &[u8]) -> String {
        let name = if !self.long_link_path.is_empty() {
            std::mem::take(&mut self.long_link_path)
        } else if !self.pax_path.is_empty() {
            std::mem::take(&mut self.pax_path)
        } else {
            let mut trimmed = false;
            let mut prefix =
                strip_first_component(&header[PREFIX_OFFSET..PREFIX_OFFSET + 155], &mut trimmed);
            if !prefix.is_empty() && !trimmed {
                // A prefix without a slash is itself the first component.
                trimmed = true;
                prefix.clear();
            }
            let name = strip_first_component(&header[..MODE_OFFSET], &mut trimmed);
            if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            }
        };
        if name.contains("./") || name.contains(".\\") {
            join_root(&name.replace('\\', "/"))
        } else {
            name
        }
    }

    fn insert(&mut self, path: String, mode: u32, offset: usize, size: usize) {
        let file = TarballFile {
            path,
            mode,
            offset,
            size,
        };
        match self.index.get(&file.path) {
            Some(&i) => self.files[i] = file,
            None => {
                self.index.insert(file.path.clone(), self.files.len());
                self.files.push(file);
            }
        }
    }

    /// pnpm's `parsePaxHeader`: `<len> <keyword>=<value>\n` records, only `path` and `size`
    /// used. Offsets are pnpm's own arithmetic, so a bad length reads what pnpm reads.
    fn pax_header(
        &mut self,
        offset: usize,
        length: usize,
        global: bool,
    ) -> Result<(), ExtractError> {
        let tar = self.tar;
        let end = offset + length;
        let mut i = offset;
        while i < end {
            let line_start = i;
            while i < end && tar.get(i) != Some(&b' ') {
                i += 1;
            }
            let len_text = js_string(slice(tar, line_start, i));
            let len = match js_parse_int(&len_text, 10) {
                Some(len) if len > 0 => len as usize,
                // 0 and NaN: pnpm throws. Negative: pnpm would loop forever.
                _ => {
                    return Err(ExtractError::PaxRecord {
                        offset: line_start,
                        record: len_text,
                    })
                }
            };
            i += 1;
            let line_end = line_start + len;
            let record = js_string(slice(tar, i, line_end.saturating_sub(1)));
            i = line_end;
            let (keyword, value) = match record.find('=') {
                Some(eq) => (&record[..eq], Some(&record[eq + 1..])),
                // JS `record.slice(0, -1)`: all but the last UTF-16 unit.
                None => (drop_last_utf16(&record), None),
            };
            match keyword {
                "path" => {
                    if global {
                        return Err(ExtractError::GlobalPax {
                            offset,
                            keyword: "path",
                        });
                    }
                    let value = value.unwrap_or(&record);
                    self.pax_path = match value.find('/') {
                        Some(slash) => value[slash + 1..].to_owned(),
                        None => value.to_owned(),
                    };
                }
                "size" => {
                    let size = js_parse_int(value.unwrap_or(&record), 10)
                        .filter(|&n| n >= 0)
                        .ok_or_else(|| ExtractError::PaxRecord {
                            offset: line_start,
                            record: record.clone(),
                        })?;
                    if global {
                        return Err(ExtractError::GlobalPax {
                            offset,
                            keyword: "size",
                        });
                    }
                    self.pax_size = Some(checked_size(size, offset, &record)?);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `buffer.subarray`-like: clamped to the buffer, empty when `end <= start`.
fn slice(tar: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(tar.len());
    &tar[start.min(end)..end]
}

fn checked_size(n: i128, offset: usize, text: &str) -> Result<usize, ExtractError> {
    if n >= 1 << 31 {
        return Err(ExtractError::BadNumber {
            offset,
            field: "size (2 GiB or more)",
            value: text.to_owned(),
        });
    }
    Ok(n as usize)
}

/// A numeric header field read as pnpm's `parseOctal` does, refusing what pnpm misreads.
fn octal(
    header: &[u8],
    start: usize,
    at: usize,
    len: usize,
    field: &'static str,
) -> Result<usize, ExtractError> {
    let bytes = &header[at..at + len];
    let bad = || ExtractError::BadNumber {
        offset: start,
        field,
        value: js_string(bytes),
    };
    let n = parse_octal(bytes).ok_or_else(bad)?;
    if n < 0.0 {
        return Err(bad());
    }
    checked_size(n as i128, start, &js_string(bytes))
}

/// pnpm's `parseOctal`: skip leading spaces, stop at the next space, skip leading NULs,
/// then JS `parseInt(text, 8)`. `None` is NaN.
fn parse_octal(field: &[u8]) -> Option<f64> {
    let mut start = field.iter().position(|&b| b != b' ').unwrap_or(field.len());
    let end = field[start..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(field.len(), |p| start + p);
    while start < end && field[start] == 0 {
        start += 1;
    }
    if start == end {
        return Some(0.0);
    }
    js_parse_int(&js_string(&field[start..end]), 8).map(|n| n as f64)
}

/// The header checksum as pnpm sums it: all bytes, the checksum field counted as spaces.
fn checksum(header: &[u8]) -> u64 {
    let sum: u64 = header[..CHECKSUM_OFFSET]
        .iter()
        .chain(&header[CHECKSUM_OFFSET + 8..])
        .map(|&b| u64::from(b))
        .sum();
    sum + 8 * u64::from(b' ')
}

/// JS `parseInt(text, radix)`: leading whitespace, an optional sign, then as many digits
/// as there are. `None` when there is no digit (NaN). Saturates far beyond any tar size.
fn js_parse_int(text: &str, radix: u32) -> Option<i128> {
    let text = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut value: i128 = 0;
    let mut any = false;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else { break };
        any = true;
        value = value
            .saturating_mul(i128::from(radix))
            .saturating_add(i128::from(d));
    }
    any.then_some(if negative { -value } else { value })
}

/// Node's `buffer.toString('utf8')` up to the field's end: invalid bytes become U+FFFD.
fn js_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// pnpm's `parseString` for a NUL-terminated header field: while nothing was stripped yet,
/// everything up to and including the first `/` or `\` is dropped.
fn strip_first_component(field: &[u8], trimmed: &mut bool) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let mut start = 0;
    for (i, &b) in field[..end].iter().enumerate() {
        if !*trimmed && (b == b'/' || b == b'\\') {
            *trimmed = true;
            start = i + 1;
        }
    }
    js_string(&field[start..end])
}

/// JS `text.replace(/\0.*/, "")`: from the first NUL up to the next line terminator.
fn cut_at_nul(text: &str) -> String {
    let Some(nul) = text.find('\0') else {
        return text.to_owned();
    };
    let rest = &text[nul..];
    let stop = rest
        .find(['\n', '\r', '\u{2028}', '\u{2029}'])
        .unwrap_or(rest.len());
    format!("{}{}", &text[..nul], &rest[stop..])
}

/// JS `string.slice(0, -1)` on a string: drops the last UTF-16 code unit. Only compared
/// with the ASCII keywords `path` and `size`, so a dropped half of a surrogate pair (which
/// JS would keep as a lone surrogate) can never match and is simply not representable.
fn drop_last_utf16(text: &str) -> &str {
    match text.chars().next_back() {
        Some(c) if c.len_utf16() == 1 => &text[..text.len() - c.len_utf8()],
        Some(_) => "\u{0}not-a-keyword",
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_is_javascripts() {
        assert_eq!(js_parse_int("0000644\0", 8), Some(0o644));
        assert_eq!(js_parse_int("  12abc", 10), Some(12));
        assert_eq!(js_parse_int("-5", 10), Some(-5));
        assert_eq!(js_parse_int("9", 8), None);
        assert_eq!(js_parse_int("", 8), None);
    }

    #[test]
    fn gunzip_trailers_like_node() {
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let with = |tail: &[u8]| [gz(b"hello "), tail.to_vec()].concat();
        // Expectations from Node 20's zlib.gunzipSync on the same shapes.
        assert_eq!(tar_bytes(&with(&gz(b"world"))).unwrap(), b"hello world");
        assert_eq!(tar_bytes(&with(&[0; 100])).unwrap(), b"hello ");
        assert_eq!(tar_bytes(&with(&[0, 0x41, 0x41])).unwrap(), b"hello ");
        for bad in [&b"garbage"[..], &[0x01], &[0x1f], &[0x1f, 0x8b, 0x08, 0, 0]] {
            assert!(tar_bytes(&with(bad)).is_err(), "{bad:?}");
        }
        let whole = gz(b"hello ");
        assert!(tar_bytes(&whole[..whole.len() - 3]).is_err());
        assert_eq!(tar_bytes(b"not gzip").unwrap(), b"not gzip");
    }

    /// A header CRC (FHCRC) is checked, as zlib, and so Node, checks it.
    #[test]
    fn gunzip_checks_the_header_crc() {
        use std::io::Write;
        let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), Default::default());
        deflate.write_all(b"hello").unwrap();
        let body = deflate.finish().unwrap();
        let member = |header_crc_delta: u16| {
            let mut m = vec![0x1f, 0x8b, 0x08, 0x02, 0, 0, 0, 0, 0, 0xff];
            let mut crc = flate2::Crc::new();
            crc.update(&m);
            m.extend((crc.sum() as u16 ^ header_crc_delta).to_le_bytes());
            m.extend(&body);
            let mut crc = flate2::Crc::new();
            crc.update(b"hello");
            m.extend(crc.sum().to_le_bytes());
            m.extend(5u32.to_le_bytes());
            m
        };
        assert_eq!(tar_bytes(&member(0)).unwrap(), b"hello");
        assert!(tar_bytes(&member(1)).is_err());
        let mut bad_data = member(0);
        let n = bad_data.len();
        bad_data[n - 8] ^= 1;
        assert!(
            tar_bytes(&bad_data).is_err(),
            "the trailer's CRC is checked"
        );
    }

    #[test]
    fn nul_cut_stops_at_line_terminators() {
        assert_eq!(cut_at_nul("a/b\0junk"), "a/b");
        assert_eq!(cut_at_nul("a/b\0junk\nmore"), "a/b\nmore");
        assert_eq!(cut_at_nul("plain"), "plain");
    }
}

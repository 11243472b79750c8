//! A streaming writer that reproduces, byte for byte, what GNU tar 1.35 writes for the
//! command nixpkgs' `fetchPnpmDeps` (fetcherVersion >= 3) packs the pnpm store with, run in
//! the store directory:
//!
//! ```text
//! tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
//!   --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
//!   --zstd -cf $out/pnpm-store.tar.zst .
//! ```
//!
//! (NixOS/nixpkgs `pkgs/build-support/node/fetch-pnpm-deps/default.nix` at
//! 00d3e9499656a99482f2d245bb600253927e40d2; compression is [`super::zstd_cli`].)
//!
//! What that command writes, from GNU tar 1.35's source (`src/tar.c`, `src/create.c`,
//! `src/xheader.c`):
//!
//! - The format is POSIX pax: no `--format` is given, and `--pax-option` turns the default
//!   format into POSIX (`decode_options`), whatever the compiled-in default (GNU, also in
//!   nixpkgs' build, which passes no `DEFAULT_ARCHIVE_FORMAT`).
//! - Member names start with `./` (the operand is `.`); directories end in `/`; the root
//!   is `./`.
//! - ustar header: mode as seven octal digits of the permission bits only, uid/gid 0,
//!   mtime forced to `--mtime`, magic `ustar\0`, version `00`, uname/gname empty
//!   (`--numeric-owner`), devmajor/devminor left as NULs (1.35 writes them only for
//!   devices; 1.34 wrote `0000000\0`), prefix empty: POSIX format never splits a name.
//! - A pax extended header (typeflag `x`) precedes a member whose name is over 100 bytes
//!   or not ASCII (record `path`, the name's raw bytes, which is what tar's iconv
//!   conversion leaves in the C locale of a Nix build), or whose size needs more than 11
//!   octal digits (record `size`). `delete=atime,delete=ctime` removes the only records
//!   every member would get, and a forced whole-second mtime needs none. The ustar name
//!   field then holds the first 100 bytes of the name.
//! - The extended header is named `%d/PaxHeaders/%f` from the member's name without its
//!   trailing slash (`./a/b/` gives `./a/PaxHeaders/b`), truncated to 100 bytes; it has
//!   mode 0644, uid/gid 0, the forced mtime, and no uname/gname.
//! - The archive ends with two zero blocks, padded with zeros to a 10240-byte record.
//!
//! Entries must arrive in the order `--sort=name` walks the tree: [`compare_paths`].

use std::cmp::Ordering;
use std::io::{self, Read, Write};

use super::tar_header::{
    copy_truncated, padding, seal, write_octal, BLOCK, GID, MAGIC_VERSION, MAX_OCTAL_11, MODE,
    MTIME, NAME, NAME_FIELD, RECORD, SIZE, TYPEFLAG, UID,
};

/// Mode of the extended header blocks (`start_private_header`: S_IFREG | 0644, of which
/// only the permission bits are written).
const XHEADER_MODE: u32 = 0o644;
/// File data is copied through a buffer of this size.
const COPY_BUFFER: usize = 256 * 1024;

/// The order GNU tar's `--sort=name` emits paths in: each directory's entries sorted by
/// name with `strcmp`, each directory's contents right after it (depth first). That is a
/// component-by-component byte comparison, which equals comparing the paths bytewise with
/// `/` counted as the smallest byte. Paths are relative to the archive root (`v10/files`,
/// not `./v10/files/`); the root itself is `.` and sorts first.
///
/// Note that this is not plain byte order: `a-b` (0x2d) sorts after everything in `a/`.
pub fn compare_paths(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    match (a == b".", b == b".") {
        (true, _) => return Ordering::Less,
        (_, true) => return Ordering::Greater,
        _ => {}
    }
    let key = |c: &u8| if *c == b'/' { 0 } else { *c };
    a.iter().map(key).cmp(b.iter().map(key))
}

/// [`compare_paths`] as a key, for `sort_by_cached_key`.
pub fn sort_key(path: &[u8]) -> Vec<u8> {
    if path == b"." {
        return Vec::new();
    }
    let mut key: Vec<u8> = path
        .iter()
        .map(|&c| if c == b'/' { 0 } else { c })
        .collect();
    // Keep the root (the empty key) strictly first, even before a path starting with NUL
    // (which cannot occur: names never contain NUL).
    key.insert(0, 1);
    key
}

/// Why an entry cannot be written (wrapped in an [`io::Error`] of kind `InvalidInput`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PaxTarError {
    #[error("cannot archive {path:?}: a path is `.` or `/`-separated names that are non-empty, not `.` or `..`, and contain no NUL byte")]
    InvalidPath { path: String },
    #[error("the first entry must be the root directory `.`, not {path:?}")]
    RootFirst { path: String },
    #[error(
        "{path:?} arrives after {previous:?}, which GNU tar's --sort=name would write after it"
    )]
    OutOfOrder { path: String, previous: String },
    #[error("{path:?} arrives before its parent directory was written")]
    MissingParent { path: String },
    #[error("{path:?}: the data ended after {got} of {size} bytes")]
    ShortData { path: String, size: u64, got: u64 },
    #[error("mtime {mtime} does not fit the header's 11 octal digits")]
    MtimeTooLarge { mtime: u64 },
}

impl From<PaxTarError> for io::Error {
    fn from(e: PaxTarError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Writes the archive to `W` as entries arrive; holds no more than one copy buffer.
pub struct PaxTarWriter<W: Write> {
    out: W,
    mtime: u64,
    written: u64,
    /// The previous entry's path, to check the order.
    previous: Option<Vec<u8>>,
    /// The directories written whose contents may still follow: the previous entry's
    /// ancestors (the root is the empty path).
    open_dirs: Vec<Vec<u8>>,
    buffer: Vec<u8>,
}

impl<W: Write> PaxTarWriter<W> {
    /// `mtime` is `--mtime=@N` (nixpkgs: `$SOURCE_DATE_EPOCH`, 315532800 in a Nix build).
    pub fn new(out: W, mtime: u64) -> io::Result<Self> {
        if mtime > MAX_OCTAL_11 {
            return Err(PaxTarError::MtimeTooLarge { mtime }.into());
        }
        Ok(Self {
            out,
            mtime,
            written: 0,
            previous: None,
            open_dirs: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// A directory; `path` is `.` for the root (which must come first) or e.g. `v10/files`.
    pub fn dir(&mut self, path: impl AsRef<[u8]>, mode: u32) -> io::Result<()> {
        let path = path.as_ref();
        self.admit(path)?;
        let name = member_name(path, true);
        self.header(path, &name, b'5', mode, 0)?;
        self.open_dirs.push(if path == b"." {
            Vec::new()
        } else {
            path.to_vec()
        });
        Ok(())
    }

    /// A regular file of `size` bytes read from `data` (exactly `size` are read).
    pub fn file(
        &mut self,
        path: impl AsRef<[u8]>,
        mode: u32,
        size: u64,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        let path = path.as_ref();
        self.admit(path)?;
        let name = member_name(path, false);
        self.header(path, &name, b'0', mode, size)?;
        self.copy_data(path, size, data)
    }

    /// Writes the end of the archive and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        // `write_eot`: one zero block, then zeros through the end of the (next) record.
        let end = (self.written + 2 * BLOCK as u64).next_multiple_of(RECORD as u64);
        self.zeros((end - self.written) as usize)?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Checks that `path` is valid and comes next in `--sort=name` order under a directory
    /// already written.
    fn admit(&mut self, path: &[u8]) -> io::Result<()> {
        let shown = || String::from_utf8_lossy(path).into_owned();
        if path != b"." && !valid_relative_path(path) {
            return Err(PaxTarError::InvalidPath { path: shown() }.into());
        }
        match &self.previous {
            None if path != b"." => return Err(PaxTarError::RootFirst { path: shown() }.into()),
            Some(prev) if compare_paths(prev, path) != Ordering::Less => {
                return Err(PaxTarError::OutOfOrder {
                    path: shown(),
                    previous: String::from_utf8_lossy(prev).into_owned(),
                }
                .into())
            }
            _ => {}
        }
        if path != b"." {
            let parent = match path.iter().rposition(|&c| c == b'/') {
                Some(i) => &path[..i],
                None => &b""[..],
            };
            while self
                .open_dirs
                .last()
                .is_some_and(|d| d.as_slice() != parent)
            {
                self.open_dirs.pop();
            }
            if self.open_dirs.is_empty() {
                return Err(PaxTarError::MissingParent { path: shown() }.into());
            }
        }
        self.previous = Some(path.to_vec());
        Ok(())
    }

    /// The extended header (when one is needed), then the ustar header.
    fn header(
        &mut self,
        path: &[u8],
        name: &[u8],
        typeflag: u8,
        mode: u32,
        size: u64,
    ) -> io::Result<()> {
        let mut records = Vec::new();
        if name.len() > NAME_FIELD || !name.is_ascii() {
            pax_record(&mut records, b"path", name);
        }
        let size_field = if size > MAX_OCTAL_11 {
            pax_record(&mut records, b"size", size.to_string().as_bytes());
            0
        } else {
            size
        };
        if !records.is_empty() {
            let xname = xheader_name(path);
            let xheader =
                ustar_header(&xname, b'x', XHEADER_MODE, records.len() as u64, self.mtime);
            self.put(&xheader)?;
            self.put(&records)?;
            self.zeros(padding(records.len() as u64))?;
        }
        let header = ustar_header(name, typeflag, mode, size_field, self.mtime);
        self.put(&header)
    }

    fn copy_data(&mut self, path: &[u8], size: u64, data: &mut dyn Read) -> io::Result<()> {
        if self.buffer.is_empty() && size > 0 {
            self.buffer = vec![0; COPY_BUFFER];
        }
        let mut left = size;
        while left > 0 {
            let want = left.min(self.buffer.len() as u64) as usize;
            let n = match data.read(&mut self.buffer[..want]) {
                Ok(0) => {
                    return Err(PaxTarError::ShortData {
                        path: String::from_utf8_lossy(path).into_owned(),
                        size,
                        got: size - left,
                    }
                    .into())
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.out.write_all(&self.buffer[..n])?;
            self.written += n as u64;
            left -= n as u64;
        }
        self.zeros(padding(size))
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn zeros(&mut self, mut n: usize) -> io::Result<()> {
        const ZEROS: [u8; BLOCK] = [0; BLOCK];
        while n > 0 {
            let k = n.min(BLOCK);
            self.put(&ZEROS[..k])?;
            n -= k;
        }
        Ok(())
    }
}

/// Names are non-empty `/`-separated components, none `.` or `..`, without NUL.
fn valid_relative_path(path: &[u8]) -> bool {
    !path.is_empty()
        && !path.contains(&0)
        && path
            .split(|&c| c == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// The member name tar writes for `path` under the operand `.`.
fn member_name(path: &[u8], is_dir: bool) -> Vec<u8> {
    if path == b"." {
        return b"./".to_vec();
    }
    let mut name = Vec::with_capacity(path.len() + 3);
    name.extend_from_slice(b"./");
    name.extend_from_slice(path);
    if is_dir {
        name.push(b'/');
    }
    name
}

/// `%d/PaxHeaders/%f` for the member at `path`: `dir_name` and `last_component` of the
/// name tar walked (`./path`, no trailing slash); tar truncates it into the name field.
fn xheader_name(path: &[u8]) -> Vec<u8> {
    let (dir, base) = match path.iter().rposition(|&c| c == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&b""[..], path),
    };
    let mut name = b".".to_vec();
    if !dir.is_empty() {
        name.push(b'/');
        name.extend_from_slice(dir);
    }
    name.extend_from_slice(b"/PaxHeaders/");
    name.extend_from_slice(base);
    name
}

/// One pax record, `"<len> <keyword>=<value>\n"`, where `len` counts the whole record
/// including its own digits (`xheader_print_n`).
fn pax_record(out: &mut Vec<u8>, keyword: &[u8], value: &[u8]) {
    let rest = keyword.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(keyword);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A POSIX ustar header block as GNU tar 1.35 fills it for this command.
fn ustar_header(name: &[u8], typeflag: u8, mode: u32, size: u64, mtime: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    copy_truncated(&mut h[NAME], name);
    // POSIX format writes only the permission bits (`mode_to_chars`).
    write_octal(&mut h[MODE], u64::from(mode & 0o7777));
    write_octal(&mut h[UID], 0);
    write_octal(&mut h[GID], 0);
    write_octal(&mut h[SIZE], size);
    write_octal(&mut h[MTIME], mtime);
    h[TYPEFLAG] = typeflag;
    h[MAGIC_VERSION].copy_from_slice(b"ustar\x0000");
    seal(&mut h);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, Option<&[u8]>)]) -> io::Result<Vec<u8>> {
        let mut w = PaxTarWriter::new(Vec::new(), 315532800)?;
        for (path, data) in entries {
            match data {
                None => w.dir(path, 0o555)?,
                Some(d) => w.file(path, 0o444, d.len() as u64, &mut &d[..])?,
            }
        }
        w.finish()
    }

    fn kind(e: io::Error) -> PaxTarError {
        *e.into_inner().unwrap().downcast::<PaxTarError>().unwrap()
    }

    #[test]
    fn sort_order_is_per_component() {
        let mut paths: Vec<&[u8]> = vec![b"a-b", b"a/b", b"a", b".", b"a/b/c", b"A", b"a.b"];
        paths.sort_by(|a, b| compare_paths(a, b));
        let want: Vec<&[u8]> = vec![b".", b"A", b"a", b"a/b", b"a/b/c", b"a-b", b"a.b"];
        assert_eq!(paths, want);
        let mut by_key = want.clone();
        by_key.reverse();
        by_key.sort_by_cached_key(|p| sort_key(p));
        assert_eq!(by_key, want);
    }

    #[test]
    fn pax_record_length_counts_its_own_digits() {
        let mut r = Vec::new();
        pax_record(&mut r, b"path", b"./caf\xc3\xa9");
        assert_eq!(r, b"16 path=./caf\xc3\xa9\n");
        // 97 bytes plus 2 digits is 99; one more byte would make 100, which needs a third
        // digit, so the next record is 101 bytes long: no record is 100 bytes.
        let mut r = Vec::new();
        pax_record(&mut r, b"path", &[b'x'; 90]);
        assert!(r.len() == 99 && r.starts_with(b"99 path="));
        let mut r = Vec::new();
        pax_record(&mut r, b"path", &[b'x'; 91]);
        assert!(r.len() == 101 && r.starts_with(b"101 path="));
    }

    #[test]
    fn xheader_names_follow_the_template() {
        assert_eq!(xheader_name(b"caf\xc3\xa9"), b"./PaxHeaders/caf\xc3\xa9");
        assert_eq!(xheader_name(b"a/b/c"), b"./a/b/PaxHeaders/c");
    }

    #[test]
    fn refuses_bad_order_paths_and_short_data() {
        let e = archive(&[("v10", None)]).unwrap_err();
        assert!(matches!(kind(e), PaxTarError::RootFirst { .. }));
        let e = archive(&[(".", None), ("b", None), ("a", None)]).unwrap_err();
        assert!(matches!(kind(e), PaxTarError::OutOfOrder { .. }));
        let e = archive(&[(".", None), ("a/b", Some(b"x"))]).unwrap_err();
        assert!(matches!(kind(e), PaxTarError::MissingParent { .. }));
        for bad in ["", "/a", "a/", "a//b", "a/./b", "..", "a\0b"] {
            let e = archive(&[(".", None), (bad, None)]).unwrap_err();
            assert!(
                matches!(kind(e), PaxTarError::InvalidPath { .. }),
                "{bad:?}"
            );
        }
        let mut w = PaxTarWriter::new(Vec::new(), 1).unwrap();
        w.dir(".", 0o555).unwrap();
        let e = w.file("f", 0o444, 5, &mut &b"abc"[..]).unwrap_err();
        assert_eq!(
            kind(e),
            PaxTarError::ShortData {
                path: "f".into(),
                size: 5,
                got: 3
            }
        );
    }

    #[test]
    fn a_file_after_a_sibling_directory_closes_it() {
        // "a/x" then "b" then "b/y": "b" needs the root, "b/y" needs "b".
        let ok = archive(&[
            (".", None),
            ("a", None),
            ("a/x", Some(b"1")),
            ("b", None),
            ("b/y", Some(b"2")),
        ]);
        assert!(ok.is_ok());
        let e = archive(&[
            (".", None),
            ("a", None),
            ("a/x", Some(b"1")),
            ("b/y", Some(b"2")),
        ])
        .unwrap_err();
        assert!(matches!(kind(e), PaxTarError::MissingParent { .. }));
    }

    #[test]
    fn archive_is_whole_records() {
        let out = archive(&[(".", None)]).unwrap();
        assert_eq!(out.len(), RECORD);
        assert_eq!(&out[..3], b"./\0");
    }
}

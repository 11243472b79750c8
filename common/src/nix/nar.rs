//! Nix ARchive (NAR) serialisation, streamed.
//!
//! A NAR is what Nix hashes for `outputHashMode = "recursive"` and what `nix hash path`
//! and `nix-store --dump` print. Every token is a length-prefixed string padded to 8
//! bytes; directory entries appear sorted by name bytes. Writing goes straight into any
//! `Write` (a hasher, usually), so nothing is ever materialised to be hashed.

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::nix::nix_hash::Sha256Hash;

/// Token-level NAR writer. Callers drive the structure; [`dump_path`] and the offline
/// cache's hasher are the two drivers.
pub struct NarWriter<W: Write> {
    out: W,
}

impl<W: Write> NarWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        write_str(&mut out, b"nix-archive-1")?;
        Ok(Self { out })
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// A regular file of exactly `len` bytes read from `contents`. A reader that
    /// yields more or fewer bytes is an error, since the length was already written.
    pub fn regular(&mut self, executable: bool, len: u64, contents: impl Read) -> io::Result<()> {
        self.regular_buffered(
            executable,
            len,
            io::BufReader::with_capacity(1 << 16, contents),
        )
    }

    /// [`Self::regular`] from a buffered source, whose buffers go to the output as
    /// they are: no copy on the way (the hashing thread's time is the bottleneck).
    pub fn regular_buffered(
        &mut self,
        executable: bool,
        len: u64,
        mut contents: impl BufRead,
    ) -> io::Result<()> {
        self.tokens(&[b"(", b"type", b"regular"])?;
        if executable {
            self.tokens(&[b"executable", b""])?;
        }
        self.tokens(&[b"contents"])?;
        self.out.write_all(&len.to_le_bytes())?;
        let mut copied = 0u64;
        loop {
            let chunk = contents.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            copied += chunk.len() as u64;
            if copied > len {
                break;
            }
            self.out.write_all(chunk)?;
            let n = chunk.len();
            contents.consume(n);
        }
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("file changed while being archived: expected {len} bytes, read {copied}"),
            ));
        }
        write_padding(&mut self.out, len)?;
        self.tokens(&[b")"])
    }

    pub fn symlink(&mut self, target: &[u8]) -> io::Result<()> {
        self.tokens(&[b"(", b"type", b"symlink", b"target", target, b")"])
    }

    pub fn start_directory(&mut self) -> io::Result<()> {
        self.tokens(&[b"(", b"type", b"directory"])
    }

    /// Opens a directory entry; the entry's node must follow, then [`Self::end_entry`].
    pub fn start_entry(&mut self, name: &[u8]) -> io::Result<()> {
        self.tokens(&[b"entry", b"(", b"name", name, b"node"])
    }

    pub fn end_entry(&mut self) -> io::Result<()> {
        self.tokens(&[b")"])
    }

    pub fn end_directory(&mut self) -> io::Result<()> {
        self.tokens(&[b")"])
    }

    fn tokens(&mut self, tokens: &[&[u8]]) -> io::Result<()> {
        tokens.iter().try_for_each(|t| write_str(&mut self.out, t))
    }
}

fn write_str(out: &mut impl Write, s: &[u8]) -> io::Result<()> {
    out.write_all(&(s.len() as u64).to_le_bytes())?;
    out.write_all(s)?;
    write_padding(out, s.len() as u64)
}

fn write_padding(out: &mut impl Write, len: u64) -> io::Result<()> {
    let pad = (8 - len % 8) % 8;
    out.write_all(&[0u8; 8][..pad as usize])
}

/// Serialises a filesystem tree exactly as `nix-store --dump` does.
pub fn dump_path(path: &Path, out: impl Write) -> io::Result<()> {
    let mut nar = NarWriter::new(out)?;
    dump_node(&mut nar, path)
}

fn dump_node<W: Write>(nar: &mut NarWriter<W>, path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        nar.symlink(fs::read_link(path)?.as_os_str().as_bytes())
    } else if kind.is_file() {
        let executable = meta.permissions().mode() & 0o100 != 0;
        nar.regular(executable, meta.len(), fs::File::open(path)?)
    } else if kind.is_dir() {
        let mut names: Vec<_> = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        nar.start_directory()?;
        for name in names {
            nar.start_entry(name.as_bytes())?;
            dump_node(nar, &path.join(&name))?;
            nar.end_entry()?;
        }
        nar.end_directory()
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: NAR cannot hold special files", path.display()),
        ))
    }
}

/// A `Write` that feeds SHA-256 and counts bytes: the NAR hash and NAR size.
#[derive(Default)]
pub struct HashingWriter {
    hasher: Sha256,
    len: u64,
}

impl HashingWriter {
    pub fn finish(self) -> (Sha256Hash, u64) {
        (Sha256Hash(self.hasher.finalize().into()), self.len)
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The NAR hash of a path, as `nix hash path` prints it.
pub fn hash_path(path: &Path) -> io::Result<(Sha256Hash, u64)> {
    let mut hasher = io::BufWriter::with_capacity(1 << 16, HashingWriter::default());
    dump_path(path, &mut hasher)?;
    let hasher = hasher.into_inner().map_err(|e| e.into_error())?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nar_of(build: impl FnOnce(&mut NarWriter<&mut Vec<u8>>) -> io::Result<()>) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut nar = NarWriter::new(&mut buf).unwrap();
        build(&mut nar).unwrap();
        buf
    }

    #[test]
    fn every_token_is_length_prefixed_and_padded() {
        let nar = nar_of(|n| n.regular(false, 3, &b"abc"[..]));
        assert_eq!(nar.len() % 8, 0);
        assert_eq!(&nar[..8], &13u64.to_le_bytes());
        assert_eq!(&nar[8..21], b"nix-archive-1");
        assert_eq!(&nar[21..24], &[0, 0, 0]);
    }

    #[test]
    fn a_reader_of_the_wrong_length_is_an_error() {
        let mut buf = Vec::new();
        let mut nar = NarWriter::new(&mut buf).unwrap();
        assert!(nar.regular(false, 4, &b"abc"[..]).is_err());
        assert!(nar.regular(false, 2, &b"abc"[..]).is_err());
    }

    #[test]
    fn executable_bit_changes_the_archive() {
        let plain = nar_of(|n| n.regular(false, 1, &b"x"[..]));
        let exec = nar_of(|n| n.regular(true, 1, &b"x"[..]));
        assert_ne!(plain, exec);
    }
}

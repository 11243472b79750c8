//! A GNU-format tar writer that reproduces, byte for byte, what GNU tar 1.34 writes for
//!
//! ```text
//! tar --owner=0 --group=0 --numeric-owner --format=gnu --sort=name --mtime=@1 --mode u+w -C DIR -cf OUT .
//! ```
//!
//! nixpkgs' `prefetch-yarn-deps` packs git dependencies with exactly that command, and the
//! fetchYarnDeps hash covers the resulting bytes, so our native hash must see the same bytes
//! whatever tar (if any) the host has.
//!
//! The input is an in-memory [`Dir`] tree; [`archive`] walks it the way `--sort=name` makes
//! tar walk a directory: entries of one directory in byte order of their names (`strcmp`), each
//! directory's contents immediately after the directory itself (depth first).

use std::collections::BTreeMap;

use super::tar_header::{copy_truncated, seal, write_octal, BLOCK, LINKNAME, NAME_FIELD, RECORD};

/// `--mtime=@1` clamps every member's mtime to 1.
const MTIME: u64 = 1;
/// `lstat` reports 0777 for every symlink on Linux, and tar records that mode as is.
const SYMLINK_MODE: u32 = 0o777;
/// GNU tar writes `././@LongLink` records as a 0644 regular file with mtime 0 (uid/gid 0 and,
/// under `--numeric-owner`, no user or group name).
const LONGLINK_MODE: u32 = 0o644;

/// A directory to archive: its permission bits and its entries by raw file name (not UTF-8
/// necessarily; must be non-empty, without `/` or NUL, and not `.` or `..`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dir {
    pub mode: u32,
    pub entries: BTreeMap<Vec<u8>, Node>,
}

/// One member of a [`Dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir(Dir),
    /// A regular file with its permission bits (as `lstat` would report them) and content.
    File {
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        target: Vec<u8>,
    },
}

/// Why a tree cannot be archived.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TarError {
    #[error("cannot archive a file named {name:?}: a name must be non-empty, not `.`/`..`, and contain no `/` or NUL byte")]
    InvalidName { name: String },
    #[error(
        "cannot archive symlink {path:?}: its target {target:?} is empty or contains a NUL byte"
    )]
    InvalidLinkTarget { path: String, target: String },
}

/// The bytes GNU tar writes for `-C root -cf OUT .` with the flags in the module docs.
pub fn archive(root: &Dir) -> Result<Vec<u8>, TarError> {
    let mut out = Vec::new();
    // The root is archived as "./", and every member name starts with it because the operand is ".".
    write_dir(&mut out, b"./", root)?;
    // End of archive: two zero blocks, then zeros up to a whole record.
    let end = (out.len() + 2 * BLOCK).div_ceil(RECORD) * RECORD;
    out.resize(end, 0);
    Ok(out)
}

/// Writes `dir` (whose member name, ending in `/`, is `path`) and then its contents.
fn write_dir(out: &mut Vec<u8>, path: &[u8], dir: &Dir) -> Result<(), TarError> {
    write_member(out, path, Member::Dir { mode: dir.mode })?;
    // BTreeMap<Vec<u8>, _> iterates in byte order: what `--sort=name` (strcmp) gives.
    for (name, node) in &dir.entries {
        check_name(name)?;
        let mut child = path.to_vec();
        child.extend_from_slice(name);
        match node {
            Node::Dir(sub) => {
                child.push(b'/');
                write_dir(out, &child, sub)?;
            }
            Node::File { mode, data } => {
                write_member(out, &child, Member::File { mode: *mode, data })?
            }
            Node::Symlink { target } => {
                if target.is_empty() || target.contains(&0) {
                    return Err(TarError::InvalidLinkTarget {
                        path: String::from_utf8_lossy(&child).into_owned(),
                        target: String::from_utf8_lossy(target).into_owned(),
                    });
                }
                write_member(out, &child, Member::Symlink { target })?
            }
        }
    }
    Ok(())
}

fn check_name(name: &[u8]) -> Result<(), TarError> {
    let bad = name.is_empty()
        || name == b"."
        || name == b".."
        || name.iter().any(|&b| b == b'/' || b == 0);
    if bad {
        return Err(TarError::InvalidName {
            name: String::from_utf8_lossy(name).into_owned(),
        });
    }
    Ok(())
}

enum Member<'a> {
    Dir { mode: u32 },
    File { mode: u32, data: &'a [u8] },
    Symlink { target: &'a [u8] },
}

fn write_member(out: &mut Vec<u8>, name: &[u8], member: Member<'_>) -> Result<(), TarError> {
    let (typeflag, mode, data, target): (u8, u32, &[u8], &[u8]) = match member {
        Member::Dir { mode } => (b'5', mode, &[], &[]),
        Member::File { mode, data } => (b'0', mode, data, &[]),
        Member::Symlink { target } => (b'2', SYMLINK_MODE, &[], target),
    };
    // GNU tar writes the long link target ('K') before the long name ('L'): dump_file0 emits
    // it before start_header, which emits the name record.
    if target.len() > NAME_FIELD {
        write_long_link(out, b'K', target);
    }
    if name.len() > NAME_FIELD {
        write_long_link(out, b'L', name);
    }
    let mut header = new_header(name, data.len() as u64, MTIME, with_user_write(mode));
    header[156] = typeflag;
    copy_truncated(&mut header[LINKNAME], target);
    finish_header(out, header);
    write_data(out, data);
    Ok(())
}

/// `--mode u+w` adds the owner's write bit to every member (directories, files and symlinks).
fn with_user_write(mode: u32) -> u32 {
    (mode & 0o7777) | 0o200
}

/// A `././@LongLink` record: a header, then the full string and a NUL as data.
fn write_long_link(out: &mut Vec<u8>, typeflag: u8, full: &[u8]) {
    let mut data = full.to_vec();
    data.push(0);
    let mut header = new_header(b"././@LongLink", data.len() as u64, 0, LONGLINK_MODE);
    header[156] = typeflag;
    finish_header(out, header);
    write_data(out, &data);
}

/// A header block with name, mode, uid/gid 0, size, mtime and the GNU magic filled in;
/// uname/gname stay empty as `--numeric-owner` leaves them, and devmajor/devminor stay zero.
fn new_header(name: &[u8], size: u64, mtime: u64, mode: u32) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    copy_truncated(&mut h[0..100], name);
    write_octal(&mut h[100..108], u64::from(mode));
    write_octal(&mut h[108..116], 0);
    write_octal(&mut h[116..124], 0);
    write_number(&mut h[124..136], size);
    write_octal(&mut h[136..148], mtime);
    // GNU format uses the old GNU magic "ustar  \0" across the magic and version fields.
    h[257..265].copy_from_slice(b"ustar  \0");
    h
}

/// Fills in the checksum (sum of all header bytes with the checksum field read as spaces,
/// written as six octal digits, NUL, space) and appends the header.
fn finish_header(out: &mut Vec<u8>, mut h: [u8; BLOCK]) {
    seal(&mut h);
    out.extend_from_slice(&h);
}

fn write_data(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(data);
    let padded = out.len().div_ceil(BLOCK) * BLOCK;
    out.resize(padded, 0);
}

/// Octal when it fits; otherwise GNU's base-256 form (high bit of the first byte set, value
/// big-endian), which GNU tar uses in GNU format for sizes of 8 GiB and more.
fn write_number(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    if value < 1u64 << (3 * width) {
        write_octal(field, value);
        return;
    }
    field.fill(0);
    let bytes = value.to_be_bytes();
    let start = field.len() - bytes.len();
    field[start..].copy_from_slice(&bytes);
    field[0] |= 0x80;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::Command;

    /// Real GNU tar, or None (after printing why) when it is missing outside CI.
    fn gnu_tar() -> Option<()> {
        let version = Command::new("tar").arg("--version").output();
        match version {
            Ok(o) if String::from_utf8_lossy(&o.stdout).contains("GNU tar") => Some(()),
            _ if std::env::var_os("CI").is_some() => panic!("GNU tar is required in CI"),
            _ => {
                eprintln!("skipping: GNU tar is not installed");
                None
            }
        }
    }

    fn materialize(path: &Path, dir: &Dir) {
        std::fs::create_dir_all(path).unwrap();
        for (name, node) in &dir.entries {
            let child = path.join(std::ffi::OsStr::from_bytes(name));
            match node {
                Node::Dir(sub) => materialize(&child, sub),
                Node::File { mode, data } => {
                    std::fs::write(&child, data).unwrap();
                    std::fs::set_permissions(&child, PermissionsExt::from_mode(*mode)).unwrap();
                }
                Node::Symlink { target } => {
                    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &child).unwrap()
                }
            }
        }
        std::fs::set_permissions(path, PermissionsExt::from_mode(dir.mode)).unwrap();
    }

    fn real_tar(dir: &Dir) -> Vec<u8> {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        materialize(&root, dir);
        let out = tmp.path().join("out.tar");
        let status = Command::new("tar")
            .args([
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--format=gnu",
                "--sort=name",
            ])
            .args(["--mtime=@1", "--mode", "u+w", "-C"])
            .arg(&root)
            .arg("-cf")
            .arg(&out)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(out).unwrap()
    }

    fn assert_same_as_tar(dir: &Dir) {
        let Some(()) = gnu_tar() else { return };
        let ours = archive(dir).unwrap();
        let theirs = real_tar(dir);
        if ours != theirs {
            let at = ours.iter().zip(&theirs).position(|(a, b)| a != b);
            panic!(
                "archives differ: ours {} bytes, tar {} bytes, first difference at {at:?} (block {:?})",
                ours.len(),
                theirs.len(),
                at.map(|i| i / BLOCK)
            );
        }
    }

    fn file(mode: u32, data: &[u8]) -> Node {
        Node::File {
            mode,
            data: data.to_vec(),
        }
    }

    fn link(target: &[u8]) -> Node {
        Node::Symlink {
            target: target.to_vec(),
        }
    }

    fn dir(mode: u32, entries: Vec<(&[u8], Node)>) -> Dir {
        Dir {
            mode,
            entries: entries.into_iter().map(|(n, e)| (n.to_vec(), e)).collect(),
        }
    }

    #[test]
    fn empty_root_matches_gnu_tar() {
        assert_same_as_tar(&dir(0o755, vec![]));
    }

    #[test]
    fn mixed_tree_matches_gnu_tar() {
        let long100 = vec![b'n'; 98]; // "./" + 98 = 100 bytes: fits the name field exactly
        let long101 = vec![b'o'; 99];
        let long_dir = vec![b'd'; 97]; // "./" + 97 + "/" = 100 bytes
        let very_long = vec![b'v'; 255]; // NAME_MAX; paths get longer through nesting
        let target101 = vec![b't'; 101];
        let target100 = vec![b'u'; 100];
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let nested = dir(
            0o700,
            vec![
                (b"inner.txt", file(0o444, b"read only gets u+w\n")),
                (&very_long, file(0o644, b"long name in a subdir")),
                (
                    &long_dir,
                    Node::Dir(dir(0o755, vec![(&very_long, link(&target101))])),
                ),
            ],
        );
        let root = dir(
            0o755,
            vec![
                (b"a", file(0o644, b"hi\n")),
                (b"a-b", file(0o755, b"#!/bin/sh\n")),
                (b"a.txt", file(0o644, b"")),
                (b"B", file(0o600, &big)),
                (b"a.d", Node::Dir(nested)),
                (&long100, file(0o644, b"x")),
                (&long101, file(0o644, b"y")),
                (b"l100", link(&target100)),
                (b"l101", link(&target101)),
                (b"rel", link(b"../outside/\xe2\x98\x83")),
                (
                    "caf\u{e9} \u{2603} \t odd".as_bytes(),
                    file(0o644, b"unicode"),
                ),
                (b"\xff\xfe not utf-8", file(0o644, b"raw bytes")),
                (b"empty", Node::Dir(dir(0o755, vec![]))),
            ],
        );
        assert_same_as_tar(&root);
    }

    #[test]
    fn rejects_names_tar_could_not_have_read_from_disk() {
        for bad in [&b""[..], b".", b"..", b"a/b", b"nul\0"] {
            let root = dir(0o755, vec![(bad, file(0o644, b""))]);
            assert!(
                matches!(archive(&root), Err(TarError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        let root = dir(0o755, vec![(b"l", link(b""))]);
        assert!(matches!(
            archive(&root),
            Err(TarError::InvalidLinkTarget { .. })
        ));
    }

    #[test]
    fn sizes_past_eleven_octal_digits_use_base_256() {
        let mut field = [0u8; 12];
        write_number(&mut field, (1 << 33) - 1);
        assert_eq!(&field, b"77777777777\0");
        write_number(&mut field, 1 << 33);
        assert_eq!(field, [0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
    }
}

//! The whole store directory nixpkgs' fetchPnpmDeps packs (fetcherVersion 3, pnpm 10), as
//! a stream of tar entries in GNU tar's `--sort=name` order with the fixup's permissions.
//!
//! What nixpkgs (pkgs/build-support/node/fetch-pnpm-deps/default.nix at
//! 00d3e9499656a99482f2d245bb600253927e40d2) leaves in `$storePath` after pnpm 10's install:
//! `v10/files/00..ff` and `v10/index/00..ff` (all 512 created up front by pnpm's worker
//! `initStore`), one file per distinct (content, executable) pair, one index file per
//! package; for a `file:` tarball also `v10/<depPathToFilename(pkgId)>/tarball-integrity`
//! (pnpm's package requester), and for a package without lockfile integrity its index as
//! `v10/<depPathToFilename(pkgId)>/integrity-not-built.json`; `v10/tmp` and `v10/projects`
//! removed; directories and `-exec` files 0555, other files 0444. `.fetcher-version` lives
//! in `$out`, outside the tar.
//!
//! pnpm 11 ([`StoreLayout::V11`], fetcherVersion 4) leaves the same under `v11/` except the
//! index: no `index/` but one row per package in `index.db`, which nixpkgs keeps as
//! `v11/index.db.sql` ([`super::sqlite_dump`]); a package without lockfile integrity is a
//! row too, and a tarball without `package.json` gets pnpm's placeholder one.
//!
//! Two passes keep memory bounded on a 1.2 GB store. [`Store::build`] reads each tarball
//! once, gunzips, parses and digests it, and appends each distinct file's bytes to a
//! [`Spill`] (an unnamed temporary file), keeping per distinct file only its digest, size
//! and where its bytes are; files of 1 MB and more are hashed from the spill eight at a
//! time ([`LateHashes`]: between batches as soon as eight wait, the rest once all tarballs
//! are read), and their packages' index entries are finished then. [`Store::write`] then emits the entries in order; file
//! contents are read back in groups of at most `memory_budget` bytes (two groups in memory
//! at once: one written while the next is gathered). Files sort by digest, so a group
//! holds files of nearly every package: reading them from the tarballs again meant
//! gunzipping every tarball once per group (Ghost: ~10 times 1.2 GB).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha512};
use thiserror::Error;

use super::cafs::{content_path, index_path, is_executable};
use super::dep_path::{dep_path_to_filename, MAX_LENGTH};
use super::extract::{parse_tarball, tar_bytes_append, tar_size_hint, ExtractError, TarballFile};
use super::index_file::{index_file_bytes, parse_manifest, IndexedFile};
use super::index_row::{
    row_data, row_key, IndexRowError, PLACEHOLDER_MODE, PLACEHOLDER_PACKAGE_JSON,
};
use super::js_value::JsValue;
use super::late_hash::LateHashes;
use super::layout::StoreLayout;
use super::side_effects::{self, DirFile, PackagePatch};
use super::spill::{Spill, Stored};
use super::sqlite_dump::IndexDump;
use crate::fetch::integrity::{Integrity, IntegrityError};
use crate::parallel_map::{heaviest_first, parallel_map};

/// Directories and `*-exec` files after the fixup's chmod.
pub const DIR_MODE: u32 = 0o555;
pub const EXEC_MODE: u32 = 0o555;
pub const FILE_MODE: u32 = 0o444;
/// pnpm 11's index as nixpkgs keeps it, under `v11/`.
const INDEX_DUMP: &str = "index.db.sql";

/// Where a tar entry goes: the shape of `common::archive::pax_tar::PaxTarWriter`'s `dir` and
/// `file`. Paths are relative to `$storePath`: `.` for the root, then `v10`,
/// `v10/files/00/<hex>`, … (no `./` prefix, no trailing slash; the tar writer adds GNU
/// tar's `./`).
pub trait StoreSink {
    fn dir(&mut self, path: &str, mode: u32) -> io::Result<()>;
    fn file(&mut self, path: &str, mode: u32, size: u64, data: &mut dyn Read) -> io::Result<()>;
}

/// Where a package's tarball bytes are read from (once, in pass 1).
#[derive(Debug, Clone)]
pub enum TarballSource {
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

impl TarballSource {
    /// Its length, for scheduling only (0 when unknown).
    fn len(&self) -> u64 {
        match self {
            Self::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
            Self::Bytes(bytes) => bytes.len() as u64,
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Bytes(_) => "in-memory tarball".to_owned(),
        }
    }
}

/// One package pnpm fetches: its pkgId (as in the lockfile's `packages:` key, peer suffix
/// removed), its tarball's integrity exactly as the lockfile writes it (`sha512-…`; `None`
/// when the lockfile has none), and its bytes, already verified against it by the fetcher.
#[derive(Debug, Clone)]
pub struct PackageTarball {
    pub pkg_id: String,
    pub integrity: Option<String>,
    pub source: TarballSource,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot read the tarball of {pkg_id} ({source_name}): {source}")]
    Read {
        pkg_id: String,
        source_name: String,
        source: io::Error,
    },
    #[error("pnpm cannot unpack the tarball of {pkg_id} ({source_name}): {source}")]
    Extract {
        pkg_id: String,
        source_name: String,
        source: ExtractError,
    },
    #[error("the package.json in the tarball of {pkg_id} is not valid JSON ({source}); pnpm fails on it too")]
    Manifest {
        pkg_id: String,
        source: serde_json::Error,
    },
    #[error("the patch of {pkg_id} cannot be applied as pnpm would: {source}")]
    Patch {
        pkg_id: String,
        source: super::patch_file::PatchError,
    },
    /// The profile names no Node major, which a patched package's row holds.
    #[error("the patched {pkg_id} is stored under a key naming pnpm's Node major, and no --node was given")]
    NodeUnknown { pkg_id: String },
    #[error("the tarball of {pkg_id}: {source}")]
    IndexRow {
        pkg_id: String,
        source: IndexRowError,
    },
    #[error(
        "the integrity {integrity:?} of {pkg_id} is not one `<algorithm>-<base64>` hash: {source}"
    )]
    Integrity {
        pkg_id: String,
        integrity: String,
        source: IntegrityError,
    },
    #[error("cannot keep the store's contents in a temporary file ({0}); is the disk under $TMPDIR full?")]
    Spill(#[source] io::Error),
    /// The sender of [`Store::build_streaming`] stopped early (its own error says why).
    #[error("{missing} package(s) never reached the store")]
    NotArrived { missing: usize },
    #[error("writing the store archive failed: {0}")]
    Sink(#[source] io::Error),
}

/// A distinct CAFS file: its digest and whether it is the `-exec` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct CafsKey {
    sha512: [u8; 64],
    executable: bool,
}

/// Where the bytes of a CAFS file can be read again.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Spilled {
        stored: Stored,
        size: u64,
    },
    /// A file no tarball holds (pnpm 11's placeholder `package.json`, a patched file): its
    /// bytes are `Store::generated[index]`.
    Generated {
        index: usize,
        size: u64,
    },
}

impl Origin {
    fn size(&self) -> u64 {
        match self {
            Self::Spilled { size, .. } | Self::Generated { size, .. } => *size,
        }
    }
}

/// What pass 1 learnt from one tarball.
struct Digested {
    index: Placement,
    index_json: Vec<u8>,
    /// `v10/<depPathToFilename>/tarball-integrity` of a `file:` tarball.
    tarball_integrity: Option<(String, String)>,
    /// The distinct files this tarball was the first to spill.
    files: Vec<(CafsKey, Origin)>,
    /// Files whose bytes no tarball holds, with their keys.
    generated: Vec<(CafsKey, Vec<u8>)>,
}

/// What pass 1 leaves of one package: done, or waiting for its large files' digests.
enum Pass1 {
    Done(Digested),
    Waiting(Known, Vec<LateFile>),
}

/// A package unpacked and its files spilled; what [`finish`] turns into a [`Digested`].
struct Known {
    pkg_id: String,
    placement: Placement,
    tarball_integrity: Option<(String, String)>,
    /// The bytes of its `package.json`.
    manifest: Option<Vec<u8>>,
    indexed: Vec<IndexedFile>,
    files: Vec<(CafsKey, Origin)>,
}

/// A file hashed from the spill ([`LateHashes`]): `indexed[at]` of its package, spilled at `stored`.
struct LateFile {
    at: usize,
    stored: Stored,
    executable: bool,
}

/// Files from this size on are hashed from the spill, eight at a time ([`LateHashes`]),
/// unless their package is patched. They are single binaries (esbuild's, swc's, rollup's:
/// 46 of Ghost's 50,059 files hold 763 MB of its 1.05 GB), at most a few per batch in pass
/// 1, where most of their bytes went through one busy lane or `sha2`.
const LATE_HASH_BYTES: usize = 1 << 20;

/// Where an index file goes: `index/XX/<name>`, or `<dir>/<name>` directly under `v10/`;
/// or, for pnpm 11, the `index.db` row's key.
enum Placement {
    Index(String, String),
    Loose(String, String),
    Row(String),
}

/// The store as nixpkgs packs it, known by digests; contents stay in the tarballs.
pub struct Store {
    layout: StoreLayout,
    spill: Spill,
    files: BTreeMap<CafsKey, Origin>,
    /// `index/XX/<name>` -> bytes, by shard then name.
    index_files: BTreeMap<(String, String), Vec<u8>>,
    /// Directories directly under `v10/` other than `files` and `index`, by name, with
    /// their files by name.
    loose_dirs: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// pnpm 11's `index.db` rows.
    rows: IndexDump,
    /// Contents of the files with [`Origin::Generated`].
    generated: Vec<Vec<u8>>,
}

impl Store {
    /// Pass 1 for pnpm 10's store ([`Store::build_layout`] with [`StoreLayout::V10`]).
    pub fn build(packages: Vec<PackageTarball>, threads: usize) -> Result<Self, StoreError> {
        Self::build_layout(StoreLayout::V10, packages, &BTreeMap::new(), threads)
    }

    /// Pass 1 on `threads` threads: every tarball unpacked by pnpm's rules and digested,
    /// largest first. `patches`: pnpm 11's patched packages by pkgId (their side effects
    /// are stored).
    pub fn build_layout(
        layout: StoreLayout,
        packages: Vec<PackageTarball>,
        patches: &BTreeMap<String, PackagePatch>,
        threads: usize,
    ) -> Result<Self, StoreError> {
        let sizes: Vec<u64> = packages.iter().map(|p| p.source.len()).collect();
        let (tx, rx) = mpsc::channel();
        let count = packages.len();
        let mut packages: Vec<Option<PackageTarball>> = packages.into_iter().map(Some).collect();
        for i in heaviest_first(&sizes) {
            let p = packages[i].take().expect("each index once");
            tx.send((i, p)).expect("the receiver is here");
        }
        drop(tx);
        Self::build_streaming(layout, count, rx, patches, threads)
    }

    /// Pass 1 for `count` packages arriving on `packages` as `(index, package)` in any
    /// order (the store is the same whatever the order); it ends when the sender is
    /// dropped. A package that never arrives is [`StoreError::NotArrived`].
    pub fn build_streaming(
        layout: StoreLayout,
        count: usize,
        packages: Receiver<(usize, PackageTarball)>,
        patches: &BTreeMap<String, PackagePatch>,
        threads: usize,
    ) -> Result<Self, StoreError> {
        let spill = Spill::new().map_err(StoreError::Spill)?;
        // Keys already spilled: many packages share files (licences, empty files, whole
        // vendored copies), and each distinct one is stored once. A large file is stored
        // before its key is known, so a large file in two packages is stored twice.
        let spilled = Mutex::new(HashSet::new());
        let late = LateHashes::default();
        let pass1 = digest_arrivals(
            count,
            packages,
            threads,
            |batch| digest_batch(layout, (&spill, &spilled, &late), batch, patches),
            || late.hash_eight(&spill).map_err(StoreError::Spill),
        )?;
        let digested = finish_waiting(layout, &spill, late, pass1, threads)?;
        let mut rows = IndexDump::default();
        let mut generated = Vec::new();
        let mut files = BTreeMap::new();
        let mut index_files = BTreeMap::new();
        let mut loose_dirs: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
        for d in digested {
            for (key, origin) in d.files {
                files.entry(key).or_insert(origin);
            }
            for (key, bytes) in d.generated {
                let origin = Origin::Generated {
                    index: generated.len(),
                    size: bytes.len() as u64,
                };
                if let std::collections::btree_map::Entry::Vacant(e) = files.entry(key) {
                    e.insert(origin);
                    generated.push(bytes);
                }
            }
            match d.index {
                Placement::Index(shard, name) => {
                    index_files.insert((shard, name), d.index_json);
                }
                Placement::Loose(dir, name) => {
                    loose_dirs
                        .entry(dir)
                        .or_default()
                        .insert(name, d.index_json);
                }
                Placement::Row(key) => rows.insert(key, d.index_json),
            }
            if let Some((dir, integrity)) = d.tarball_integrity {
                let dir = loose_dirs.entry(dir).or_default();
                dir.insert("tarball-integrity".to_owned(), integrity.into_bytes());
            }
        }
        Ok(Self {
            layout,
            spill,
            files,
            index_files,
            loose_dirs,
            rows,
            generated,
        })
    }

    /// Distinct files under `v10/files`.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Index files under `v10/index`, or rows of pnpm 11's `index.db`.
    pub fn index_count(&self) -> usize {
        self.index_files.len() + self.rows.row_count()
    }

    /// Bytes of all distinct files.
    pub fn content_bytes(&self) -> u64 {
        self.files.values().map(Origin::size).sum()
    }

    /// Pass 2: every entry of the store, in order, into `sink`. File contents are held at
    /// most two groups of `memory_budget` bytes at a time (a file larger than the budget is
    /// a group alone); `threads` tarballs are decompressed at once.
    pub fn write(
        &self,
        sink: &mut dyn StoreSink,
        memory_budget: usize,
        threads: usize,
    ) -> Result<(), StoreError> {
        let layout = self.layout.dir();
        sink.dir(".", DIR_MODE).map_err(StoreError::Sink)?;
        sink.dir(layout, DIR_MODE).map_err(StoreError::Sink)?;
        // `v10/`'s children in strcmp order, as `--sort=name` visits them.
        let index = match self.layout {
            StoreLayout::V10 => "index",
            StoreLayout::V11(_) => INDEX_DUMP,
        };
        let mut children: Vec<&str> = vec!["files", index];
        children.extend(self.loose_dirs.keys().map(String::as_str));
        children.sort_unstable();
        for child in children {
            match child {
                "files" => self.write_files(sink, memory_budget, threads)?,
                "index" => self.write_index(sink).map_err(StoreError::Sink)?,
                INDEX_DUMP => {
                    let path = format!("{layout}/{INDEX_DUMP}");
                    let (size, mut text) = (self.rows.byte_len(), self.rows.reader());
                    sink.file(&path, FILE_MODE, size, &mut text)
                        .map_err(StoreError::Sink)?;
                }
                dir => {
                    let base = format!("{layout}/{dir}");
                    sink.dir(&base, DIR_MODE).map_err(StoreError::Sink)?;
                    for (name, bytes) in &self.loose_dirs[dir] {
                        let path = format!("{base}/{name}");
                        sink.file(&path, FILE_MODE, bytes.len() as u64, &mut &bytes[..])
                            .map_err(StoreError::Sink)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `v10/files` and its 256 shards, contents gathered group by group.
    fn write_files(
        &self,
        sink: &mut dyn StoreSink,
        memory_budget: usize,
        threads: usize,
    ) -> Result<(), StoreError> {
        let sink_err = StoreError::Sink;
        let layout = self.layout.dir();
        sink.dir(&format!("{layout}/files"), DIR_MODE)
            .map_err(sink_err)?;
        let files: Vec<(&CafsKey, &Origin)> = self.files.iter().collect();
        let groups: Vec<_> = groups(&files, memory_budget as u64).collect();
        let mut next_shard = 0usize;
        // One thread gathers the next group while this one writes the current: at most
        // two groups are in memory, and gunzip overlaps with the sink's compression.
        std::thread::scope(|scope| -> Result<(), StoreError> {
            let (tx, rx) = std::sync::mpsc::sync_channel(0);
            let to_gather = &groups;
            scope.spawn(move || {
                for group in to_gather {
                    let contents = self.gather(group, threads);
                    let failed = contents.is_err();
                    if tx.send(contents).is_err() || failed {
                        break;
                    }
                }
            });
            for group in &groups {
                // A closed channel means the gatherer panicked; the scope re-raises it.
                let Ok(contents) = rx.recv() else { break };
                for ((key, origin), data) in group.iter().zip(contents?) {
                    let shard = usize::from(key.sha512[0]);
                    while next_shard <= shard {
                        sink.dir(&format!("{layout}/files/{next_shard:02x}"), DIR_MODE)
                            .map_err(sink_err)?;
                        next_shard += 1;
                    }
                    let mode = if key.executable { EXEC_MODE } else { FILE_MODE };
                    let path = format!("{layout}/{}", content_path(&key.sha512, key.executable));
                    sink.file(&path, mode, origin.size(), &mut &data[..])
                        .map_err(sink_err)?;
                }
            }
            Ok(())
        })?;
        for shard in next_shard..256 {
            sink.dir(&format!("{layout}/files/{shard:02x}"), DIR_MODE)
                .map_err(sink_err)?;
        }
        Ok(())
    }

    /// `v10/index` and its 256 shards.
    fn write_index(&self, sink: &mut dyn StoreSink) -> io::Result<()> {
        let layout = self.layout.dir();
        sink.dir(&format!("{layout}/index"), DIR_MODE)?;
        for shard in 0..256 {
            let shard = format!("{shard:02x}");
            sink.dir(&format!("{layout}/index/{shard}"), DIR_MODE)?;
            let from = (shard.clone(), String::new());
            for ((s, name), bytes) in self.index_files.range(from..) {
                if *s != shard {
                    break;
                }
                let path = format!("{layout}/index/{shard}/{name}");
                sink.file(&path, FILE_MODE, bytes.len() as u64, &mut &bytes[..])?;
            }
        }
        Ok(())
    }

    /// The contents of one group of files, read back from the spill file in parallel.
    fn gather(
        &self,
        group: &[(&CafsKey, &Origin)],
        threads: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        parallel_map(group, threads, |_, (_, origin)| match **origin {
            Origin::Spilled { stored, .. } => self.spill.get(stored).map_err(StoreError::Spill),
            Origin::Generated { index, .. } => Ok(self.generated[index].clone()),
        })
    }
}

/// `digest` on `threads` threads over the packages as they arrive, results by index, and
/// `between` before each batch; the first failure stops the rest. Each worker takes the
/// next package and, without waiting, whichever others have arrived too, up to
/// [`BATCH_TARBALL_BYTES`] of tarballs: `digest` gets them together.
fn digest_arrivals(
    count: usize,
    packages: Receiver<(usize, PackageTarball)>,
    threads: usize,
    digest: impl Fn(&[&PackageTarball]) -> Result<Vec<Pass1>, StoreError> + Sync,
    between: impl Fn() -> Result<(), StoreError> + Sync,
) -> Result<Vec<Pass1>, StoreError> {
    let packages = Mutex::new(packages);
    let slots: Mutex<Vec<Option<Pass1>>> = Mutex::new((0..count).map(|_| None).collect());
    let failure: Mutex<Option<StoreError>> = Mutex::new(None);
    let failed = || failure.lock().unwrap_or_else(|e| e.into_inner()).is_some();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                if let Err(e) = between() {
                    failure
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(e);
                    break;
                }
                // One worker waits in recv under the lock; none digests under it.
                let batch = next_batch(&packages.lock().unwrap_or_else(|e| e.into_inner()));
                if batch.is_empty() || failed() {
                    break;
                }
                let refs: Vec<&PackageTarball> = batch.iter().map(|(_, p)| p).collect();
                match digest(&refs) {
                    Ok(digested) => {
                        let mut slots = slots.lock().unwrap_or_else(|e| e.into_inner());
                        for ((i, _), d) in batch.iter().zip(digested) {
                            slots[*i] = Some(d);
                        }
                    }
                    Err(e) => {
                        failure
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let slots = slots.into_inner().unwrap_or_else(|e| e.into_inner());
    let arrived = slots.iter().filter(|d| d.is_some()).count();
    if arrived < count {
        return Err(StoreError::NotArrived {
            missing: count - arrived,
        });
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Every package of pass 1 with its index: those waiting get their large files' digests
/// ([`LateHashes`]) and then their index.
fn finish_waiting(
    layout: StoreLayout,
    spill: &Spill,
    late: LateHashes,
    pass1: Vec<Pass1>,
    threads: usize,
) -> Result<Vec<Digested>, StoreError> {
    let digests = late.finish(spill, threads).map_err(StoreError::Spill)?;
    pass1
        .into_iter()
        .map(|p| match p {
            Pass1::Done(d) => Ok(d),
            Pass1::Waiting(mut known, late) => {
                for l in &late {
                    let sha512 = digests[&l.stored];
                    let file = &mut known.indexed[l.at];
                    file.sha512 = sha512;
                    let key = CafsKey {
                        sha512,
                        executable: l.executable,
                    };
                    let origin = Origin::Spilled {
                        stored: l.stored,
                        size: file.size,
                    };
                    known.files.push((key, origin));
                }
                finish(layout, known, None)
            }
        })
        .collect()
}

/// The tarball bytes one worker takes at once (a package larger than this comes alone):
/// small files of many packages share the lanes (large ones wait for [`LateHashes`]). The
/// bound keeps pass 1's memory (the batch, unpacked) well under pass 2's.
const BATCH_TARBALL_BYTES: u64 = 8 << 20;
const BATCH_PACKAGES: usize = 64;

/// The next package, waiting for it, and those that arrived with it.
fn next_batch(packages: &Receiver<(usize, PackageTarball)>) -> Vec<(usize, PackageTarball)> {
    let Ok(first) = packages.recv() else {
        return Vec::new();
    };
    let mut bytes = first.1.source.len();
    let mut batch = vec![first];
    while batch.len() < BATCH_PACKAGES && bytes < BATCH_TARBALL_BYTES {
        let Ok(next) = packages.try_recv() else { break };
        bytes += next.1.source.len();
        batch.push(next);
    }
    batch
}

thread_local! {
    // Pass 1's two large buffers (a tarball, the tars of a batch's tarballs), kept per
    // thread between batches: fresh ones meant a page fault and a zeroed page for every
    // 4 KiB read.
    static BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Buffers larger than this are freed after use, not kept: peak RSS stays bounded.
const KEEP_BUFFER: usize = 32 << 20;

/// Pass 1 for a batch of packages: each unpacked, all their files hashed together, then
/// each digested.
fn digest_batch<'a>(
    layout: StoreLayout,
    spill: (&Spill, &Mutex<HashSet<CafsKey>>, &LateHashes),
    batch: &[&'a PackageTarball],
    patches: &BTreeMap<String, PackagePatch>,
) -> Result<Vec<Pass1>, StoreError> {
    let (mut raw, mut tars) = BUFFERS.with(|b| b.take());
    raw.clear();
    tars.clear();
    let digested = (|| {
        let mut read = Vec::with_capacity(batch.len());
        for p in batch {
            read.push(read_tarball(p, &mut raw)?);
        }
        let raw = &raw[..];
        let tarball =
            |(p, at): (&&'a PackageTarball, &Option<Range<usize>>)| tarball_bytes(p, at, raw);
        // All of the batch's tars in one buffer of the right size: growing it by doubling
        // held the old and the new copy at once.
        tars.reserve_exact(
            batch
                .iter()
                .zip(&read)
                .map(|b| tar_size_hint(tarball(b)))
                .sum(),
        );
        let mut unpacked = Vec::with_capacity(batch.len());
        for b in batch.iter().zip(&read) {
            unpacked.push(unpack(layout, b.0, tarball(b), &mut tars)?);
        }
        let tars = &tars[..];
        let late = |p: &PackageTarball, e: &TarballFile| {
            e.size >= LATE_HASH_BYTES && !patches.contains_key(&p.pkg_id)
        };
        let contents: Vec<&[u8]> = batch
            .iter()
            .zip(&unpacked)
            .flat_map(|(p, u)| {
                let tar = &tars[u.tar.clone()];
                u.entries
                    .iter()
                    .filter(|e| !late(p, e))
                    .map(|e| e.data(tar))
            })
            .collect();
        let mut digests = sha512_lanes::sha512_many(&contents).into_iter();
        let mut out = Vec::with_capacity(batch.len());
        for (p, u) in batch.iter().zip(unpacked) {
            let sha512s: Vec<Option<[u8; 64]>> = u
                .entries
                .iter()
                .map(|e| match late(p, e) {
                    true => None,
                    false => digests.next(),
                })
                .collect();
            let patch = patches.get(&p.pkg_id);
            out.push(digest_unpacked(layout, spill, p, patch, u, tars, &sha512s)?);
        }
        Ok(out)
    })();
    let keep = |b: Vec<u8>| {
        if b.capacity() > KEEP_BUFFER {
            Vec::new()
        } else {
            b
        }
    };
    BUFFERS.with(|b| b.replace((keep(raw), keep(tars))));
    digested
}

/// A tarball read, placed and unpacked: its files are `entries` of the tar at `tar` in
/// the batch's buffer.
struct Unpacked {
    placement: Placement,
    tarball_integrity: Option<(String, String)>,
    tar: Range<usize>,
    entries: Vec<TarballFile>,
}

/// `p`'s tarball: its bytes, or those [`read_tarball`] put `at` in `raw`.
fn tarball_bytes<'a>(p: &'a PackageTarball, at: &Option<Range<usize>>, raw: &'a [u8]) -> &'a [u8] {
    match (&p.source, at) {
        (TarballSource::Bytes(bytes), _) => bytes,
        (TarballSource::File(_), at) => &raw[at.clone().unwrap_or_default()],
    }
}

/// Appends `p`'s tarball to `raw` when it is a file, and says where it is there.
fn read_tarball(p: &PackageTarball, raw: &mut Vec<u8>) -> Result<Option<Range<usize>>, StoreError> {
    let TarballSource::File(path) = &p.source else {
        return Ok(None);
    };
    let start = raw.len();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(raw))
        .map_err(|source| StoreError::Read {
            pkg_id: p.pkg_id.clone(),
            source_name: p.source.describe(),
            source,
        })?;
    Ok(Some(start..raw.len()))
}

/// Places `p` and unpacks its tarball, `bytes`, at the end of `tars`.
fn unpack(
    layout: StoreLayout,
    p: &PackageTarball,
    bytes: &[u8],
    tars: &mut Vec<u8>,
) -> Result<Unpacked, StoreError> {
    let extract_err = |source| StoreError::Extract {
        pkg_id: p.pkg_id.clone(),
        source_name: p.source.describe(),
        source,
    };
    let (placement, tarball_integrity) = placement(layout, p, bytes)?;
    let start = tars.len();
    tar_bytes_append(bytes, tars).map_err(extract_err)?;
    let entries = parse_tarball(&tars[start..]).map_err(extract_err)?;
    Ok(Unpacked {
        placement,
        tarball_integrity,
        tar: start..tars.len(),
        entries,
    })
}

/// Pass 1's record of one unpacked package, `sha512s` being its files' digests; a file
/// without one is hashed from the spill (its package then waits, [`Pass1::Waiting`]).
fn digest_unpacked(
    layout: StoreLayout,
    (spill, spilled, late_hashes): (&Spill, &Mutex<HashSet<CafsKey>>, &LateHashes),
    p: &PackageTarball,
    patch: Option<&PackagePatch>,
    unpacked: Unpacked,
    tars: &[u8],
    sha512s: &[Option<[u8; 64]>],
) -> Result<Pass1, StoreError> {
    let Unpacked {
        placement,
        tarball_integrity,
        tar,
        entries,
    } = unpacked;
    let tar = &tars[tar];
    let mut manifest = None;
    let mut indexed = Vec::with_capacity(entries.len() + 1);
    let mut files = Vec::with_capacity(entries.len() + 1);
    let mut late = Vec::new();
    for (entry, sha512) in entries.iter().zip(sha512s) {
        let data = entry.data(tar);
        if entry.path == "package.json" {
            manifest = Some(data);
        }
        let executable = is_executable(entry.mode);
        let sha512 = match *sha512 {
            Some(sha512) => {
                let key = CafsKey { sha512, executable };
                if spilled
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key)
                {
                    let origin = Origin::Spilled {
                        stored: spill.put(data).map_err(StoreError::Spill)?,
                        size: entry.size as u64,
                    };
                    files.push((key, origin));
                }
                sha512
            }
            None => {
                let stored = spill.put(data).map_err(StoreError::Spill)?;
                late_hashes.push(stored);
                late.push(LateFile {
                    at: indexed.len(),
                    stored,
                    executable,
                });
                [0; 64]
            }
        };
        indexed.push(IndexedFile {
            path: entry.path.clone(),
            sha512,
            mode: entry.mode,
            size: entry.size as u64,
        });
    }
    let known = Known {
        pkg_id: p.pkg_id.clone(),
        placement,
        tarball_integrity,
        manifest: manifest.map(<[u8]>::to_vec),
        indexed,
        files,
    };
    if !late.is_empty() {
        debug_assert!(
            patch.is_none(),
            "a patched package's files are hashed in pass 1"
        );
        return Ok(Pass1::Waiting(known, late));
    }
    let contents = |i: usize| match entries.get(i) {
        Some(e) => e.data(tar).to_vec(),
        None => PLACEHOLDER_PACKAGE_JSON.as_bytes().to_vec(),
    };
    let patch = patch.map(|patch| (patch, &contents as &FileBytes));
    finish(layout, known, patch).map(Pass1::Done)
}

/// Indexed file `i`'s bytes.
type FileBytes<'a> = dyn Fn(usize) -> Vec<u8> + 'a;

/// A package once all its files' digests are known: its index file or row. `patch`: its
/// patch, with each indexed file's bytes.
fn finish(
    layout: StoreLayout,
    known: Known,
    patch: Option<(&PackagePatch, &FileBytes)>,
) -> Result<Digested, StoreError> {
    let Known {
        pkg_id,
        placement,
        tarball_integrity,
        manifest,
        mut indexed,
        files,
    } = known;
    let manifest = manifest.as_deref();
    let manifest_err = |source| StoreError::Manifest {
        pkg_id: pkg_id.clone(),
        source,
    };
    let mut generated = Vec::new();
    let index_json = match layout {
        StoreLayout::V10 => {
            let manifest = manifest
                .map(parse_manifest)
                .transpose()
                .map_err(manifest_err)?;
            index_file_bytes(manifest.as_ref(), &indexed)
        }
        StoreLayout::V11(rules) => {
            let manifest = manifest
                .map(parse_js_manifest)
                .transpose()
                .map_err(manifest_err)?;
            if manifest.is_none() {
                // pnpm 11's addPlaceholderPackageJsonToCafs: stored and indexed last.
                let placeholder = PLACEHOLDER_PACKAGE_JSON.as_bytes();
                let sha512: [u8; 64] = Sha512::digest(placeholder).into();
                let size = placeholder.len() as u64;
                let key = CafsKey {
                    sha512,
                    executable: false,
                };
                generated.push((key, placeholder.to_vec()));
                indexed.push(IndexedFile {
                    path: "package.json".to_owned(),
                    sha512,
                    mode: PLACEHOLDER_MODE,
                    size,
                });
            }
            let side_effects = match patch {
                None => None,
                Some((patch, contents)) => {
                    let (record, added) = patched_dir(patch, manifest.as_ref(), &indexed, contents)
                        .map_err(|source| StoreError::Patch {
                            pkg_id: pkg_id.clone(),
                            source,
                        })?;
                    for d in added {
                        let key = CafsKey {
                            sha512: d.file.sha512,
                            executable: is_executable(d.file.mode),
                        };
                        generated.push((key, d.content));
                    }
                    let node = rules.node_major.ok_or_else(|| StoreError::NodeUnknown {
                        pkg_id: pkg_id.clone(),
                    })?;
                    let key =
                        side_effects::cache_key(rules.side_effects_format2, node, &patch.hash);
                    Some(JsValue::Map(vec![(JsValue::String(key), record)]))
                }
            };
            row_data(&rules, manifest.as_ref(), &indexed, side_effects).map_err(|source| {
                StoreError::IndexRow {
                    pkg_id: pkg_id.clone(),
                    source,
                }
            })?
        }
    };
    Ok(Digested {
        index: placement,
        index_json,
        tarball_integrity,
        files,
        generated,
    })
}

/// The package directory after pnpm 11 imported it, applied `patch` and linked its bins,
/// diffed against the index (`indexed`; `contents(i)` is file `i`'s bytes).
fn patched_dir(
    patch: &PackagePatch,
    manifest: Option<&JsValue>,
    indexed: &[IndexedFile],
    contents: impl Fn(usize) -> Vec<u8>,
) -> Result<(JsValue, Vec<DirFile>), super::patch_file::PatchError> {
    let mut dir: Vec<DirFile> = indexed
        .iter()
        .enumerate()
        .map(|(i, f)| DirFile {
            file: IndexedFile {
                mode: if is_executable(f.mode) { 0o755 } else { 0o644 },
                ..f.clone()
            },
            content: contents(i),
        })
        .collect();
    for fp in &patch.files {
        let d = dir
            .iter_mut()
            .find(|d| d.file.path == fp.path)
            .ok_or_else(|| super::patch_file::PatchError::Missing(fp.path.clone()))?;
        d.content = super::patch_file::apply(fp, &d.content)?;
        d.file.sha512 = Sha512::digest(&d.content).into();
        d.file.size = d.content.len() as u64;
    }
    let has_bin = manifest
        .and_then(|m| m.get("bin"))
        .is_some_and(|b| !b.is_nullish());
    let bin_dir = manifest
        .and_then(|m| m.get("directories"))
        .and_then(|d| d.get("bin"));
    if !has_bin && bin_dir.is_some_and(|d| !d.is_nullish()) {
        return Err(super::patch_file::PatchError::Unsupported(
            "is for a package whose bins come from",
            "`directories.bin`".to_owned(),
        ));
    }
    for bin in side_effects::bin_targets(manifest) {
        if let Some(d) = dir.iter_mut().find(|d| d.file.path == bin) {
            d.file.mode = 0o755;
        }
    }
    Ok(side_effects::diff(indexed, &dir))
}

/// `package.json` as pnpm 11 parses it (`parseJsonBufferSync`: UTF-8 with replacement, BOM
/// stripped, `JSON.parse`), in JavaScript's property order.
fn parse_js_manifest(bytes: &[u8]) -> Result<JsValue, serde_json::Error> {
    let text = String::from_utf8_lossy(bytes);
    JsValue::parse_json(text.strip_prefix('\u{feff}').unwrap_or(&text))
}

/// Where pnpm's package requester puts the index (`getFilesIndexFilePath`), and the
/// `tarball-integrity` it writes for a `file:` tarball (the lockfile's integrity, else the
/// tarball's sha512 as the worker computes it).
fn placement(
    layout: StoreLayout,
    p: &PackageTarball,
    tarball: &[u8],
) -> Result<(Placement, Option<(String, String)>), StoreError> {
    let dir = || dep_path_to_filename(&p.pkg_id, MAX_LENGTH);
    let placement = match &p.integrity {
        _ if layout != StoreLayout::V10 => {
            Placement::Row(row_key(p.integrity.as_deref(), &p.pkg_id))
        }
        Some(sri) => {
            let integrity = Integrity::parse_sri(sri).map_err(|source| StoreError::Integrity {
                pkg_id: p.pkg_id.clone(),
                integrity: sri.clone(),
                source,
            })?;
            let (shard, name) = split_shard(&index_path(&integrity, &p.pkg_id));
            Placement::Index(shard, name)
        }
        None => Placement::Loose(dir(), "integrity-not-built.json".to_owned()),
    };
    let tarball_integrity = p.pkg_id.starts_with("file:").then(|| {
        let sri = p
            .integrity
            .clone()
            .unwrap_or_else(|| format!("sha512-{}", BASE64.encode(Sha512::digest(tarball))));
        (dir(), sri)
    });
    Ok((placement, tarball_integrity))
}

/// `index/XX/rest` -> (`XX`, `rest`).
fn split_shard(index_name: &str) -> (String, String) {
    let rest = index_name.strip_prefix("index/").unwrap_or(index_name);
    let (shard, name) = rest.split_at(2.min(rest.len()));
    (shard.to_owned(), name.trim_start_matches('/').to_owned())
}

/// Consecutive runs of files whose sizes add up to at most `budget` (a larger file alone).
fn groups<'a, 'b>(
    files: &'b [(&'a CafsKey, &'a Origin)],
    budget: u64,
) -> impl Iterator<Item = &'b [(&'a CafsKey, &'a Origin)]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start == files.len() {
            return None;
        }
        let mut end = start;
        let mut total = 0u64;
        while end < files.len() && (end == start || total + files[end].1.size() <= budget) {
            total += files[end].1.size();
            end += 1;
        }
        let group = &files[start..end];
        start = end;
        Some(group)
    })
}

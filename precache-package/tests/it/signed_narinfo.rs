//! Signed narinfos written straight into a file:// cache, for closures that are never built:
//! `--check` reads narinfos only, so no NAR is written. The bench includes this file too.

use std::path::Path;

use common::binary_cache::narinfo::{NarInfo, SecretKey};
use common::binary_cache::store_path::StorePath;
use common::nix::nix_hash::Sha256Hash;

/// Creates a file:// cache directory at `dir`: empty but for its `nix-cache-info`, which
/// precache-package (like Nix) requires before it believes a URL is a cache.
pub fn new_cache_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("nix-cache-info"), "StoreDir: /nix/store\n").unwrap();
}

/// What a narinfo says of its (unwritten) NAR.
#[derive(Clone, Copy)]
pub struct Nar {
    pub compression: &'static str,
    pub file_size: u64,
    pub size: u64,
}

/// Writes `path`'s narinfo, signed by `key`, where the file:// cache at `cache` keeps it.
pub fn write_signed(
    cache: &Path,
    key: &SecretKey,
    path: &StorePath,
    references: Vec<StorePath>,
    nar: Nar,
) {
    // Nix names an uncompressed NAR `.nar`, a compressed one `.nar.<compression>`.
    let extension = match nar.compression {
        "none" => String::new(),
        c => format!(".{c}"),
    };
    let mut info = NarInfo {
        store_path: path.clone(),
        url: Some(format!("nar/{}.nar{extension}", path.hash_part())),
        compression: Some(nar.compression.into()),
        file_size: Some(nar.file_size),
        nar_hash: Sha256Hash::of(path.to_string().as_bytes()),
        nar_size: nar.size,
        references,
        deriver: None,
        sigs: Vec::new(),
        ca: None,
    };
    key.sign_narinfo(&mut info);
    std::fs::write(
        cache.join(format!("{}.narinfo", path.hash_part())),
        info.to_text(),
    )
    .unwrap();
}

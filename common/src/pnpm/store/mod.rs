//! pnpm 10's content-addressable store as nixpkgs' fetchPnpmDeps (fetcherVersion 3) leaves
//! it, computed from the package tarballs without running pnpm.
//!
//! - [`extract`]: which files pnpm's own tar parser keeps, under which names and modes;
//! - [`cafs`]: where files and index files go;
//! - [`requires_build`], [`index_file`], [`jq_json`]: the index JSON as jq prints it after
//!   the fixup;
//! - [`tree`]: the whole store as a sorted stream of tar entries, in two passes.

pub mod cafs;
pub mod dep_path;
pub mod extract;
pub mod index_file;
pub mod index_row;
pub mod jq_json;
pub mod js_value;
pub mod msgpackr;
pub mod requires_build;
pub mod semver_clean;
pub mod sqlite_dump;
pub mod tree;

pub use tree::{PackageTarball, Store, StoreError, StoreSink, TarballSource};

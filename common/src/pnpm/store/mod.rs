//! The content-addressable store pnpm 10 (fetcherVersion 3) or pnpm 11 (fetcherVersion 4)
//! leaves after nixpkgs' fetchPnpmDeps, computed from the package tarballs without running pnpm.
//!
//! - [`extract`]: which files pnpm's own tar parser keeps, under which names and modes;
//! - [`cafs`]: where files and index files go;
//! - [`requires_build`], [`index_file`], [`jq_json`]: the index JSON as jq prints it after
//!   the fixup;
//! - [`layout`]: pnpm 10's `v10/` or pnpm 11's `v11/`; for pnpm 11 [`index_row`] (the
//!   `index.db` row, packed by [`msgpackr`] from a [`js_value`], with [`semver_clean`]) and
//!   [`sqlite_dump`] (`index.db.sql`, the `.dump` text nixpkgs keeps instead of the db);
//! - [`tree`]: the whole store as a sorted stream of tar entries, in two passes, the
//!   file contents between them in a [`spill`], large files hashed from there
//!   ([`late_hash`]).

pub mod cafs;
pub mod dep_path;
pub mod extract;
pub mod index_file;
pub mod index_row;
pub mod jq_json;
pub mod js_value;
pub mod late_hash;
pub mod layout;
pub mod msgpackr;
pub mod patch_file;
pub mod requires_build;
pub mod semver_clean;
pub mod side_effects;
pub mod spill;
pub mod sqlite_dump;
pub mod tree;

pub use layout::StoreLayout;
pub use tree::{PackageTarball, Store, StoreError, StoreSink, TarballSource};

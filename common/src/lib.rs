//! The shared library behind `update-yarn-hash`, `update-pnpm-hash`, `precache-package`
//! and `nix-hooks`.
//!
//! Binaries hold CLI and presentation only; everything that has to agree with Nix
//! byte for byte lives here. The tree is grouped by concern, one concept per file:
//! the two ecosystems (`yarn`, `pnpm`) sit on shared layers (`nix`, `archive`,
//! `fetch`, `record`), and the hook and cache tooling on top (`git`, `hook`,
//! `binary_cache`).

pub mod archive;
pub mod atomic_write;
pub mod binary_cache;
pub mod error_text;
pub mod fetch;
pub mod file_lock;
pub mod git;
pub mod hook;
pub mod nix;
pub mod parallel_map;
pub mod pnpm;
pub mod record;
pub mod redact;
pub mod yarn;

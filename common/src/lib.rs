//! The shared library behind `update-yarn-hash`, `precache-package` and `nix-hooks`.
//!
//! Binaries hold CLI and presentation only; everything that has to agree with Nix
//! byte for byte lives here, one concept per module.

pub mod atomic_write;
pub mod binary_cache;
pub mod flake_lock;
pub mod flake_ref;
pub mod git_index;
pub mod gnu_tar;
pub mod hash_record;
pub mod hook_install;
pub mod hooks_config;
pub mod nar;
pub mod narinfo;
pub mod nix_base32;
pub mod nix_cli;
pub mod nix_hash;
pub mod nix_syntax;
pub mod package_json;
pub mod record_fix;
pub mod staged_checks;
pub mod store_path;
pub mod yarn_lock;

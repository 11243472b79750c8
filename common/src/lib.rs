//! The shared library behind `update-yarn-hash`, `precache-package` and `nix-hooks`.
//!
//! Binaries hold CLI and presentation only; everything that has to agree with Nix
//! byte for byte lives here, one concept per module.

pub mod atomic_write;
pub mod binary_cache;
pub mod dependency_source;
pub mod fetch_yarn_deps_call;
pub mod fixup_lockfile;
pub mod flake_lock;
pub mod flake_ref;
pub mod git_index;
pub mod git_source;
pub mod gnu_tar;
pub mod hash_record;
pub mod hook_install;
pub mod hooks_config;
pub mod integrity;
pub mod nar;
pub mod nar_memo;
pub mod narinfo;
pub mod nix_base32;
pub mod nix_cli;
pub mod nix_hash;
pub mod nix_syntax;
pub mod offline_cache;
pub mod package_json;
pub mod prefetch;
pub mod record_fix;
pub mod repo_root;
pub mod staged_checks;
pub mod store_path;
pub mod tarball_cache;
pub mod tarball_fetch;
pub mod url_to_name;
pub mod yarn_lock;

//! Nix's encodings and formats, reproduced without Nix: NAR, base-32, SRI hashes, the
//! Nix language's syntax, `flake.lock`, flake refs, and a typed wrapper over the CLI.

pub mod flake_lock;
pub mod flake_ref;
pub mod nar;
pub mod nix_base32;
pub mod nix_cli;
pub mod nix_hash;
pub mod nix_nesting;
pub mod nix_syntax;

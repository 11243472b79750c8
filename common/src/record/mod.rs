//! Where hashes are written for the Nix code to read: the TOML hash record, and the
//! in-place rewrite of a hash literal in a `.nix` file.

pub mod fetcher_call;
pub mod hash_record;

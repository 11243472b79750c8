//! Integration tests for `precache-package`: the real binary against real Nix, real git
//! repositories, real file:// caches and a real HTTP server on 127.0.0.1.

mod bounds;
mod cachix;
mod check;
mod errors;
mod flake_ref;
mod http_server;
mod nar_files;
mod push;
mod redaction;
mod signed_narinfo;
mod snapshots;
mod trusted_keys;
mod unsigned_push;
mod util;

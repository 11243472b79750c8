//! Integration tests of the real `update-yarn-hash` binary: one test binary, one module
//! per area (ripgrep's layout).

mod fixture;
mod server;
mod util;

mod cache_hardening;
mod digests;
mod download_limits;
mod fetch;
mod git_dependency;
mod in_place;
mod live;
mod nix_agreement;
mod peer_parity;
mod record;
mod redaction;
mod repair;
mod snapshots;
mod yarn_offline;

//! Integration tests of the real `update-pnpm-hash` binary: temp git repositories, a
//! loopback registry, real `nix` and (for the reference) real pnpm.

// The loopback HTTP server update-yarn-hash's tests use; one server for both tools
// (the scripted failures are exercised there, against the same shared fetcher).
#[allow(dead_code)]
#[path = "../../../update-yarn-hash/tests/it/server.rs"]
mod server;

mod cache_trust;
mod empty_project;
mod errors;
mod fetcher_v4;
mod git_packages;
mod help;
mod layers;
mod normalize_dump;
mod project;
mod record;
mod reference;
mod reference_fv4;
mod runtime;
mod util;
mod workspaces;

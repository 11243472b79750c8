//! pnpm and nixpkgs' `fetchPnpmDeps`: the lockfile model, what `--frozen-lockfile`
//! refuses, which packages an install fetches, the store pnpm 10 leaves (emulated),
//! and the orchestration that streams the output's NAR hash.

pub mod frozen_check;
pub mod git_cache;
pub mod git_fetch;
pub mod git_hosted;
pub mod lockfile;
pub mod object_hash;
pub mod packlist;
pub mod plan;
pub mod posix_path;
pub mod prefetch;
pub mod profile;
pub mod project_config;
pub mod runtime_archive;
pub mod store;
pub mod target_hint;
pub mod workspace_filter;

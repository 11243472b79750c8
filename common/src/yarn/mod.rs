//! Yarn v1 and nixpkgs' `fetchYarnDeps`: the lockfile parser, the output directory as a
//! model, git dependencies, and the orchestration that streams the NAR hash.

pub mod dependency_source;
pub mod fixup_lockfile;
pub mod git_source;
pub mod memo_key;
pub mod offline_cache;
pub mod prefetch;
pub mod url_to_name;
pub mod yarn_lock;

//! Repositories: where a lockfile's repository root is, and what the git index stages.

pub mod git_index;
pub mod git_message;
pub mod repo_root;

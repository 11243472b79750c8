//! `nix-hooks`: what the pre-commit check checks on staged content, its configuration,
//! `--fix` (with the staged pnpm project it hashes), and installing the hook.

pub mod hook_install;
pub mod hooks_config;
pub mod package_json;
pub mod record_fix;
pub mod staged_checks;
pub mod staged_pnpm_project;

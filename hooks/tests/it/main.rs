//! Integration tests for `nix-hooks`: real git repositories, real `git commit`s going
//! through the installed hook.

mod util;

mod bad_input;
mod checks;
mod fix;
mod in_place;
mod install;
mod pnpm;
mod staleness;
mod teammates;
mod unrecorded;

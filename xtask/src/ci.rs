//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest.

use anyhow::Result;
use xshell::{cmd, Shell};

pub fn run(sh: &Shell) -> Result<()> {
    cmd!(sh, "cargo fmt --all -- --check").run()?;
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings"
    )
    .run()?;
    cmd!(sh, "cargo test --workspace --locked").run()?;
    crate::nix_check::run(sh)?;
    // Separate from the unit tests: it needs the services' programs (root installs them).
    crate::dev_services::run(sh)?;
    Ok(())
}

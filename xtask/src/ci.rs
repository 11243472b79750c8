//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest.

use anyhow::Result;
use xshell::{cmd, Shell};

use crate::tool_install;

pub fn run(sh: &Shell) -> Result<()> {
    install_test_tools(sh)?;
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

/// The real components the tests run against: Nix (2.8 from Debian is enough), git,
/// GNU tar, Node with npm (the differential test against `@yarnpkg/lockfile`), Yarn 1,
/// and the `openssl` CLI (the side-by-side tests serve nixpkgs' prefetch-yarn-deps over
/// HTTPS with a certificate made for the run).
fn install_test_tools(sh: &Shell) -> Result<()> {
    for (bin, package) in [
        ("nix", "nix-bin"),
        ("git", "git"),
        ("tar", "tar"),
        ("node", "nodejs"),
        ("npm", "npm"),
        ("openssl", "openssl"),
    ] {
        tool_install::apt_tool(sh, bin, package)?;
    }
    // Yarn 1 installs the materialized offline cache in update-yarn-hash's tests.
    if tool_install::find("yarn").is_none() {
        cmd!(sh, "npm install -g yarn@1.22.22").run()?;
    }
    // The fetchPnpmDeps reference replay: pnpm, GNU tar, zstd, jq at nixpkgs' versions
    // (cached in ~/.cache/nixci-tools; a fresh machine builds them once, a few minutes).
    crate::reference_tools::install_all(sh)?;
    Ok(())
}

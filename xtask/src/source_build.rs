//! Builds the exact versions of the programs nixpkgs' fetchPnpmDeps runs (GNU tar, zstd,
//! jq, the sqlite3 shell) from Debian's source packages into `$NIXCI_TOOLS_DIR/<name>-<version>/bin/`, once:
//! the output hash depends on their versions, and Debian stable ships others.
//!
//! Only the orig tarball is built (upstream's release; tar's `+dfsg` drops non-free docs),
//! without Debian's patches: nixpkgs builds upstream with build-only patches of its own
//! (pkgs/by-name/gn/gnutar/package.nix: link-libiconv, acl name conflicts). The source comes
//! through `apt-get source` with a private list directory, so the machine's apt
//! configuration is untouched, and apt checks it against Debian's signed Sources index.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

use crate::tool_install;

/// One program built from a Debian source package.
pub struct SourceTool {
    /// The directory under the tools dir, `<nixpkgs name>-<version>`.
    pub dir: &'static str,
    pub bin: &'static str,
    /// What the first line of `<bin> --version` must contain.
    pub version_line: &'static str,
    /// Debian source package and upstream version (any Debian revision of it, from trixie
    /// or sid, will do: only its orig tarball is used, and that is pinned by hash).
    pub source: &'static str,
    pub upstream_version: &'static str,
    /// SHA-256 (hex) of Debian's `<source>_<upstream>.orig.tar.*`.
    pub orig_sha256: &'static str,
    /// Configures and builds in the unpacked source; returns the built binary.
    build: fn(&Shell, &Path) -> Result<PathBuf>,
}

/// nixpkgs' gnutar (pkgs/by-name/gn/gnutar/package.nix: 1.35).
pub const GNUTAR: SourceTool = SourceTool {
    dir: "gnutar-1.35",
    bin: "tar",
    version_line: "tar (GNU tar) 1.35",
    source: "tar",
    upstream_version: "1.35+dfsg",
    orig_sha256: "9ae57e981c1e73c0eebc2b26c9b0c4497fe310ef1d516ea430efb5470b71f7a8",
    build: build_gnutar,
};

/// nixpkgs' zstd (pkgs/tools/compression/zstd: 1.5.7, multithreading on, as the
/// upstream Makefile builds the CLI by default).
pub const ZSTD: SourceTool = SourceTool {
    dir: "zstd-1.5.7",
    bin: "zstd",
    version_line: "v1.5.7,",
    source: "libzstd",
    upstream_version: "1.5.7+dfsg",
    orig_sha256: "0c092ef267edce57ba7f3f2645c861f72eaf5e76273c6c3632869423464b90a5",
    build: build_zstd,
};

/// nixpkgs' jq (pkgs/by-name/jq/jq/package.nix: 1.8.2; its source tarball is byte-identical
/// to Debian's orig, which only sid has). Oniguruma (regexes) plays no part in `--sort-keys` printing.
pub const JQ: SourceTool = SourceTool {
    dir: "jq-1.8.2",
    bin: "jq",
    version_line: "jq-1.8.2",
    source: "jq",
    upstream_version: "1.8.2",
    orig_sha256: "71b8d6e8f5fe81f6c6d0d110e3892251f6ce76ed095abd315e26e6e1193af3af",
    build: build_jq,
};

/// The sqlite3 shell fetcherVersion 4 dumps `v11/index.db` with. nixpkgs' sqlite
/// (pkgs/development/libraries/sqlite/default.nix) was 3.50.2 .. 3.54.0 in the revisions
/// seen, none of them in Debian; 3.53.4 (sid) is the nearest, and like every shell since
/// 3.50.0 it writes control characters with `unistr()`, which nixpkgs#538919 rewrites
/// back (so the harness exercises that rewrite). Debian's orig is sqlite's full source
/// tree; the shell is built from it as upstream's Makefile does (shell.c + sqlite3.c).
pub const SQLITE: SourceTool = SourceTool {
    dir: "sqlite-3.53.4",
    bin: "sqlite3",
    version_line: "3.53.4 ",
    source: "sqlite3",
    upstream_version: "3.53.4",
    orig_sha256: "05366adc8ee80c6b1faa71285b49d133c2121238ca58934b077fdeb95934abd4",
    build: build_sqlite,
};

/// The shell of Debian trixie's sqlite 3.46.1, the older `.dump` form (before `unistr()`)
/// that nixpkgs#538919 restores: the cross-check that the rewrite yields exactly it.
pub const SQLITE_OLD: SourceTool = SourceTool {
    dir: "sqlite-3.46.1",
    bin: "sqlite3",
    version_line: "3.46.1 ",
    source: "sqlite3",
    upstream_version: "3.46.1",
    orig_sha256: "d0cdd2ece271b29e7ce18095745d892517ee26d0f270065b3a25c2e9eb11639c",
    build: build_sqlite,
};

/// Where the built tools live: `$NIXCI_TOOLS_DIR`, default `~/.cache/nixci-tools` (the
/// tests look there too).
pub fn tools_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("NIXCI_TOOLS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("HOME is not set: set NIXCI_TOOLS_DIR")?;
    Ok(PathBuf::from(home).join(".cache/nixci-tools"))
}

/// The tool's binary, built first if missing or of another version.
pub fn ensure(sh: &Shell, tool: &SourceTool) -> Result<PathBuf> {
    let tools = tools_dir()?;
    let bin_dir = tools.join(tool.dir).join("bin");
    let bin = bin_dir.join(tool.bin);
    if version_matches(sh, &bin, tool.version_line) {
        return Ok(bin);
    }
    eprintln!(
        "xtask: building {} from Debian source {} {} into {}",
        tool.dir,
        tool.source,
        tool.upstream_version,
        bin_dir.display()
    );
    for (program, package) in [("cc", "gcc"), ("make", "make"), ("xz", "xz-utils")] {
        tool_install::apt_tool(sh, program, package)?;
    }
    fs::create_dir_all(&tools).with_context(|| format!("creating {}", tools.display()))?;
    // In the tools dir, so the final rename stays on one file system.
    let work = tempfile::Builder::new()
        .prefix(&format!(".build-{}-", tool.dir))
        .tempdir_in(&tools)?;
    let orig = download_orig(sh, tool, work.path())?;
    let src = unpack(sh, &orig, work.path())?;
    let built = (tool.build)(sh, &src)?;
    install(&built, &bin_dir, tool.bin)?;
    if !version_matches(sh, &bin, tool.version_line) {
        bail!(
            "{} was built but `{} --version` does not say {:?}",
            bin.display(),
            bin.display(),
            tool.version_line
        );
    }
    Ok(bin)
}

fn version_matches(sh: &Shell, bin: &Path, expected: &str) -> bool {
    bin.is_file()
        && cmd!(sh, "{bin} --version")
            .quiet()
            .ignore_stderr()
            .read()
            .is_ok_and(|out| out.lines().next().unwrap_or("").contains(expected))
}

/// Debian's orig tarball of the tool, checked against its pinned hash. apt keeps its lists
/// in `<tools>/.debsrc` and refreshes them only when they lack a revision whose orig
/// tarball can be had (sid moves on; an old revision's `.dsc` may be gone while its orig
/// tarball is still served, so a failed `apt-get source` with the orig in hand is fine).
fn download_orig(sh: &Shell, tool: &SourceTool, work: &Path) -> Result<PathBuf> {
    if !tool_install::is_root(sh) {
        bail!(
            "building {} needs apt-get as root: run `sudo cargo xtask reference-tools`",
            tool.dir
        );
    }
    let opts = &apt_options()?;
    let _cwd = sh.push_dir(work);
    for refresh in [false, true] {
        if refresh {
            cmd!(sh, "apt-get {opts...} update")
                .run()
                .context("apt-get update (Debian source lists) failed")?;
        }
        for version in source_versions(sh, opts, tool) {
            let spec = format!("{}={version}", tool.source);
            let _ = cmd!(sh, "apt-get {opts...} source --download-only {spec}")
                .quiet()
                .run();
            if let Some(orig) = verified_orig(tool, work)? {
                return Ok(orig);
            }
        }
    }
    bail!(
        "no Debian source revision of {} {} with an orig tarball of SHA-256 {} could be downloaded",
        tool.source,
        tool.upstream_version,
        tool.orig_sha256
    )
}

/// apt options for a private source list (trixie and sid) and state, under the tools dir.
fn apt_options() -> Result<Vec<String>> {
    let apt_dir = tools_dir()?.join(".debsrc");
    for sub in ["lists/partial", "cache/archives/partial"] {
        fs::create_dir_all(apt_dir.join(sub))?;
    }
    let sources = apt_dir.join("sources.sources");
    fs::write(
        &sources,
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: trixie sid\nComponents: main\n\
         Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )?;
    Ok(vec![
        format!("-oDir::Etc::SourceList={}", sources.display()),
        "-oDir::Etc::SourceParts=/dev/null".to_string(),
        format!("-oDir::State::Lists={}", apt_dir.join("lists").display()),
        format!("-oDir::Cache={}", apt_dir.join("cache").display()),
    ])
}

/// The Debian revisions of the tool's upstream version that the lists know.
fn source_versions(sh: &Shell, opts: &[String], tool: &SourceTool) -> Vec<String> {
    let source = tool.source;
    let listing = cmd!(sh, "apt-cache {opts...} showsrc {source}")
        .quiet()
        .ignore_stderr()
        .read()
        .unwrap_or_default();
    let prefix = format!("{}-", tool.upstream_version);
    listing
        .lines()
        .filter_map(|l| l.strip_prefix("Version: "))
        .filter(|v| v.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

fn verified_orig(tool: &SourceTool, work: &Path) -> Result<Option<PathBuf>> {
    let name = format!("{}_{}.orig.tar.", tool.source, tool.upstream_version);
    for entry in fs::read_dir(work)? {
        let path = entry?.path();
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !file_name.starts_with(&name) {
            continue;
        }
        let digest = crate::sha256::hex(&fs::read(&path)?);
        if digest == tool.orig_sha256 {
            return Ok(Some(path));
        }
        bail!(
            "{} has SHA-256 {digest}, expected {}: not the source this build is pinned to",
            path.display(),
            tool.orig_sha256
        );
    }
    Ok(None)
}

/// Unpacks the orig tarball; returns its single top-level directory.
fn unpack(sh: &Shell, orig: &Path, work: &Path) -> Result<PathBuf> {
    let dest = work.join("src");
    fs::create_dir(&dest)?;
    cmd!(sh, "tar -xf {orig} -C {dest}").quiet().run()?;
    let mut dirs = fs::read_dir(&dest)?.filter_map(|e| e.ok().map(|e| e.path()));
    match (dirs.next(), dirs.next()) {
        (Some(dir), None) if dir.is_dir() => Ok(dir),
        _ => bail!("{} does not hold one top-level directory", orig.display()),
    }
}

fn build_gnutar(sh: &Shell, src: &Path) -> Result<PathBuf> {
    let _cwd = sh.push_dir(src);
    // FORCE_UNSAFE_CONFIGURE: configure refuses to run as root otherwise.
    cmd!(sh, "./configure --disable-nls")
        .env("FORCE_UNSAFE_CONFIGURE", "1")
        .quiet()
        .ignore_stdout()
        .run()?;
    // Only the program: gnulib, tar's own lib, src (no docs, no tests).
    for dir in ["gnu", "lib", "src"] {
        cmd!(sh, "nice make -j2 -C {dir}")
            .quiet()
            .ignore_stdout()
            .run()?;
    }
    Ok(src.join("src/tar"))
}

fn build_zstd(sh: &Shell, src: &Path) -> Result<PathBuf> {
    let _cwd = sh.push_dir(src);
    cmd!(sh, "nice make -j2 -C programs zstd")
        .quiet()
        .ignore_stdout()
        .run()?;
    Ok(src.join("programs/zstd"))
}

fn build_jq(sh: &Shell, src: &Path) -> Result<PathBuf> {
    let _cwd = sh.push_dir(src);
    // Static: the binary is copied out of the build tree, away from a shared libjq.
    cmd!(
        sh,
        "./configure --with-oniguruma=no --disable-docs --disable-maintainer-mode --disable-shared"
    )
    .quiet()
    .ignore_stdout()
    .run()?;
    // `all`: BUILT_SOURCES (src/builtin.inc) are only made for it.
    cmd!(sh, "nice make -j2").quiet().ignore_stdout().run()?;
    Ok(src.join("jq"))
}

fn build_sqlite(sh: &Shell, src: &Path) -> Result<PathBuf> {
    // Before 3.48 the build generates sqlite3.c with tclsh; later ones use their own jimsh.
    tool_install::apt_tool(sh, "tclsh", "tcl")?;
    let _cwd = sh.push_dir(src);
    // No readline, no zlib: line editing and compressed archives play no part in `.dump`.
    cmd!(sh, "./configure --disable-tcl --disable-readline")
        .quiet()
        .ignore_stdout()
        .run()?;
    cmd!(sh, "nice make -j2 sqlite3")
        .quiet()
        .ignore_stdout()
        .run()?;
    Ok(src.join("sqlite3"))
}

/// Puts the binary in place as `<bin_dir>/<name>`, replacing an older build whole.
fn install(built: &Path, bin_dir: &Path, name: &str) -> Result<()> {
    let staged = bin_dir.with_extension("tmp");
    let _ = fs::remove_dir_all(&staged);
    fs::create_dir_all(&staged)?;
    fs::copy(built, staged.join(name))
        .with_context(|| format!("copying {} into {}", built.display(), staged.display()))?;
    if bin_dir.exists() {
        fs::remove_dir_all(bin_dir)?;
    }
    fs::rename(&staged, bin_dir)?;
    Ok(())
}

//! Finds the external tools the checks run, installing them when missing from the
//! registries this project uses (crates.io, PyPI, Debian), so a fresh machine and CI need
//! no setup step of their own.

use std::env;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use xshell::{cmd, Shell};

/// A binary from crates.io, installed with `cargo install --locked`.
pub fn cargo_tool(sh: &Shell, bin: &str, krate: &str) -> Result<PathBuf> {
    if let Some(path) = find(bin) {
        return Ok(path);
    }
    eprintln!("xtask: `{bin}` not found; installing it with `cargo install --locked {krate}`");
    cmd!(sh, "cargo install --locked {krate}")
        .run()
        .with_context(|| {
            format!("could not install `{bin}`: run `cargo install --locked {krate}`")
        })?;
    find(bin).with_context(|| {
        format!("`cargo install` succeeded but `{bin}` is not in $CARGO_HOME/bin or on PATH")
    })
}

/// A command-line tool from PyPI, installed with pip.
pub fn pip_tool(sh: &Shell, bin: &str, package: &str) -> Result<PathBuf> {
    if let Some(path) = find(bin) {
        return Ok(path);
    }
    let python = find("python3")
        .context("python3 is missing: install Python 3 (apt-get install python3-pip)")?;
    eprintln!("xtask: `{bin}` not found; installing it with `python3 -m pip install {package}`");
    cmd!(sh, "{python} -m pip install --quiet {package}")
        .run()
        .with_context(|| {
            format!("could not install `{bin}`: run `python3 -m pip install {package}`")
        })?;
    find(bin).with_context(|| {
        format!("`pip install {package}` succeeded but `{bin}` is not on PATH: add pip's script directory (e.g. ~/.local/bin) to PATH")
    })
}

/// A program from a Debian package, installed with apt-get when running as root.
pub fn apt_tool(sh: &Shell, bin: &str, package: &str) -> Result<PathBuf> {
    if let Some(path) = find(bin) {
        return Ok(path);
    }
    if !is_root(sh) {
        bail!("`{bin}` is missing and installing it needs root: run `sudo apt-get install -y {package}`");
    }
    eprintln!("xtask: `{bin}` not found; installing Debian package {package}");
    let install = || {
        cmd!(sh, "apt-get install -y --no-install-recommends {package}")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .run()
    };
    if install().is_err() {
        // A fresh machine has no package lists yet.
        cmd!(sh, "apt-get update")
            .run()
            .context("apt-get update failed")?;
        install().with_context(|| {
            format!("could not install `{bin}`: run `apt-get install -y {package}`")
        })?;
    }
    find(bin).with_context(|| format!("package {package} installed but `{bin}` is not on PATH"))
}

/// A program on PATH, or in the directories installers put programs (which root's PATH
/// usually has, and a developer's or CI's may not).
pub fn find(bin: &str) -> Option<PathBuf> {
    if let Ok(path) = which::which(bin) {
        return Some(path);
    }
    let mut extra = vec![PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    if let Some(cargo_home) = env::var_os("CARGO_HOME") {
        extra.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = env::var_os("HOME") {
        extra.push(PathBuf::from(&home).join(".cargo/bin"));
        extra.push(PathBuf::from(&home).join(".local/bin"));
    }
    extra
        .into_iter()
        .map(|dir| dir.join(bin))
        .find(|p| p.is_file())
}

pub fn is_root(sh: &Shell) -> bool {
    cmd!(sh, "id -u")
        .quiet()
        .read()
        .map(|uid| uid.trim() == "0")
        .unwrap_or(false)
}

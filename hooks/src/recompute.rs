//! The full, slow path: a lockfile's fetchYarnDeps hash computed from its bytes, for
//! `--fix` and for hashes kept in a `.nix` file. Done by the `update-yarn-hash` binary
//! (next to `nix-hooks`, else on PATH) on a private copy of the staged bytes, so the
//! user's working tree and record are never involved.

use std::path::{Path, PathBuf};
use std::process::Command;

use common::hash_record::HashRecord;
use common::nix_hash::Sha256Hash;

pub struct Recomputer {
    offline: bool,
}

impl Recomputer {
    pub fn new(offline: bool) -> Self {
        Self { offline }
    }

    pub fn hash(&self, lockfile: &str, bytes: &[u8]) -> Result<Sha256Hash, String> {
        let bin = update_yarn_hash_bin().ok_or(
            "`update-yarn-hash` was found neither next to nix-hooks nor on PATH; install it (it ships with nix-hooks)",
        )?;
        let dir =
            tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let lock_path = dir.path().join("yarn.lock");
        let record_path = dir.path().join("yarn-deps.toml");
        std::fs::write(&lock_path, bytes).map_err(|e| format!("cannot copy {lockfile}: {e}"))?;
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .arg("--lockfile")
            .arg(&lock_path)
            .arg("--record")
            .arg(&record_path)
            .arg("--quiet");
        if self.offline {
            cmd.arg("--offline");
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!(
                "`update-yarn-hash` failed ({}): {}",
                out.status,
                stderr.trim()
            ));
        }
        let record = HashRecord::load(&record_path)
            .map_err(|e| e.to_string())?
            .ok_or("`update-yarn-hash` succeeded but wrote no record")?;
        let mut entries = record.entries.into_values();
        match (entries.next(), entries.next()) {
            (Some(entry), None) => Ok(entry.hash),
            _ => Err("`update-yarn-hash` wrote an unexpected record (expected one entry)".into()),
        }
    }
}

fn update_yarn_hash_bin() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("update-yarn-hash")))
        .filter(|p| is_executable(p));
    beside.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("update-yarn-hash"))
            .find(|p| is_executable(p))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

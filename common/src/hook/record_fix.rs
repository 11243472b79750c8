//! `nix-hooks pre-commit --fix`: recompute stale record entries from the *staged*
//! lockfiles and stage the new record, touching no other index entry and no other file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::atomic_write::write_atomic;
use crate::file_lock::UpdateLock;
use crate::git::git_index::{GitIndexError, StagedRepo};
use crate::hook::hooks_config::HooksConfig;
use crate::hook::staged_checks::Recompute;
use crate::record::hash_record::{lock_sha256, HashRecord, RecordEntry, RecordError};

#[derive(Debug, Error)]
pub enum FixError {
    #[error(transparent)]
    Git(#[from] GitIndexError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{lockfile} is not staged or tracked, so there is nothing to hash\nfix: `git add {lockfile}`")]
    MissingLockfile { lockfile: String },
    #[error("cannot recompute the hash of {lockfile}: {message}")]
    Recompute {
        lockfile: String,
        message: String,
        /// The lockfile is malformed, rather than its tarballs unreachable.
        bad_input: bool,
    },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{path} resolves to {target}, outside the repository {workdir}, and --fix writes only inside it: replace the symlink on the way to {path} with a real directory or file, or update the record where it points with `update-yarn-hash`")]
    OutsideRepo {
        path: String,
        target: PathBuf,
        workdir: PathBuf,
    },
}

impl FixError {
    /// Input the user must repair (exit 2), as opposed to a hash that could not be computed.
    pub fn is_bad_input(&self) -> bool {
        match self {
            FixError::Record(_)
            | FixError::MissingLockfile { .. }
            | FixError::OutsideRepo { .. } => true,
            FixError::Recompute { bad_input, .. } => *bad_input,
            FixError::Git(_) | FixError::Write { .. } => false,
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct FixOutcome {
    /// Lockfiles whose entry was rewritten, with their new SRI hash.
    pub updated: Vec<(String, String)>,
    /// Whether the working-tree copy of the record was updated too. It is left alone
    /// when it held unstaged edits of its own, so those survive.
    pub worktree_updated: bool,
}

/// Recomputes `lockfiles`' entries from their staged bytes, then stages the record.
/// Every hash is computed before anything is written: a failure writes nothing.
pub fn fix_record(
    repo: &mut StagedRepo,
    config: &HooksConfig,
    lockfiles: &[String],
    recompute: &Recompute<'_>,
) -> Result<FixOutcome, FixError> {
    let record_path = Path::new(&config.record);
    // A record staged as a symlink is written through to its target, never replaced by a file.
    let record_file = repo.resolve(&config.record)?;
    if let Some(workdir) = repo.workdir() {
        refuse_outside(workdir, &record_file)?;
    }
    let old_staged = repo.staged(&config.record)?;
    let mut record = match &old_staged {
        Some(bytes) => HashRecord::parse(bytes, record_path)?,
        None => HashRecord::default(),
    };
    let mut outcome = FixOutcome::default();
    for lockfile in lockfiles {
        if lockfile.rsplit('/').next() == Some(crate::hook::staged_checks::PNPM_LOCKFILE) {
            // Hashing a pnpm project needs its pnpm-workspace.yaml, package.json files and
            // `file:` tarballs as staged, which --fix does not gather yet.
            return Err(FixError::Recompute {
                lockfile: lockfile.clone(),
                message: format!(
                    "--fix does not hash pnpm lockfiles yet\nfix: run `update-pnpm-hash --lockfile {lockfile}`, then `git add {}`",
                    config.record
                ),
                bad_input: false,
            });
        }
        let bytes = repo
            .staged(lockfile)?
            .ok_or_else(|| FixError::MissingLockfile {
                lockfile: lockfile.clone(),
            })?;
        let hash = recompute(lockfile, &bytes).map_err(|failure| FixError::Recompute {
            lockfile: lockfile.clone(),
            message: failure.message,
            bad_input: failure.bad_input,
        })?;
        outcome.updated.push((lockfile.clone(), hash.to_sri()));
        record.entries.insert(
            lockfile.clone(),
            RecordEntry {
                lock_sha256: lock_sha256(&bytes),
                hash,
                fetcher: Default::default(),
            },
        );
    }
    let new = record.render().into_bytes();
    let worktree = repo.workdir().map(|w| w.join(&record_file));
    // Held from the read to the write, as update-yarn-hash holds it for its merge.
    let _lock = match &worktree {
        Some(path) => Some(UpdateLock::acquire(path).map_err(|source| FixError::Write {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    // Only a working-tree record that matches the staged one is ours to replace.
    let worktree_old = match &worktree {
        Some(path) => match fs::read(path) {
            Ok(b) => Some(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some(None),
            Err(source) => {
                return Err(FixError::Write {
                    path: path.clone(),
                    source,
                })
            }
        },
        None => None,
    };
    let update_worktree = worktree_old.as_ref() == Some(&old_staged);
    if let (true, Some(path)) = (update_worktree, &worktree) {
        write_atomic(path, &new).map_err(|source| FixError::Write {
            path: path.clone(),
            source,
        })?;
    }
    if let Err(e) = repo.stage_bytes(&config.record, &new) {
        // Put the working tree back as it was, so a failed fix changes nothing.
        if let (true, Some(path), Some(old)) = (update_worktree, &worktree, &worktree_old) {
            let _ = match old {
                Some(bytes) => write_atomic(path, bytes),
                None => fs::remove_file(path),
            };
        }
        return Err(e.into());
    }
    outcome.worktree_updated = update_worktree;
    Ok(outcome)
}

/// Refuses a working-tree path that leads out of `workdir` through a symlink (the file
/// itself or a directory on the way, such as `.nix/`), where `--fix` would write
/// outside the repository. Staged symlinks are resolved within the index before this.
fn refuse_outside(workdir: &Path, rel: &str) -> Result<(), FixError> {
    let io_error = |source| FixError::Write {
        path: workdir.join(rel),
        source,
    };
    let root = fs::canonicalize(workdir).map_err(io_error)?;
    // The deepest part of the path that exists is where a write would really go.
    let mut existing = workdir.join(rel);
    while fs::symlink_metadata(&existing).is_err() {
        if !existing.pop() {
            return Ok(());
        }
    }
    let target = fs::canonicalize(&existing).map_err(io_error)?;
    if target.starts_with(&root) {
        return Ok(());
    }
    Err(FixError::OutsideRepo {
        path: rel.to_owned(),
        target,
        workdir: root,
    })
}

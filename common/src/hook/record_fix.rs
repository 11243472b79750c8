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
use crate::hook::staged_checks::{record_command, Recompute, RecomputeFailure, PNPM_LOCKFILE};
use crate::hook::staged_pnpm_project::{self, ExportError};
use crate::nix::nix_hash::Sha256Hash;
use crate::record::hash_record::{lock_sha256, Fetcher, HashRecord, RecordEntry, RecordError};

/// The target of a pnpm entry, and the directory its staged project was written to
/// (each file at its repository path).
#[derive(Debug, Clone, Copy)]
pub struct PnpmTarget<'a> {
    pub fetcher_version: u32,
    pub pnpm: &'a str,
    /// The recorded `node`, when there is one.
    pub node: Option<u32>,
    /// The recorded `workspaces` (pnpmWorkspaces), empty for a plain install.
    pub workspaces: &'a [String],
    pub root: &'a Path,
}

/// Computes a pnpm lockfile's fetchPnpmDeps hash from its staged project.
pub type RecomputePnpm<'a> =
    dyn Fn(&str, &[u8], &PnpmTarget<'_>) -> Result<Sha256Hash, RecomputeFailure> + 'a;

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
    #[error("{record} has no fetchPnpmDeps entry for {lockfile}, so --fix does not know its fetcherVersion and pnpm\nfix: run {command}, then `git add {record}`")]
    NoPnpmTarget {
        lockfile: String,
        record: String,
        /// [`record_command`]'s advice for the staged project.
        command: String,
    },
    #[error(transparent)]
    Export(#[from] ExportError),
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
            | FixError::OutsideRepo { .. }
            | FixError::NoPnpmTarget { .. } => true,
            FixError::Recompute { bad_input, .. } => *bad_input,
            FixError::Git(_) | FixError::Write { .. } | FixError::Export(_) => false,
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

/// Recomputes `lockfiles`' entries from their staged bytes (a pnpm entry for the
/// target it records, from its staged project), then stages the record. Every hash is
/// computed before anything is written: a failure writes nothing.
pub fn fix_record(
    repo: &mut StagedRepo,
    config: &HooksConfig,
    lockfiles: &[String],
    recompute: &Recompute<'_>,
    recompute_pnpm: &RecomputePnpm<'_>,
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
        let bytes = repo
            .staged(lockfile)?
            .ok_or_else(|| FixError::MissingLockfile {
                lockfile: lockfile.clone(),
            })?;
        let failed = |failure: RecomputeFailure| FixError::Recompute {
            lockfile: lockfile.clone(),
            message: failure.message,
            bad_input: failure.bad_input,
        };
        let (hash, fetcher) = if lockfile.rsplit('/').next() == Some(PNPM_LOCKFILE) {
            let fetcher = record.entries.get(lockfile).map(|e| e.fetcher.clone());
            let Some(Fetcher::FetchPnpmDeps {
                fetcher_version,
                ref pnpm,
                node,
                ref workspaces,
            }) = fetcher
            else {
                return Err(FixError::NoPnpmTarget {
                    lockfile: lockfile.clone(),
                    record: config.record.clone(),
                    command: record_command(lockfile, &|p| repo.staged(p).ok().flatten())
                        .to_string(),
                });
            };
            // Dropped (deleted) when this iteration ends, whatever happens.
            let project = tempfile::tempdir().map_err(|source| FixError::Write {
                path: std::env::temp_dir(),
                source,
            })?;
            staged_pnpm_project::export(repo, lockfile, &bytes, project.path())?;
            let target = PnpmTarget {
                fetcher_version,
                pnpm,
                node,
                workspaces,
                root: project.path(),
            };
            let hash = recompute_pnpm(lockfile, &bytes, &target).map_err(failed)?;
            (hash, fetcher.clone().unwrap_or_default())
        } else {
            (
                recompute(lockfile, &bytes).map_err(failed)?,
                Fetcher::FetchYarnDeps,
            )
        };
        outcome.updated.push((lockfile.clone(), hash.to_sri()));
        record.entries.insert(
            lockfile.clone(),
            RecordEntry {
                lock_sha256: lock_sha256(&bytes),
                hash,
                fetcher,
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

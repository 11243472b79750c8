//! Which lockfiles a run handles, where the record is, and reading them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use common::fetch::progress_bar;
use common::fetch::tarball_cache::TarballCache;
use common::fetch::tarball_fetch::{FetchOptions, FetchProgress};
use common::git::repo_root;
use common::record::hash_record::{Fetcher, HashRecord, RecordEntry, DEFAULT_RECORD_PATH};

use crate::args::{FetchArgs, ModeArgs};
use crate::ecosystem::{Computed, Ecosystem, Settings};
use crate::failure::Failure;

/// A lockfile to handle: where it is, and its key in the record.
#[derive(Debug, Clone)]
pub struct Lockfile {
    pub path: PathBuf,
    pub key: String,
}

pub struct Context<'a, E> {
    pub eco: &'a E,
    pub modes: &'a ModeArgs,
    pub fetch: &'a FetchArgs,
    pub root: PathBuf,
    pub record_path: PathBuf,
    pub record: Option<HashRecord>,
    pub lockfiles: Vec<Lockfile>,
}

impl<'a, E: Ecosystem> Context<'a, E> {
    pub fn new(eco: &'a E, modes: &'a ModeArgs, fetch: &'a FetchArgs) -> Result<Self, Failure> {
        let cwd = std::env::current_dir()
            .context("cannot read the current directory")
            .map_err(Failure::bad_input)?;
        let root = repo_root::discover(&cwd);
        let record_path = modes
            .record
            .clone()
            .unwrap_or_else(|| root.join(DEFAULT_RECORD_PATH));
        let record = match &modes.nix_file {
            Some(_) => None,
            None => HashRecord::load(&record_path).map_err(Failure::bad_input)?,
        };
        let recorded: Vec<PathBuf> = record
            .iter()
            .flat_map(|r| &r.entries)
            .filter(|(_, e)| E::owns(&e.fetcher))
            .map(|(k, _)| root.join(k))
            .collect();
        let paths = if !modes.lockfile.is_empty() {
            modes.lockfile.clone()
        } else if modes.nix_file.is_some() {
            Vec::new() // the call names it, in nix_file_mode
        } else if !recorded.is_empty() {
            recorded
        } else {
            vec![root.join(E::LOCKFILE_NAME)]
        };
        // --print and --materialize record nothing, so any lockfile will do.
        let records = !modes.print && modes.materialize.is_none();
        let lockfiles = paths
            .into_iter()
            .map(|path| match lockfile::<E>(&root, path.clone()) {
                Err(_) if !records && path.is_file() => Ok(Lockfile {
                    key: path.display().to_string(),
                    path,
                }),
                other => other,
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            eco,
            modes,
            fetch,
            root,
            record_path,
            record,
            lockfiles,
        })
    }

    /// The record entry of `lockfile` that belongs to this ecosystem, if any.
    pub fn recorded(&self, lockfile: &Lockfile) -> Option<&RecordEntry> {
        self.record
            .as_ref()
            .and_then(|r| r.entries.get(&lockfile.key))
            .filter(|e| E::owns(&e.fetcher))
    }

    fn recorded_fetcher(&self, lockfile: &Lockfile) -> Option<&Fetcher> {
        self.recorded(lockfile).map(|e| &e.fetcher)
    }

    pub fn settings(&self) -> Settings {
        let f = self.fetch;
        Settings {
            cache_dir: f
                .cache_dir
                .clone()
                .unwrap_or_else(TarballCache::default_dir),
            fetch: FetchOptions {
                jobs: f.jobs.max(1),
                retries: f.retries,
                read_timeout: Duration::from_secs(f.timeout.max(1)),
                max_backoff: Duration::from_secs(f.max_backoff),
                deadline: Duration::from_secs(f.deadline.max(1)),
                max_bytes: f.max_tarball_size,
                mirrors: f.mirror.clone(),
                ..FetchOptions::default()
            },
            offline: f.offline,
            recompute: self.modes.recompute || self.modes.full,
        }
    }

    /// The hash of `lockfile`'s output, its warnings shown.
    pub fn compute(&self, lockfile: &Lockfile, bytes: &[u8]) -> Result<Computed, Failure> {
        let computed = self.eco.hash(
            self.settings(),
            lockfile,
            bytes,
            self.recorded_fetcher(lockfile),
            self.progress(),
        )?;
        self.warn(&computed.warnings);
        Ok(computed)
    }

    pub fn materialize(
        &self,
        lockfile: &Lockfile,
        bytes: &[u8],
        dir: &Path,
    ) -> Result<Computed, Failure> {
        let computed = self.eco.materialize(
            self.settings(),
            lockfile,
            bytes,
            self.recorded_fetcher(lockfile),
            dir,
            self.progress(),
        )?;
        self.warn(&computed.warnings);
        Ok(computed)
    }

    fn warn(&self, warnings: &[String]) {
        if self.fetch.quiet {
            return;
        }
        for w in warnings {
            eprintln!("warning: {}", common::redact::text(w));
        }
    }

    fn progress(&self) -> Arc<dyn FetchProgress> {
        progress_bar::for_downloads(!self.fetch.quiet && !self.fetch.json)
    }

    /// The single lockfile of a one-lockfile mode (`--print`, `--materialize`).
    pub fn single_lockfile(&self, mode: &str) -> Result<&Lockfile, Failure> {
        match self.lockfiles.as_slice() {
            [one] => Ok(one),
            many => Err(Failure::bad_input(anyhow!(
                "{mode} handles one lockfile, but {} were selected; pass --lockfile PATH",
                many.len()
            ))),
        }
    }

    /// Where the record is, as shown to the user.
    pub fn record_display(&self) -> String {
        shown(&self.root, &self.record_path)
    }
}

pub fn lockfile<E: Ecosystem>(root: &Path, path: PathBuf) -> Result<Lockfile, Failure> {
    if !path.is_file() {
        return Err(Failure::bad_input(anyhow!(
            "{}: no such lockfile; run `{} install` to create it, or pass --lockfile PATH",
            path.display(),
            E::PACKAGE_MANAGER
        )));
    }
    let key = repo_root::relative_key(root, &path)
        .with_context(|| {
            format!(
                "{}: cannot name it relative to the repository",
                path.display()
            )
        })
        .map_err(Failure::bad_input)?;
    Ok(Lockfile { path, key })
}

pub fn read(lockfile: &Lockfile) -> Result<Vec<u8>, Failure> {
    fs::read(&lockfile.path)
        .with_context(|| format!("cannot read {}", lockfile.path.display()))
        .map_err(Failure::bad_input)
}

/// `path` relative to `root` when inside it, for messages.
pub fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

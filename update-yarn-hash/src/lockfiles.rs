//! Which lockfiles a run handles, where the record is, and reading them.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use common::fetch::tarball_cache::TarballCache;
use common::fetch::tarball_fetch::{FetchOptions, FetchProgress};
use common::git::repo_root;
use common::record::hash_record::{Fetcher, HashRecord, DEFAULT_RECORD_PATH};
use common::yarn::prefetch::{PrefetchOptions, Prefetcher};

use crate::cli::Cli;
use crate::failure::Failure;
use common::fetch::progress_bar;

/// A lockfile to handle: where it is, and its key in the record.
#[derive(Debug, Clone)]
pub struct Lockfile {
    pub path: PathBuf,
    pub key: String,
}

pub struct Context<'a> {
    pub cli: &'a Cli,
    pub root: PathBuf,
    pub record_path: PathBuf,
    pub record: Option<HashRecord>,
    pub lockfiles: Vec<Lockfile>,
}

impl<'a> Context<'a> {
    pub fn from_cli(cli: &'a Cli) -> Result<Self, Failure> {
        let cwd = std::env::current_dir()
            .context("cannot read the current directory")
            .map_err(Failure::bad_input)?;
        let root = repo_root::discover(&cwd);
        let record_path = cli
            .record
            .clone()
            .unwrap_or_else(|| root.join(DEFAULT_RECORD_PATH));
        let record = match &cli.nix_file {
            Some(_) => None,
            None => HashRecord::load(&record_path).map_err(Failure::bad_input)?,
        };
        let paths: Vec<PathBuf> = if !cli.lockfile.is_empty() {
            cli.lockfile.clone()
        } else if let Some(yarn) = record.as_ref().map(yarn_entries).filter(|y| !y.is_empty()) {
            yarn.into_iter().map(|k| root.join(k)).collect()
        } else if cli.nix_file.is_some() {
            Vec::new() // taken from the call's `yarnLock` in nix_file_mode
        } else {
            vec![root.join("yarn.lock")]
        };
        // --print and --materialize record nothing, so any lockfile will do.
        let records = !cli.print && cli.materialize.is_none();
        let lockfiles = paths
            .into_iter()
            .map(|path| match lockfile(&root, path.clone()) {
                Err(_) if !records && path.is_file() => Ok(Lockfile {
                    key: path.display().to_string(),
                    path,
                }),
                other => other,
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            cli,
            root,
            record_path,
            record,
            lockfiles,
        })
    }

    pub fn prefetcher(&self) -> Result<Prefetcher, Failure> {
        let cli = self.cli;
        let opts = PrefetchOptions {
            cache_dir: cli
                .cache_dir
                .clone()
                .unwrap_or_else(TarballCache::default_dir),
            fetch: FetchOptions {
                jobs: cli.jobs.max(1),
                retries: cli.retries,
                read_timeout: Duration::from_secs(cli.timeout.max(1)),
                max_backoff: Duration::from_secs(cli.max_backoff),
                deadline: Duration::from_secs(cli.deadline.max(1)),
                max_bytes: cli.max_tarball_size,
                mirrors: cli.mirror.clone(),
                ..FetchOptions::default()
            },
            offline: cli.offline,
            recompute: cli.recompute || cli.full,
        };
        Ok(Prefetcher::new(opts)?)
    }

    pub fn progress(&self) -> Arc<dyn FetchProgress> {
        progress_bar::for_downloads(!self.cli.quiet && !self.cli.json)
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

/// The record's fetchYarnDeps entries (pnpm entries belong to update-pnpm-hash).
fn yarn_entries(record: &HashRecord) -> Vec<&String> {
    record
        .entries
        .iter()
        .filter(|(_, e)| e.fetcher == Fetcher::FetchYarnDeps)
        .map(|(k, _)| k)
        .collect()
}

pub fn lockfile(root: &Path, path: PathBuf) -> Result<Lockfile, Failure> {
    if !path.is_file() {
        return Err(Failure::bad_input(anyhow!(
            "{}: no such lockfile; run `yarn install` to create it, or pass --lockfile PATH",
            path.display()
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

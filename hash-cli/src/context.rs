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
use common::record::hash_record::{
    Fetcher, HashRecord, RecordEntry, RecordError, DEFAULT_RECORD_PATH,
};

use crate::args::{FetchArgs, ModeArgs};
use crate::ecosystem::{Computed, Ecosystem, Settings};
use crate::failure::Failure;
use crate::lockfile_kind;

/// A lockfile to handle: where it is, and its key in the record.
#[derive(Debug, Clone)]
pub struct Lockfile {
    pub path: PathBuf,
    pub key: String,
    /// The path as typed from the cwd, quoted for a shell: what `fix:` commands name.
    pub shown: String,
}

pub struct Context<'a, E> {
    pub eco: &'a E,
    pub modes: &'a ModeArgs,
    pub fetch: &'a FetchArgs,
    pub cwd: PathBuf,
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
        let shown_record = crate::shell_word(&shown(&cwd, &record_path));
        let record = match &modes.nix_file {
            Some(_) => None,
            None => match HashRecord::load(&record_path) {
                Ok(record) => record,
                // Written afresh by write_record, which shows what is dropped.
                Err(RecordError::Invalid { .. }) if modes.rewrite_record => None,
                Err(RecordError::Invalid {
                    line, col, message, ..
                }) => {
                    return Err(Failure::bad_input(anyhow!(
                        "{}:{line}:{col}: {message}\nfix: {} --rewrite-record{}   (writes it afresh from the lockfiles and shows every line it drops; or restore it from git)",
                        shown(&cwd, &record_path),
                        E::TOOL,
                        record_flag(modes, &shown_record)
                    )))
                }
                Err(e) => return Err(Failure::bad_input(e)),
            },
        };
        let recorded: Vec<PathBuf> = match &record {
            Some(r) => r
                .entries
                .iter()
                .filter(|(_, e)| E::owns(&e.fetcher))
                .map(|(k, _)| root.join(k))
                .collect(),
            None if modes.rewrite_record => salvaged_keys::<E>(&record_path)
                .into_iter()
                .map(|k| root.join(k))
                .filter(|p| p.is_file())
                .collect(),
            None => Vec::new(),
        };
        if modes.lockfile.is_empty() && !modes.prune {
            if let Some(gone) = recorded.iter().find(|p| !p.exists()) {
                return Err(Failure::bad_input(anyhow!(
                    "{}: recorded in {}, but the lockfile is gone\nfix: {} --prune{}   (drops the entries of lockfiles that no longer exist)",
                    shown(&root, gone),
                    shown(&root, &record_path),
                    E::TOOL,
                    record_flag(modes, &shown_record)
                )));
            }
        }
        let paths = if !modes.lockfile.is_empty() {
            modes.lockfile.clone()
        } else if modes.prune || modes.nix_file.is_some() {
            Vec::new() // prune hashes nothing; in-place mode's call names its lockfile
        } else if !recorded.is_empty() {
            recorded
        } else {
            vec![root.join(E::LOCKFILE_NAME)]
        };
        // --print and --materialize record nothing, so any lockfile will do.
        let records = !modes.print && modes.materialize.is_none();
        let lockfiles = paths
            .into_iter()
            .map(|path| match lockfile::<E>(&cwd, &root, path.clone()) {
                Err(_) if !records && path.is_file() => Ok(Lockfile {
                    key: path.display().to_string(),
                    shown: crate::shell_word(&shown(&cwd, &path)),
                    path,
                }),
                other => other,
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            eco,
            modes,
            fetch,
            cwd,
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
        self.compute_with(self.eco, lockfile, bytes)
    }

    /// [`Self::compute`] by `eco` (this run's, as a `--nix-file` call configures it).
    pub fn compute_with(
        &self,
        eco: &E,
        lockfile: &Lockfile,
        bytes: &[u8],
    ) -> Result<Computed, Failure> {
        let computed = eco.hash(
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

    /// A line for people on stderr (not with --quiet or --json).
    pub fn note(&self, text: &str) {
        if !self.fetch.quiet && !self.fetch.json {
            eprintln!("note: {}", common::redact::text(text));
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

    /// The command that records `lockfile` afresh: a `fix:` that works from the cwd the
    /// user ran in (paths relative to it), repeating `--record` and the target.
    pub fn fix_command(&self, lockfile: &Lockfile, unrecorded: bool) -> String {
        let mut fix = format!("{} --lockfile {}", E::TOOL, lockfile.shown);
        fix += &record_flag(
            self.modes,
            &crate::shell_word(&self.relative_to_cwd(&self.record_path)),
        );
        fix + &self
            .eco
            .fix_flags(unrecorded.then_some(lockfile.path.as_path()))
    }

    /// `path` as typed from the cwd: relative to it when inside it.
    pub fn relative_to_cwd(&self, path: &Path) -> String {
        shown(&self.cwd, path)
    }

    /// Where the record is, as shown to the user.
    pub fn record_display(&self) -> String {
        shown(&self.root, &self.record_path)
    }
}

/// The lockfiles an unreadable record still names: its `["path"]` table headers, read
/// line by line, that end in this ecosystem's lockfile name. `--rewrite-record` hashes
/// them again, so a damaged value costs nothing but the recomputation.
fn salvaged_keys<E: Ecosystem>(record: &Path) -> Vec<String> {
    let text = fs::read(record).unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("[\"")?
                .strip_suffix("\"]")
                .map(str::to_owned)
        })
        .filter(|k| {
            !k.contains(['"', '\\'])
                && Path::new(k)
                    .file_name()
                    .is_some_and(|n| n == E::LOCKFILE_NAME)
        })
        .collect()
}

/// ` --record PATH` when the run named one, for `fix:` commands.
fn record_flag(modes: &ModeArgs, shown_record: &str) -> String {
    match modes.record {
        Some(_) => format!(" --record {shown_record}"),
        None => String::new(),
    }
}

pub fn lockfile<E: Ecosystem>(cwd: &Path, root: &Path, path: PathBuf) -> Result<Lockfile, Failure> {
    if path.is_dir() {
        let inside = path.join(E::LOCKFILE_NAME);
        let fix = match inside.is_file() {
            true => format!(
                "\nfix: {} --lockfile {}",
                E::TOOL,
                crate::shell_word(&shown(cwd, &inside))
            ),
            false => String::new(),
        };
        return Err(Failure::bad_input(anyhow!(
            "{}: is a directory; --lockfile names the lockfile itself ({}){fix}",
            path.display(),
            E::LOCKFILE_NAME
        )));
    }
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
    let shown = crate::shell_word(&shown(cwd, &path));
    Ok(Lockfile { path, key, shown })
}

/// The lockfile's bytes, refused when another package manager wrote them.
pub fn read<E: Ecosystem>(lockfile: &Lockfile) -> Result<Vec<u8>, Failure> {
    let bytes = fs::read(&lockfile.path)
        .with_context(|| format!("cannot read {}", lockfile.path.display()))
        .map_err(Failure::bad_input)?;
    match lockfile_kind::detect(&lockfile.path, &bytes) {
        Some(kind) if kind != E::KIND => Err(Failure::bad_input(anyhow!(
            "{}: this is {}, and {} reads {}s only\n{}",
            lockfile.path.display(),
            kind.name(),
            E::TOOL,
            E::KIND.name().trim_start_matches("a "),
            lockfile_kind::redirect(kind, &lockfile.shown, &lockfile.path)
        ))),
        _ => Ok(bytes),
    }
}

/// `path` relative to `base` for messages and commands: `base`'s own files as they are,
/// files above it through `..`, and `path` unchanged when the two share no root.
pub fn shown(base: &Path, path: &Path) -> String {
    if let Ok(inside) = path.strip_prefix(base) {
        return inside.display().to_string();
    }
    if !(base.is_absolute() && path.is_absolute()) {
        return path.display().to_string();
    }
    let (base, target): (Vec<_>, Vec<_>) =
        (base.components().collect(), path.components().collect());
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..base.len() {
        rel.push("..");
    }
    rel.extend(&target[common..]);
    rel.display().to_string()
}

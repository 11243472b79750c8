//! What `nix-hooks pre-commit` checks, on the staged content only: the index is what
//! the commit will contain, so a fix left unstaged does not count and a breakage left
//! unstaged does not block.

use std::path::Path;

use thiserror::Error;

use crate::git::git_index::{GitIndexError, StagedChange, StagedRepo};
use crate::hook::hooks_config::{HooksConfig, InPlace, Level};
use crate::hook::package_json;
use crate::nix::flake_lock;
use crate::nix::nix_hash::Sha256Hash;
use crate::nix::nix_syntax;
use crate::pnpm::target_hint;
use crate::record::fetcher_call;
use crate::record::hash_record::{
    Fetcher, Freshness, HashRecord, RecordError, DEFAULT_RECORD_PATH,
};

/// Input the checks cannot work with: the user must repair it (exit code 2).
#[derive(Debug, Error)]
pub enum CheckError {
    #[error(transparent)]
    Git(#[from] GitIndexError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("{record} names {lockfile}, but {lockfile} is not staged or tracked\nfix: `git add {lockfile}` if it is meant to stay; if it was deleted, `update-yarn-hash --prune` (`update-pnpm-hash --prune` for a pnpm entry) drops its entry, then `git add {record}`")]
    MissingLockfile { record: String, lockfile: String },
    #[error("{lockfile} (staged) cannot be read as a Yarn v1 lockfile: {message}\nfix: regenerate it with `yarn install`, then `git add {lockfile}`")]
    BadLockfile { lockfile: String, message: String },
    #[error("{lockfile} must have a fresh hash (configured in {config}), but {record} is not staged or tracked\nfix: run `{} --lockfile {lockfile}`, then `git add {record}`", update_command(lockfile))]
    MissingRecord {
        config: String,
        record: String,
        lockfile: String,
    },
    #[error("{config}: record = {record:?}, but {record} is neither staged nor in HEAD (a typo?)\nfix: correct `record` in {config}, or create the record with `update-yarn-hash` and `git add {record}`")]
    RecordNotFound { config: String, record: String },
    /// `at` (line, column in `nix_file`) when the problem has a place: `file:line:col:`.
    #[error("{config}: in-place lockfile {lockfile}: {nix_file}{} {problem}\nfix: point `nix-file` at the file holding `fetchYarnDeps {{ hash = \"...\"; }}`", at.map(|(l, c)| format!(":{l}:{c}:")).unwrap_or_default())]
    InPlace {
        config: String,
        lockfile: String,
        nix_file: String,
        at: Option<(usize, usize)>,
        problem: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Which check spoke, so callers can branch (and `--fix` knows what it can repair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindingKind {
    /// The staged lockfile's SHA-256 is not the recorded one (or it has no entry).
    StaleRecord {
        lockfile: String,
    },
    /// The in-place hash in a `.nix` file is not the lockfile's recomputed hash.
    StaleInPlace {
        lockfile: String,
        nix_file: String,
    },
    /// The hash could not be recomputed (cache miss offline, fetch failure).
    Unverifiable {
        lockfile: String,
    },
    /// The record is in HEAD but not staged: the commit would delete it.
    RecordDeleted {
        record: String,
    },
    NixSyntax,
    FlakeLock,
    FlakeInputs,
    PackageJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub lockfiles_checked: usize,
    pub nix_files_checked: usize,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn has_unverifiable(&self) -> bool {
        self.findings.iter().any(|f| {
            f.severity == Severity::Error && matches!(f.kind, FindingKind::Unverifiable { .. })
        })
    }

    fn push(&mut self, level: Level, kind: FindingKind, message: String) {
        let severity = match level {
            Level::Fail => Severity::Error,
            Level::Warn => Severity::Warning,
            Level::Off => return,
        };
        self.findings.push(Finding {
            kind,
            severity,
            message,
        });
    }
}

/// Computes a lockfile's fetchYarnDeps hash from its bytes (the full, slow path).
/// `lockfile` is its path relative to the repository root.
pub type Recompute<'a> = dyn Fn(&str, &[u8]) -> Result<Sha256Hash, RecomputeFailure> + 'a;

/// Why a hash could not be recomputed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct RecomputeFailure {
    pub message: String,
    /// The lockfile itself is malformed (exit 2), rather than its tarballs unreachable (exit 3).
    pub bad_input: bool,
}

/// Runs every check on the staged content. `recompute` is called only for in-place
/// lockfiles whose lockfile or `.nix` file is staged.
pub fn check_staged(
    repo: &StagedRepo,
    config: &HooksConfig,
    config_path: &str,
    recompute: &Recompute<'_>,
) -> Result<Report, CheckError> {
    let changes = repo.staged_changes()?;
    let mut report = Report::default();
    check_record(repo, config, config_path, &changes, &mut report)?;
    check_in_place(repo, config, config_path, &changes, recompute, &mut report)?;
    for change in changes.iter().filter(|c| c.present) {
        let name = file_name(&change.path);
        if change.path.ends_with(".nix") {
            check_nix_file(repo, config, &change.path, &mut report)?;
        }
        match name {
            "flake.lock" => check_flake_lock(repo, config, &change.path, &mut report)?,
            "flake.nix" => check_flake_inputs(repo, config, &change.path, &changes, &mut report)?,
            "package.json" => {
                check_package_json(repo, config, &change.path, &changes, &mut report)?
            }
            _ => {}
        }
    }
    Ok(report)
}

/// The lockfiles whose record entry must be fresh: the configured ones, or all the
/// record names, minus those whose hash lives in a `.nix` file.
pub fn record_lockfiles(config: &HooksConfig, record: Option<&HashRecord>) -> Vec<String> {
    let mut out: Vec<String> = config.lockfiles.clone();
    if let Some(record) = record {
        out.extend(record.entries.keys().cloned());
    }
    out.retain(|l| config.in_place_for(l).is_none());
    out.sort();
    out.dedup();
    out
}

/// The staged record, or `None` when the index has none.
pub fn staged_record(
    repo: &StagedRepo,
    config: &HooksConfig,
) -> Result<Option<HashRecord>, CheckError> {
    match repo.staged(&config.record)? {
        None => Ok(None),
        Some(bytes) => Ok(Some(HashRecord::parse(&bytes, Path::new(&config.record))?)),
    }
}

/// pnpm's lockfile name: a staged one must have a record entry even when neither the
/// record nor hooks.toml names it yet.
pub const PNPM_LOCKFILE: &str = "pnpm-lock.yaml";

/// The command that records `lockfile`'s hash (with the target a new pnpm entry needs).
fn update_command(lockfile: &str) -> &'static str {
    if file_name(lockfile) == PNPM_LOCKFILE {
        "update-pnpm-hash"
    } else {
        "update-yarn-hash"
    }
}

/// The lockfiles whose dependency hash the record keeps (fetchYarnDeps, fetchPnpmDeps).
pub const LOCKFILE_NAMES: &[&str] = &["yarn.lock", PNPM_LOCKFILE];

/// `paths` that are lockfiles the record should know but does not (in neither the
/// record, the configured `lockfiles`, nor `[[in-place]]`); none when the check is off.
pub fn unrecorded<'p>(
    config: &HooksConfig,
    known: &[String],
    paths: impl IntoIterator<Item = &'p String>,
) -> Vec<String> {
    if config.checks.unrecorded_lockfile == Level::Off {
        return Vec::new();
    }
    paths
        .into_iter()
        .filter(|p| LOCKFILE_NAMES.contains(&file_name(p)))
        .filter(|p| config.in_place_for(p).is_none() && !known.contains(p))
        .cloned()
        .collect()
}

/// `known` plus the files they are staged symlinks to: a link's target is recorded too.
pub fn known_through_links(repo: &StagedRepo, known: &[String]) -> Vec<String> {
    let mut out = known.to_vec();
    out.extend(known.iter().filter_map(|k| repo.resolve(k).ok()));
    out
}

/// The command that creates `lockfile`'s first record entry, shown in backticks with what
/// to know beside it. A pnpm one needs its target: the one the project's pnpm fits
/// ([`target_hint`]), from the files `read` gives by repository path (staged or worktree).
pub fn record_command(lockfile: &str, read: &dyn Fn(&str) -> Option<Vec<u8>>) -> RecordCommand {
    if file_name(lockfile) != PNPM_LOCKFILE {
        return RecordCommand {
            command: format!("update-yarn-hash --lockfile {lockfile}"),
            note: None,
        };
    }
    let dir = lockfile.rsplit_once('/').map_or("", |(d, _)| d);
    let package_json = if dir.is_empty() {
        "package.json".to_owned()
    } else {
        format!("{dir}/package.json")
    };
    let hint = target_hint::hint(
        &read(lockfile).unwrap_or_default(),
        read(&package_json).as_deref(),
    );
    RecordCommand {
        command: format!("update-pnpm-hash --lockfile {lockfile}{}", hint.flags),
        note: hint.note,
    }
}

/// [`record_command`]'s answer: shown as `` `command` (note) ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCommand {
    pub command: String,
    pub note: Option<String>,
}

impl std::fmt::Display for RecordCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`", self.command)?;
        match &self.note {
            Some(note) => write!(f, " ({note})"),
            None => Ok(()),
        }
    }
}

fn check_record(
    repo: &StagedRepo,
    config: &HooksConfig,
    config_path: &str,
    changes: &[StagedChange],
    report: &mut Report,
) -> Result<(), CheckError> {
    let record = staged_record(repo, config)?;
    let known = record_lockfiles(config, record.as_ref());
    // Only lockfiles this commit adds or changes: an old one nobody touches does not block.
    let staged_paths: Vec<String> = changes
        .iter()
        .filter(|c| c.present)
        .map(|c| c.path.clone())
        .collect();
    let new = unrecorded(config, &known_through_links(repo, &known), &staged_paths);
    let Some(record) = record else {
        if repo.at_head(&config.record)?.is_some() {
            report.push(
                config.checks.stale_hash,
                FindingKind::RecordDeleted {
                    record: config.record.clone(),
                },
                format!(
                    "{record} is in HEAD but not staged, so this commit deletes it and no lockfile's hash is checked\n  fix: `git add {record}` (or `git restore --staged {record}`); if it goes on purpose, commit with --no-verify",
                    record = config.record
                ),
            );
            return Ok(());
        }
        if config.record != DEFAULT_RECORD_PATH {
            return Err(CheckError::RecordNotFound {
                config: config_path.to_owned(),
                record: config.record.clone(),
            });
        }
        if let Some(lockfile) = known.first() {
            return Err(CheckError::MissingRecord {
                config: config_path.to_owned(),
                record: config.record.clone(),
                lockfile: lockfile.clone(),
            });
        }
        for lockfile in new {
            report.lockfiles_checked += 1;
            report.push(
                config.checks.unrecorded_lockfile,
                FindingKind::StaleRecord {
                    lockfile: lockfile.clone(),
                },
                format!(
                    "{lockfile} has no recorded dependency hash: there is no {record}, so a Nix build from this commit cannot be checked\n  fix: run {}, then `git add {record}` (or turn this off: unrecorded-lockfile = \"off\" under [checks] in {config_path})",
                    record_command(&lockfile, &|p| repo.staged(p).ok().flatten()),
                    record = config.record
                ),
            );
        }
        return Ok(());
    };
    let mut lockfiles = known;
    lockfiles.extend(new.iter().cloned());
    lockfiles.sort();
    lockfiles.dedup();
    for lockfile in lockfiles {
        let bytes = repo
            .staged(&lockfile)?
            .ok_or_else(|| CheckError::MissingLockfile {
                record: config.record.clone(),
                lockfile: lockfile.clone(),
            })?;
        report.lockfiles_checked += 1;
        let is_new = new.contains(&lockfile);
        let what = match record.freshness(&lockfile, &bytes) {
            Freshness::Fresh => continue,
            Freshness::Stale { recorded, actual } => format!(
                "{lockfile} changed since its hash was recorded (staged lock-sha256 {}…, {} has {}…)",
                &actual[..12],
                config.record,
                &recorded[..12]
            ),
            Freshness::Missing => format!("{} has no entry for {lockfile}", config.record),
        };
        let missing_pnpm =
            file_name(&lockfile) == PNPM_LOCKFILE && !record.entries.contains_key(&lockfile);
        let mut fix = if missing_pnpm {
            format!(
                "run {}, then `git add {}`",
                record_command(&lockfile, &|p| repo.staged(p).ok().flatten()),
                config.record
            )
        } else {
            let update =
                update_with_target(&lockfile, record.entries.get(&lockfile).map(|e| &e.fetcher));
            stale_record_advice(repo, config, &lockfile, &update, &bytes)
        };
        if is_new {
            fix.push_str(&format!(
                "; or, if it has no Nix build, set unrecorded-lockfile = \"off\" under [checks] in {config_path}"
            ));
        }
        report.push(
            if is_new {
                config.checks.unrecorded_lockfile
            } else {
                config.checks.stale_hash
            },
            FindingKind::StaleRecord {
                lockfile: lockfile.clone(),
            },
            format!("{what}\n  fix: {fix}"),
        );
    }
    Ok(())
}

/// `update-… --lockfile L`, with a pnpm entry's recorded target spelled out: the tool
/// reads it from the record too, but the advice then says which target it recomputes.
fn update_with_target(lockfile: &str, fetcher: Option<&Fetcher>) -> String {
    let mut command = format!("{} --lockfile {lockfile}", update_command(lockfile));
    if let Some(Fetcher::FetchPnpmDeps {
        fetcher_version,
        pnpm,
        node,
        workspaces,
    }) = fetcher
    {
        command.push_str(&format!(
            " --fetcher-version {fetcher_version} --pnpm {pnpm}"
        ));
        if let Some(node) = node {
            command.push_str(&format!(" --node {node}"));
        }
        for w in workspaces {
            command.push_str(&format!(" --workspace {}", shell_word(w)));
        }
    }
    command
}

/// `word` as a POSIX shell reads it back: bare when safe, else single-quoted.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./@+-:=,%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// What to run for a stale record entry (`update` recomputes it from the working tree),
/// for the way this commit is being made.
fn stale_record_advice(
    repo: &StagedRepo,
    config: &HooksConfig,
    lockfile: &str,
    update: &str,
    staged: &[u8],
) -> String {
    let record = &config.record;
    if !repo.uses_default_index() {
        // `git commit -a` / `git commit <paths>`: git staged into a temporary index,
        // so what the user stages now is not in this commit.
        return format!(
            "run `{update}` and include {record} in this commit (`git commit -a`, or add it to the paths you commit); or `git add {lockfile} && nix-hooks pre-commit --fix`, then commit again"
        );
    }
    let worktree = repo
        .workdir()
        .and_then(|w| std::fs::read(w.join(lockfile)).ok());
    if worktree.as_deref() != Some(staged) {
        // update-yarn-hash and update-pnpm-hash read the working tree, which is not
        // what is being committed.
        return format!(
            "run `nix-hooks pre-commit --fix` (it hashes the staged {lockfile}, which differs from your working-tree copy)"
        );
    }
    format!("run `{update}`, then `git add {record}` (or run `nix-hooks pre-commit --fix`)")
}

fn check_in_place(
    repo: &StagedRepo,
    config: &HooksConfig,
    config_path: &str,
    changes: &[StagedChange],
    recompute: &Recompute<'_>,
    report: &mut Report,
) -> Result<(), CheckError> {
    if config.checks.stale_hash == Level::Off {
        return Ok(());
    }
    for entry in &config.in_place {
        let staged = |p: &str| changes.iter().any(|c| c.path == p);
        if !staged(&entry.lockfile) && !staged(&entry.nix_file) {
            continue;
        }
        let bad_at = |at: Option<(usize, usize)>, problem: String| CheckError::InPlace {
            config: config_path.to_owned(),
            lockfile: entry.lockfile.clone(),
            nix_file: entry.nix_file.clone(),
            at,
            problem,
        };
        let bad = |problem: String| bad_at(None, problem);
        let lock = repo.staged(&entry.lockfile)?.ok_or_else(|| {
            bad(format!(
                "cannot be checked: {} is not staged or tracked",
                entry.lockfile
            ))
        })?;
        let recorded = in_place_hash(repo, entry).map_err(|(at, problem)| bad_at(at, problem))?;
        report.lockfiles_checked += 1;
        match recompute(&entry.lockfile, &lock) {
            Ok(actual) if actual == recorded => {}
            Ok(actual) => report.push(
                config.checks.stale_hash,
                FindingKind::StaleInPlace {
                    lockfile: entry.lockfile.clone(),
                    nix_file: entry.nix_file.clone(),
                },
                format!(
                    "{}: fetchYarnDeps hash {} is stale for the staged {} (it is {})\n  fix: put `hash = \"{}\";` in {}, then `git add {}`",
                    entry.nix_file,
                    recorded.to_sri(),
                    entry.lockfile,
                    actual.to_sri(),
                    actual.to_sri(),
                    entry.nix_file,
                    entry.nix_file
                ),
            ),
            Err(why) if why.bad_input => {
                return Err(CheckError::BadLockfile {
                    lockfile: entry.lockfile.clone(),
                    message: why.message,
                })
            }
            Err(why) => report.push(
                config.checks.stale_hash,
                FindingKind::Unverifiable {
                    lockfile: entry.lockfile.clone(),
                },
                format!(
                    "cannot verify the fetchYarnDeps hash in {} for {}: {why}\n  fix: fill the tarball cache with network access (`update-yarn-hash --print --lockfile {}`), or skip once with NIX_HOOKS_SKIP=1",
                    entry.nix_file, entry.lockfile, entry.lockfile
                ),
            ),
        }
    }
    Ok(())
}

/// The `fetchYarnDeps` hash in an in-place entry's staged `.nix` file, or the problem
/// and, when it has one, its place (line, column) in that file.
fn in_place_hash(
    repo: &StagedRepo,
    entry: &InPlace,
) -> Result<Sha256Hash, (Option<(usize, usize)>, String)> {
    let nowhere = |problem: String| (None, problem);
    let bytes = repo
        .staged(&entry.nix_file)
        .map_err(|e| nowhere(e.to_string()))?
        .ok_or_else(|| nowhere("is not staged or tracked".to_owned()))?;
    let text = String::from_utf8(bytes).map_err(|_| nowhere("is not UTF-8".to_owned()))?;
    let call = fetcher_call::find(&text).map_err(|e| {
        use fetcher_call::CallError::{ChangesInstall, NotLiteral, Syntax};
        let text = e.to_string();
        match e {
            // Their text starts with its own `line N:C: `: the place goes in front instead.
            Syntax { line, col, .. }
            | NotLiteral { line, col, .. }
            | ChangesInstall { line, col, .. } => (
                Some((line, col)),
                text.split_once(": ")
                    .map_or(text.clone(), |(_, r)| r.to_owned()),
            ),
            _ => nowhere(text),
        }
    })?;
    let literal = call.value_text.trim_matches('"');
    literal.parse().map_err(|_| {
        (
            Some((call.line, call.col)),
            format!(
                "`{} = {};` is not a sha256 hash; fill it in with `update-yarn-hash --nix-file {}`",
                call.attr, call.value_text, entry.nix_file
            ),
        )
    })
}

fn check_nix_file(
    repo: &StagedRepo,
    config: &HooksConfig,
    path: &str,
    report: &mut Report,
) -> Result<(), CheckError> {
    if config.checks.nix_syntax == Level::Off {
        return Ok(());
    }
    let Some(bytes) = repo.staged(path)? else {
        return Ok(());
    };
    report.nix_files_checked += 1;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        report.push(
            config.checks.nix_syntax,
            FindingKind::NixSyntax,
            format!("{path}: not UTF-8, so not Nix"),
        );
        return Ok(());
    };
    // The first error is the real one; the parser's later ones mostly echo it.
    if let Some(e) = nix_syntax::check(text).first() {
        report.push(
            config.checks.nix_syntax,
            FindingKind::NixSyntax,
            format!("{path}:{}:{}: syntax error: {}", e.line, e.col, e.message),
        );
    }
    Ok(())
}

fn check_flake_lock(
    repo: &StagedRepo,
    config: &HooksConfig,
    path: &str,
    report: &mut Report,
) -> Result<(), CheckError> {
    if let Some(bytes) = repo.staged(path)? {
        if let Err(e) = flake_lock::validate(&bytes, path) {
            report.push(
                config.checks.flake_lock,
                FindingKind::FlakeLock,
                e.to_string(),
            );
        }
    }
    Ok(())
}

fn check_flake_inputs(
    repo: &StagedRepo,
    config: &HooksConfig,
    path: &str,
    changes: &[StagedChange],
    report: &mut Report,
) -> Result<(), CheckError> {
    let lock = sibling(path, "flake.lock");
    if config.checks.flake_inputs == Level::Off || changes.iter().any(|c| c.path == lock) {
        return Ok(());
    }
    let inputs = |bytes: Option<Vec<u8>>| {
        bytes.and_then(|b| {
            String::from_utf8(b)
                .ok()
                .and_then(|t| nix_syntax::flake_inputs(&t))
        })
    };
    let head = repo.at_head(path)?;
    let is_new = head.is_none();
    let before = inputs(head);
    let after = inputs(repo.staged(path)?);
    let changed = match (&before, &after) {
        (Some(b), Some(a)) => a != b,
        // A new flake with inputs needs a lock too.
        (None, Some(a)) => !a.is_empty() && is_new,
        _ => false,
    };
    if changed {
        report.push(
            config.checks.flake_inputs,
            FindingKind::FlakeInputs,
            format!("{path}: inputs changed but {lock} is not staged\n  fix: run `nix flake lock`, then `git add {lock}`"),
        );
    }
    Ok(())
}

fn check_package_json(
    repo: &StagedRepo,
    config: &HooksConfig,
    path: &str,
    changes: &[StagedChange],
    report: &mut Report,
) -> Result<(), CheckError> {
    if config.checks.package_json == Level::Off {
        return Ok(());
    }
    let Some(lockfile) = governing_lockfile(repo, path) else {
        return Ok(());
    };
    if changes.iter().any(|c| c.path == lockfile) {
        return Ok(());
    }
    let fields = |bytes: Option<Vec<u8>>| bytes.map(|b| package_json::dependency_fields(&b).ok());
    if fields(repo.at_head(path)?) == fields(repo.staged(path)?) {
        return Ok(());
    }
    report.push(
        config.checks.package_json,
        FindingKind::PackageJson,
        format!(
            "{path}: dependencies changed but {lockfile} is not staged (forgot `yarn install`?)\n  fix: run `yarn install`, then `git add {lockfile}`"
        ),
    );
    Ok(())
}

/// The tracked yarn.lock nearest above `package_json`: the workspace root's.
fn governing_lockfile(repo: &StagedRepo, package_json: &str) -> Option<String> {
    let mut dir = parent(package_json);
    loop {
        let candidate = join(dir, "yarn.lock");
        // Built from index paths, so always a valid one.
        if repo.is_tracked(&candidate).unwrap_or(false) {
            return Some(candidate);
        }
        if dir.is_empty() {
            return None;
        }
        dir = parent(dir);
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

fn sibling(path: &str, name: &str) -> String {
    join(parent(path), name)
}

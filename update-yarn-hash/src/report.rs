//! What a run tells the user: one line per lockfile, a diff of what changed, warnings;
//! or, with `--json`, one JSON document on stdout.

use common::yarn::offline_cache::Note;
use common::yarn::prefetch::Prefetched;
use serde::Serialize;
use similar::TextDiff;

use crate::lockfiles::Context;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The recorded hash was written or changed.
    Updated,
    /// Recomputed; the record already had it.
    Unchanged,
    /// `--check`: the record matches the lockfile.
    Fresh,
    /// `--check`: the record does not match.
    Stale,
    /// `--check --full`: the lockfile is as recorded, but the recorded hash is not the
    /// one it gives. Stale to scripts; told apart for people.
    #[serde(rename = "stale")]
    WrongHash,
    /// `--check`: the record has no entry for this lockfile.
    Missing,
    /// `--print` / `--materialize`: computed, nothing recorded.
    Computed,
}

#[derive(Debug, Serialize)]
pub struct LockfileReport {
    pub lockfile: String,
    pub status: Status,
    /// The fetchYarnDeps hash, when computed or recorded.
    pub hash: Option<String>,
    pub lock_sha256: String,
    /// Files in the output besides yarn.lock, when computed.
    pub files: Option<usize>,
    pub downloaded_files: usize,
    pub downloaded_bytes: u64,
    pub git_cloned: usize,
    /// The hash was remembered from an earlier run over the same inputs.
    pub from_memo: bool,
}

impl LockfileReport {
    pub fn new(key: &str, status: Status, lock_sha256: String) -> Self {
        Self {
            lockfile: key.to_owned(),
            status,
            hash: None,
            lock_sha256,
            files: None,
            downloaded_files: 0,
            downloaded_bytes: 0,
            git_cloned: 0,
            from_memo: false,
        }
    }

    pub fn computed(mut self, p: &Prefetched) -> Self {
        self.hash = Some(p.hash.to_sri());
        self.files = Some(p.files);
        self.downloaded_files = p.downloaded.files;
        self.downloaded_bytes = p.downloaded.bytes;
        self.git_cloned = p.git_cloned;
        self.from_memo = p.from_memo;
        self
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// The file the hashes live in (record or .nix file), relative to the repo root.
    pub target: String,
    pub written: bool,
    pub lockfiles: Vec<LockfileReport>,
}

pub fn emit(ctx: &Context, report: &Report) {
    if ctx.cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("reports serialise")
        );
        return;
    }
    for l in &report.lockfiles {
        let stale = matches!(
            l.status,
            Status::Stale | Status::WrongHash | Status::Missing
        );
        if ctx.cli.quiet && !stale {
            continue;
        }
        println!("{}", human_line(l, &report.target));
    }
}

fn human_line(l: &LockfileReport, target: &str) -> String {
    let mut fetched = Vec::new();
    if l.downloaded_files > 0 {
        fetched.push(format!(
            "downloaded {} tarball(s), {}",
            l.downloaded_files,
            human_bytes(l.downloaded_bytes)
        ));
    }
    if l.git_cloned > 0 {
        fetched.push(format!("cloned {} git repo(s)", l.git_cloned));
    }
    if l.from_memo {
        fetched.push("hash remembered from an earlier run".to_owned());
    }
    let fetched = if fetched.is_empty() {
        String::new()
    } else {
        format!(" ({})", fetched.join("; "))
    };
    let hash = l.hash.as_deref().unwrap_or("");
    match l.status {
        Status::Updated => format!("{}: {hash} written to {target}{fetched}", l.lockfile),
        Status::Unchanged => format!("{}: {hash} (unchanged){fetched}", l.lockfile),
        Status::Fresh => format!("{}: up to date", l.lockfile),
        Status::Computed => format!("{}: {hash}{fetched}", l.lockfile),
        Status::Stale => format!(
            "{}: stale: the lockfile changed since its hash was recorded in {target}; run `update-yarn-hash`",
            l.lockfile
        ),
        Status::WrongHash => format!(
            "{}: stale: the lockfile is as recorded in {target}, but the recorded hash is not the one it gives ({hash}); run `update-yarn-hash`",
            l.lockfile
        ),
        Status::Missing => format!(
            "{}: not recorded in {target}; run `update-yarn-hash --lockfile {}`",
            l.lockfile, l.lockfile
        ),
    }
}

fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// Warnings about entries upstream skips or cannot verify, on stderr.
pub fn notes(ctx: &Context, lockfile: &str, notes: &[Note]) {
    if ctx.cli.quiet {
        return;
    }
    for note in notes {
        let text = match note {
            Note::LocalPath { .. } => continue,
            Note::FileUrl { key, line } => {
                format!("{lockfile}:{line}: {key}: file: URL skipped, as fetchYarnDeps skips it")
            }
            Note::Unverified { key, line } => format!(
                "{lockfile}:{line}: {key}: no integrity and no #sha1 in the URL; downloaded unverified, as fetchYarnDeps does"
            ),
            Note::IgnoredFrom { line } => format!(
                "{lockfile}:{line}: yarn's parser stops at this indented line, so it and everything after it is ignored (by fetchYarnDeps too); re-run `yarn install` to rewrite the lockfile"
            ),
            Note::MergeConflict { line } => format!(
                "{lockfile}:{line}: merge-conflict markers; hashed as fetchYarnDeps hashes it (both sides merged, the later winning, and the file copied as it is), but yarn itself would rewrite it: resolve the conflict (re-run `yarn install`) and commit the result"
            ),
            Note::NotUtf8 { line } => format!(
                "{lockfile}:{line}: not UTF-8; hashed as fetchYarnDeps hashes it (each invalid byte sequence read, and copied into the output, as U+FFFD), but the file is damaged: re-run `yarn install` to rewrite it"
            ),
        };
        eprintln!("warning: {}", common::redact::text(&text));
    }
}

/// A unified diff of a file we are about to change, on stderr.
pub fn diff(ctx: &Context, path: &str, old: &str, new: &str) {
    if ctx.cli.quiet || ctx.cli.json {
        return;
    }
    let diff = TextDiff::from_lines(old, new);
    eprint!(
        "{}",
        diff.unified_diff()
            .context_radius(1)
            .header(&format!("a/{path}"), &format!("b/{path}"))
    );
}

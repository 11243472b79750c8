//! What a run tells the user: one line per lockfile, a diff of what changed; or, with
//! `--json`, one JSON document on stdout.

use common::record::hash_record::Fetcher;
use serde::Serialize;
use similar::TextDiff;

use crate::context::Context;
use crate::ecosystem::{Computed, Ecosystem};

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

impl Status {
    /// Whether `--check` fails on it.
    pub fn is_stale(self) -> bool {
        matches!(self, Status::Stale | Status::WrongHash | Status::Missing)
    }
}

#[derive(Debug, Serialize)]
pub struct LockfileReport {
    pub lockfile: String,
    pub status: Status,
    /// The hash, when computed or recorded.
    pub hash: Option<String>,
    pub lock_sha256: String,
    /// pnpm: the target (fetcherVersion, pnpm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetcher_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pnpm: Option<String>,
    /// Yarn: files in the output besides yarn.lock, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// pnpm: packages in the store, when computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<usize>,
    pub downloaded_files: usize,
    pub downloaded_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_cloned: Option<usize>,
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
            fetcher_version: None,
            pnpm: None,
            files: None,
            packages: None,
            downloaded_files: 0,
            downloaded_bytes: 0,
            git_cloned: None,
            from_memo: false,
        }
    }

    /// The target the entry names (nothing for Yarn entries).
    pub fn target(mut self, fetcher: &Fetcher) -> Self {
        if let Fetcher::FetchPnpmDeps {
            fetcher_version,
            pnpm,
        } = fetcher
        {
            self.fetcher_version = Some(*fetcher_version);
            self.pnpm = Some(pnpm.clone());
        }
        self
    }

    pub fn computed(self, c: &Computed) -> Self {
        let mut r = self.target(&c.fetcher);
        r.hash = Some(c.hash.to_sri());
        r.files = c.files;
        r.packages = c.packages;
        r.downloaded_files = c.downloaded.files;
        r.downloaded_bytes = c.downloaded.bytes;
        r.git_cloned = c.git_cloned;
        r.from_memo = c.from_memo;
        r
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// The file the hashes live in (record or .nix file), relative to the repo root.
    pub target: String,
    pub written: bool,
    pub lockfiles: Vec<LockfileReport>,
}

pub fn emit<E: Ecosystem>(ctx: &Context<E>, report: &Report) {
    if ctx.fetch.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).expect("reports serialise")
        );
        return;
    }
    for l in &report.lockfiles {
        if ctx.fetch.quiet && !l.status.is_stale() {
            continue;
        }
        println!("{}", human_line(ctx.eco, l, &report.target));
    }
}

fn human_line<E: Ecosystem>(eco: &E, l: &LockfileReport, target: &str) -> String {
    let mut fetched = Vec::new();
    if l.downloaded_files > 0 {
        fetched.push(format!(
            "downloaded {} tarball(s), {}",
            l.downloaded_files,
            indicatif::HumanBytes(l.downloaded_bytes)
        ));
    }
    if let Some(n @ 1..) = l.git_cloned {
        fetched.push(format!("cloned {n} git repo(s)"));
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
    let key = &l.lockfile;
    match l.status {
        Status::Updated => format!("{key}: {hash} written to {target}{fetched}"),
        Status::Unchanged => format!("{key}: {hash} (unchanged){fetched}"),
        Status::Fresh => format!("{key}: up to date"),
        Status::Computed => format!("{key}: {hash}{fetched}"),
        Status::Stale => format!(
            "{key}: stale: {} changed since its hash was recorded in {target}; run `{}`",
            E::STALE_SUBJECT,
            eco.update_command(key)
        ),
        Status::WrongHash => format!(
            "{key}: stale: the lockfile is as recorded in {target}, but the recorded hash is not the one it gives ({hash}); run `{}`",
            eco.update_command(key)
        ),
        Status::Missing => format!(
            "{key}: not recorded in {target}; run `{}`",
            eco.record_command(key)
        ),
    }
}

/// A unified diff of a file we are about to change, on stderr.
pub fn diff<E>(ctx: &Context<E>, path: &str, old: &str, new: &str) {
    if ctx.fetch.quiet || ctx.fetch.json {
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

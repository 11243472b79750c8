//! What a run tells the user: one line per lockfile, a diff of what changed; or, with
//! `--json`, one JSON document on stdout.

use common::pnpm::prefetch::Prefetched;
use common::pnpm::profile::Profile;
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
    /// `--check`: the record has no entry for this lockfile.
    Missing,
    /// `--print` / `--materialize`: computed, nothing recorded.
    Computed,
}

#[derive(Debug, Serialize)]
pub struct LockfileReport {
    pub lockfile: String,
    pub status: Status,
    /// The fetchPnpmDeps hash, when computed or recorded.
    pub hash: Option<String>,
    pub lock_sha256: String,
    pub fetcher_version: Option<u32>,
    pub pnpm: Option<String>,
    /// Packages in the store, when computed.
    pub packages: Option<usize>,
    pub downloaded_files: usize,
    pub downloaded_bytes: u64,
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
            packages: None,
            downloaded_files: 0,
            downloaded_bytes: 0,
            from_memo: false,
        }
    }

    pub fn target(mut self, profile: &Profile) -> Self {
        self.fetcher_version = Some(profile.fetcher_version);
        self.pnpm = Some(profile.pnpm.clone());
        self
    }

    pub fn computed(mut self, p: &Prefetched) -> Self {
        self.hash = Some(p.hash.to_sri());
        self.packages = Some(p.packages);
        self.downloaded_files = p.downloaded.files;
        self.downloaded_bytes = p.downloaded.bytes;
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
        let stale = matches!(l.status, Status::Stale | Status::Missing);
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
            indicatif::HumanBytes(l.downloaded_bytes)
        ));
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
            "{}: stale: the lockfile or its target changed since its hash was recorded in {target}; run `update-pnpm-hash --lockfile {}`",
            l.lockfile, l.lockfile
        ),
        Status::Missing => format!(
            "{}: not recorded in {target}; run `update-pnpm-hash --lockfile {} --fetcher-version 3 --pnpm 10` (the fetcherVersion and pnpm of its fetchPnpmDeps call)",
            l.lockfile, l.lockfile
        ),
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

//! What a run tells the user: one line per lockfile, a diff of what changed; or, with
//! `--json`, one JSON document on stdout.

use common::record::hash_record::{Fetcher, RecordEntry};
use serde::Serialize;
use similar::TextDiff;

use crate::context::Context;
use crate::ecosystem::{Computed, Ecosystem};
use crate::failure::STALE;

/// The JSON schema convention's version (docs/json.md); bumped on an incompatible change.
pub const JSON_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The recorded hash was written or changed.
    Updated,
    /// Recomputed; the record already had it.
    Unchanged,
    /// `--check`: the record matches the lockfile.
    Fresh,
    /// `--check`: the record does not match; [`Reason`] says how.
    Stale,
    /// `--check`: the record has no entry for this lockfile.
    Missing,
    /// `--print` / `--materialize`: computed, nothing recorded.
    Computed,
    /// `--prune`: the entry was dropped, its lockfile being gone.
    Removed,
}

impl Status {
    /// Whether `--check` fails on it.
    pub fn is_stale(self) -> bool {
        matches!(self, Status::Stale | Status::Missing)
    }
}

/// What differs, when stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The lockfile's digest is not the recorded one.
    LockfileChanged,
    /// The lockfile is as recorded, but the command line names another target.
    TargetChanged,
    /// The lockfile (and target) are as recorded, but the recorded hash is not the one
    /// they give (`--check --full`, `--nix-file --check`).
    HashDiffers,
}

/// One side of a comparison: what the record (or `.nix` file) holds, or what this run
/// read and computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Side {
    /// SHA-256 of the lockfile bytes (a `.nix` file records none).
    pub lock_sha256: Option<String>,
    /// The SRI hash, when known (recorded, or computed by this run).
    pub hash: Option<String>,
    /// pnpm: the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetcher_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pnpm: Option<String>,
    /// pnpm: the target's Node major, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    /// pnpm: the target's pnpmWorkspaces selectors, when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspaces: Option<Vec<String>>,
}

impl Side {
    pub fn entry(e: &RecordEntry) -> Self {
        Self {
            lock_sha256: Some(e.lock_sha256.clone()),
            hash: Some(e.hash.to_sri()),
            ..Self::default()
        }
        .target(&e.fetcher)
    }

    fn target(mut self, fetcher: &Fetcher) -> Self {
        if let Fetcher::FetchPnpmDeps {
            fetcher_version,
            pnpm,
            node,
            workspaces,
        } = fetcher
        {
            self.fetcher_version = Some(*fetcher_version);
            self.pnpm = Some(pnpm.clone());
            self.node = *node;
            self.workspaces = (!workspaces.is_empty()).then(|| workspaces.clone());
        }
        self
    }
}

#[derive(Debug, Serialize)]
pub struct LockfileReport {
    pub lockfile: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// What the record or `.nix` file holds; `null` when it holds nothing for it.
    pub recorded: Option<Side>,
    /// What this run read, and computed when it did.
    pub current: Side,
    /// The command that brings it up to date, when stale or missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
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
            reason: None,
            recorded: None,
            current: Side {
                lock_sha256: Some(lock_sha256),
                ..Side::default()
            },
            fix: None,
            files: None,
            packages: None,
            downloaded_files: 0,
            downloaded_bytes: 0,
            git_cloned: None,
            from_memo: false,
        }
    }

    /// An entry `--prune` dropped: only the recorded side is known.
    pub fn removed(key: &str, entry: &RecordEntry) -> Self {
        let mut r =
            Self::new(key, Status::Removed, String::new()).recorded(Some(Side::entry(entry)));
        r.current.lock_sha256 = None;
        r
    }

    pub fn recorded(mut self, side: Option<Side>) -> Self {
        self.recorded = side;
        self
    }

    pub fn stale(mut self, reason: Reason, fix: String) -> Self {
        self.reason = Some(reason);
        self.fix = Some(fix);
        self
    }

    pub fn fix(mut self, fix: String) -> Self {
        self.fix = Some(fix);
        self
    }

    pub fn computed(mut self, c: &Computed) -> Self {
        self.current = std::mem::take(&mut self.current).target(&c.fetcher);
        self.current.hash = Some(c.hash.to_sri());
        self.files = c.files;
        self.packages = c.packages;
        self.downloaded_files = c.downloaded.files;
        self.downloaded_bytes = c.downloaded.bytes;
        self.git_cloned = c.git_cloned;
        self.from_memo = c.from_memo;
        self
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub tool: &'static str,
    pub exit_code: u8,
    /// The file the hashes live in (record or .nix file), relative to the repo root.
    pub target: String,
    pub written: bool,
    pub lockfiles: Vec<LockfileReport>,
}

impl Report {
    pub fn new<E: Ecosystem>(
        target: String,
        written: bool,
        lockfiles: Vec<LockfileReport>,
    ) -> Self {
        let stale = lockfiles.iter().any(|l| l.status.is_stale());
        Self {
            version: JSON_VERSION,
            tool: E::TOOL,
            exit_code: if stale { STALE } else { 0 },
            target,
            written,
            lockfiles,
        }
    }
}

/// `--json` on failure: the error and the exit code, nothing else.
pub fn error_json<E: Ecosystem>(message: &str, exit_code: u8) -> String {
    serde_json::json!({
        "version": JSON_VERSION,
        "tool": E::TOOL,
        "exit_code": exit_code,
        "error": { "message": message, "exit_code": exit_code },
    })
    .to_string()
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
        println!("{}", human_line::<E>(l, &report.target));
    }
}

fn human_line<E: Ecosystem>(l: &LockfileReport, target: &str) -> String {
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
    let hash = l.current.hash.as_deref().unwrap_or("");
    let recorded = l
        .recorded
        .as_ref()
        .and_then(|r| r.hash.as_deref())
        .unwrap_or("");
    let has_digest = l.recorded.as_ref().is_some_and(|r| r.lock_sha256.is_some());
    let key = &l.lockfile;
    let fix = l.fix.as_deref().unwrap_or(E::TOOL);
    match (l.status, l.reason) {
        (Status::Updated, _) => format!("{key}: {hash} written to {target}{fetched}"),
        (Status::Unchanged, _) => format!("{key}: {hash} (unchanged){fetched}"),
        (Status::Fresh, _) => format!("{key}: up to date"),
        (Status::Computed, _) => format!("{key}: {hash}{fetched}"),
        (Status::Removed, _) => {
            format!("{key}: removed from {target} (the lockfile is gone)")
        }
        (Status::Stale, Some(Reason::TargetChanged)) => format!(
            "{key}: stale: its target changed since its hash was recorded in {target}; run `{fix}`"
        ),
        // A record also holds the lockfile's digest; a .nix file only the hash.
        (Status::Stale, Some(Reason::HashDiffers)) if has_digest => format!(
            "{key}: stale: the lockfile is as recorded in {target}, but the recorded hash {recorded} is not the one it gives ({hash}); run `{fix}`"
        ),
        (Status::Stale, Some(Reason::HashDiffers)) => format!(
            "{key}: stale: {target} holds {recorded}, but the lockfile gives {hash}; run `{fix}`"
        ),
        (Status::Stale, _) => format!(
            "{key}: stale: the lockfile changed since its hash was recorded in {target}; run `{fix}`"
        ),
        (Status::Missing, _) => format!("{key}: not recorded in {target}; run `{fix}`"),
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

//! The record modes: update the record, check it, and the one-lockfile modes that only
//! compute (`--print`, `--materialize`).

use std::path::Path;

use anyhow::Context as _;
use common::atomic_write::write_atomic;
use common::pnpm::prefetch::Prefetched;
use common::pnpm::profile::Profile;
use common::record::hash_record::{lock_sha256, Fetcher, HashRecord, RecordEntry};

use crate::failure::{Failure, Outcome};
use crate::lockfiles::{self, Context, Lockfile};
use crate::report::{self, LockfileReport, Report, Status};

fn compute(
    ctx: &Context,
    lockfile: &Lockfile,
    bytes: &[u8],
    profile: &Profile,
) -> Result<Prefetched, Failure> {
    Ok(ctx
        .prefetcher()?
        .hash(&lockfile.path, bytes, profile, ctx.progress())?)
}

fn entry(bytes: &[u8], profile: &Profile, prefetched: &Prefetched) -> RecordEntry {
    RecordEntry {
        lock_sha256: lock_sha256(bytes),
        hash: prefetched.hash,
        fetcher: Fetcher::FetchPnpmDeps {
            fetcher_version: profile.fetcher_version,
            pnpm: profile.pnpm.clone(),
        },
    }
}

pub fn update(ctx: &Context) -> Result<Outcome, Failure> {
    let old = ctx.record.clone().unwrap_or_default();
    let mut updates = Vec::new();
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = lockfiles::read(lockfile)?;
        let profile = ctx.profile(lockfile)?;
        let prefetched = compute(ctx, lockfile, &bytes, &profile)?;
        let entry = entry(&bytes, &profile, &prefetched);
        let status = if old.entries.get(&lockfile.key) == Some(&entry) {
            Status::Unchanged
        } else {
            Status::Updated
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, entry.lock_sha256.clone())
                .target(&profile)
                .computed(&prefetched),
        );
        updates.push((lockfile.key.clone(), entry));
    }
    let written = write_record(ctx, updates)?;
    report::emit(
        ctx,
        &Report {
            target: ctx.record_display(),
            written,
            lockfiles: reports,
        },
    );
    Ok(Outcome::Ok)
}

/// Applies `updates` to the record as it is now (re-read: downloads can take minutes,
/// and another run may have recorded another lockfile meanwhile), and writes it
/// atomically when its text changes.
fn write_record(ctx: &Context, updates: Vec<(String, RecordEntry)>) -> Result<bool, Failure> {
    let old_text = match std::fs::read(&ctx.record_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(Failure::bad_input(
                anyhow::Error::new(e).context(format!("cannot read {}", ctx.record_path.display())),
            ))
        }
    };
    let mut record = if old_text.is_empty() {
        HashRecord::default()
    } else {
        HashRecord::parse(&old_text, &ctx.record_path).map_err(Failure::bad_input)?
    };
    record.entries.extend(updates);
    let new_text = record.render();
    let old_text = String::from_utf8_lossy(&old_text);
    if new_text == old_text {
        return Ok(false);
    }
    report::diff(ctx, &ctx.record_display(), &old_text, &new_text);
    write_atomic(&ctx.record_path, new_text.as_bytes())
        .with_context(|| format!("cannot write {}", ctx.record_path.display()))
        .map_err(Failure::bad_input)?;
    Ok(true)
}

/// The recorded pnpm entry of `lockfile`, if any.
fn recorded<'r>(record: &'r HashRecord, lockfile: &Lockfile) -> Option<&'r RecordEntry> {
    record
        .entries
        .get(&lockfile.key)
        .filter(|e| matches!(e.fetcher, Fetcher::FetchPnpmDeps { .. }))
}

/// Whether the command line names another target than the entry holds.
fn target_differs(ctx: &Context, entry: &RecordEntry) -> bool {
    let Fetcher::FetchPnpmDeps {
        fetcher_version,
        pnpm,
    } = &entry.fetcher
    else {
        return true;
    };
    ctx.cli
        .fetcher_version
        .is_some_and(|v| v != *fetcher_version)
        || ctx.cli.pnpm.as_ref().is_some_and(|p| p != pnpm)
}

/// `--check`: lockfile digests (and targets) against the record. No network, no hashing
/// of tarballs.
pub fn check(ctx: &Context) -> Result<Outcome, Failure> {
    let Some(record) = &ctx.record else {
        return no_record(ctx);
    };
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = lockfiles::read(lockfile)?;
        let digest = lock_sha256(&bytes);
        let entry = recorded(record, lockfile);
        let status = match entry {
            None => Status::Missing,
            Some(e) if e.lock_sha256 == digest && !target_differs(ctx, e) => Status::Fresh,
            Some(_) => Status::Stale,
        };
        let mut r = LockfileReport::new(&lockfile.key, status, digest);
        r.hash = entry.map(|e| e.hash.to_sri());
        if let Some(Fetcher::FetchPnpmDeps {
            fetcher_version,
            pnpm,
        }) = entry.map(|e| &e.fetcher)
        {
            r.fetcher_version = Some(*fetcher_version);
            r.pnpm = Some(pnpm.clone());
        }
        reports.push(r);
    }
    finish_check(ctx, reports)
}

/// `--check --full`: recompute and compare both the digest and the hash.
pub fn check_full(ctx: &Context) -> Result<Outcome, Failure> {
    let Some(record) = &ctx.record else {
        return no_record(ctx);
    };
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = lockfiles::read(lockfile)?;
        let profile = ctx.profile(lockfile)?;
        let prefetched = compute(ctx, lockfile, &bytes, &profile)?;
        let expected = entry(&bytes, &profile, &prefetched);
        let status = match recorded(record, lockfile) {
            None => Status::Missing,
            Some(e) if *e == expected => Status::Fresh,
            Some(_) => Status::Stale,
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, expected.lock_sha256.clone())
                .target(&profile)
                .computed(&prefetched),
        );
    }
    finish_check(ctx, reports)
}

fn finish_check(ctx: &Context, reports: Vec<LockfileReport>) -> Result<Outcome, Failure> {
    let stale = reports
        .iter()
        .any(|r| matches!(r.status, Status::Stale | Status::Missing));
    report::emit(
        ctx,
        &Report {
            target: ctx.record_display(),
            written: false,
            lockfiles: reports,
        },
    );
    Ok(if stale { Outcome::Stale } else { Outcome::Ok })
}

fn no_record(ctx: &Context) -> Result<Outcome, Failure> {
    let reports = ctx
        .lockfiles
        .iter()
        .map(|l| {
            lockfiles::read(l)
                .map(|b| LockfileReport::new(&l.key, Status::Missing, lock_sha256(&b)))
        })
        .collect::<Result<_, _>>()?;
    finish_check(ctx, reports)
}

/// `--print`: the SRI hash alone on stdout.
pub fn print(ctx: &Context) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--print")?;
    let bytes = lockfiles::read(lockfile)?;
    let profile = ctx.profile(lockfile)?;
    let prefetched = compute(ctx, lockfile, &bytes, &profile)?;
    println!("{}", prefetched.hash.to_sri());
    Ok(Outcome::Ok)
}

/// `--materialize DIR`: the fetchPnpmDeps output directory itself.
pub fn materialize(ctx: &Context, dir: &Path) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--materialize")?;
    let bytes = lockfiles::read(lockfile)?;
    let profile = ctx.profile(lockfile)?;
    let prefetched =
        ctx.prefetcher()?
            .materialize(&lockfile.path, &bytes, &profile, dir, ctx.progress())?;
    let report = LockfileReport::new(&lockfile.key, Status::Computed, lock_sha256(&bytes))
        .target(&profile)
        .computed(&prefetched);
    report::emit(
        ctx,
        &Report {
            target: dir.display().to_string(),
            written: true,
            lockfiles: vec![report],
        },
    );
    if !ctx.cli.quiet && !ctx.cli.json {
        eprintln!(
            "wrote .fetcher-version and pnpm-store.tar.zst ({} packages) to {}",
            prefetched.packages,
            dir.display()
        );
    }
    Ok(Outcome::Ok)
}

//! The record modes: update the record, check it, and the one-lockfile modes that only
//! compute (`--print`, `--materialize`).

use std::path::Path;

use anyhow::Context as _;
use common::atomic_write::write_atomic;
use common::file_lock::UpdateLock;
use common::record::hash_record::{lock_sha256, HashRecord, RecordEntry};

use crate::context::{self, Context};
use crate::ecosystem::{Computed, Ecosystem};
use crate::failure::{Failure, Outcome};
use crate::report::{self, LockfileReport, Report, Status};

fn entry(bytes: &[u8], computed: &Computed) -> RecordEntry {
    RecordEntry {
        lock_sha256: lock_sha256(bytes),
        hash: computed.hash,
        fetcher: computed.fetcher.clone(),
    }
}

pub fn update<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    let mut updates = Vec::new();
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = context::read(lockfile)?;
        let computed = ctx.compute(lockfile, &bytes)?;
        let entry = entry(&bytes, &computed);
        let status = if ctx.recorded(lockfile) == Some(&entry) {
            Status::Unchanged
        } else {
            Status::Updated
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, entry.lock_sha256.clone())
                .computed(&computed),
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
/// atomically when its text changes; leaves it untouched otherwise. The lock makes the
/// read-merge-write one step for concurrent runs, so none loses another's entry.
fn write_record<E: Ecosystem>(
    ctx: &Context<E>,
    updates: Vec<(String, RecordEntry)>,
) -> Result<bool, Failure> {
    let _lock = UpdateLock::acquire(&ctx.record_path)
        .with_context(|| format!("cannot lock {}", ctx.record_path.display()))
        .map_err(Failure::bad_input)?;
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

/// `--check`: lockfile digests (and targets) against the record. No network, no
/// hashing of tarballs.
pub fn check<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    if ctx.record.is_none() {
        return no_record(ctx);
    }
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = context::read(lockfile)?;
        let digest = lock_sha256(&bytes);
        let entry = ctx.recorded(lockfile);
        let status = match entry {
            None => Status::Missing,
            Some(e) if e.lock_sha256 == digest && !ctx.eco.target_differs(&e.fetcher) => {
                Status::Fresh
            }
            Some(_) => Status::Stale,
        };
        let mut r = LockfileReport::new(&lockfile.key, status, digest);
        if let Some(e) = entry {
            r = r.target(&e.fetcher);
            r.hash = Some(e.hash.to_sri());
        }
        reports.push(r);
    }
    finish_check(ctx, reports)
}

/// `--check --full`: recompute and compare both the digest and the hash.
pub fn check_full<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    if ctx.record.is_none() {
        return no_record(ctx);
    }
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = context::read(lockfile)?;
        let computed = ctx.compute(lockfile, &bytes)?;
        let expected = entry(&bytes, &computed);
        let status = match ctx.recorded(lockfile) {
            None => Status::Missing,
            Some(e) if *e == expected => Status::Fresh,
            Some(e) if e.lock_sha256 == expected.lock_sha256 && e.fetcher == expected.fetcher => {
                Status::WrongHash
            }
            Some(_) => Status::Stale,
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, expected.lock_sha256.clone())
                .computed(&computed),
        );
    }
    finish_check(ctx, reports)
}

fn finish_check<E: Ecosystem>(
    ctx: &Context<E>,
    reports: Vec<LockfileReport>,
) -> Result<Outcome, Failure> {
    let stale = reports.iter().any(|r| r.status.is_stale());
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

fn no_record<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    let reports = ctx
        .lockfiles
        .iter()
        .map(|l| {
            context::read(l).map(|b| LockfileReport::new(&l.key, Status::Missing, lock_sha256(&b)))
        })
        .collect::<Result<_, _>>()?;
    finish_check(ctx, reports)
}

/// `--print`: the SRI hash alone on stdout.
pub fn print<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--print")?;
    let bytes = context::read(lockfile)?;
    let computed = ctx.compute(lockfile, &bytes)?;
    println!("{}", computed.hash.to_sri());
    Ok(Outcome::Ok)
}

/// `--materialize DIR`: the fixed-output derivation's output directory itself.
pub fn materialize<E: Ecosystem>(ctx: &Context<E>, dir: &Path) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--materialize")?;
    let bytes = context::read(lockfile)?;
    let computed = ctx.materialize(lockfile, &bytes, dir)?;
    let report = LockfileReport::new(&lockfile.key, Status::Computed, lock_sha256(&bytes))
        .computed(&computed);
    report::emit(
        ctx,
        &Report {
            target: dir.display().to_string(),
            written: true,
            lockfiles: vec![report],
        },
    );
    if !ctx.fetch.quiet && !ctx.fetch.json {
        eprintln!("{}", ctx.eco.materialized(&computed, dir));
    }
    Ok(Outcome::Ok)
}

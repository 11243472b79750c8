//! The record modes: update the record, check it, and the one-lockfile modes that only
//! compute (`--print`, `--materialize`).

use std::path::Path;

use anyhow::Context as _;
use common::atomic_write::write_atomic;
use common::file_lock::UpdateLock;
use common::record::hash_record::{lock_sha256, HashRecord, RecordEntry};

use crate::context::{self, Context, Lockfile};
use crate::ecosystem::{Computed, Ecosystem};
use crate::failure::{Failure, Outcome};
use crate::report::{self, LockfileReport, Reason, Report, Side, Status};

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
        let bytes = context::read::<E>(lockfile)?;
        let computed = ctx.compute(lockfile, &bytes)?;
        let entry = entry(&bytes, &computed);
        let status = if ctx.recorded(lockfile) == Some(&entry) {
            Status::Unchanged
        } else {
            Status::Updated
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, entry.lock_sha256.clone())
                .recorded(ctx.recorded(lockfile).map(Side::entry))
                .computed(&computed),
        );
        updates.push((lockfile.key.clone(), entry));
    }
    let written = write_record(ctx, |record| record.entries.extend(updates))?;
    report::emit(
        ctx,
        &Report::new::<E>(ctx.record_display(), written, reports),
    );
    Ok(Outcome::Ok)
}

/// Applies `updates` to the record as it is now (re-read: downloads can take minutes,
/// and another run may have recorded another lockfile meanwhile), and writes it
/// atomically when its text changes; leaves it untouched otherwise. The lock makes the
/// read-merge-write one step for concurrent runs, so none loses another's entry.
fn write_record<E: Ecosystem>(
    ctx: &Context<E>,
    change: impl FnOnce(&mut HashRecord),
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
    let mut record = match HashRecord::parse(&old_text, &ctx.record_path) {
        _ if old_text.is_empty() => HashRecord::default(),
        Ok(record) => record,
        // --rewrite-record: the diff below shows every line this drops.
        Err(_) if ctx.modes.rewrite_record => HashRecord::default(),
        Err(e) => return Err(Failure::bad_input(e)),
    };
    change(&mut record);
    let new_text = record.render();
    let old_text = String::from_utf8_lossy(&old_text);
    if new_text == old_text {
        return Ok(false);
    }
    if old_text.is_empty() && ctx.modes.record.is_none() && !ctx.root.join(".git").exists() {
        ctx.note(&format!(
            "{} is not in a git repository, so the record is created here: {} (keys relative to this directory; pass --record PATH to put it elsewhere)",
            ctx.root.display(),
            ctx.record_path.display()
        ));
    }
    report::diff(ctx, &ctx.record_display(), &old_text, &new_text);
    write_atomic(&ctx.record_path, new_text.as_bytes())
        .with_context(|| format!("cannot write {}", ctx.record_path.display()))
        .map_err(Failure::bad_input)?;
    Ok(true)
}

/// `--prune`: drops this tool's entries whose lockfile is gone from the work tree.
pub fn prune<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    let mut gone = Vec::new();
    let written = write_record(ctx, |record| {
        record.entries.retain(|key, entry| {
            let keep = !E::owns(&entry.fetcher) || ctx.root.join(key).exists();
            if !keep {
                gone.push(LockfileReport::removed(key, entry));
            }
            keep
        })
    })?;
    report::emit(ctx, &Report::new::<E>(ctx.record_display(), written, gone));
    Ok(Outcome::Ok)
}

/// `--check`: lockfile digests (and targets) against the record. No network, no
/// hashing of tarballs.
pub fn check<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    if ctx.record.is_none() {
        return no_record(ctx);
    }
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = context::read::<E>(lockfile)?;
        let digest = lock_sha256(&bytes);
        let r = LockfileReport::new(&lockfile.key, Status::Fresh, digest.clone());
        let r = match ctx.recorded(lockfile) {
            None => missing(ctx, lockfile, r),
            Some(e) => {
                let r = r.recorded(Some(Side::entry(e)));
                if e.lock_sha256 != digest {
                    stale(ctx, lockfile, r, Reason::LockfileChanged)
                } else if ctx.eco.target_differs(&e.fetcher) {
                    stale(ctx, lockfile, r, Reason::TargetChanged)
                } else {
                    r
                }
            }
        };
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
        let bytes = context::read::<E>(lockfile)?;
        let computed = ctx.compute(lockfile, &bytes)?;
        let expected = entry(&bytes, &computed);
        let r = LockfileReport::new(&lockfile.key, Status::Fresh, expected.lock_sha256.clone())
            .computed(&computed);
        let r = match ctx.recorded(lockfile) {
            None => missing(ctx, lockfile, r),
            Some(e) => {
                let r = r.recorded(Some(Side::entry(e)));
                if e.lock_sha256 != expected.lock_sha256 {
                    stale(ctx, lockfile, r, Reason::LockfileChanged)
                } else if e.fetcher != expected.fetcher {
                    stale(ctx, lockfile, r, Reason::TargetChanged)
                } else if e.hash != expected.hash {
                    stale(ctx, lockfile, r, Reason::HashDiffers)
                } else {
                    r
                }
            }
        };
        reports.push(r);
    }
    finish_check(ctx, reports)
}

fn finish_check<E: Ecosystem>(
    ctx: &Context<E>,
    reports: Vec<LockfileReport>,
) -> Result<Outcome, Failure> {
    let stale = reports.iter().any(|r| r.status.is_stale());
    report::emit(ctx, &Report::new::<E>(ctx.record_display(), false, reports));
    Ok(if stale { Outcome::Stale } else { Outcome::Ok })
}

fn missing<E: Ecosystem>(
    ctx: &Context<E>,
    lockfile: &Lockfile,
    mut r: LockfileReport,
) -> LockfileReport {
    r.status = Status::Missing;
    r.fix(ctx.fix_command(lockfile, true))
}

fn stale<E: Ecosystem>(
    ctx: &Context<E>,
    lockfile: &Lockfile,
    mut r: LockfileReport,
    reason: Reason,
) -> LockfileReport {
    r.status = Status::Stale;
    r.stale(reason, ctx.fix_command(lockfile, false))
}

fn no_record<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    let reports = ctx
        .lockfiles
        .iter()
        .map(|l| {
            context::read::<E>(l).map(|b| {
                let r = LockfileReport::new(&l.key, Status::Missing, lock_sha256(&b));
                missing(ctx, l, r)
            })
        })
        .collect::<Result<_, _>>()?;
    finish_check(ctx, reports)
}

/// `--print`: the SRI hash alone on stdout.
pub fn print<E: Ecosystem>(ctx: &Context<E>) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--print")?;
    let bytes = context::read::<E>(lockfile)?;
    let computed = ctx.compute(lockfile, &bytes)?;
    println!("{}", computed.hash.to_sri());
    Ok(Outcome::Ok)
}

/// `--materialize DIR`: the fixed-output derivation's output directory itself.
pub fn materialize<E: Ecosystem>(ctx: &Context<E>, dir: &Path) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--materialize")?;
    let bytes = context::read::<E>(lockfile)?;
    let computed = ctx.materialize(lockfile, &bytes, dir)?;
    let report = LockfileReport::new(&lockfile.key, Status::Computed, lock_sha256(&bytes))
        .computed(&computed);
    report::emit(
        ctx,
        &Report::new::<E>(dir.display().to_string(), true, vec![report]),
    );
    if !ctx.fetch.quiet && !ctx.fetch.json {
        eprintln!("{}", ctx.eco.materialized(&computed, dir));
    }
    Ok(Outcome::Ok)
}

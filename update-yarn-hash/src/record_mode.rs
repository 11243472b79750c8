//! The record modes: update `.nix/yarn-deps.toml`, check it, and the one-lockfile
//! modes that only compute (`--print`, `--materialize`).

use std::path::Path;

use anyhow::Context as _;
use common::atomic_write::write_atomic;
use common::file_lock::UpdateLock;
use common::record::hash_record::{lock_sha256, Freshness, HashRecord, RecordEntry};
use common::yarn::prefetch::Prefetched;

use crate::failure::{Failure, Outcome};
use crate::lockfiles::{self, Context, Lockfile};
use crate::report::{self, LockfileReport, Report, Status};

fn compute(ctx: &Context, lockfile: &Lockfile, bytes: &[u8]) -> Result<Prefetched, Failure> {
    let prefetched = ctx
        .prefetcher()?
        .hash(&lockfile.path, bytes, ctx.progress())?;
    report::notes(ctx, &lockfile.key, &prefetched.notes);
    Ok(prefetched)
}

pub fn update(ctx: &Context) -> Result<Outcome, Failure> {
    let old = ctx.record.clone().unwrap_or_default();
    let mut updates = Vec::new();
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = lockfiles::read(lockfile)?;
        let prefetched = compute(ctx, lockfile, &bytes)?;
        let entry = RecordEntry {
            lock_sha256: lock_sha256(&bytes),
            hash: prefetched.hash,
            fetcher: Default::default(),
        };
        let status = if old.entries.get(&lockfile.key) == Some(&entry) {
            Status::Unchanged
        } else {
            Status::Updated
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, entry.lock_sha256.clone())
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
/// atomically when its text changes; leaves it untouched otherwise. The lock makes the
/// read-merge-write one step for concurrent runs, so none loses another's entry.
fn write_record(ctx: &Context, updates: Vec<(String, RecordEntry)>) -> Result<bool, Failure> {
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

/// `--check`: lockfile digests against the record. No network, no hashing of tarballs.
pub fn check(ctx: &Context) -> Result<Outcome, Failure> {
    let Some(record) = &ctx.record else {
        return no_record(ctx);
    };
    let mut reports = Vec::new();
    for lockfile in &ctx.lockfiles {
        let bytes = lockfiles::read(lockfile)?;
        let status = match record.freshness(&lockfile.key, &bytes) {
            Freshness::Fresh => Status::Fresh,
            Freshness::Stale { .. } => Status::Stale,
            Freshness::Missing => Status::Missing,
        };
        let mut r = LockfileReport::new(&lockfile.key, status, lock_sha256(&bytes));
        r.hash = record.entries.get(&lockfile.key).map(|e| e.hash.to_sri());
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
        let prefetched = compute(ctx, lockfile, &bytes)?;
        let expected = RecordEntry {
            lock_sha256: lock_sha256(&bytes),
            hash: prefetched.hash,
            fetcher: Default::default(),
        };
        let status = match record.entries.get(&lockfile.key) {
            None => Status::Missing,
            Some(e) if *e == expected => Status::Fresh,
            Some(e) if e.lock_sha256 == expected.lock_sha256 => Status::WrongHash,
            Some(_) => Status::Stale,
        };
        reports.push(
            LockfileReport::new(&lockfile.key, status, expected.lock_sha256.clone())
                .computed(&prefetched),
        );
    }
    finish_check(ctx, reports)
}

fn finish_check(ctx: &Context, reports: Vec<LockfileReport>) -> Result<Outcome, Failure> {
    let stale = reports.iter().any(|r| {
        matches!(
            r.status,
            Status::Stale | Status::WrongHash | Status::Missing
        )
    });
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
    let prefetched = compute(ctx, lockfile, &bytes)?;
    println!("{}", prefetched.hash.to_sri());
    Ok(Outcome::Ok)
}

/// `--materialize DIR`: the fetchYarnDeps output directory itself.
pub fn materialize(ctx: &Context, dir: &Path) -> Result<Outcome, Failure> {
    let lockfile = ctx.single_lockfile("--materialize")?;
    let bytes = lockfiles::read(lockfile)?;
    let prefetched = ctx
        .prefetcher()?
        .materialize(&lockfile.path, &bytes, dir, ctx.progress())?;
    report::notes(ctx, &lockfile.key, &prefetched.notes);
    if let Some(out) = &ctx.cli.fixup_lockfile {
        let text = String::from_utf8_lossy(&bytes);
        write_atomic(out, common::yarn::fixup_lockfile::fixup(&text).as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))
            .map_err(Failure::bad_input)?;
    }
    let report = LockfileReport::new(&lockfile.key, Status::Computed, lock_sha256(&bytes))
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
            "wrote {} files and yarn.lock to {}",
            prefetched.files,
            dir.display()
        );
    }
    Ok(Outcome::Ok)
}

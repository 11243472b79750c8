//! In-place mode: the hash lives in a `.nix` file's fetcher call (`hash = "…";`).

use std::path::Path;

use anyhow::{anyhow, Context as _};
use common::atomic_write::write_atomic;
use common::file_lock::UpdateLock;
use common::record::fetcher_call;
use common::record::hash_record::lock_sha256;

use crate::context::{self, Context, Lockfile};
use crate::ecosystem::Ecosystem;
use crate::failure::{Failure, Outcome};
use crate::report::{self, LockfileReport, Reason, Report, Side, Status};

/// Without `check`: recompute and rewrite the literal if it differs. With `check`: the
/// file holds no lockfile digest, so checking means recomputing (cache first).
pub fn run<E: Ecosystem>(
    ctx: &Context<E>,
    nix_file: &Path,
    check: bool,
) -> Result<Outcome, Failure> {
    let src = std::fs::read_to_string(nix_file)
        .with_context(|| format!("cannot read {}", nix_file.display()))
        .map_err(Failure::bad_input)?;
    let call = fetcher_call::find_call(&src, E::CALL)
        .map_err(|e| Failure::bad_input(anyhow!(e.in_file(&nix_file.display().to_string()))))?;
    let lockfile = lockfile_for(ctx, nix_file, E::call_lockfile(&call).as_deref())?;
    let bytes = context::read::<E>(&lockfile)?;
    let configured = ctx.eco.for_call(&call)?;
    let computed = ctx.compute_with(configured.as_ref().unwrap_or(ctx.eco), &lockfile, &bytes)?;
    let fresh = call.holds(&computed.hash);
    let target = context::shown(&ctx.root, nix_file);
    let status = match (check, fresh) {
        (true, true) => Status::Fresh,
        (true, false) => Status::Stale,
        (false, true) => Status::Unchanged,
        (false, false) => Status::Updated,
    };
    let written = status == Status::Updated;
    if written {
        // Held across the re-read and the write, so a concurrent run is seen, not overwritten.
        let _lock = UpdateLock::acquire(nix_file)
            .with_context(|| format!("cannot lock {}", nix_file.display()))
            .map_err(Failure::bad_input)?;
        let now = std::fs::read_to_string(nix_file).unwrap_or_default();
        if now != src {
            return Err(Failure::bad_input(anyhow!(
                "{} changed while the hash was being computed; nothing was written. Run again",
                nix_file.display()
            )));
        }
        let new_src = call.rewrite(&src, &computed.hash);
        report::diff(ctx, &target, &src, &new_src);
        write_atomic(nix_file, new_src.as_bytes())
            .with_context(|| format!("cannot write {}", nix_file.display()))
            .map_err(Failure::bad_input)?;
    }
    let recorded = Side {
        hash: call.current().map(str::to_owned),
        ..Side::default()
    };
    let mut line = LockfileReport::new(&lockfile.key, status, lock_sha256(&bytes))
        .recorded(Some(recorded))
        .computed(&computed);
    if status == Status::Stale {
        line = line.stale(Reason::HashDiffers, fix(ctx, nix_file));
    }
    report::emit(ctx, &Report::new::<E>(target, written, vec![line]));
    Ok(if status == Status::Stale {
        Outcome::Stale
    } else {
        Outcome::Ok
    })
}

/// The command that rewrites the literal: this run's, without `--check`.
fn fix<E: Ecosystem>(ctx: &Context<E>, nix_file: &Path) -> String {
    let mut fix = format!(
        "{} --nix-file {}",
        E::TOOL,
        crate::shell_word(&ctx.relative_to_cwd(nix_file))
    );
    for lockfile in &ctx.modes.lockfile {
        fix += &format!(
            " --lockfile {}",
            crate::shell_word(&ctx.relative_to_cwd(lockfile))
        );
    }
    fix + &ctx.eco.fix_flags(None)
}

/// `--lockfile` if given, else the lockfile the call names, relative to the file.
fn lockfile_for<E: Ecosystem>(
    ctx: &Context<E>,
    nix_file: &Path,
    named: Option<&Path>,
) -> Result<Lockfile, Failure> {
    if !ctx.lockfiles.is_empty() {
        return ctx.single_lockfile("--nix-file").cloned();
    }
    let rel = named.ok_or_else(|| {
        Failure::bad_input(anyhow!(
            "{}: its {} call has no `{} = ./path;` literal; pass --lockfile PATH",
            nix_file.display(),
            E::CALL.name(),
            E::CALL_LOCKFILE_ATTR
        ))
    })?;
    let dir = nix_file.parent().unwrap_or(Path::new("."));
    context::lockfile::<E>(&ctx.cwd, &ctx.root, dir.join(rel))
}

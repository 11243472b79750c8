//! Building, then pushing exactly the part of the closure the cache lacks, then reading it back.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use common::binary_cache::narinfo::TrustedKeys;
use common::binary_cache::store_path::StorePath;
use common::binary_cache::{CacheOptions, ClosureReport, PathStatus};
use common::nix::flake_ref::ResolvedFlakeRef;
use common::nix::nix_cli::Nix;

use crate::cache_query::query;
use crate::cli::Args;
use crate::failure::{fail, Exit, Failure, OrExit};
use crate::note;
use crate::report::{self, Pushed, Summary};
use crate::target::Target;

pub fn build_and_push(
    args: &Args,
    nix: &Nix,
    flake: &ResolvedFlakeRef,
    target: &Target,
    keys: &TrustedKeys,
    opts: &CacheOptions,
    mut summary: Summary,
) -> Result<(Summary, u8), Failure> {
    let push = target
        .push
        .as_ref()
        .expect("Target::from_args requires a push target unless --check");
    note(args, format!("building {}#{}", flake.url(), args.output));
    let built = nix
        .build(
            &[format!("{}#{}", flake.url(), args.output)],
            &args.nix_build_args,
        )
        .context("nix build failed")
        .or_exit(Exit::Build)?;
    let mut roots: Vec<StorePath> = Vec::new();
    for b in &built {
        for p in b.outputs.values() {
            roots.push(
                p.parse()
                    .context("nix build printed a bad path")
                    .or_exit(Exit::Build)?,
            );
        }
        if args.include_build_deps {
            roots.extend(
                nix.build_closure(&b.drv_path)
                    .context("cannot list the build-time closure")
                    .or_exit(Exit::Build)?,
            );
        }
    }
    let closure = nix
        .closure(&roots)
        .context("cannot list the closure of the build")
        .or_exit(Exit::Build)?;
    let sizes: BTreeMap<StorePath, u64> = closure
        .iter()
        .map(|i| (i.path.clone(), i.nar_size))
        .collect();
    let all: Vec<StorePath> = sizes.keys().cloned().collect();
    let report = query(args, &target.read_url, opts, &all, keys)?;
    let to_push: Vec<StorePath> = report.not_cached().map(|(p, _)| p.clone()).collect();
    summary.closure_paths = report.paths.len();
    summary.closure_complete = true;
    if to_push.is_empty() {
        summary.status = "nothing-to-push";
        summary.cached_paths = report.paths.len();
        summary.missing.clear();
        summary.missing_bytes = 0;
        return Ok((summary, 0));
    }
    crate::unsigned_push::refuse_unsigned(push, &closure, &to_push, keys)?;
    let bytes: u64 = to_push.iter().filter_map(|p| sizes.get(p)).sum();
    note(
        args,
        format!(
            "pushing {} paths ({}) to {}",
            to_push.len(),
            report::bytes(bytes),
            push.describe()
        ),
    );
    let started = Instant::now();
    push.run(nix, &to_push)?;
    let untrusted: Vec<StorePath> = report
        .not_cached()
        .filter(|(_, s)| matches!(s, PathStatus::Untrusted { .. }))
        .map(|(p, _)| p.clone())
        .collect();
    if !untrusted.is_empty() && push.sign_existing(nix, &untrusted)? {
        note(
            args,
            format!(
                "signed {} paths the cache already held without a trusted signature",
                untrusted.len()
            ),
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    verify_pushed(args, target, keys, opts, &to_push, &report)?;
    summary.status = "pushed";
    summary.cached_paths = report.paths.len();
    summary.missing = report::missing(&report, &sizes);
    summary.missing_bytes = bytes;
    summary.pushed = Some(Pushed {
        paths: to_push,
        bytes,
        seconds,
    });
    Ok((summary, 0))
}

/// Reads back what was pushed: a push that leaves unsigned or untrusted paths, or
/// narinfos without their NAR, has not achieved anything CI can use. `before` is what the
/// cache held before the push, so the advice fits the cause.
fn verify_pushed(
    args: &Args,
    target: &Target,
    keys: &TrustedKeys,
    opts: &CacheOptions,
    pushed: &[StorePath],
    before: &ClosureReport,
) -> Result<(), Failure> {
    let report = query(args, &target.read_url, opts, pushed, keys)?;
    let bad: Vec<(&StorePath, &PathStatus)> = report.not_cached().collect();
    if bad.is_empty() {
        return Ok(());
    }
    let url = common::redact::url(&target.read_url);
    let lines: Vec<String> = bad
        .iter()
        .map(|(p, s)| match s {
            PathStatus::Missing => format!("  {p}: still not in the cache"),
            s => format!("  {p}: {}", report::kind_and_reason(s).1),
        })
        .collect();
    let held_before =
        |p: &StorePath| !matches!(before.paths.get(p), None | Some(PathStatus::Missing));
    let mut advice = Vec::new();
    if bad
        .iter()
        .any(|(_, s)| matches!(s, PathStatus::NarMissing { .. }))
    {
        advice.push(format!("A push skips a path whose narinfo the cache has, so a narinfo whose NAR is gone stays broken: delete those .narinfo files from {url} and push again."));
    }
    let held_unusable = bad.iter().any(|(p, s)| {
        matches!(s, PathStatus::Untrusted { .. } | PathStatus::Invalid { .. }) && held_before(p)
    });
    if held_unusable {
        advice.push(format!("The cache already held these narinfos, and pushing never replaces one: sign them in place with a trusted key (`nix store sign --store {url} --key-file KEY PATH...`; precache-package does this with --to ... --sign-key KEY), or delete their .narinfo files and push again."));
    }
    let trusted: Vec<String> = keys.keys().iter().map(|k| k.name.clone()).collect();
    if bad
        .iter()
        .any(|(p, s)| matches!(s, PathStatus::Untrusted { .. }) && !held_before(p))
    {
        advice.push(format!("This push wrote them without a signature by a trusted key ({}): push with --to ... --sign-key KEY whose public half CI trusts (or, for Cachix, pass the cache's public key with --trusted-public-key).", trusted.join(", ")));
    }
    if bad.iter().any(|(_, s)| matches!(s, PathStatus::Missing)) {
        advice.push("The push did not make them readable where they are checked: make sure --from reads what --to writes.".to_owned());
    }
    fail(
        Exit::Push,
        format!(
            "pushed, but {} paths are still not usable by CI from {url}:\n{}\n{}",
            bad.len(),
            lines.join("\n"),
            advice.join("\n")
        ),
    )
}

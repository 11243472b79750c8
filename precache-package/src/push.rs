//! Building, then pushing exactly the part of the closure the cache lacks, then reading it back.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use common::binary_cache::narinfo::TrustedKeys;
use common::binary_cache::store_path::StorePath;
use common::binary_cache::{CacheOptions, PathStatus};
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
    verify_pushed(args, target, keys, opts, &to_push)?;
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

/// Reads back what was pushed: a push that leaves unsigned or untrusted paths has not
/// achieved anything CI can use.
fn verify_pushed(
    args: &Args,
    target: &Target,
    keys: &TrustedKeys,
    opts: &CacheOptions,
    pushed: &[StorePath],
) -> Result<(), Failure> {
    let report = query(args, &target.read_url, opts, pushed, keys)?;
    let bad: Vec<String> = report
        .not_cached()
        .map(|(p, s)| {
            format!(
                "  {p}: {}",
                match s {
                    PathStatus::Missing => "still not in the cache".to_owned(),
                    PathStatus::Untrusted { why, .. } => why.clone(),
                    PathStatus::Invalid { why } => why.clone(),
                    PathStatus::Cached { .. } => unreachable!(),
                }
            )
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let trusted: Vec<String> = keys.keys().iter().map(|k| k.name.clone()).collect();
    let url = common::binary_cache::redact_url(&target.read_url);
    fail(
        Exit::Push,
        format!(
            "pushed, but {} paths are still not usable by CI from {url}:\n{}\nTrusted key names: {}.\nPushing never replaces a narinfo the cache already has. Sign those paths in place with a trusted key: `nix store sign --store {url} --key-file KEY PATH...` (precache-package does this with --to ... --sign-key KEY), or delete their .narinfo files and push again; or add the signing key's public half to --trusted-public-key and to CI's trusted-public-keys.",
            bad.len(),
            bad.join("\n"),
            trusted.join(", ")
        ),
    )
}

//! `precache-package`: build a flake output once, push its whole closure, and check that CI
//! will substitute every path of it. CLI and presentation only; the logic is in `common`.

mod build_args;
mod cache_query;
mod cli;
mod evaluate;
mod failure;
mod push;
mod report;
mod target;
mod trusted_keys;
mod unsigned_push;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use common::binary_cache::store_path::StorePath;
use common::binary_cache::{BearerToken, CacheOptions, ClosureReport};
use common::nix::flake_ref::{self, ResolvedFlakeRef};
use common::nix::nix_cli::{Nix, NixError};

use crate::cache_query::query;
use crate::cli::Args;
use crate::failure::{Exit, Failure, OrExit};
use crate::report::Summary;
use crate::target::Target;

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    match run(&args) {
        Ok((summary, code)) => {
            if json {
                println!("{}", report::json(&summary, code));
            } else {
                print!("{}", report::human(&summary));
            }
            ExitCode::from(code)
        }
        Err(f) => {
            // Messages may quote URLs (from nix's own errors too): never their secrets.
            let message = common::redact::text(&f.to_string());
            eprintln!("error: {message}");
            if json {
                println!("{}", report::error_json(&message, f.exit as u8));
            }
            ExitCode::from(f.exit as u8)
        }
    }
}

pub(crate) fn note(args: &Args, msg: impl std::fmt::Display) {
    if !args.json {
        eprintln!("{msg}");
    }
}

fn run(args: &Args) -> Result<(Summary, u8), Failure> {
    let target = Target::from_args(args)?;
    let build_args = build_args::classify(&args.nix_build_args)?;
    let nix = Nix::find().map_err(|e| match e {
        NixError::NotFound => Failure {
            exit: Exit::ToolMissing,
            error: e.into(),
        },
        e => Failure {
            exit: Exit::ToolMissing,
            error: anyhow::Error::from(e).context("`nix --version` failed"),
        },
    })?;
    let flake = resolve_flake(args)?;
    note(args, format!("flake: {}", flake.url()));
    let keys = trusted_keys::resolve(&nix, &args.trusted_public_keys, flake.url())?;
    // --check answers for CI alone; a push is read back with the key it signs with too.
    let keys = if args.check {
        keys
    } else {
        trusted_keys::with_sign_key(keys, target.sign_public.as_ref())?
    };
    let out_path = evaluate::out_path(&nix, flake.url(), &args.output, &build_args.eval)?;
    note(args, format!("output: {out_path}"));

    let opts = CacheOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        concurrency: args.jobs,
        bearer_token: target
            .read_with_cachix_token
            .then(|| std::env::var("CACHIX_AUTH_TOKEN").ok())
            .flatten()
            .filter(|t| !t.is_empty())
            .map(BearerToken),
        max_closure_paths: args.max_closure_paths,
        ..CacheOptions::default()
    };
    // `nix copy --to file://DIR` creates a cache that does not exist yet; anything else
    // must already be one, or every path would look "missing". --check pushes nothing, so
    // there a --to without nix-cache-info is "no cache" (exit 7), as for --from.
    let may_be_new = !args.check
        && matches!(&target.push, Some(target::Push::Store { url, .. })
        if url.starts_with("file://") && url.split('?').next() == target.read_url.split('?').next());
    cache_query::check_is_cache(&target.read_url, &opts, out_path.store_dir(), may_be_new)?;
    // A locally valid output gives the exact closure; otherwise walk References in the cache.
    let local = nix.closure(std::slice::from_ref(&out_path)).ok();
    let roots = match &local {
        Some(infos) => infos.iter().map(|i| i.path.clone()).collect(),
        None => vec![out_path.clone()],
    };
    let started = Instant::now();
    let report = query(args, &target.read_url, &opts, &roots, &keys.keys)?;
    let query_seconds = started.elapsed().as_secs_f64();
    let sizes: BTreeMap<StorePath, u64> = local
        .iter()
        .flatten()
        .map(|i| (i.path.clone(), i.nar_size))
        .collect();
    let mut summary = summarize(
        args,
        &flake,
        &out_path,
        &target,
        &keys.source,
        &report,
        &sizes,
    );
    summary.closure_complete = local.is_some() || report.all_cached();
    summary.query_seconds = query_seconds;

    if args.check {
        let code = if report.all_cached() {
            0
        } else {
            Exit::NotCached as u8
        };
        return Ok((summary, code));
    }
    // The build-time closure is only known after a build, so it cannot short-cut here.
    if report.all_cached() && !args.include_build_deps {
        summary.status = "nothing-to-push";
        return Ok((summary, 0));
    }
    push::build_and_push(args, &nix, &flake, &target, &keys.keys, &opts, summary)
}

fn resolve_flake(args: &Args) -> Result<ResolvedFlakeRef, Failure> {
    let cwd = std::env::current_dir()
        .context("cannot read the current directory")
        .or_exit(Exit::Usage)?;
    match flake_ref::resolve(&args.flake_ref, &cwd, args.allow_uncommitted) {
        Ok(r) => {
            if let ResolvedFlakeRef::Uncommitted { files, .. } = &r {
                eprintln!(
                    "warning: building uncommitted changes (--allow-uncommitted); CI builds the commit and will not ask for these outputs:\n{}",
                    files.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
                );
            }
            Ok(r)
        }
        // Every resolution failure (not a repo, dirty tree, no commits) is bad input.
        Err(e) => Err(Failure {
            exit: Exit::Usage,
            error: e.into(),
        }),
    }
}

fn summarize(
    args: &Args,
    flake: &ResolvedFlakeRef,
    out_path: &StorePath,
    target: &Target,
    keys_from: &str,
    report: &ClosureReport,
    sizes: &BTreeMap<StorePath, u64>,
) -> Summary {
    let missing = report::missing(report, sizes);
    Summary {
        flake: flake.url().to_owned(),
        output: args.output.clone(),
        out_path: out_path.to_string(),
        status: if report.all_cached() {
            "cached"
        } else {
            "not-cached"
        },
        cache: common::redact::url(&target.read_url),
        trusted_keys_from: keys_from.to_owned(),
        closure_paths: report.paths.len(),
        closure_complete: true,
        cached_paths: report.paths.len() - missing.len(),
        missing_bytes: missing.iter().filter_map(|m| m.nar_size).sum(),
        missing,
        pushed: None,
        query_seconds: 0.0,
    }
}

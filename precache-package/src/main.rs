//! `precache-package`: build a flake output once, push its whole closure, and check that CI
//! will substitute every path of it. CLI and presentation only; the logic is in `common`.

mod cli;
mod evaluate;
mod failure;
mod report;
mod target;
mod trusted_keys;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use common::binary_cache::{BinaryCache, CacheOptions, ClosureReport};
use common::flake_ref::{self, ResolvedFlakeRef};
use common::narinfo::TrustedKeys;
use common::nix_cli::{Nix, NixError};
use common::store_path::StorePath;

use crate::cli::Args;
use crate::failure::{fail, Exit, Failure, OrExit};
use crate::report::{Pushed, Summary};
use crate::target::Target;

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    match run(&args) {
        Ok((summary, code)) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).expect("serialisable")
                );
            } else {
                print!("{}", report::human(&summary));
            }
            ExitCode::from(code)
        }
        Err(f) => {
            eprintln!("error: {f}");
            if json {
                let v = serde_json::json!({ "error": f.to_string(), "exitCode": f.exit as u8 });
                println!("{v}");
            }
            ExitCode::from(f.exit as u8)
        }
    }
}

fn note(args: &Args, msg: impl std::fmt::Display) {
    if !args.json {
        eprintln!("{msg}");
    }
}

fn run(args: &Args) -> Result<(Summary, u8), Failure> {
    let target = Target::from_args(args)?;
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
    let out_path = evaluate::out_path(&nix, flake.url(), &args.output)?;
    note(args, format!("output: {out_path}"));

    let opts = CacheOptions {
        timeout: Duration::from_secs(args.timeout.max(1)),
        concurrency: args.jobs,
        ..CacheOptions::default()
    };
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
        keys.source,
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
    build_and_push(args, &nix, &flake, &target, &keys.keys, &opts, summary)
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

fn query(
    args: &Args,
    url: &str,
    opts: &CacheOptions,
    roots: &[StorePath],
    keys: &TrustedKeys,
) -> Result<ClosureReport, Failure> {
    let cache = BinaryCache::open(url, opts).or_exit(Exit::Usage)?;
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} {msg} {pos}/{len} narinfos")
        {
            bar.set_style(style);
        }
        bar.set_message(format!("querying {url}"));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let progress = |done: usize, known: usize| {
        if let Some(bar) = &bar {
            bar.set_length(known as u64);
            bar.set_position(done as u64);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .or_exit(Exit::Query)?;
    let result = runtime.block_on(cache.query_closure(roots, keys, &progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
        .with_context(|| {
            format!("cannot query {url}; nothing was decided (not treated as missing)")
        })
        .or_exit(Exit::Query)
}

fn summarize(
    args: &Args,
    flake: &ResolvedFlakeRef,
    out_path: &StorePath,
    target: &Target,
    keys_from: &'static str,
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
        cache: target.read_url.clone(),
        trusted_keys_from: keys_from,
        closure_paths: report.paths.len(),
        closure_complete: true,
        cached_paths: report.paths.len() - missing.len(),
        missing_bytes: missing.iter().filter_map(|m| m.nar_size).sum(),
        missing,
        pushed: None,
        query_seconds: 0.0,
    }
}

fn build_and_push(
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
                    common::binary_cache::PathStatus::Missing =>
                        "still not in the cache".to_owned(),
                    common::binary_cache::PathStatus::Untrusted { why, .. } => why.clone(),
                    common::binary_cache::PathStatus::Invalid { why } => why.clone(),
                    common::binary_cache::PathStatus::Cached { .. } => unreachable!(),
                }
            )
        })
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let trusted: Vec<String> = keys.keys().iter().map(|k| k.name.clone()).collect();
    fail(
        Exit::Push,
        format!(
            "pushed, but {} paths are still not usable by CI from {}:\n{}\nTrusted key names: {}. Sign with a trusted key (--sign-key FILE for --to), or add the signing key's public half to --trusted-public-key and to CI's trusted-public-keys.",
            bad.len(),
            target.read_url,
            bad.join("\n"),
            trusted.join(", ")
        ),
    )
}

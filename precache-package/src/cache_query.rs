//! Asking the cache about a set of paths and their closure, with progress on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use common::binary_cache::narinfo::TrustedKeys;
use common::binary_cache::store_path::StorePath;
use common::binary_cache::{BinaryCache, CacheOptions, ClosureReport};

use crate::cli::Args;
use crate::failure::{fail, Exit, Failure, OrExit};

/// Refuses a URL that is not a binary cache for `store_dir` (exit 7), unless it is a
/// file:// cache we are about to create by pushing to it.
pub fn check_is_cache(
    url: &str,
    opts: &CacheOptions,
    store_dir: &str,
    may_be_new: bool,
) -> Result<(), Failure> {
    let cache = BinaryCache::open(url, opts).or_exit(Exit::Usage)?;
    let runtime = runtime()?;
    let present = runtime
        .block_on(cache.check_cache_info(store_dir))
        .with_context(|| format!("cannot query {}", cache.display_url()))
        .or_exit(Exit::Query)?;
    if present || may_be_new {
        return Ok(());
    }
    fail(
        Exit::Query,
        format!(
            "{} is not a binary cache (no nix-cache-info): check the URL; nothing was decided",
            cache.display_url()
        ),
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .or_exit(Exit::Query)
}

pub fn query(
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
        bar.set_message(format!("querying {}", cache.display_url()));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    });
    let progress = |done: usize, known: usize| {
        if let Some(bar) = &bar {
            bar.set_length(known as u64);
            bar.set_position(done as u64);
        }
    };
    let runtime = runtime()?;
    let result = runtime.block_on(cache.query_closure(roots, keys, &progress));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
        .with_context(|| {
            format!(
                "cannot query {}; nothing was decided (not treated as missing)",
                cache.display_url()
            )
        })
        .or_exit(Exit::Query)
}

//! Asking the cache about a set of paths and their closure, with progress on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use common::binary_cache::{BinaryCache, CacheOptions, ClosureReport};
use common::narinfo::TrustedKeys;
use common::store_path::StorePath;

use crate::cli::Args;
use crate::failure::{Exit, Failure, OrExit};

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

//! A progress bar for downloads, on a terminal only: packages, bytes and rate.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use common::fetch::tarball_fetch::{FetchProgress, NoProgress};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

struct Bar {
    bar: ProgressBar,
    bytes: AtomicU64,
    started: Instant,
}

impl FetchProgress for Bar {
    fn start(&self, files: usize) {
        self.bar.set_length(files as u64);
        self.bar.set_draw_target(ProgressDrawTarget::stderr());
        self.bar
            .enable_steady_tick(std::time::Duration::from_millis(120));
    }

    fn bytes(&self, n: u64) {
        let total = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = HumanBytes((total as f64 / secs) as u64);
        self.bar
            .set_message(format!("{} at {rate}/s", HumanBytes(total)));
    }

    fn file_done(&self) {
        self.bar.inc(1);
    }

    fn retrying(&self, url: &str, attempt: u32, reason: &str) {
        self.bar
            .println(format!("retrying {url} (attempt {attempt}): {reason}"));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// A download bar, shown once downloads start, when stderr is a terminal and output
/// is not quiet.
pub fn for_downloads(enabled: bool) -> Arc<dyn FetchProgress> {
    if !enabled || !std::io::stderr().is_terminal() {
        return Arc::new(NoProgress);
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template("{spinner} fetching {pos}/{len} packages, {msg} [{elapsed}]")
            .expect("static template"),
    );
    Arc::new(Bar {
        bar,
        bytes: AtomicU64::new(0),
        started: Instant::now(),
    })
}

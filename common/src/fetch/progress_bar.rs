//! The download progress every tool shows: a bar on a terminal only (packages, bytes and
//! rate), and without one a line per retry.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fetch::tarball_fetch::{FetchProgress, NoProgress};
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

    fn retrying(&self, url: &str, attempt: u32, reason: &str, delay: Duration) {
        self.bar.println(retry_line(url, attempt, reason, delay));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn retry_line(url: &str, attempt: u32, reason: &str, delay: Duration) -> String {
    format!(
        "retrying {url} in {:.1} s (attempt {}): {reason}",
        delay.as_secs_f64(),
        attempt + 1
    )
}

/// Without a terminal (CI logs): no bar, but each retry on a line of its own, so a
/// slow run shows why.
struct RetryLog;

impl FetchProgress for RetryLog {
    fn retrying(&self, url: &str, attempt: u32, reason: &str, delay: Duration) {
        eprintln!("{}", retry_line(url, attempt, reason, delay));
    }
}

/// A download bar, shown once downloads start, when stderr is a terminal and output
/// is not quiet; without a terminal, a line per retry.
pub fn for_downloads(enabled: bool) -> Arc<dyn FetchProgress> {
    if !enabled {
        return Arc::new(NoProgress);
    }
    if !std::io::stderr().is_terminal() {
        return Arc::new(RetryLog);
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

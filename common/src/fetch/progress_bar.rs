//! The download progress every tool shows: a bar on a terminal only, and without one a
//! line per retry. The bar shows what is known from its first frame: the file count
//! (from the lockfile, so the percentage), the bytes downloaded so far and their rate,
//! and the time left once a file has finished (before that there is nothing to base
//! it on). Response sizes are not known up front, so there is no byte total.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fetch::tarball_fetch::{FetchProgress, NoProgress};
use indicatif::{
    HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};

const TEMPLATE: &str =
    "{spinner} fetching {pos}/{len} packages ({percent}%), {msg}, {time_left} [{elapsed}]";
/// After the downloads: what the run is doing, and for how long it has run.
const STAGE_TEMPLATE: &str = "{spinner} {msg} [{elapsed}]";

struct Bar {
    bar: ProgressBar,
    bytes: AtomicU64,
    started: Instant,
    /// Where the bar draws once downloads start (stderr; a capture in tests).
    target: Box<dyn Fn() -> ProgressDrawTarget + Send + Sync>,
    /// The spinner's redraw interval; `None` draws only on updates (tests).
    steady_tick: Option<Duration>,
}

impl FetchProgress for Bar {
    fn start(&self, files: usize) {
        self.bar.set_length(files as u64);
        self.bar.set_message(bytes_message(0, self.started));
        self.bar.set_draw_target((self.target)());
        if let Some(interval) = self.steady_tick {
            self.bar.enable_steady_tick(interval);
        }
    }

    fn bytes(&self, n: u64) {
        let total = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
        self.bar.set_message(bytes_message(total, self.started));
    }

    fn file_done(&self) {
        self.bar.inc(1);
    }

    fn retrying(&self, url: &str, attempt: u32, reason: &str, delay: Duration) {
        self.bar.println(retry_line(url, attempt, reason, delay));
    }

    fn stage(&self, what: &str) {
        self.bar
            .set_style(ProgressStyle::with_template(STAGE_TEMPLATE).expect("static template"));
        self.bar.set_message(what.to_owned());
        // A warm run downloads nothing, so the bar may not be shown yet.
        if self.bar.is_hidden() {
            self.bar.set_draw_target((self.target)());
            if let Some(interval) = self.steady_tick {
                self.bar.enable_steady_tick(interval);
            }
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

fn bytes_message(total: u64, started: Instant) -> String {
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let rate = HumanBytes((total as f64 / secs) as u64);
    format!("{} at {rate}/s", HumanBytes(total))
}

/// indicatif's `{eta}` says "0s" before anything finished; say what is true instead.
fn time_left(state: &ProgressState, out: &mut dyn std::fmt::Write) {
    let _ = if state.pos() == 0 {
        out.write_str("estimating the time left")
    } else {
        write!(out, "about {} left", HumanDuration(state.eta()))
    };
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
    Arc::new(bar(
        Box::new(ProgressDrawTarget::stderr),
        Some(Duration::from_millis(120)),
    ))
}

fn bar(
    target: Box<dyn Fn() -> ProgressDrawTarget + Send + Sync>,
    steady_tick: Option<Duration>,
) -> Bar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(
        ProgressStyle::with_template(TEMPLATE)
            .expect("static template")
            .with_key("time_left", time_left),
    );
    Bar {
        bar,
        bytes: AtomicU64::new(0),
        started: Instant::now(),
        target,
        steady_tick,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use indicatif::TermLike;

    use super::*;

    /// A terminal that keeps the last line drawn.
    #[derive(Debug, Default, Clone)]
    struct Screen(Arc<Mutex<String>>);

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            // Skip the padding and carriage returns drawn around the line.
            if !s.trim().is_empty() {
                *self.0.lock().unwrap() = s.to_owned();
            }
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn frame(screen: &Screen) -> String {
        // Drop the spinner glyph and the elapsed time, which move on their own.
        let line = screen.0.lock().unwrap().clone();
        let line = line.split_once(' ').map_or(line.as_str(), |(_, rest)| rest);
        line.rsplit_once(" [")
            .map_or(line, |(head, _)| head)
            .to_owned()
    }

    #[test]
    fn a_stage_is_shown_even_when_nothing_was_downloaded() {
        let screen = Screen::default();
        let capture = screen.clone();
        let bar = bar(
            Box::new(move || ProgressDrawTarget::term_like(Box::new(capture.clone()))),
            None,
        );
        bar.stage("writing pnpm-store.tar.zst: 29 files");
        bar.bar.tick();
        assert_eq!(frame(&screen), "writing pnpm-store.tar.zst: 29 files");
    }

    #[test]
    fn the_first_frame_shows_count_percentage_and_size() {
        let screen = Screen::default();
        let capture = screen.clone();
        let bar = bar(
            Box::new(move || ProgressDrawTarget::term_like(Box::new(capture.clone()))),
            None,
        );
        bar.start(4);
        bar.bar.tick();
        assert_eq!(
            frame(&screen),
            "fetching 0/4 packages (0%), 0 B at 0 B/s, estimating the time left"
        );
        bar.bytes(2048);
        bar.file_done();
        let shown = frame(&screen);
        assert!(
            shown.starts_with("fetching 1/4 packages (25%), 2.00 KiB at "),
            "{shown}"
        );
        assert!(shown.contains(" left"), "{shown}");
    }
}

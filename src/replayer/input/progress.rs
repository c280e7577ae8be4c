//! Progress of a long `replay` or `info` on a terminal: a line on stderr with the trace
//! bytes read of the total, the records read and their rate, and the time left.
//!
//! Shown only when stderr is a terminal and the caller is not quiet, and only once the
//! work has lasted [`DELAY`]: a short replay shows nothing. It is cleared when the work
//! ends, so what stays on the terminal is the output and the warnings.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long the work runs before progress is shown.
pub const DELAY: Duration = Duration::from_millis(500);

/// Progress over a known number of bytes (the trace files' sizes).
pub struct Progress {
    /// Whether progress may be shown at all (a terminal, not quiet).
    enabled: bool,
    /// Bytes of trace to read in all (the files' lengths).
    total: u64,
    done: u64,
    records: u64,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Progress over `total_bytes`, shown on stderr if it is a terminal and not `quiet`.
    pub fn new(total_bytes: u64, quiet: bool) -> Progress {
        Progress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            total: total_bytes,
            done: 0,
            records: 0,
            started: Instant::now(),
            bar: None,
        }
    }

    /// Progress that never shows.
    pub fn hidden() -> Progress {
        Progress::new(0, true)
    }

    /// Sets the bytes to read in all.
    pub fn set_total(&mut self, total_bytes: u64) {
        self.total = total_bytes;
        if let Some(bar) = &self.bar {
            bar.set_length(total_bytes);
        }
    }

    /// `bytes` more of the trace were read, holding `records` records.
    pub fn advance(&mut self, bytes: u64, records: u64) {
        self.done = self.done.saturating_add(bytes);
        self.records = self.records.saturating_add(records);
        if !self.enabled {
            return;
        }
        let elapsed = self.started.elapsed();
        if self.bar.is_none() {
            if elapsed < DELAY {
                return;
            }
            let bar = ProgressBar::with_draw_target(Some(self.total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "kellect: [{bar:24}] {bytes}/{total_bytes} ({binary_bytes_per_sec}), {msg}, \
                     {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            self.bar = Some(bar);
        }
        if let Some(bar) = &self.bar {
            let rate = self.records as f64 / elapsed.as_secs_f64().max(1e-3);
            bar.set_message(format!("{} records ({rate:.0} records/s)", self.records));
            bar.set_position(self.done.min(self.total));
        }
    }

    /// The work is over: the line is cleared.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

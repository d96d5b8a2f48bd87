//! Progress of long steps (writes, waits) on stderr: indicatif bars on a terminal; in a CI log
//! (stderr not a terminal, or `CI` set) plain lines, one per change of state.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::log;

/// A progress display for one step of `total` items.
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// Bars only for a person at a terminal.
fn interactive() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
        && log::level_is_normal()
        && !log::capturing()
}

impl Progress {
    pub fn new(total: usize, what: &str) -> Self {
        if !interactive() || total == 0 {
            return Progress { bar: None };
        }
        let bar = ProgressBar::new(total as u64);
        let style =
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    /// A line above the bar (or a plain line in CI).
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(log::fit(text)),
            None => log::info(text),
        }
    }

    pub fn set_done(&self, done: usize, pending: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(pending.to_owned());
        }
    }

    /// A periodic reminder: shown in CI logs only (a bar shows it continuously).
    pub fn remind(&self, text: &str) {
        if self.bar.is_none() {
            log::info(text);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

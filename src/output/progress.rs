//! Progress on stderr: bars on a terminal, a plain line as each step starts and ends otherwise (CI logs), and
//! nothing with `--quiet`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Printer;

/// Progress of work keyed by a label (a product, a phase).
pub struct Progress {
    printer: Printer,
    bars: Option<MultiProgress>,
    active: Mutex<HashMap<String, ProgressBar>>,
    /// Labels whose step reached its total (so a later update does not start it again).
    completed: Mutex<HashSet<String>>,
    /// Without a terminal: when each step started and last printed a line.
    heartbeats: Mutex<HashMap<String, (Instant, Instant)>>,
    /// Without a terminal: how often a running step prints its count and rate.
    heartbeat: Duration,
}

/// How often, off a terminal (CI logs), a running step prints where it is.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

impl Progress {
    /// Bars when stderr is a terminal and output is not quiet.
    #[must_use]
    pub fn new(printer: &Printer) -> Self {
        Self::with_heartbeat(printer, HEARTBEAT)
    }

    /// As [`Progress::new`], with the heartbeat printed off a terminal every `heartbeat`.
    #[must_use]
    pub fn with_heartbeat(printer: &Printer, heartbeat: Duration) -> Self {
        let bars = (printer.interactive && !printer.quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            printer: printer.clone(),
            bars,
            active: Mutex::new(HashMap::new()),
            completed: Mutex::new(HashSet::new()),
            heartbeats: Mutex::new(HashMap::new()),
            heartbeat,
        }
    }

    /// Off a terminal: `label: done/total (rate/s)` when the step has gone `heartbeat` without a line.
    fn beat(&self, label: &str, done: usize, total: usize) {
        let now = Instant::now();
        let mut beats = crate::sync::lock(&self.heartbeats);
        let Some((started, last)) = beats.get_mut(label) else {
            beats.insert(label.to_owned(), (now, now));
            return;
        };
        if now.duration_since(*last) >= self.heartbeat && done < total {
            *last = now;
            let rate = done as f64 / now.duration_since(*started).as_secs_f64().max(0.001);
            self.printer
                .status(&format!("{label}: {done}/{total} ({rate:.0}/s)"));
        }
    }

    /// Reports `done` of `total` for `label`.
    pub fn update(&self, label: &str, done: usize, total: usize) {
        let mut active = crate::sync::lock(&self.active);
        let complete = total > 0 && done >= total;
        let Some(bars) = &self.bars else {
            // Without a terminal: one plain line when a step starts and one when it completes.
            if !active.contains_key(label) {
                active.insert(label.to_owned(), ProgressBar::hidden());
                self.printer.status(&format!("{label}: {total} to go"));
            }
            self.beat(label, done, total);
            if complete && crate::sync::lock(&self.completed).insert(label.to_owned()) {
                self.printer.status(&format!("{label}: {done} done"));
            }
            return;
        };
        let bar = active.entry(label.to_owned()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(total as u64));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.to_owned());
            bar
        });
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if complete && !bar.is_finished() {
            bar.finish();
        }
    }

    /// Marks `label` finished with a message (a plain status line when there are no bars).
    pub fn finish(&self, label: &str, message: &str) {
        let bar = crate::sync::lock(&self.active).remove(label);
        let completion_said = crate::sync::lock(&self.completed).contains(label);
        match bar {
            Some(bar) if self.bars.is_some() => bar.finish_with_message(message.to_owned()),
            // Without a terminal the step's completion line was already printed.
            _ if completion_said => {}
            _ => self.printer.status(&format!("{label}: {message}")),
        }
    }
}

impl Drop for Progress {
    /// Bars still running when the work ends (an error, an interrupt) stay on screen where they
    /// stopped, rather than being redrawn over.
    fn drop(&mut self) {
        let active = self
            .active
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for bar in active.values().filter(|bar| !bar.is_finished()) {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_a_terminal_a_running_step_prints_a_heartbeat() {
        let (printer, captured) = Printer::capture();
        let progress = Progress::with_heartbeat(&printer, Duration::ZERO);
        progress.update("a1Meters reading devices", 0, 3_000);
        progress.update("a1Meters reading devices", 1_000, 3_000);
        progress.update("a1Meters reading devices", 3_000, 3_000);
        let err = captured.stderr();
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], "a1Meters reading devices: 3000 to go");
        assert!(
            lines[1].starts_with("a1Meters reading devices: 1000/3000 (")
                && lines[1].ends_with("/s)"),
            "{err}"
        );
        assert_eq!(lines.last(), Some(&"a1Meters reading devices: 3000 done"));
        let (printer, captured) = Printer::capture();
        let quiet = Progress::with_heartbeat(&printer, Duration::from_hours(1));
        quiet.update("step", 0, 10);
        quiet.update("step", 5, 10);
        assert_eq!(
            captured.stderr(),
            "step: 10 to go\n",
            "no heartbeat before its interval"
        );
    }
}

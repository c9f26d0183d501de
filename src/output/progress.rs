//! Progress on stderr: bars on a terminal, a plain line as each step starts and ends otherwise (CI logs), and
//! nothing with `--quiet`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Printer;

/// Progress of work keyed by a label (a product, a phase).
pub struct Progress {
    printer: Printer,
    bars: Option<MultiProgress>,
    active: Mutex<HashMap<String, ProgressBar>>,
    /// Labels whose step reached its total (so a later update does not start it again).
    completed: Mutex<HashSet<String>>,
}

impl Progress {
    /// Bars when stderr is a terminal and output is not quiet.
    #[must_use]
    pub fn new(printer: &Printer) -> Self {
        let bars = (printer.interactive && !printer.quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self {
            printer: printer.clone(),
            bars,
            active: Mutex::new(HashMap::new()),
            completed: Mutex::new(HashSet::new()),
        }
    }

    /// Reports `done` of `total` for `label`.
    pub fn update(&self, label: &str, done: usize, total: usize) {
        let mut active = self
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let complete = total > 0 && done >= total;
        let Some(bars) = &self.bars else {
            // Without a terminal: one plain line when a step starts and one when it completes.
            if !active.contains_key(label) {
                active.insert(label.to_owned(), ProgressBar::hidden());
                self.printer.status(&format!("{label}: {total} to go"));
            }
            if complete
                && self
                    .completed
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(label.to_owned())
            {
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
        let bar = self
            .active
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(label);
        let completion_said = self
            .completed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(label);
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

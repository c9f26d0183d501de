//! All terminal output goes through a [`Printer`]: stdout carries the product (plans, JSON, YAML),
//! stderr carries status, warnings and errors. Untrusted text is sanitised before it is printed.

pub mod progress;

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

/// When to use color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal with `NO_COLOR` unset.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Decides for one stream: `always` and `never` as said; `auto` colors a terminal only, and
    /// not with `NO_COLOR` set or `TERM=dumb`.
    #[must_use]
    pub fn enabled_for(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }

    /// Decides once, for stdout.
    #[must_use]
    pub fn enabled(self) -> bool {
        self.enabled_for(io::stdout().is_terminal())
    }

    /// Decides once, for stderr (logs, progress, errors).
    #[must_use]
    pub fn enabled_on_stderr(self) -> bool {
        self.enabled_for(io::stderr().is_terminal())
    }
}

type Sink = Arc<Mutex<dyn Write + Send>>;

/// Where output goes.
#[derive(Clone)]
pub struct Printer {
    out: Sink,
    err: Sink,
    /// Whether to color stdout.
    pub color: bool,
    /// Whether status lines are suppressed.
    pub quiet: bool,
    /// Whether stderr is a terminal (progress bars allowed).
    pub interactive: bool,
}

impl Printer {
    /// The process's stdout and stderr.
    #[must_use]
    pub fn stdio(color: bool, quiet: bool) -> Self {
        Self {
            out: Arc::new(Mutex::new(io::stdout())),
            err: Arc::new(Mutex::new(io::stderr())),
            color,
            quiet,
            interactive: io::stderr().is_terminal(),
        }
    }

    /// A printer into memory, not a terminal, for tests: what it printed is read from the
    /// returned [`Captured`].
    #[must_use]
    pub fn capture() -> (Self, Captured) {
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let printer = Self {
            out: out.clone(),
            err: err.clone(),
            color: false,
            quiet: false,
            interactive: false,
        };
        (printer, Captured { out, err })
    }

    /// Writes product output (stdout). A closed pipe is ignored.
    pub fn out(&self, text: &str) {
        let mut out = crate::sync::lock(&self.out);
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    /// Writes a status line (stderr) unless quiet.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            self.err_line(line);
        }
    }

    /// Writes a line to stderr whatever the verbosity (warnings, errors).
    pub fn err_line(&self, line: &str) {
        let mut err = crate::sync::lock(&self.err);
        let _ = writeln!(err, "{line}");
    }
}

/// What a [`Printer::capture`] printer printed.
pub struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// stdout so far.
    #[must_use]
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&crate::sync::lock(&self.out)).into_owned()
    }

    /// stderr so far.
    #[must_use]
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&crate::sync::lock(&self.err)).into_owned()
    }
}

/// Replaces control characters (terminal escapes) in untrusted text.
#[must_use]
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if text.chars().any(char::is_control) {
        Cow::Owned(
            text.chars()
                .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn escapes_are_neutralised() {
        assert_eq!(sanitize("ok"), "ok");
        assert_eq!(sanitize("a\u{1b}[31mb"), "a\u{FFFD}[31mb");
    }
}

//! Messages for people, on standard error: warnings and errors, coloured only on a
//! terminal and never when `NO_COLOR` is set. Data goes to standard output elsewhere.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use crate::cli::{Ansi, Progress};

pub struct Printer {
    verbosity: i8,
    color: bool,
    interactive: bool,
}

/// Whether to colour what goes to a stream: `--ansi` says, or (`auto`) whether it is
/// a terminal and `NO_COLOR` is unset.
pub fn colors(ansi: Ansi, terminal: bool) -> bool {
    match ansi {
        Ansi::Never => false,
        Ansi::Always => true,
        Ansi::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

impl Printer {
    pub fn new(verbose: u8, quiet: bool) -> Self {
        Self::with(verbose, quiet, Ansi::Auto, Progress::Auto)
    }

    /// As the global flags say: `--ansi` for colour, `--progress` for how progress
    /// shows (`quiet` as `-q`; `plain` never redrawn in place; `tty` always).
    pub fn with(verbose: u8, quiet: bool, ansi: Ansi, progress: Progress) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let verbosity = if quiet || progress == Progress::Quiet {
            -1
        } else {
            verbose.min(3).cast_signed()
        };
        Self {
            verbosity,
            color: colors(ansi, terminal),
            interactive: match progress {
                Progress::Tty => true,
                Progress::Plain | Progress::Quiet => false,
                Progress::Auto => terminal,
            },
        }
    }

    pub fn warn(&self, message: &str) {
        if self.verbosity >= 0 {
            self.write("warning", "33", message);
        }
    }

    /// Progress and results of an action (`✔ web  created`); silenced by `-q`.
    pub fn info(&self, message: &str) {
        if self.verbosity >= 0 {
            let _ = writeln!(std::io::stderr().lock(), "{message}");
        }
    }

    /// Whether progress may be drawn in place (standard error is a terminal, not `-q`).
    pub fn is_interactive(&self) -> bool {
        self.interactive && self.verbosity >= 0
    }

    /// Replaces the `drawn` lines last shown at the bottom of the terminal with `lines`
    /// (a progress block redrawn in place).
    pub fn redraw(&self, drawn: usize, lines: &[String]) {
        if self.verbosity < 0 {
            return;
        }
        let mut text = String::new();
        if drawn > 0 {
            let _ = write!(text, "\x1b[{drawn}F");
        }
        for line in lines {
            let _ = writeln!(text, "\x1b[2K{line}");
        }
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
    }

    pub fn error(&self, error: &anyhow::Error) {
        let mut text = error.to_string();
        for cause in error.chain().skip(1) {
            // An error that already says its cause's words (the engine's diagnosis)
            // is not followed by them again.
            let cause = cause.to_string();
            if !text.contains(&cause) {
                let _ = write!(text, "\n  caused by: {cause}");
            }
        }
        self.write("error", "31", &text);
    }

    fn write(&self, label: &str, color: &str, message: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = if self.color {
            writeln!(stderr, "\x1b[1;{color}m{label}\x1b[0m: {message}")
        } else {
            writeln!(stderr, "{label}: {message}")
        };
    }
}

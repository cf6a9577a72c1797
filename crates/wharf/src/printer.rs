//! Messages for people, on standard error: warnings and errors, coloured only on a
//! terminal and never when `NO_COLOR` is set. Data goes to standard output elsewhere.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

pub struct Printer {
    verbosity: i8,
    color: bool,
    interactive: bool,
}

impl Printer {
    pub fn new(verbose: u8, quiet: bool) -> Self {
        let color = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let verbosity = if quiet {
            -1
        } else {
            verbose.min(3).cast_signed()
        };
        Self {
            verbosity,
            color,
            interactive: std::io::stderr().is_terminal(),
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
            let _ = write!(text, "\n  caused by: {cause}");
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

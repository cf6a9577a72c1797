//! The loader's one error type: a message, where it happened, and what would fix it.
//!
//! Rendered like a compiler diagnostic so a person can act on it without opening the file:
//!
//! ```text
//! services.web.image must be a string
//!   --> compose.yaml:3:12
//!    |
//!  3 |     image: 123
//!    |            ^
//!    = expected: a string
//! ```

use std::fmt;
use std::path::PathBuf;

use crate::source::{Location, Span};

#[derive(Debug)]
pub struct Error {
    message: String,
    location: Option<Location>,
    help: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with no position (missing files, bad flags).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            location: None,
            help: None,
        }
    }

    /// An error at a position in a source file.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            location: span.is_known().then(|| Location::of(span)).flatten(),
            help: None,
        }
    }

    pub fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        let path = path.into();
        Self::new(format!(
            "cannot read {}: {}",
            path.display(),
            io_reason(err)
        ))
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attaches a position unless the error already has one (the innermost wins).
    #[must_use]
    pub fn or_at(mut self, span: &Span) -> Self {
        if self.location.is_none() && span.is_known() {
            self.location = Location::of(span);
        }
        self
    }

    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()
    }

    #[must_use]
    pub fn help(&self) -> Option<&str> {
        self.help.as_deref()
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(location) = &self.location {
            let number = location.line.to_string();
            let gutter = " ".repeat(number.len());
            write!(f, "\n{gutter}--> {location}")?;
            if let Some(line) = location.source_line() {
                let caret_pad: String = line
                    .chars()
                    .take(location.col.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(
                    f,
                    "\n{gutter} |\n{number} | {line}\n{gutter} | {caret_pad}^"
                )?;
            }
            if let Some(help) = &self.help {
                write!(f, "\n{gutter} = {help}")?;
            }
        } else if let Some(help) = &self.help {
            write!(f, "\n  = {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

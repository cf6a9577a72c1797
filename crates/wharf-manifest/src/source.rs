//! Source files and positions in them, so every error can point at <file:line:col>.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One file's text, kept so an error can quote the offending line.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            path: path.into(),
            text: text.into(),
        })
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line(&self, line: u32) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)? as usize)
    }
}

/// A position in a source file (1-based line and column, in characters).
#[derive(Clone, Default)]
pub struct Span {
    pub file: Option<Arc<SourceFile>>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    #[must_use]
    pub fn new(file: &Arc<SourceFile>, line: u32, col: u32) -> Self {
        Self {
            file: Some(Arc::clone(file)),
            line,
            col,
        }
    }

    /// A span for values that do not come from a file (defaults, command-line values).
    #[must_use]
    pub fn synthetic() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref().map(|f| f.path.as_path())
    }

    #[must_use]
    pub fn is_known(&self) -> bool {
        self.file.is_some() && self.line > 0
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path() {
            Some(path) => write!(f, "{}:{}:{}", path.display(), self.line, self.col),
            None => f.write_str("<synthetic>"),
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

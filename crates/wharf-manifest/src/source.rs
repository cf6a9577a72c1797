//! Source files and positions in them, so every error can point at <file:line:col>.

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// One file's text, kept so an error can quote the offending line.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    /// A file's text: UTF-8, or UTF-16 with its byte-order mark (what Windows
    /// PowerShell writes by default), as Compose's YAML reader takes both.
    pub fn read_text(path: &Path) -> std::io::Result<String> {
        let bytes = std::fs::read(path)?;
        let utf16 = |rest: &[u8], unit: fn([u8; 2]) -> u16| {
            let units: Vec<u16> = rest
                .chunks(2)
                .map(|pair| unit([pair[0], pair.get(1).copied().unwrap_or(0)]))
                .collect();
            String::from_utf16(&units)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        };
        match bytes.as_slice() {
            [0xFF, 0xFE, rest @ ..] => utf16(rest, u16::from_le_bytes),
            [0xFE, 0xFF, rest @ ..] => utf16(rest, u16::from_be_bytes),
            _ => String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        }
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line(&self, line: u32) -> Option<&str> {
        self.text.lines().nth(line.checked_sub(1)? as usize)
    }
}

/// A file as the tree's spans hold it. A tree has a span on every node and stays on
/// the thread that read it, so its spans count their file without atomic operations
/// (with an `Arc`, a tenth of a load went to counting); what outlives the load, an
/// error or a [`Location`], takes the shared file inside.
#[derive(Clone, Debug)]
#[allow(clippy::redundant_allocation)] // the outer count is the cheap one
pub struct FileRef(Rc<Arc<SourceFile>>);

impl FileRef {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Self(Rc::new(Arc::new(SourceFile {
            path: path.into(),
            text: text.into(),
        })))
    }
}

impl Deref for FileRef {
    type Target = SourceFile;

    fn deref(&self) -> &SourceFile {
        &self.0
    }
}

/// A position in a source file (1-based line and column, in characters).
#[derive(Clone, Default)]
pub struct Span {
    pub file: Option<FileRef>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    #[must_use]
    pub fn new(file: &FileRef, line: u32, col: u32) -> Self {
        Self {
            file: Some(file.clone()),
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

/// A position that outlives the load and may cross threads: an error's, or one found
/// again in the files for a later check (`WrittenFiles`).
#[derive(Clone)]
pub struct Location {
    file: Arc<SourceFile>,
    pub line: u32,
    pub col: u32,
}

impl Location {
    /// The span's place, when it has a file.
    #[must_use]
    pub fn of(span: &Span) -> Option<Self> {
        span.file.as_ref().map(|file| Self {
            file: Arc::clone(&file.0),
            line: span.line,
            col: span.col,
        })
    }

    #[must_use]
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// The text of the line it is on.
    #[must_use]
    pub fn source_line(&self) -> Option<&str> {
        self.file.line(self.line)
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path().display(), self.line, self.col)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
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

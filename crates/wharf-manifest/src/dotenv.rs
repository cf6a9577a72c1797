//! `.env` and `env_file` parsing with Compose's rules (not the dotenv crate's).
//!
//! `KEY=value` or `KEY: value`, an optional `export ` prefix, `#` comments (inline only
//! after whitespace in unquoted values), single quotes literal but for `\'`, double
//! quotes with escapes (`\n`, `\r`, `\t`, `\a`, `\b`, `\f`, `\v`, `\\`, `\"`, `\$`),
//! quoted values spanning lines, `${VAR}`
//! substitution in unquoted and double-quoted values, and a bare `KEY` inheriting from
//! the shell (left unset when the shell does not have it).

use indexmap::IndexMap;

use crate::error::{Error, Result};
use crate::interpolate::{self, Variables};
use crate::source::{FileRef, Span};

/// Parses `file`. `shell` answers bare keys and variables referenced in values; values
/// defined earlier in the file are visible to later ones.
pub fn parse(file: &FileRef, shell: &dyn Variables) -> Result<IndexMap<String, String>> {
    parse_after(file, shell, IndexMap::new())
}

/// As `parse`, for a file read after others whose variables it sees as its own
/// earlier lines (`known`, returned with the file's own on top).
pub fn parse_after(
    file: &FileRef,
    shell: &dyn Variables,
    known: IndexMap<String, String>,
) -> Result<IndexMap<String, String>> {
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(&file.text);
    let mut parser = Parser {
        text,
        pos: 0,
        file,
        out: known,
    };
    parser.run(shell)?;
    Ok(parser.out)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    file: &'a FileRef,
    out: IndexMap<String, String>,
}

/// The shell first, then what the file defined so far.
struct Scope<'a> {
    shell: &'a dyn Variables,
    file: &'a IndexMap<String, String>,
}

impl Variables for Scope<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.shell
            .get(name)
            .or_else(|| self.file.get(name).map(String::as_str))
    }
    fn unset(&self, name: &str) {
        self.shell.unset(name);
    }
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn span_at(&self, pos: usize) -> Span {
        let before = &self.text[..pos];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        Span::new(self.file, line as u32, col as u32)
    }

    fn error(&self, pos: usize, message: impl Into<String>) -> Error {
        Error::at(&self.span_at(pos), message)
    }

    fn run(&mut self, shell: &dyn Variables) -> Result<()> {
        loop {
            // Skip blank space and whole-line comments.
            let skipped = self.rest().len() - self.rest().trim_start().len();
            self.pos += skipped;
            if self.rest().is_empty() {
                return Ok(());
            }
            if self.rest().starts_with('#') {
                self.skip_line();
                continue;
            }
            self.statement(shell)?;
        }
    }

    fn skip_line(&mut self) {
        self.pos = self
            .rest()
            .find('\n')
            .map_or(self.text.len(), |i| self.pos + i + 1);
    }

    fn statement(&mut self, shell: &dyn Variables) -> Result<()> {
        let start = self.pos;
        if let Some(after) = self.rest().strip_prefix("export")
            && after.starts_with([' ', '\t'])
        {
            self.pos += "export".len();
            self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        }
        let key_start = self.pos;
        let key_len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .unwrap_or(self.rest().len());
        let key = self.rest()[..key_len].to_owned();
        self.pos += key_len;
        self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t', '\r']).len();
        match self.rest().chars().next() {
            None | Some('\n') => {
                if key.is_empty() {
                    return Err(self.error(start, "expected a variable name"));
                }
                // A bare KEY inherits from the shell.
                if let Some(value) = shell.get(&key) {
                    self.out.insert(key, value.to_owned());
                }
                self.skip_line();
                return Ok(());
            }
            Some('=' | ':') if !key.is_empty() => self.pos += 1,
            Some(c) => {
                let pos = if key.is_empty() { key_start } else { self.pos };
                return Err(self
                    .error(pos, format!("unexpected character {c:?} in variable name"))
                    .with_help("expected KEY=value"));
            }
        }
        self.pos += self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        let value = self.value(shell)?;
        self.out.insert(key, value);
        Ok(())
    }

    fn value(&mut self, shell: &dyn Variables) -> Result<String> {
        let Some(quote @ ('\'' | '"')) = self.rest().chars().next() else {
            return self.unquoted(shell);
        };
        let open = self.pos;
        let body_start = self.pos + 1;
        let mut end = None;
        let mut escaped = false;
        for (i, c) in self.text[body_start..].char_indices() {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                end = Some(body_start + i);
                break;
            }
        }
        let Some(end) = end else {
            return Err(self.error(open, "unterminated quoted value"));
        };
        let body = &self.text[body_start..end];
        // What follows the closing quote is read on, as Compose reads it: a comment, or
        // another `KEY=value` (`A='x' B=2` sets both; `A='it''s'` is an error).
        self.pos = end + 1;
        if quote == '\'' {
            // The one escape a single-quoted value has: its own quote.
            return Ok(body.replace("\\'", "'"));
        }
        let template = unescape_double_quoted(body);
        self.expand(&template, shell, open)
    }

    fn unquoted(&mut self, shell: &dyn Variables) -> Result<String> {
        let start = self.pos;
        let line_end = self
            .rest()
            .find('\n')
            .map_or(self.text.len(), |i| self.pos + i);
        let line = &self.text[start..line_end];
        let without_comment = inline_comment_start(line).map_or(line, |i| &line[..i]);
        let value = without_comment.trim_end().to_owned();
        self.pos = line_end;
        self.expand(&value, shell, start)
    }

    fn expand(&self, template: &str, shell: &dyn Variables, pos: usize) -> Result<String> {
        let scope = Scope {
            shell,
            file: &self.out,
        };
        interpolate::substitute(template, &scope).map_err(|err| self.error(pos, err.to_string()))
    }
}

/// An unquoted value's comment starts at a `#` preceded by whitespace.
fn inline_comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (1..bytes.len()).find(|&i| bytes[i] == b'#' && matches!(bytes[i - 1], b' ' | b'\t'))
}

/// Resolves backslash escapes as Compose does (Go's single-letter ones, `\\` and `\"`;
/// any other stays as written); `\$` becomes `$$` so substitution keeps it literal.
fn unescape_double_quoted(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('a') => out.push('\u{7}'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(literal @ ('\\' | '"')) => out.push(literal),
            Some('$') => out.push_str("$$"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::source::FileRef;

    struct Shell(HashMap<&'static str, &'static str>);

    impl Variables for Shell {
        fn get(&self, name: &str) -> Option<&str> {
            self.0.get(name).copied()
        }
    }

    fn parse_text(text: &str) -> IndexMap<String, String> {
        let shell = Shell(HashMap::from([("FROM_SHELL", "shell")]));
        parse(&FileRef::new(".env", text), &shell).unwrap()
    }

    #[test]
    fn compose_env_file_rules() {
        let env = parse_text(concat!(
            "# comment\n",
            "A=plain value # comment\n",
            "B=no#comment\n",
            "C='single $A \\n literal'\n",
            "D=\"d \\n \\t \\\\ \\\" ${A} \\$A\"\n",
            "export E=exported\n",
            "F=\"multi\nline\"\n",
            "FROM_SHELL\n",
            "MISSING\n",
            "J=  spaced  \n",
            "K:yaml style\n",
            "N=\n",
            "O='x' P=2\n",
            "Q=\"y\" # comment\n",
        ));
        assert_eq!((env["O"].as_str(), env["P"].as_str()), ("x", "2"));
        assert_eq!(env["Q"], "y");
        assert_eq!(env["A"], "plain value");
        assert_eq!(env["B"], "no#comment");
        assert_eq!(env["C"], "single $A \\n literal");
        assert_eq!(env["D"], "d \n \t \\ \" plain value $A");
        assert_eq!(env["E"], "exported");
        assert_eq!(env["F"], "multi\nline");
        assert_eq!(env["FROM_SHELL"], "shell");
        assert!(!env.contains_key("MISSING"));
        assert_eq!(env["J"], "spaced");
        assert_eq!(env["K"], "yaml style");
        assert_eq!(env["N"], "");
    }

    #[test]
    fn errors_point_at_the_line() {
        let shell = Shell(HashMap::new());
        let err = parse(&FileRef::new(".env", "A=1\nB=\"open\n"), &shell).unwrap_err();
        assert_eq!(err.location().unwrap().line, 2);
        let err = parse(&FileRef::new(".env", "A B=1\n"), &shell).unwrap_err();
        assert!(err.message().contains("unexpected character"), "{err}");
        let err = parse(&FileRef::new(".env", "A='it''s'\n"), &shell).unwrap_err();
        assert!(
            err.message().contains("unexpected character '\\''"),
            "{err}"
        );
    }
}

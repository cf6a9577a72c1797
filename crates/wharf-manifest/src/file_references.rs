//! Where one compose file names other local files — a service's `extends.file` and
//! its `env_file`s — and where in the text, so a published copy of the file can name
//! them otherwise while keeping every other byte as the user wrote it.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::interpolate;
use crate::node::{Node, Value};
use crate::paths;
use crate::source::{FileRef, Span};
use crate::yaml;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    Extends,
    EnvFile,
}

/// One file named by a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReference {
    pub service: String,
    pub kind: ReferenceKind,
    /// The path as the loader reads it: interpolated, then resolved.
    pub path: PathBuf,
    /// Where the scalar naming it sits in the file's text (bytes, quotes included).
    pub range: Range<usize>,
}

/// What publishing needs to know of one compose file.
#[derive(Debug, Default)]
pub struct FileOutline {
    /// The file's top-level `include` names a local file (a published project can carry
    /// only `oci://` ones).
    pub local_includes: bool,
    pub references: Vec<FileReference>,
}

/// Reads `text` (the file at `path`) for the files its services name, interpolated
/// with `vars` and resolved against `dir` (the project directory for a compose file,
/// its own for a file extended, as the loader resolves them).
pub fn file_references(
    path: &Path,
    text: &str,
    vars: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<FileOutline> {
    let file = FileRef::new(path, text);
    let documents = yaml::parse_documents(&file)?;
    let mut outline = FileOutline::default();
    let Some(top) = documents.first().and_then(Node::as_map) else {
        return Ok(outline);
    };
    outline.local_includes = top.get("include").is_some_and(names_a_local_file);
    let Some(services) = top.get("services").and_then(Node::as_map) else {
        return Ok(outline);
    };
    let lines = Lines::of(text);
    let home = vars
        .get("HOME")
        .cloned()
        .or_else(|| std::env::var("HOME").ok());
    let locate = |service: &str, kind, node: &Node| -> Result<Option<FileReference>> {
        let Value::Str(raw) = &node.value else {
            return Ok(None);
        };
        let written = interpolate::substitute(raw, &Vars(vars))
            .map_err(|err| Error::at(&node.span, err.to_string()))?;
        Ok(Some(FileReference {
            service: service.to_owned(),
            kind,
            path: paths::resolve(&written, dir, home.as_deref()),
            range: scalar_range(&lines, &node.span, raw)?,
        }))
    };
    for (name, service) in services.iter() {
        let Some(service) = service.as_map() else {
            continue;
        };
        if let Some(file) = service
            .get("extends")
            .and_then(Node::as_map)
            .and_then(|extends| extends.get("file"))
        {
            outline
                .references
                .extend(locate(name.name(), ReferenceKind::Extends, file)?);
        }
        let entries = match service.get("env_file") {
            Some(Node {
                value: Value::Seq(entries),
                ..
            }) => entries.iter().collect(),
            Some(single) => vec![single],
            None => Vec::new(),
        };
        for entry in entries {
            let entry = entry.as_map().and_then(|m| m.get("path")).unwrap_or(entry);
            outline
                .references
                .extend(locate(name.name(), ReferenceKind::EnvFile, entry)?);
        }
    }
    refuse_shared_anchors(&documents[0], &outline.references, &lines)?;
    Ok(outline)
}

/// A path written once under an anchor is rewritten once, for every alias of it. That
/// is right only if every use names a file: an anchor that a `command` or a label also
/// uses would change there too, so it is refused.
fn refuse_shared_anchors(root: &Node, references: &[FileReference], lines: &Lines) -> Result<()> {
    let mut other_uses = Vec::new();
    // A top-level `x-` key is where anchors are defined: not a use.
    for (key, node) in root.as_map().into_iter().flat_map(crate::node::Map::iter) {
        if !key.name().starts_with("x-") {
            collect_other_uses(node, Place::Other, &mut other_uses);
        }
    }
    // By where each starts, so each reference asks once.
    let other_uses: BTreeMap<usize, &Span> = other_uses
        .into_iter()
        .filter_map(|span| lines.offset(span).map(|at| (at, span)))
        .collect();
    let text = lines.text;
    for reference in references {
        let Some((_, span)) = other_uses.range(reference.range.clone()).next() else {
            continue;
        };
        return Err(Error::at(
            span,
            format!(
                "{} names a file where `{}` uses it, and is used here too: a published project renames it everywhere",
                &text[reference.range.clone()],
                match reference.kind {
                    ReferenceKind::Extends => "extends.file",
                    ReferenceKind::EnvFile => "env_file",
                },
            ),
        )
        .with_help("write the path out where it names a file, instead of through the anchor"));
    }
    Ok(())
}

/// Where a node sits, as far as naming a file goes.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    /// Under `env_file`, or the `path` of one of its entries.
    EnvFile,
    /// Under `extends`.
    Extends,
    /// Its `file`.
    ExtendsFile,
    Other,
}

/// The spans of the scalars that do not name a file.
fn collect_other_uses<'n>(node: &'n Node, place: Place, out: &mut Vec<&'n Span>) {
    match &node.value {
        Value::Map(map) => {
            for (key, child) in map.iter() {
                let inner = match (place, key.name()) {
                    (_, "env_file") | (Place::EnvFile, "path") => Place::EnvFile,
                    (_, "extends") => Place::Extends,
                    (Place::Extends, "file") => Place::ExtendsFile,
                    _ => Place::Other,
                };
                collect_other_uses(child, inner, out);
            }
        }
        Value::Seq(items) => {
            let inner = if place == Place::EnvFile {
                place
            } else {
                Place::Other
            };
            for item in items {
                collect_other_uses(item, inner, out);
            }
        }
        _ if matches!(place, Place::EnvFile | Place::ExtendsFile) => {}
        _ => out.push(&node.span),
    }
}

/// Whether an `include` (its entries, their `path`s) names anything but `oci://…`.
fn names_a_local_file(include: &Node) -> bool {
    match &include.value {
        Value::Str(path) => !path.starts_with("oci://"),
        Value::Seq(items) => items.iter().any(names_a_local_file),
        Value::Map(entry) => entry.get("path").is_some_and(names_a_local_file),
        _ => false,
    }
}

struct Vars<'a>(&'a BTreeMap<String, String>);

impl interpolate::Variables for Vars<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// The bytes of the one-line scalar that starts at `span` (after its anchor or tag) and
/// reads as `value`: a quoted one to its closing quote, a plain one as far as its value
/// goes. Anything else (a scalar over several lines) is refused, not guessed.
fn scalar_range(lines: &Lines, span: &Span, value: &str) -> Result<Range<usize>> {
    let text = lines.text;
    let unsupported = || {
        Error::at(
            span,
            format!("cannot name {value:?} otherwise here: write it on one line"),
        )
    };
    let mut start = lines.offset(span).ok_or_else(unsupported)?;
    // An anchored or tagged scalar's span starts at its `&anchor` or `!tag`.
    while text[start..].starts_with(['&', '!']) {
        let token = text[start..]
            .find([' ', '\t', '\n'])
            .unwrap_or(text.len() - start);
        let blanks = text[start + token..]
            .find(|c: char| c != ' ' && c != '\t')
            .unwrap_or(0);
        start += token + blanks;
    }
    let rest = &text[start..];
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let len = match line.as_bytes().first() {
        Some(b'"') => closing_double_quote(line),
        Some(b'\'') => closing_single_quote(line),
        // A plain scalar on one line is its value, as written.
        _ => line
            .strip_prefix(value)
            .filter(|after| {
                after
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || matches!(c, ',' | ']' | '}'))
            })
            .map(|_| value.len()),
    }
    .ok_or_else(unsupported)?;
    Ok(start..start + len)
}

fn closing_double_quote(line: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in line.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(at + 1),
            _ => escaped = false,
        }
    }
    None
}

fn closing_single_quote(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut at = 1;
    while at < bytes.len() {
        if bytes[at] == b'\'' {
            if bytes.get(at + 1) == Some(&b'\'') {
                at += 2;
                continue;
            }
            return Some(at + 1);
        }
        at += 1;
    }
    None
}

/// The byte offset of a 1-based line and character column.
/// A text with where each of its lines starts, to turn positions into byte offsets.
struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn of(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self { text, starts }
    }

    /// The byte offset of a 1-based line and character column.
    fn offset(&self, span: &Span) -> Option<usize> {
        let line_start = *self.starts.get(span.line.checked_sub(1)? as usize)?;
        let line = &self.text[line_start..];
        let column = line
            .char_indices()
            .nth(span.col.checked_sub(1)? as usize)
            .map_or(line.len(), |(at, _)| at);
        Some(line_start + column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(text: &str) -> FileOutline {
        let vars = BTreeMap::from([("WHICH".to_owned(), "prod".to_owned())]);
        file_references(Path::new("/p/compose.yaml"), text, &vars, Path::new("/p")).unwrap()
    }

    fn named(text: &str) -> Vec<(String, ReferenceKind, String, &str)> {
        outline(text)
            .references
            .into_iter()
            .map(|r| {
                let written = &text[r.range.clone()];
                (r.service, r.kind, r.path.display().to_string(), written)
            })
            .collect()
    }

    #[test]
    fn every_form_of_env_file_and_extends_is_found_where_it_is_written() {
        let text = "services:\n  web:\n    extends:\n      file: \"base.yaml\"  # shared\n      service: base\n    env_file:\n      - a.env\n      - path: 'b''s.env'\n        required: false\n  db:\n    env_file: ${WHICH}.env # the stage\n  api:\n    env_file: [one.env, \"two.env\"]\n";
        assert_eq!(
            named(text),
            [
                (
                    "web".to_owned(),
                    ReferenceKind::Extends,
                    "/p/base.yaml".to_owned(),
                    "\"base.yaml\""
                ),
                (
                    "web".to_owned(),
                    ReferenceKind::EnvFile,
                    "/p/a.env".to_owned(),
                    "a.env"
                ),
                (
                    "web".to_owned(),
                    ReferenceKind::EnvFile,
                    "/p/b's.env".to_owned(),
                    "'b''s.env'"
                ),
                (
                    "db".to_owned(),
                    ReferenceKind::EnvFile,
                    "/p/prod.env".to_owned(),
                    "${WHICH}.env"
                ),
                (
                    "api".to_owned(),
                    ReferenceKind::EnvFile,
                    "/p/one.env".to_owned(),
                    "one.env"
                ),
                (
                    "api".to_owned(),
                    ReferenceKind::EnvFile,
                    "/p/two.env".to_owned(),
                    "\"two.env\""
                ),
            ]
        );
    }

    #[test]
    fn an_anchor_is_rewritten_where_it_is_defined_when_every_use_names_a_file() {
        let text = "x-common: &common\n  image: alpine\n  env_file: [&f a.env]\nservices:\n  one:\n    <<: *common\n  two:\n    env_file: *f\n";
        let found = named(text);
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|(_, _, path, written)| path == "/p/a.env" && *written == "a.env")
        );
    }

    #[test]
    fn an_anchor_defined_under_an_extension_and_used_for_files_is_rewritten() {
        let text = "x-env: &env [common.env]\nservices:\n  one:\n    env_file: *env\n  two:\n    env_file: *env\n";
        assert_eq!(named(text).len(), 2);
    }

    fn refusal(text: &str) -> String {
        file_references(
            Path::new("/p/compose.yaml"),
            text,
            &BTreeMap::new(),
            Path::new("/p"),
        )
        .unwrap_err()
        .to_string()
    }

    #[test]
    fn an_anchor_a_command_also_uses_is_refused() {
        let err =
            refusal("x-f: &f\n  - a.env\nservices:\n  one:\n    env_file: *f\n    command: *f\n");
        assert!(err.contains("is used here too"), "{err}");
    }

    #[test]
    fn local_includes_are_noticed_and_a_file_without_services_names_nothing() {
        let found = outline("include:\n  - other.yaml\n");
        assert!(found.local_includes);
        assert!(found.references.is_empty());
        assert!(!outline("services: {}\n").local_includes);
        assert!(
            !outline("include: [oci://r.example/a:1, {path: [oci://r.example/b:1]}]\n")
                .local_includes
        );
        assert!(outline("include: [oci://r.example/a:1, {path: [b.yaml]}]\n").local_includes);
    }

    #[test]
    fn a_path_over_several_lines_is_refused_not_guessed() {
        let err = refusal("services:\n  web:\n    env_file: a\n      b.env\n");
        assert!(err.contains("write it on one line"), "{err}");
    }

    #[test]
    fn non_ascii_before_the_path_counts_in_characters_not_bytes() {
        let text = "services:\n  café: {env_file: é.env}\n";
        assert_eq!(
            named(text),
            [(
                "café".to_owned(),
                ReferenceKind::EnvFile,
                "/p/é.env".to_owned(),
                "é.env"
            )]
        );
    }
}

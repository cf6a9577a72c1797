//! Reads YAML text into [`Node`] trees: anchors, aliases, merge keys (`<<`) and the
//! Compose tags `!reset` / `!override`, each node keeping its position.
//!
//! Built on saphyr-parser's event stream rather than a serde deserializer because
//! Compose needs the tags and the positions of every node before any typing happens.

use std::collections::HashMap;
use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as EventSpan, Tag};

use crate::error::{Error, Result};
use crate::node::{Key, Map, Node, NodeTag, Value};
use crate::scalar;
use crate::source::{FileRef, SourceFile, Span};
use crate::yaml_fast;

/// Parses every document in `file`. An empty file yields no documents.
///
/// The fast reader goes first; where it declines, or its events lead to an error,
/// saphyr-parser reads the file again, so every error is worded the one way.
pub fn parse_documents(file: &FileRef) -> Result<Vec<Node>> {
    let mut builder = Builder::new(file);
    if yaml_fast::read(&file.text, &mut builder, yaml_fast::FlowLines::AsCompose).is_some() {
        return Ok(builder.documents);
    }
    let mut text = std::borrow::Cow::Borrowed(file.text.as_str());
    let mut indented = Vec::new();
    loop {
        let mut builder = Builder::new(file);
        builder.indented.clone_from(&indented);
        let mut refused = None;
        for event in Parser::new_from_str(&text) {
            match event {
                Ok((event, span)) => builder.push(event, &span)?,
                Err(err) => {
                    refused = Some(err);
                    break;
                }
            }
        }
        let Some(err) = refused else {
            return Ok(builder.documents);
        };
        if let Some(tabs) = tabs_after_colon(&text, &err) {
            text.to_mut()
                .replace_range(tabs.clone(), &" ".repeat(tabs.len()));
        } else if let Some(line) = shallow_flow_line(&text, &err) {
            text.to_mut()
                .insert_str(line.start, &" ".repeat(line.added as usize));
            indented.push((line.number, line.added));
        } else {
            return Err(syntax_error(file, &err));
        }
    }
}

/// A line of a flow collection (`[`, `{` over several lines) that saphyr-parser finds
/// indented too little, as the `]` of `command: [` on a line of its own at the key's
/// indentation: YAML wants it deeper than the key, Compose takes it.
struct ShallowFlowLine {
    /// Counted from 1.
    number: u32,
    /// Where the line starts in the text.
    start: usize,
    /// The spaces that bring it to the collection's opening column.
    added: u32,
}

/// The line saphyr-parser refused for its indentation inside a flow collection, read
/// again indented to the column of the collection's opening character (the spaces
/// change nothing inside a flow collection).
fn shallow_flow_line(text: &str, err: &saphyr_parser::ScanError) -> Option<ShallowFlowLine> {
    if err.info() != "invalid indentation" {
        return None;
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let number = u32::try_from(err.marker().line()).ok()?;
    let (_, open_col, _) = unclosed_flow(|n| lines.get(n as usize - 1).copied(), number)?;
    let line = lines.get(number as usize - 1)?;
    let indentation = u32::try_from(line.len() - line.trim_start_matches(' ').len()).ok()?;
    let added = open_col.checked_sub(indentation + 1).filter(|&n| n > 0)?;
    Some(ShallowFlowLine {
        number,
        start: lines[..number as usize - 1].iter().map(|l| l.len()).sum(),
        added,
    })
}

/// The tabs between a key's `:` and its value when saphyr-parser refuses them there
/// (`image:<TAB>nginx`), which YAML allows and Compose takes: read again as spaces, of
/// the same width in bytes, so every position stays where it was.
fn tabs_after_colon(text: &str, err: &saphyr_parser::ScanError) -> Option<std::ops::Range<usize>> {
    if err.info() != "':' must be followed by a valid YAML whitespace" {
        return None;
    }
    let value = text
        .char_indices()
        .nth(err.marker().index())
        .map_or(text.len(), |(at, _)| at);
    let blanks = text[..value].len() - text[..value].trim_end_matches([' ', '\t']).len();
    let start = value - blanks;
    (text[..start].ends_with(':') && text[start..value].contains('\t')).then_some(start..value)
}

/// Points a syntax error at its line, or just past the last written character when
/// the file ended first.
fn syntax_error(file: &FileRef, err: &saphyr_parser::ScanError) -> Error {
    let marker = err.marker();
    let line = marker.line() as u32;
    if err.info().contains("simple key")
        && let Some(key) = key_without_colon(file, line)
    {
        let col = file.line(key).map_or(0, |l| l.len() - l.trim_start().len());
        let span = Span::new(file, key, u32::try_from(col).unwrap_or(0) + 1);
        return Error::at(&span, "invalid YAML: could not find expected ':'")
            .with_help("a key needs a `:` after it");
    }
    // A `[` or `{` left open makes the scanner stumble later, over what follows it.
    if let Some((open_line, open_col, opener)) = unclosed_flow(|n| file.line(n), line) {
        let closer = if opener == '[' { ']' } else { '}' };
        let span = Span::new(file, open_line, open_col);
        return Error::at(
            &span,
            format!("invalid YAML: this `{opener}` is not closed: did not find expected ',' or '{closer}'"),
        )
        .with_help(format!("close it with `{closer}` on its line, or put its items on lines of their own with `- `"));
    }
    let message = format!("invalid YAML: {}", err.info());
    let ended = (line..)
        .map_while(|n| file.line(n))
        .all(|l| l.trim().is_empty());
    if !ended {
        let span = Span::new(file, line, marker.col() as u32 + 1);
        return Error::at(&span, message);
    }
    let last = (1..line.max(1))
        .rev()
        .find(|n| file.line(*n).is_some_and(|l| !l.trim().is_empty()))
        .unwrap_or(1);
    let end = file.line(last).map_or(0, |l| l.chars().count());
    let span = Span::new(file, last, u32::try_from(end).unwrap_or(0) + 1);
    Error::at(&span, message).with_help("the file ends before this is closed or complete")
}

/// The last flow collection opened on a line before `line` and not closed by then:
/// its line, column and opening character. A `[` or `{` opens one where a value or a
/// flow item starts (after `: `, `- `, an indentation, or inside another), not inside
/// a plain text; quoted texts and comments are skipped.
fn unclosed_flow<'t>(
    line_of: impl Fn(u32) -> Option<&'t str>,
    line: u32,
) -> Option<(u32, u32, char)> {
    let mut open: Vec<(u32, u32, char)> = Vec::new();
    for number in 1..line {
        let text = line_of(number)?;
        let mut quote = None;
        let mut before = ' ';
        for (col, c) in (1..).zip(text.chars()) {
            if let Some(closing) = quote {
                if c == closing {
                    quote = None;
                }
                continue;
            }
            let starts_value = !open.is_empty() || value_starts_after(text, col - 1);
            match c {
                '\'' | '"' if starts_value => quote = Some(c),
                '#' if before == ' ' => break,
                '[' | '{' if starts_value => open.push((number, col, c)),
                ']' | '}' if !open.is_empty() => {
                    open.pop();
                }
                _ => {}
            }
            before = c;
        }
    }
    open.pop()
}

/// Whether a value may start after the first `chars` characters of `text`: only
/// spaces before, or a `:` or `-` and spaces.
fn value_starts_after(text: &str, chars: u32) -> bool {
    let before: String = text.chars().take(chars as usize).collect();
    let trimmed = before.trim_end();
    trimmed.is_empty() || trimmed.ends_with(':') || trimmed.ends_with('-')
}

/// Where a key written without its `:` began, when the scanner noticed on `line`: the
/// key ran on as a plain text over the lines before, which hold no `:`.
fn key_without_colon(file: &SourceFile, line: u32) -> Option<u32> {
    let mut key = line;
    while key > 1 {
        let before = file.line(key - 1)?.trim();
        if before.is_empty() || before.starts_with('#') || before.contains(':') {
            break;
        }
        key -= 1;
    }
    (key < line).then_some(key)
}

/// Deep enough for any real file; bounds memory on hostile input.
const MAX_DEPTH: usize = 256;

/// How many values aliases may copy in one file: far more than any real file needs,
/// and a bound on memory for one built to expand without end ("billion laughs").
const MAX_EXPANDED: usize = 500_000;

/// Builds node trees from YAML events pushed to it in order, from either reader.
pub struct Builder<'a> {
    file: &'a FileRef,
    /// The collections opened and not yet closed, innermost last.
    open: Vec<Open>,
    /// Each anchored node with the number of values it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values copied by aliases so far.
    expanded: usize,
    documents: Vec<Node>,
    /// Lines read with spaces added before them (see [`ShallowFlowLine`]), and how
    /// many: their nodes' columns are told as written.
    indented: Vec<(u32, u32)>,
}

/// A collection whose entries are still arriving.
struct Open {
    span: Span,
    tag: Option<NodeTag>,
    anchor: usize,
    entries: Entries,
}

enum Entries {
    Seq(Vec<Node>),
    Map {
        map: Map,
        /// Keys merged in through `<<`; explicit keys always win over them.
        merged: Vec<(Key, Node)>,
        /// The key read whose value has not arrived yet.
        key: Option<PendingKey>,
        /// The line of the mapping's `<<`, which may appear once, as any key.
        merge_line: Option<u32>,
    },
}

enum PendingKey {
    Name(String, Span),
    Merge,
    /// A sequence or mapping used as a key, refused once its value is read.
    Collection(Span),
}

impl<'a> Builder<'a> {
    pub fn new(file: &'a FileRef) -> Self {
        Self {
            file,
            open: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            documents: Vec::new(),
            indented: Vec::new(),
        }
    }

    fn span(&self, span: &EventSpan) -> Span {
        let line = span.start.line() as u32;
        let added = self
            .indented
            .iter()
            .find_map(|&(indented, added)| (indented == line).then_some(added))
            .unwrap_or(0);
        Span::new(
            self.file,
            line,
            (span.start.col() as u32 + 1).saturating_sub(added).max(1),
        )
    }

    pub fn push(&mut self, event: Event<'_>, event_span: &EventSpan) -> Result<()> {
        let sequence = matches!(event, Event::SequenceStart(..));
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentStart(_) => {
                Ok(())
            }
            Event::DocumentEnd => {
                self.anchors.clear();
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let span = self.span(event_span);
                let merge_key = style == ScalarStyle::Plain && tag.is_none() && text == "<<";
                if merge_key && self.awaits_key() {
                    return self.add(Node::null(span), 0, true);
                }
                let node = scalar(&text, style, tag.as_deref(), &span)?;
                self.add(node, anchor, false)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                let span = self.span(event_span);
                if self.open.len() >= MAX_DEPTH {
                    return Err(Error::at(&span, "YAML nesting is too deep"));
                }
                let tag = compose_tag(tag.as_deref(), &span)?;
                let entries = if sequence {
                    Entries::Seq(Vec::new())
                } else {
                    Entries::Map {
                        map: Map::default(),
                        merged: Vec::new(),
                        key: None,
                        merge_line: None,
                    }
                };
                self.open.push(Open {
                    span,
                    tag,
                    anchor,
                    entries,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let open = self.open.pop().expect("a collection ends only once opened");
                let value = match open.entries {
                    Entries::Seq(items) => Value::Seq(items),
                    Entries::Map {
                        mut map, merged, ..
                    } => {
                        for (key, value) in merged {
                            if !map.contains(key.name()) {
                                map.push((key, value));
                            }
                        }
                        Value::Map(map)
                    }
                };
                let mut node = Node::new(value, open.span);
                node.tag = open.tag;
                self.add(node, open.anchor, false)
            }
            Event::Alias(id) => {
                let span = self.span(event_span);
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| Error::at(&span, "alias refers to an unknown anchor"))?;
                self.expanded = self.expanded.saturating_add(*size);
                if self.expanded > MAX_EXPANDED {
                    return Err(Error::at(
                        &span,
                        format!("aliases in this file expand to more than {MAX_EXPANDED} values"),
                    )
                    .with_help(
                        "aliases that repeat aliases grow without bound; write the values out",
                    ));
                }
                let node = node.clone();
                self.add(node, 0, false)
            }
        }
    }

    /// Whether the next node is a mapping's key.
    fn awaits_key(&self) -> bool {
        matches!(
            self.open.last(),
            Some(Open {
                entries: Entries::Map { key: None, .. },
                ..
            })
        )
    }

    /// Refuses a key that YAML reads as a number, a boolean or null, as Compose does:
    /// its files are JSON-like, every key a string.
    fn check_string_key(&self, key: &Node) -> Result<()> {
        let shown = match &key.value {
            Value::Null => "<nil>".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Uint(u) => u.to_string(),
            Value::Time(t) => t.clone(),
            Value::Float(f) => crate::go_float::format_float(*f),
            Value::Str(_) | Value::Seq(_) | Value::Map(_) => return Ok(()),
        };
        let message = match self.open_path() {
            path if path.is_empty() => format!("non-string key at top level: {shown}"),
            path => format!("non-string key in {path}: {shown}"),
        };
        Err(Error::at(&key.span, message).with_help("quote the key to make it a string"))
    }

    /// Where the innermost open collection sits, as Compose names it:
    /// `services.web.labels`, `x-a[0].b`.
    fn open_path(&self) -> String {
        let mut path = String::new();
        for open in &self.open[..self.open.len().saturating_sub(1)] {
            match &open.entries {
                Entries::Seq(items) => {
                    let _ = write!(path, "[{}]", items.len());
                }
                Entries::Map { key, .. } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(match key {
                        Some(PendingKey::Name(name, _)) => name,
                        _ => "<<",
                    });
                }
            }
        }
        path
    }

    /// Places a finished node: as a document, a sequence's item, or a mapping's key or
    /// value.
    fn add(&mut self, node: Node, anchor: usize, merge_key: bool) -> Result<()> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.count()));
        }
        if !merge_key && self.awaits_key() {
            self.check_string_key(&node)?;
        }
        let Some(open) = self.open.last_mut() else {
            if !node.is_null() {
                self.documents.push(node);
            }
            return Ok(());
        };
        match &mut open.entries {
            Entries::Seq(items) => items.push(node),
            Entries::Map {
                map,
                merged,
                key,
                merge_line,
            } => match key.take() {
                None => {
                    *key = Some(if merge_key {
                        if let Some(line) = merge_line {
                            return Err(Error::at(
                                &node.span,
                                format!("mapping key \"<<\" already defined at line {line}"),
                            ));
                        }
                        *merge_line = Some(node.span.line);
                        PendingKey::Merge
                    } else {
                        match node.value {
                            Value::Seq(_) | Value::Map(_) => PendingKey::Collection(node.span),
                            Value::Str(name) => PendingKey::Name(name, node.span),
                            value => PendingKey::Name(
                                value.scalar_text().unwrap_or_else(|| "null".to_owned()),
                                node.span,
                            ),
                        }
                    });
                }
                Some(PendingKey::Merge) => collect_merge(&node, merged)?,
                Some(PendingKey::Collection(span)) => {
                    return Err(Error::at(&span, "a mapping key must be a scalar"));
                }
                Some(PendingKey::Name(name, span)) => {
                    if let Some(existing) = map.key(&name) {
                        return Err(Error::at(
                            &span,
                            format!(
                                "mapping key {name:?} already defined at line {}",
                                existing.span.line
                            ),
                        ));
                    }
                    map.push((Key::new(name, span), node));
                }
            },
        }
        Ok(())
    }
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, span: &Span) -> Result<Node> {
    let node_tag = compose_tag(tag, span)?;
    let value = match tag.map(core_tag_name) {
        Some(Some("str")) => Value::Str(text.to_owned()),
        Some(Some("null")) => Value::Null,
        Some(Some(name @ ("int" | "float" | "bool"))) => match scalar::resolve_plain(text) {
            value @ (Value::Int(_) | Value::Uint(_)) if name == "int" => value,
            Value::Int(i) if name == "float" => Value::Float(i as f64),
            Value::Uint(u) if name == "float" => Value::Float(u as f64),
            value @ Value::Float(_) if name == "float" => value,
            value @ Value::Bool(_) if name == "bool" => value,
            _ => {
                return Err(Error::at(
                    span,
                    format!("cannot decode {text:?} as !!{name}"),
                ));
            }
        },
        _ if style == ScalarStyle::Plain && !is_other_local_tag(tag) => scalar::resolve_plain(text),
        _ => Value::Str(text.to_owned()),
    };
    Ok(Node {
        value,
        span: span.clone(),
        tag: node_tag,
    })
}

/// Adds the entries of a `<<` value (a mapping or a list of mappings) that are not
/// already present; the first source of a key wins, as YAML specifies.
fn collect_merge(value: &Node, merged: &mut Vec<(Key, Node)>) -> Result<()> {
    let mut add = |map: &Map| {
        for (key, node) in map.iter() {
            if !merged
                .iter()
                .any(|(existing, _)| existing.name() == key.name())
            {
                merged.push((key.clone(), node.clone()));
            }
        }
    };
    match &value.value {
        Value::Map(map) => add(map),
        Value::Seq(items) => {
            for item in items {
                let map = item.as_map().ok_or_else(|| {
                    Error::at(
                        &item.span,
                        "a merge key (<<) takes a mapping or a list of mappings",
                    )
                })?;
                add(map);
            }
        }
        _ => {
            return Err(Error::at(
                &value.span,
                "a merge key (<<) takes a mapping or a list of mappings",
            ));
        }
    }
    Ok(())
}

/// A local tag other than Compose's own (`!str`, `!foo`): its scalar is a string.
fn is_other_local_tag(tag: Option<&Tag>) -> bool {
    tag.is_some_and(|tag| tag.handle == "!" && !matches!(tag.suffix.as_str(), "reset" | "override"))
}

/// The suffix of a YAML core-schema tag (`!!str` → `str`), if the tag is one.
fn core_tag_name(tag: &Tag) -> Option<&str> {
    (tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!").then_some(tag.suffix.as_str())
}

fn compose_tag(tag: Option<&Tag>, span: &Span) -> Result<Option<NodeTag>> {
    let Some(tag) = tag else { return Ok(None) };
    if core_tag_name(tag).is_some() {
        return Ok(None);
    }
    match (tag.handle.as_str(), tag.suffix.as_str()) {
        ("!", "reset") => Ok(Some(NodeTag::Reset)),
        ("!", "override") => Ok(Some(NodeTag::Override)),
        // Compose reads a value under any other local tag as untagged (a scalar as a
        // string: see `scalar`).
        ("!", _) => Ok(None),
        (handle, suffix) => Err(
            Error::at(span, format!("unsupported YAML tag {handle}{suffix}"))
                .with_help("Compose understands !reset and !override"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Node {
        let file = FileRef::new("test.yaml", text);
        parse_documents(&file).unwrap().remove(0)
    }

    /// The mapping of service `name` in a parsed file.
    fn service<'n>(node: &'n Node, name: &str) -> &'n Map {
        let services = node.as_map().unwrap().get("services").unwrap();
        services
            .as_map()
            .unwrap()
            .get(name)
            .unwrap()
            .as_map()
            .unwrap()
    }

    #[test]
    fn a_key_without_its_colon_is_pointed_at_where_it_began() {
        let file = FileRef::new(
            "test.yaml",
            "services:\n  db:\n    image: postgres\n  web\n    image: nginx\n",
        );
        let err = parse_documents(&file).unwrap_err();
        let span = err.location().unwrap();
        assert_eq!((span.line, span.col), (4, 3), "{err:?}");
        assert!(
            err.message().contains("could not find expected ':'"),
            "{err:?}"
        );
    }

    #[test]
    fn tabs_after_a_colon_separate_as_spaces_do() {
        let file = FileRef::new(
            "test.yaml",
            "services:\n  web:\n    image:\tnginx\n    command:\t\t'-x a\tb'\n    user: \t-1\n",
        );
        let node = parse_documents(&file).unwrap().remove(0);
        let web = service(&node, "web");
        let text = |key: &str| match &web.get(key).unwrap().value {
            Value::Str(text) => text.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(text("image"), "nginx");
        // A tab inside a value is the value's own.
        assert_eq!(text("command"), "-x a\tb");
        assert!(matches!(web.get("user").unwrap().value, Value::Int(-1)));
        let image = web.get("image").unwrap();
        assert_eq!((image.span.line, image.span.col), (3, 12));
        // A tab used as indentation is still refused.
        let file = FileRef::new("test.yaml", "services:\n\tweb:\n    image: nginx\n");
        assert!(parse_documents(&file).is_err());
    }

    /// A flow collection's later lines as shallow as its key (the fast reader declines
    /// the file for its text over two lines): read as Compose reads them, each node
    /// still at its written column.
    #[test]
    fn flow_lines_as_shallow_as_their_key_are_read_where_they_are_written() {
        let node = parse(
            "x-flags:\n  --a\n  --b\nservices:\n  web:\n    command: [\n    \"a\",\n    b\n    ]\n",
        );
        let command = service(&node, "web").get("command").unwrap();
        let Value::Seq(items) = &command.value else {
            panic!("{command:?}")
        };
        let at: Vec<_> = items
            .iter()
            .map(|i| (i.as_str().unwrap(), i.span.line, i.span.col))
            .collect();
        assert_eq!(at, [("a", 7, 5), ("b", 8, 5)]);
    }

    #[test]
    fn merge_keys_add_only_missing_keys() {
        let node = parse("base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\n");
        let child = node
            .as_map()
            .unwrap()
            .get("child")
            .unwrap()
            .as_map()
            .unwrap();
        assert!(matches!(child.get("a").unwrap().value, Value::Int(1)));
        assert!(matches!(child.get("b").unwrap().value, Value::Int(3)));
    }

    #[test]
    fn nodes_remember_line_and_column() {
        let node = parse("services:\n  web:\n    image: nginx\n");
        let image = service(&node, "web").get("image").unwrap();
        assert_eq!((image.span.line, image.span.col), (3, 12));
    }

    /// A `[` or `{` left open is pointed at, not what the scanner stumbled over later;
    /// brackets inside a plain text, a quoted text or a comment open nothing.
    #[test]
    fn a_flow_collection_left_open_is_pointed_at() {
        let text = "a:\n  b: echo x[1] \"y[\" # [\n  c: [1, {d: 2}\n  e: 3\n";
        let err = parse_documents(&FileRef::new("t.yaml", text)).unwrap_err();
        assert!(err.message().contains("this `[` is not closed"), "{err}");
        let span = err.location().unwrap();
        assert_eq!((span.line, span.col), (3, 6));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_both_lines() {
        let file = FileRef::new("t.yaml", "a: 1\na: 2\n");
        let err = parse_documents(&file).unwrap_err();
        assert!(err.message().contains("already defined at line 1"), "{err}");
        assert_eq!(err.location().unwrap().line, 2);
    }

    #[test]
    fn keys_that_read_as_other_types_are_refused_with_their_place() {
        for (text, said) in [
            ("1: x\n", "non-string key at top level: 1"),
            ("a:\n  b:\n    true: 1\n", "non-string key in a.b: true"),
            (
                "x-a:\n  - b:\n      ~: 1\n",
                "non-string key in x-a[0].b: <nil>",
            ),
            ("a: {c: [{1.5: x}]}\n", "non-string key in a.c[0]: 1.5"),
        ] {
            let err = parse_documents(&FileRef::new("t.yaml", text)).unwrap_err();
            assert_eq!(err.message(), said, "{text:?}");
        }
        // Quoted, they are strings; `yes` and `on` are strings in YAML 1.2.
        parse("'1': x\n\"true\": y\nyes: 1\non: 2\n");
    }

    #[test]
    fn other_local_tags_make_scalars_strings_and_leave_collections_be() {
        let node = parse("a: !foo 5\nb: !str ~\nc: !list [1]\n");
        let map = node.as_map().unwrap();
        assert!(matches!(&map.get("a").unwrap().value, Value::Str(s) if s == "5"));
        assert!(matches!(&map.get("b").unwrap().value, Value::Str(s) if s == "~"));
        assert!(matches!(map.get("c").unwrap().value, Value::Seq(_)));
        assert_eq!(map.get("c").unwrap().tag, None);
    }

    #[test]
    fn a_second_merge_key_is_a_duplicate_key() {
        let file = FileRef::new("t.yaml", "b: &b {x: 1}\nc:\n  <<: *b\n  <<: *b\n");
        let err = parse_documents(&file).unwrap_err();
        assert!(
            err.message().contains("\"<<\" already defined at line 3"),
            "{err}"
        );
    }

    #[test]
    fn reset_and_override_tags_are_kept() {
        let node = parse("a: !reset []\nb: !override {x: 1}\n");
        let map = node.as_map().unwrap();
        assert_eq!(map.get("a").unwrap().tag, Some(NodeTag::Reset));
        assert_eq!(map.get("b").unwrap().tag, Some(NodeTag::Override));
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let node = parse("a: '1'\nb: \"true\"\nc: !!str 5\n");
        let map = node.as_map().unwrap();
        for key in ["a", "b", "c"] {
            assert!(
                matches!(map.get(key).unwrap().value, Value::Str(_)),
                "{key}"
            );
        }
    }
}

//! Reads YAML text into [`Node`] trees: anchors, aliases, merge keys (`<<`) and the
//! Compose tags `!reset` / `!override`, each node keeping its position.
//!
//! Built on saphyr-parser's event stream rather than a serde deserializer because
//! Compose needs the tags and the positions of every node before any typing happens.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as EventSpan, StrInput, Tag};

use crate::error::{Error, Result};
use crate::node::{Key, Map, Node, NodeTag, Value};
use crate::scalar;
use crate::source::{SourceFile, Span};

/// Parses every document in `file`. An empty file yields no documents.
pub fn parse_documents(file: &Arc<SourceFile>) -> Result<Vec<Node>> {
    let mut reader = Reader {
        parser: Parser::new_from_str(&file.text),
        file,
        anchors: HashMap::new(),
        depth: 0,
        expanded: 0,
    };
    let mut documents = Vec::new();
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                let (event, span) = reader.next()?;
                if matches!(event, Event::DocumentEnd) {
                    continue;
                }
                let node = reader.node(event, &span)?;
                if !node.is_null() {
                    documents.push(node);
                }
                reader.anchors.clear();
            }
            Event::StreamEnd => return Ok(documents),
            _ => {
                return Err(Error::at(
                    &span,
                    "unexpected YAML content outside a document",
                ));
            }
        }
    }
}

/// Deep enough for any real file; bounds recursion on hostile input.
const MAX_DEPTH: usize = 256;

/// How many values aliases may copy in one file: far more than any real file needs,
/// and a bound on memory for one built to expand without end ("billion laughs").
const MAX_EXPANDED: usize = 500_000;

struct Reader<'a> {
    parser: Parser<'a, StrInput<'a>>,
    file: &'a Arc<SourceFile>,
    /// Each anchored node with the number of values it holds.
    anchors: HashMap<usize, (Node, usize)>,
    depth: usize,
    /// Values copied by aliases so far.
    expanded: usize,
}

impl<'a> Reader<'a> {
    fn span(&self, span: &EventSpan) -> Span {
        Span::new(
            self.file,
            span.start.line() as u32,
            span.start.col() as u32 + 1,
        )
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let span = self.span(&span);
                Ok((event, span))
            }
            Some(Err(err)) => {
                let marker = err.marker();
                let line = marker.line() as u32;
                let message = format!("invalid YAML: {}", err.info());
                let ended = (line..)
                    .map_while(|n| self.file.line(n))
                    .all(|l| l.trim().is_empty());
                if !ended {
                    let span = Span::new(self.file, line, marker.col() as u32 + 1);
                    return Err(Error::at(&span, message));
                }
                // The file ended first: point just past its last written character.
                let last = (1..line.max(1))
                    .rev()
                    .find(|n| self.file.line(*n).is_some_and(|l| !l.trim().is_empty()))
                    .unwrap_or(1);
                let end = self.file.line(last).map_or(0, |l| l.chars().count());
                let span = Span::new(self.file, last, u32::try_from(end).unwrap_or(0) + 1);
                Err(Error::at(&span, message)
                    .with_help("the file ends before this is closed or complete"))
            }
            None => Ok((Event::StreamEnd, Span::synthetic())),
        }
    }

    fn node(&mut self, event: Event<'a>, span: &Span) -> Result<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::at(span, "YAML nesting is too deep"));
        }
        let result = self.node_inner(event, span);
        self.depth -= 1;
        result
    }

    fn node_inner(&mut self, event: Event<'a>, span: &Span) -> Result<Node> {
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                (Self::scalar(&text, style, tag.as_deref(), span)?, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let (event, item_span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, &item_span)?);
                }
                let mut node = Node::new(Value::Seq(items), span.clone());
                node.tag = compose_tag(tag.as_deref(), span)?;
                (node, anchor)
            }
            Event::MappingStart(anchor, tag) => {
                let map = self.mapping()?;
                let mut node = Node::new(Value::Map(map), span.clone());
                node.tag = compose_tag(tag.as_deref(), span)?;
                (node, anchor)
            }
            Event::Alias(id) => {
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| Error::at(span, "alias refers to an unknown anchor"))?;
                self.expanded = self.expanded.saturating_add(*size);
                if self.expanded > MAX_EXPANDED {
                    return Err(Error::at(
                        span,
                        format!("aliases in this file expand to more than {MAX_EXPANDED} values"),
                    )
                    .with_help(
                        "aliases that repeat aliases grow without bound; write the values out",
                    ));
                }
                return Ok(node.clone());
            }
            _ => return Err(Error::at(span, "unexpected YAML event")),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.count()));
        }
        Ok(node)
    }

    fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, span: &Span) -> Result<Node> {
        let node_tag = compose_tag(tag, span)?;
        let value = match tag.map(core_tag_name) {
            Some(Some("str")) => Value::Str(text.to_owned()),
            Some(Some("null")) => Value::Null,
            Some(Some(name @ ("int" | "float" | "bool"))) => match scalar::resolve_plain(text) {
                value @ Value::Int(_) if name == "int" => value,
                Value::Int(i) if name == "float" => Value::Float(i as f64),
                value @ Value::Float(_) if name == "float" => value,
                value @ Value::Bool(_) if name == "bool" => value,
                _ => {
                    return Err(Error::at(
                        span,
                        format!("cannot decode {text:?} as !!{name}"),
                    ));
                }
            },
            _ if style == ScalarStyle::Plain => scalar::resolve_plain(text),
            _ => Value::Str(text.to_owned()),
        };
        Ok(Node {
            value,
            span: span.clone(),
            tag: node_tag,
        })
    }

    fn mapping(&mut self) -> Result<Map> {
        let mut map = Map::default();
        // Keys merged in through `<<`; explicit keys always win over them.
        let mut merged: Vec<(Key, Node)> = Vec::new();
        loop {
            let (event, key_span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge_key =
                matches!(&event, Event::Scalar(text, ScalarStyle::Plain, _, None) if text == "<<");
            let key_node = self.node(event, &key_span)?;
            let (value_event, value_span) = self.next()?;
            let value = self.node(value_event, &value_span)?;
            if is_merge_key {
                collect_merge(&value, &mut merged)?;
                continue;
            }
            let name = match &key_node.value {
                Value::Seq(_) | Value::Map(_) => {
                    return Err(Error::at(&key_span, "a mapping key must be a scalar"));
                }
                _ => key_node.scalar_text().unwrap_or_else(|| "null".to_owned()),
            };
            if let Some(existing) = map.key(&name) {
                return Err(Error::at(
                    &key_span,
                    format!(
                        "mapping key {name:?} already defined at line {}",
                        existing.span.line
                    ),
                ));
            }
            map.push((Key::new(name, key_span), value));
        }
        for (key, value) in merged {
            if !map.contains(&key.name) {
                map.push((key, value));
            }
        }
        Ok(map)
    }
}

/// Adds the entries of a `<<` value (a mapping or a list of mappings) that are not
/// already present; the first source of a key wins, as YAML specifies.
fn collect_merge(value: &Node, merged: &mut Vec<(Key, Node)>) -> Result<()> {
    let mut add = |map: &Map| {
        for (key, node) in map.iter() {
            if !merged.iter().any(|(existing, _)| existing.name == key.name) {
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
        let file = SourceFile::new("test.yaml", text);
        parse_documents(&file).unwrap().remove(0)
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
        let web = node
            .as_map()
            .unwrap()
            .get("services")
            .unwrap()
            .as_map()
            .unwrap();
        let image = web
            .get("web")
            .unwrap()
            .as_map()
            .unwrap()
            .get("image")
            .unwrap();
        assert_eq!((image.span.line, image.span.col), (3, 12));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_both_lines() {
        let file = SourceFile::new("t.yaml", "a: 1\na: 2\n");
        let err = parse_documents(&file).unwrap_err();
        assert!(err.message().contains("already defined at line 1"), "{err}");
        assert_eq!(err.span().unwrap().line, 2);
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

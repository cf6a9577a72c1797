//! The YAML tree every loader pass works on: values with their source positions.
//!
//! Compose merges, extends and interpolates files before it types them, so the loader
//! needs an untyped tree; keeping a span on every node is what lets a type error found
//! after all of that still point at the line the user wrote.

use crate::source::Span;

#[derive(Clone, Debug)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    pub tag: Option<NodeTag>,
}

/// The Compose-specific YAML tags that change how files merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeTag {
    /// `!reset`: the key is removed from the merged result.
    Reset,
    /// `!override`: the value replaces the base instead of merging with it.
    Override,
}

#[derive(Clone, Debug)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer past `i64` that fits `u64`, as Go's YAML reads one.
    Uint(u64),
    /// A plain scalar Go's YAML reads as a timestamp, in RFC 3339 (`timestamp.rs`).
    Time(String),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Map),
}

impl Value {
    /// The scalar as text, formatted the way Compose turns YAML scalars into strings.
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(text) => Some(text.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Uint(u) => Some(u.to_string()),
            Value::Time(t) => Some(t.clone()),
            Value::Float(f) => Some(crate::go_float::format_float(*f)),
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Key {
    name: String,
    prefix: Prefix,
    pub span: Span,
}

/// A name's length and first seven bytes in one word, kept beside it: a lookup
/// compares this word in the entry itself and reads a key's text only when its length
/// and start match, and not even then for a name of up to seven bytes (most of
/// Compose's are), which the word holds whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix(u64);

impl Prefix {
    const HELD_WHOLE: usize = 7;

    /// Built without a call to `memcpy`, which a copy of a length known only at run
    /// time would make, and which would cost more than the scan it saves: a short
    /// name is read as two words that overlap. Inlined, so a lookup of a name the
    /// code spells out has its prefix worked out as it is compiled.
    #[inline]
    fn of(name: &str) -> Self {
        let bytes = name.as_bytes();
        let len = bytes.len();
        let start = if let Some(first) = bytes.first_chunk::<8>() {
            u64::from_le_bytes(*first) & (u64::MAX >> 8)
        } else if let (Some(low), Some(high)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>())
        {
            u64::from(u32::from_le_bytes(*low))
                | u64::from(u32::from_le_bytes(*high)) << (8 * (len - 4))
        } else if let (Some(low), Some(high)) = (bytes.first_chunk::<2>(), bytes.last_chunk::<2>())
        {
            u64::from(u16::from_le_bytes(*low))
                | u64::from(u16::from_le_bytes(*high)) << (8 * (len - 2))
        } else {
            bytes.first().map_or(0, |byte| u64::from(*byte))
        };
        let length = u64::from(u8::try_from(len).unwrap_or(u8::MAX));
        Self(start | length << 56)
    }

    fn holds_whole(self) -> bool {
        self.0 >> 56 <= Self::HELD_WHOLE as u64
    }
}

/// A YAML mapping that keeps the file's key order. Lookups in a large mapping (a file
/// with thousands of services) go through an index built on first use, so loading
/// stays linear in the file's size.
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Vec<(Key, Node)>,
    /// Boxed: most mappings are small and never build one, and every node of the tree
    /// pays for this field's size.
    #[allow(clippy::box_collection)] // the point is the field's size, not the map's place
    index: std::cell::OnceCell<Box<std::collections::HashMap<String, usize>>>,
}

/// Below this many keys a scan is cheaper than an index.
const INDEXED_FROM: usize = 16;

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Self {
            value,
            span,
            tag: None,
        }
    }

    pub fn str(text: impl Into<String>, span: Span) -> Self {
        Self::new(Value::Str(text.into()), span)
    }

    pub fn null(span: Span) -> Self {
        Self::new(Value::Null, span)
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The scalar as text, formatted the way Compose turns YAML scalars into strings.
    pub fn scalar_text(&self) -> Option<String> {
        self.value.scalar_text()
    }

    /// How many values the tree holds, this one included.
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(map) => map.iter().map(|(_, node)| node.count()).sum(),
            _ => 0,
        }
    }

    /// What this node is, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Uint(_) => "an integer",
            Value::Time(_) => "a date",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Map {
    pub fn from_entries(entries: Vec<(Key, Node)>) -> Self {
        Self {
            entries,
            index: std::cell::OnceCell::new(),
        }
    }

    #[inline]
    fn position(&self, name: &str) -> Option<usize> {
        self.position_by(Prefix::of(name), name)
    }

    fn position_by(&self, prefix: Prefix, name: &str) -> Option<usize> {
        if self.entries.len() < INDEXED_FROM {
            return self.entries.iter().position(|(key, _)| {
                key.prefix == prefix && (prefix.holds_whole() || key.name == name)
            });
        }
        let index = self.index.get_or_init(|| {
            let mut index = std::collections::HashMap::with_capacity(self.entries.len());
            for (position, (key, _)) in self.entries.iter().enumerate() {
                index.entry(key.name.clone()).or_insert(position);
            }
            Box::new(index)
        });
        index.get(name).copied()
    }

    #[inline]
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.position(name).map(|i| &self.entries[i].1)
    }

    #[inline]
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.position(name).map(|i| &mut self.entries[i].1)
    }

    #[inline]
    pub fn key(&self, name: &str) -> Option<&Key> {
        self.position(name).map(|i| &self.entries[i].0)
    }

    #[inline]
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Appends `name`, which the map does not hold yet.
    pub fn push(&mut self, (key, node): (Key, Node)) {
        if let Some(index) = self.index.get_mut() {
            index.entry(key.name.clone()).or_insert(self.entries.len());
        }
        self.entries.push((key, node));
    }

    /// Sets `name`, replacing an existing value in place or appending.
    pub fn insert(&mut self, key: Key, node: Node) {
        if let Some(slot) = self.get_mut(&key.name) {
            *slot = node;
        } else {
            self.push((key, node));
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Node> {
        let position = self.position(name)?;
        self.index = std::cell::OnceCell::new();
        Some(self.entries.remove(position).1)
    }

    /// Keeps the entries whose value passes `keep`, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Node) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|(_, node)| keep(node));
        if self.entries.len() != before {
            self.index = std::cell::OnceCell::new();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Node)> {
        self.entries.iter().map(|(key, node)| (key, node))
    }

    /// The values, to change in place; the keys stay as they are.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut Node)> {
        self.entries.iter_mut().map(|(key, node)| (&*key, node))
    }

    pub fn into_entries(self) -> Vec<(Key, Node)> {
        self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether two names are the same: length and first byte turn most apart without a
/// call to `memcmp`, which a comparison with each of a struct's fields would make.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

impl Key {
    pub fn new(name: impl Into<String>, span: Span) -> Self {
        let name = name.into();
        Self {
            prefix: Prefix::of(&name),
            name,
            span,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn into_name(self) -> String {
        self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real file has tens of nodes per service and projects have thousands of
    /// services: the node's size is the loader's memory.
    #[test]
    fn a_node_stays_small() {
        assert!(
            std::mem::size_of::<Node>() <= 64,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    /// Names that share a length and a start, or whose length the prefix cannot hold,
    /// are still told apart by their text.
    #[test]
    fn lookups_tell_apart_names_with_the_same_prefix() {
        let long = "v".repeat(300);
        let longer = format!("{long}w");
        let names = [
            "", "a", "image", "command", "commands", "commandz", "é", "éa", "labels", "label\0",
            &long, &longer, "x-wharf", "x-wharfs", "ab", "ba", "abc", "acb", "abcd", "abdc",
            "abcde", "abdce",
        ];
        let entries = names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let index = i64::try_from(index).unwrap();
                (
                    Key::new(*name, Span::default()),
                    Node::new(Value::Int(index), Span::default()),
                )
            })
            .collect();
        let map = Map::from_entries(entries);
        for (index, name) in names.iter().enumerate() {
            let found = map.get(name).map(|node| node.value.clone());
            assert!(
                matches!(found, Some(Value::Int(at)) if at == i64::try_from(index).unwrap()),
                "{name:?}: {found:?}"
            );
        }
        for absent in [
            "comman",
            "commandy",
            "x-wharfz",
            "ima",
            "imagE",
            "aa",
            "abd",
            "abce",
            "abcdf",
            &"v".repeat(299),
        ] {
            assert!(map.get(absent).is_none(), "{absent:?}");
        }
    }
}

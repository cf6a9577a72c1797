//! A serde deserializer over [`Node`] trees, so the typed model can derive
//! `Deserialize` and still report errors at the node's <file:line:col>.
//!
//! Structs are checked against their field list here: an unknown key is an error that
//! names the closest valid key, and `x-*` keys are gathered under the model's
//! `#extensions` field when the struct has one.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use wharf_model::EXTENSIONS_KEY;

use crate::error::Error;
use crate::node::{Key, Map, Node, Value};
use crate::source::Span;
use crate::suggest::closest;
use crate::tree_path::TreePath;

/// Deserializes `node` into `T`; `path` is the dotted location used in messages
/// (`services.web`).
pub fn from_node<T: DeserializeOwned>(node: &Node, path: &str) -> Result<T, Error> {
    T::deserialize(NodeDe {
        node,
        path: TreePath::Root(path),
    })
    .map_err(DeError::into_error)
}

#[derive(Debug)]
pub struct DeError {
    message: String,
    span: Option<Span>,
    help: Option<String>,
}

impl DeError {
    fn into_error(self) -> Error {
        let error = match &self.span {
            Some(span) => Error::at(span, self.message),
            None => Error::new(self.message),
        };
        match self.help {
            Some(help) => error.with_help(help),
            None => error,
        }
    }

    fn at(mut self, span: &Span, path: &TreePath<'_>) -> Self {
        if self.span.is_none() {
            self.span = Some(span.clone());
            if !path.is_empty() {
                self.message = format!("{path}: {}", self.message);
            }
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            span: None,
            help: None,
        }
    }

    fn invalid_type(unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        <Self as de::Error>::custom(format!(
            "expected {expected}, found {}",
            describe(&unexpected)
        ))
    }
}

fn describe(unexpected: &de::Unexpected) -> String {
    match unexpected {
        de::Unexpected::Str(s) => format!("the string {s:?}"),
        de::Unexpected::Signed(i) => format!("the integer {i}"),
        de::Unexpected::Unsigned(i) => format!("the integer {i}"),
        de::Unexpected::Float(f) => format!("the number {f}"),
        de::Unexpected::Bool(b) => format!("the boolean {b}"),
        de::Unexpected::Unit => "null".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Map => "a mapping".to_owned(),
        other => other.to_string(),
    }
}

struct NodeDe<'a, 'p> {
    node: &'a Node,
    path: TreePath<'p>,
}

impl NodeDe<'_, '_> {
    fn wrong_type(&self, expected: &str) -> DeError {
        <DeError as de::Error>::custom(format!("must be {expected}, found {}", self.node.kind()))
            .at(&self.node.span, &self.path)
    }

    /// Text at a numeric attribute that Compose's cast refuses.
    fn unreadable_number(&self, text: &str, expected: &str) -> DeError {
        <DeError as de::Error>::custom(format!("{text:?} is not {expected}"))
            .at(&self.node.span, &self.path)
    }

    fn scalar_text(&self) -> Option<String> {
        self.node.scalar_text()
    }
}

/// A whole-number attribute: a float is cut to its integer part, as Go converts it (the
/// schema check has already refused a fraction where Compose's schema wants an
/// integer), and text is read as Compose casts it, decimal only.
macro_rules! integer_method {
    ($method:ident) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let span = &self.node.span;
            let path = self.path;
            #[allow(clippy::cast_possible_truncation)] // Go's conversion: it saturates here
            let result = match &self.node.value {
                Value::Int(i) => visitor.visit_i64(*i),
                Value::Uint(u) => visitor.visit_u64(*u),
                Value::Float(f) => visitor.visit_i64(*f as i64),
                Value::Str(s) => match wharf_model::go_number::parse_int(s) {
                    Some(i) => visitor.visit_i64(i),
                    None => {
                        return Err(self.unreadable_number(s, "a whole number in decimal digits"));
                    }
                },
                _ => return Err(self.wrong_type("a number")),
            };
            result.map_err(|e: DeError| e.at(span, &path))
        }
    };
}

/// A fractional attribute; text read as Go's `ParseFloat` reads it.
macro_rules! float_method {
    ($method:ident) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let span = &self.node.span;
            let path = self.path;
            #[allow(clippy::cast_precision_loss)] // as Go converts them
            let result = match &self.node.value {
                Value::Int(i) => visitor.visit_f64(*i as f64),
                Value::Uint(u) => visitor.visit_f64(*u as f64),
                Value::Float(f) => visitor.visit_f64(*f),
                Value::Str(s) => match wharf_model::go_number::parse_float(s) {
                    Some(f) => visitor.visit_f64(f),
                    None => return Err(self.unreadable_number(s, "a number")),
                },
                _ => return Err(self.wrong_type("a number")),
            };
            result.map_err(|e: DeError| e.at(span, &path))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let span = &self.node.span;
        let path = self.path;
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Uint(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            // Only an extension's is left (`schema::refuse_dates_and_empty_values`): text, as Go writes it.
            Value::Str(s) | Value::Time(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                path: &self.path,
                index: 0,
            }),
            Value::Map(map) => visitor.visit_map(MapDe::all(map, &self.path)),
        };
        result.map_err(|e: DeError| e.at(span, &path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = match &self.node.value {
            Value::Bool(b) => *b,
            Value::Str(s) => match parse_bool(s) {
                Some(b) => b,
                None => return Err(self.wrong_type("a boolean")),
            },
            _ => return Err(self.wrong_type("a boolean")),
        };
        visitor
            .visit_bool(value)
            .map_err(|e: DeError| e.at(&self.node.span, &self.path))
    }

    integer_method!(deserialize_i8);
    integer_method!(deserialize_i16);
    integer_method!(deserialize_i32);
    integer_method!(deserialize_i64);
    integer_method!(deserialize_u8);
    integer_method!(deserialize_u16);
    integer_method!(deserialize_u32);
    integer_method!(deserialize_u64);
    float_method!(deserialize_f32);
    float_method!(deserialize_f64);

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Str(s) | Value::Time(s) => visitor
                .visit_str(s)
                .map_err(|e: DeError| e.at(&self.node.span, &self.path)),
            _ => Err(self.wrong_type("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Seq(items) => visitor
                .visit_seq(SeqDe {
                    items: items.iter(),
                    path: &self.path,
                    index: 0,
                })
                .map_err(|e: DeError| e.at(&self.node.span, &self.path)),
            Value::Null => visitor.visit_seq(SeqDe {
                items: [].iter(),
                path: &self.path,
                index: 0,
            }),
            _ => Err(self.wrong_type("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.value {
            Value::Map(map) => visitor
                .visit_map(MapDe::all(map, &self.path))
                .map_err(|e: DeError| e.at(&self.node.span, &self.path)),
            Value::Null => visitor.visit_map(MapDe::empty(&self.path)),
            _ => Err(self.wrong_type("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let map = match &self.node.value {
            Value::Map(map) => map,
            Value::Null => return visitor.visit_map(MapDe::empty(&self.path)),
            _ => return Err(self.wrong_type("a mapping")),
        };
        let accepts_extensions = fields.contains(&EXTENSIONS_KEY);
        let mut entries = Vec::with_capacity(map.len());
        let mut extensions = Map::default();
        for (key, value) in map.iter() {
            // A service has a hundred fields: most are told apart without `memcmp`.
            if fields.iter().any(|f| crate::node::same_name(f, key.name()))
                && key.name() != EXTENSIONS_KEY
            {
                entries.push((key, value));
            } else if accepts_extensions && key.name().starts_with("x-") {
                extensions.push((key.clone(), value.clone()));
            } else {
                let mut known: Vec<&str> = fields
                    .iter()
                    .copied()
                    .filter(|f| *f != EXTENSIONS_KEY)
                    .collect();
                // The file's `include` is applied before anything is typed.
                if self.path.is_empty() {
                    known.push("include");
                }
                let mut error = <DeError as de::Error>::custom(format!(
                    "unknown key `{}` in {}",
                    key.name(),
                    if self.path.is_empty() {
                        "the file".to_owned()
                    } else {
                        self.path.to_string()
                    }
                ));
                error.span = Some(key.span.clone());
                error.help = Some(match closest(key.name(), &known) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if known.len() <= 12 => format!(
                        "expected one of: {}{}",
                        known.join(", "),
                        if accepts_extensions {
                            "; your own keys must start with `x-`"
                        } else {
                            ""
                        }
                    ),
                    None => "not a key Compose defines here; your own keys must start with `x-`"
                        .to_owned(),
                });
                return Err(error);
            }
        }
        let extension_node = (!extensions.is_empty())
            .then(|| Node::new(Value::Map(extensions), self.node.span.clone()));
        let access = MapDe {
            entries: entries.into_iter(),
            extensions: extension_node,
            pending: None,
            path: &self.path,
        };
        visitor
            .visit_map(access)
            .map_err(|e: DeError| e.at(&self.node.span, &self.path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Some(text) = self.scalar_text() else {
            return Err(self.wrong_type(&format!("one of {}", variants.join(", "))));
        };
        if !variants.contains(&text.as_str()) {
            let mut error = <DeError as de::Error>::custom(format!("unknown value {text:?}"));
            error.help = Some(match closest(&text, variants) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("expected one of: {}", variants.join(", ")),
            });
            return Err(error.at(&self.node.span, &self.path));
        }
        visitor
            .visit_enum(text.into_deserializer())
            .map_err(|e: DeError| e.at(&self.node.span, &self.path))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// Compose's reading of booleans written as strings (after interpolation).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "on" => Some(true),
        "false" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

struct SeqDe<'p, I> {
    items: I,
    path: &'p TreePath<'p>,
    index: usize,
}

impl<'de, 'a, I: Iterator<Item = &'a Node>> SeqAccess<'de> for SeqDe<'_, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = TreePath::Index(self.path, self.index);
        self.index += 1;
        // An error raised after the node was read (a `try_from`'s) is the item's too.
        seed.deserialize(NodeDe { node, path })
            .map(Some)
            .map_err(|e: DeError| e.at(&node.span, &path))
    }
}

struct MapDe<'a, 'p, I> {
    entries: I,
    extensions: Option<Node>,
    pending: Option<(&'a Key, &'a Node)>,
    path: &'p TreePath<'p>,
}

type EntryIter<'a> = std::vec::IntoIter<(&'a Key, &'a Node)>;

impl<'a, 'p> MapDe<'a, 'p, EntryIter<'a>> {
    fn all(map: &'a Map, path: &'p TreePath<'p>) -> Self {
        let entries: Vec<_> = map.iter().collect();
        Self {
            entries: entries.into_iter(),
            extensions: None,
            pending: None,
            path,
        }
    }

    fn empty(path: &'p TreePath<'p>) -> Self {
        Self {
            entries: Vec::new().into_iter(),
            extensions: None,
            pending: None,
            path,
        }
    }
}

/// Yields map keys as strings (every Compose key is one).
struct KeyDe<'a>(&'a str);

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 'a> MapAccess<'de> for MapDe<'a, '_, EntryIter<'a>> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if let Some((key, node)) = self.entries.next() {
            self.pending = Some((key, node));
            return seed
                .deserialize(KeyDe(key.name()))
                .map(Some)
                .map_err(|e: DeError| e.at(&key.span, self.path));
        }
        if self.extensions.is_some() {
            return seed.deserialize(KeyDe(EXTENSIONS_KEY)).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        if let Some((key, node)) = self.pending.take() {
            let path = TreePath::Key(self.path, key.name());
            // An error raised after the node was read (a `try_from`'s) is the value's too.
            return seed
                .deserialize(NodeDe { node, path })
                .map_err(|e: DeError| e.at(&node.span, &path));
        }
        let node = self
            .extensions
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value without a key"))?;
        seed.deserialize(NodeDe {
            node: &node,
            path: *self.path,
        })
    }
}

//! A value on its way to YAML: what serde makes of it, as the small tree the YAML writer
//! walks. serde_json's `Value` served before; building it (a hashed map per object)
//! took longer than writing the YAML, and the writer needs only the entries in order.
//! Extension keys are inlined and `$` escaped on the way in, as Compose prints them.

use serde::ser::{
    self, Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant,
    SerializeTuple, SerializeTupleStruct, SerializeTupleVariant, Serializer,
};
use wharf_model::EXTENSIONS_KEY;

pub enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    /// A struct's fields or a map's entries, in the order serde gave them.
    Map(Vec<(String, Yaml)>),
}

impl Yaml {
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Yaml> {
        match self {
            Yaml::Map(entries) => entries
                .iter_mut()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }
}

/// `value` as a tree; with `escape_dollars`, every `$` of its strings and keys is `$$`.
pub fn tree<T: ?Sized + Serialize>(value: &T, escape_dollars: bool) -> serde_json::Result<Yaml> {
    value.serialize(Builder {
        escape_dollars,
        sorted: false,
    })
}

/// Builds one value. Inside an extension (`sorted`), maps are Go maps: keys sorted.
#[derive(Clone, Copy)]
struct Builder {
    escape_dollars: bool,
    sorted: bool,
}

impl Builder {
    fn text(self, text: &str) -> Yaml {
        Yaml::Str(self.escaped(text))
    }

    fn escaped(self, text: &str) -> String {
        if self.escape_dollars && text.contains('$') {
            text.replace('$', "$$")
        } else {
            text.to_owned()
        }
    }

    fn entries(self) -> Entries {
        Entries {
            builder: self,
            fields: Vec::new(),
            extensions: Vec::new(),
            key: None,
            variant: None,
        }
    }

    /// `{variant: value}`: how an enum's data-carrying variant is written.
    fn variant(self, variant: &str, value: Yaml) -> Yaml {
        Yaml::Map(vec![(self.escaped(variant), value)])
    }
}

type Result<T> = serde_json::Result<T>;

fn error(message: &str) -> serde_json::Error {
    ser::Error::custom(message)
}

impl Serializer for Builder {
    type Ok = Yaml;
    type Error = serde_json::Error;
    type SerializeSeq = Items;
    type SerializeTuple = Items;
    type SerializeTupleStruct = Items;
    type SerializeTupleVariant = Items;
    type SerializeMap = Entries;
    type SerializeStruct = Entries;
    type SerializeStructVariant = Entries;

    fn serialize_bool(self, value: bool) -> Result<Yaml> {
        Ok(Yaml::Bool(value))
    }
    fn serialize_i8(self, value: i8) -> Result<Yaml> {
        Ok(Yaml::Int(value.into()))
    }
    fn serialize_i16(self, value: i16) -> Result<Yaml> {
        Ok(Yaml::Int(value.into()))
    }
    fn serialize_i32(self, value: i32) -> Result<Yaml> {
        Ok(Yaml::Int(value.into()))
    }
    fn serialize_i64(self, value: i64) -> Result<Yaml> {
        Ok(Yaml::Int(value))
    }
    fn serialize_i128(self, value: i128) -> Result<Yaml> {
        i64::try_from(value)
            .map(Yaml::Int)
            .or_else(|_| u64::try_from(value).map(Yaml::Uint))
            .map_err(|_| error("number out of range"))
    }
    fn serialize_u8(self, value: u8) -> Result<Yaml> {
        Ok(Yaml::Uint(value.into()))
    }
    fn serialize_u16(self, value: u16) -> Result<Yaml> {
        Ok(Yaml::Uint(value.into()))
    }
    fn serialize_u32(self, value: u32) -> Result<Yaml> {
        Ok(Yaml::Uint(value.into()))
    }
    fn serialize_u64(self, value: u64) -> Result<Yaml> {
        Ok(Yaml::Uint(value))
    }
    fn serialize_u128(self, value: u128) -> Result<Yaml> {
        u64::try_from(value)
            .map(Yaml::Uint)
            .map_err(|_| error("number out of range"))
    }
    fn serialize_f32(self, value: f32) -> Result<Yaml> {
        self.serialize_f64(value.into())
    }
    fn serialize_f64(self, value: f64) -> Result<Yaml> {
        // As serde_json has them: no YAML number for NaN or the infinities.
        Ok(if value.is_finite() {
            Yaml::Float(value)
        } else {
            Yaml::Null
        })
    }
    fn serialize_char(self, value: char) -> Result<Yaml> {
        Ok(self.text(value.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, value: &str) -> Result<Yaml> {
        Ok(self.text(value))
    }
    fn serialize_bytes(self, value: &[u8]) -> Result<Yaml> {
        Ok(Yaml::Seq(
            value.iter().map(|b| Yaml::Uint((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Yaml> {
        Ok(Yaml::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Yaml> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Yaml> {
        Ok(Yaml::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Yaml> {
        Ok(Yaml::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Yaml> {
        Ok(self.text(variant))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Yaml> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Yaml> {
        Ok(self.variant(variant, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Items> {
        Ok(Items {
            builder: self,
            values: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Items> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Items> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Items> {
        let mut items = self.serialize_seq(Some(len))?;
        items.variant = Some(variant);
        Ok(items)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Entries> {
        Ok(self.entries())
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Entries> {
        Ok(self.entries())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Entries> {
        let mut entries = self.entries();
        entries.variant = Some(variant);
        Ok(entries)
    }
}

/// A sequence on its way in; a tuple variant's items are its variant's value.
struct Items {
    builder: Builder,
    values: Vec<Yaml>,
    variant: Option<&'static str>,
}

impl Items {
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.values.push(value.serialize(self.builder)?);
        Ok(())
    }

    fn finish(self) -> Yaml {
        let seq = Yaml::Seq(self.values);
        match self.variant {
            Some(variant) => self.builder.variant(variant, seq),
            None => seq,
        }
    }
}

macro_rules! items {
    ($($trait:ident::$method:ident),*) => {$(
        impl $trait for Items {
            type Ok = Yaml;
            type Error = serde_json::Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
                self.push(value)
            }
            fn end(self) -> Result<Yaml> {
                Ok(self.finish())
            }
        }
    )*};
}

items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A map's or a struct's entries on their way in. Extension fields come in one entry
/// (`#extensions`) and go after the rest, as Compose prints them.
struct Entries {
    builder: Builder,
    fields: Vec<(String, Yaml)>,
    extensions: Vec<(String, Yaml)>,
    /// A map's key whose value has not come yet.
    key: Option<String>,
    /// A struct variant's name: its fields are the variant's value.
    variant: Option<&'static str>,
}

impl Entries {
    fn field<T: ?Sized + Serialize>(&mut self, key: String, value: &T) -> Result<()> {
        if key == EXTENSIONS_KEY {
            let extensions = value.serialize(Builder {
                sorted: true,
                ..self.builder
            })?;
            if let Yaml::Map(entries) = extensions {
                self.extensions.extend(entries);
            }
        } else {
            self.fields.push((key, value.serialize(self.builder)?));
        }
        Ok(())
    }

    fn finish(mut self) -> Yaml {
        self.fields.append(&mut self.extensions);
        if self.builder.sorted {
            self.fields.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let map = Yaml::Map(self.fields);
        match self.variant {
            Some(variant) => self.builder.variant(variant, map),
            None => map,
        }
    }
}

impl SerializeMap for Entries {
    type Ok = Yaml;
    type Error = serde_json::Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key = Some(match key.serialize(self.builder)? {
            Yaml::Str(text) => text,
            Yaml::Int(number) => number.to_string(),
            Yaml::Uint(number) => number.to_string(),
            Yaml::Bool(value) => value.to_string(),
            _ => return Err(error("a map key must be a string")),
        });
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let key = self
            .key
            .take()
            .ok_or_else(|| error("a map value came before its key"))?;
        self.field(key, value)
    }
    fn end(self) -> Result<Yaml> {
        Ok(self.finish())
    }
}

/// A struct's fields, or a struct variant's: named by the type, not serialized keys.
macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl $trait for Entries {
            type Ok = Yaml;
            type Error = serde_json::Error;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<()> {
                let key = self.builder.escaped(key);
                self.field(key, value)
            }
            fn end(self) -> Result<Yaml> {
                Ok(self.finish())
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use crate::to_yaml;

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i64, f64),
        Struct { a: Option<String>, b: char },
    }

    /// serde's data model read as serde_json reads it: the form the writer had before.
    #[test]
    fn every_kind_of_value_reads_as_serde_json_has_it() {
        let value = (
            vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-1, 2.5),
                Shape::Struct { a: None, b: '$' },
            ],
            std::collections::BTreeMap::from([(10, f64::NAN), (2, 1e6)]),
            (true, (), u64::MAX, "a: b", b"ab".as_slice()),
        );
        assert_eq!(
            to_yaml(&value).unwrap(),
            to_yaml(&serde_json::to_value(&value).unwrap()).unwrap()
        );
    }
}

//! `config --format json` written straight from the [`Project`], without building the
//! whole project as a `serde_json::Value` first: a serializer in front of serde_json's
//! makes Compose's JSON form on the way out. It drops extensions below the top level,
//! gives block IO devices Go's field names, gives a watch rule its `exec`, and writes
//! `$` as `$$` when asked (whole floats are the formatter's, `go_json`).
//! [`project_value`](crate::project_value) stays the tree form, for the config
//! hash; a test holds the two JSON forms equal.

use serde::ser::{
    Serialize, SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};
use wharf_model::{EXTENSIONS_KEY, Project};

/// The project as `docker compose config --format json` prints it (pretty, with no final
/// newline).
pub fn project_json(project: &Project, escape_dollars: bool) -> serde_json::Result<String> {
    let form = Form { escape_dollars };
    let chosen: Vec<(&String, &wharf_model::Service)> = project
        .services
        .iter()
        .map(|(name, service)| (name, &**service))
        .collect();
    // Go writes the top level from a map: every key, the extensions' too, sorted.
    let mut top: Vec<(&str, Top)> = vec![
        ("name", Top::Name(&project.name)),
        ("services", Top::Services(&chosen)),
    ];
    if !project.networks.is_empty() {
        top.push(("networks", Top::Networks(project)));
    }
    if !project.volumes.is_empty() {
        top.push(("volumes", Top::Volumes(project)));
    }
    if !project.secrets.is_empty() {
        top.push(("secrets", Top::Secrets(project)));
    }
    if !project.configs.is_empty() {
        top.push(("configs", Top::Configs(project)));
    }
    top.extend(
        project
            .extensions
            .iter()
            .map(|(key, value)| (key.as_str(), Top::Extension(value))),
    );
    top.sort_by_key(|(key, _)| *key);

    crate::go_json::to_go_json_sized(&TopLevel(&top, form), expected_size(project))
}

/// About how long a project's `config` output is: a couple of KiB a service, which a
/// real one seldom passes (a larger one grows its buffer as it goes).
pub(crate) fn expected_size(project: &Project) -> usize {
    4096 + 2048 * project.services.len()
}

/// The top level's entries, each in Compose's form.
struct TopLevel<'a>(&'a [(&'a str, Top<'a>)], Form);

impl Serialize for TopLevel<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self(entries, form) = self;
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in *entries {
            map.serialize_entry(&form.wrap(key), &form.wrap(value))?;
        }
        map.end()
    }
}

/// One entry of the top level.
enum Top<'a> {
    Name(&'a String),
    Services(&'a [(&'a String, &'a wharf_model::Service)]),
    Networks(&'a Project),
    Volumes(&'a Project),
    Secrets(&'a Project),
    Configs(&'a Project),
    Extension(&'a serde_json::Value),
}

impl Serialize for Top<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Name(name) => name.serialize(serializer),
            Self::Services(services) => {
                let mut map = serializer.serialize_map(Some(services.len()))?;
                for (name, service) in *services {
                    map.serialize_entry(name, service)?;
                }
                map.end()
            }
            Self::Networks(project) => project.networks.serialize(serializer),
            Self::Volumes(project) => project.volumes.serialize(serializer),
            Self::Secrets(project) => project.secrets.serialize(serializer),
            Self::Configs(project) => project.configs.serialize(serializer),
            Self::Extension(value) => Sorted(value).serialize(serializer),
        }
    }
}

/// An extension's value, its objects' keys sorted as Go's maps print them, and an
/// empty list as `null`, as Compose's JSON has it (its YAML keeps `[]`).
struct Sorted<'a>(&'a serde_json::Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    out.serialize_entry(key, &Sorted(&map[key]))?;
                }
                out.end()
            }
            serde_json::Value::Array(items) if items.is_empty() => serializer.serialize_unit(),
            serde_json::Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Sorted(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// What the output does to every value on its way to serde_json.
#[derive(Clone, Copy)]
struct Form {
    escape_dollars: bool,
}

impl Form {
    fn wrap<T: ?Sized + Serialize>(self, value: &T) -> Shaped<'_, T> {
        Shaped { value, form: self }
    }
}

/// A value written in Compose's JSON form.
struct Shaped<'a, T: ?Sized> {
    value: &'a T,
    form: Form,
}

impl<T: ?Sized + Serialize> Serialize for Shaped<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(Shaping {
            inner: serializer,
            form: self.form,
        })
    }
}

struct Shaping<S> {
    inner: S,
    form: Form,
}

/// A sequence, map or variant whose items are shaped in turn.
struct Compound<C> {
    inner: C,
    form: Form,
}

impl Form {
    fn compound<C>(self, inner: C) -> Compound<C> {
        Compound { inner, form: self }
    }
}

/// A struct: its extensions left out, Go's names or a watch rule's `exec` where due.
struct ShapedStruct<C> {
    inner: C,
    form: Form,
    kind: StructKind,
}

enum StructKind {
    Plain,
    /// A block IO device: Compose's JSON has no tags on these, so Go's field names.
    GoFieldNames,
    /// A watch rule, and whether its `exec` is written yet: Compose always writes
    /// one, after `path`, `action` and `target`.
    WatchRule {
        exec_written: bool,
    },
}

/// `{"command": null}`: the `exec` of a watch rule that has none.
struct NoExec;

impl Serialize for NoExec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("command", &())?;
        map.end()
    }
}

macro_rules! forward {
    ($($method:ident($type:ty)),* $(,)?) => {
        $(fn $method(self, value: $type) -> Result<S::Ok, S::Error> {
            self.inner.$method(value)
        })*
    };
}

impl<S: Serializer> Serializer for Shaping<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<S::SerializeSeq>;
    type SerializeTuple = Compound<S::SerializeTuple>;
    type SerializeTupleStruct = Compound<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<S::SerializeTupleVariant>;
    type SerializeMap = Compound<S::SerializeMap>;
    type SerializeStruct = ShapedStruct<S::SerializeStruct>;
    type SerializeStructVariant = Compound<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_char(self, value: char) -> Result<S::Ok, S::Error> {
        if value == '$' && self.form.escape_dollars {
            return self.inner.serialize_str("$$");
        }
        self.inner.serialize_char(value)
    }

    fn serialize_str(self, value: &str) -> Result<S::Ok, S::Error> {
        if self.form.escape_dollars && value.contains('$') {
            return self.inner.serialize_str(&value.replace('$', "$$"));
        }
        self.inner.serialize_str(value)
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(&self.form.wrap(value))
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_struct(name, &self.form.wrap(value))
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_variant(name, index, variant, &self.form.wrap(value))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        Ok(self.form.compound(self.inner.serialize_seq(len)?))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        Ok(self.form.compound(self.inner.serialize_tuple(len)?))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        Ok(self
            .form
            .compound(self.inner.serialize_tuple_struct(name, len)?))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        Ok(self.form.compound(
            self.inner
                .serialize_tuple_variant(name, index, variant, len)?,
        ))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        Ok(self.form.compound(self.inner.serialize_map(len)?))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        let kind = match name {
            "WeightDevice" | "ThrottleDevice" => StructKind::GoFieldNames,
            "WatchRule" => StructKind::WatchRule {
                exec_written: false,
            },
            _ => StructKind::Plain,
        };
        Ok(ShapedStruct {
            inner: self.inner.serialize_struct(name, len)?,
            form: self.form,
            kind,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        Ok(self.form.compound(
            self.inner
                .serialize_struct_variant(name, index, variant, len)?,
        ))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// A compound whose items are values: each shaped on its way in.
macro_rules! shaped_items {
    ($($trait:ident::$method:ident),*) => {$(
        impl<C: $trait> $trait for Compound<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), C::Error> {
                self.inner.$method(&self.form.wrap(value))
            }
            fn end(self) -> Result<C::Ok, C::Error> {
                self.inner.end()
            }
        }
    )*};
}

shaped_items!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl<C: SerializeMap> SerializeMap for Compound<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(&self.form.wrap(key))
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), C::Error> {
        self.inner.serialize_value(&self.form.wrap(value))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStructVariant> SerializeStructVariant for Compound<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        if key == EXTENSIONS_KEY {
            return Ok(());
        }
        self.inner.serialize_field(key, &self.form.wrap(value))
    }
    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: SerializeStruct> SerializeStruct for ShapedStruct<C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        // Below the top level, Compose's JSON has no extensions.
        if key == EXTENSIONS_KEY {
            return Ok(());
        }
        let key = match (&mut self.kind, key) {
            (StructKind::GoFieldNames, "path") => "Path",
            (StructKind::GoFieldNames, "rate") => "Rate",
            (StructKind::GoFieldNames, "weight") => "Weight",
            (StructKind::WatchRule { exec_written }, key)
                if !*exec_written && !matches!(key, "path" | "action" | "target") =>
            {
                *exec_written = true;
                if key != "exec" {
                    self.inner.serialize_field("exec", &NoExec)?;
                }
                key
            }
            _ => key,
        };
        self.inner.serialize_field(key, &self.form.wrap(value))
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    fn end(mut self) -> Result<C::Ok, C::Error> {
        if let StructKind::WatchRule {
            exec_written: false,
        } = self.kind
        {
            self.inner.serialize_field("exec", &NoExec)?;
        }
        self.inner.end()
    }
}

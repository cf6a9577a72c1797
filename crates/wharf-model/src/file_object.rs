//! Secrets and configs: the top-level definitions and a service's reference to one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Extensions;
use crate::skip::is_false;

/// A top-level secret or config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileObject {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub environment: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(skip_serializing_if = "is_false")]
    pub external: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub driver: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub template_driver: String,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

/// A service's use of a secret or config.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileReference {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<FileMode>,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

/// Permission bits of a mounted secret or config: an integer, or a string read as octal
/// (`"440"`), printed in octal with a leading zero as Compose does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl Serialize for FileMode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("0{:o}", self.0))
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl serde::de::Visitor<'_> for ModeVisitor {
            type Value = FileMode;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a file mode such as 0440")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<FileMode, E> {
                u32::try_from(v)
                    .map(FileMode)
                    .map_err(|_| E::custom(format!("file mode {v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<FileMode, E> {
                u32::try_from(v)
                    .map(FileMode)
                    .map_err(|_| E::custom(format!("invalid file mode {v}")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FileMode, E> {
                u32::from_str_radix(v, 8).map(FileMode).map_err(|_| {
                    E::custom(format!("invalid file mode {v:?}: expected octal digits"))
                })
            }
        }
        deserializer.deserialize_any(ModeVisitor)
    }
}

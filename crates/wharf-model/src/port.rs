//! A published or exposed port, in Compose's long form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Extensions;
use crate::skip::is_zero;

/// The key under which the loader hands over a short port kept as written.
pub const RAW_PORT_KEY: &str = "#raw";

/// The derived (de)serializers are `Port::serialize` and `Port::deserialize`; the
/// trait's, below, write a port kept as written as the text it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, remote = "Self")]
pub struct Port {
    /// A short port kept as written where variables are not filled (`config
    /// --no-interpolate`), as Compose keeps it; empty otherwise.
    #[serde(rename = "#raw", skip_serializing)]
    pub raw: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub target: u32,
    /// A host port or range (`8080`, `9000-9001`); empty lets the engine pick.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub published: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub app_protocol: String,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.raw.is_empty() {
            Port::serialize(self, serializer)
        } else {
            serializer.serialize_str(&self.raw)
        }
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Port::deserialize(deserializer)
    }
}

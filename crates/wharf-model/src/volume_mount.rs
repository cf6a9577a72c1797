//! A mount in a service: a bind mount, a named or anonymous volume, or a tmpfs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::skip::{is_false, is_zero};
use crate::{Extensions, UnitBytes};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeMount {
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub consistency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<Box<BindOptions>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<Box<VolumeOptions>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs: Option<Box<TmpfsOptions>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Box<Value>>,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

/// The short syntax sets `create_host_path`; the long one leaves it as written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BindOptions {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub selinux: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub propagation: String,
    #[serde(skip_serializing_if = "is_false")]
    pub create_host_path: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub recursive: String,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VolumeOptions {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_false")]
    pub nocopy: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subpath: String,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TmpfsOptions {
    #[serde(skip_serializing_if = "is_zero")]
    pub size: UnitBytes,
    #[serde(skip_serializing_if = "is_zero")]
    pub mode: u32,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

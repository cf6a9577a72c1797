//! How to build a service's image.

use std::collections::BTreeMap;

use crate::hosts::HostsList;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::skip::{is_false, is_zero};
use crate::{Extensions, FileReference, Ulimit, UnitBytes};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Build {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub context: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dockerfile_inline: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, Option<String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub provenance: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sbom: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh: Vec<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cache_to: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub no_cache: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_cache_filter: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_contexts: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "is_false")]
    pub pull: bool,
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "crate::hosts::serialize_as_list"
    )]
    pub extra_hosts: HostsList,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub isolation: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub target: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileReference>,
    #[serde(skip_serializing_if = "is_zero")]
    pub shm_size: UnitBytes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub platforms: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

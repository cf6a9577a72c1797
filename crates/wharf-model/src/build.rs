//! How to build a service's image.

use std::collections::BTreeMap;

use crate::hosts::HostsList;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::skip::{is_blank, is_false, is_zero};
use crate::{Extensions, FileReference, Ulimit, UnitBytes};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Build {
    /// Unset until the loader fills in the project directory; set but empty, it stays
    /// empty (and unprinted), as in Compose.
    #[serde(skip_serializing_if = "is_blank")]
    pub context: Option<String>,
    /// Unset until the loader fills in `Dockerfile` (unless the build is inline).
    #[serde(skip_serializing_if = "is_blank")]
    pub dockerfile: Option<String>,
    /// Set but empty (a variable left unset), no `Dockerfile` is filled in either, as
    /// in Compose.
    #[serde(skip_serializing_if = "is_blank")]
    pub dockerfile_inline: Option<String>,
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

impl Build {
    /// The build context as a path: the project directory when left empty.
    #[must_use]
    pub fn context_dir(&self) -> &str {
        self.context
            .as_deref()
            .filter(|c| !c.is_empty())
            .unwrap_or(".")
    }

    /// The Dockerfile's path in the context: `Dockerfile` when left empty.
    #[must_use]
    pub fn dockerfile_path(&self) -> &str {
        self.dockerfile
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or("Dockerfile")
    }

    /// The Dockerfile written inline, when there is one (not empty).
    #[must_use]
    pub fn inline_dockerfile(&self) -> Option<&str> {
        self.dockerfile_inline.as_deref().filter(|d| !d.is_empty())
    }
}

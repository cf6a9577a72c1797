//! A service's healthcheck, in Compose's normalized form.

use serde::{Deserialize, Serialize};

use crate::skip::is_false;
use crate::{Duration, Extensions};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(skip_serializing_if = "is_false")]
    pub disable: bool,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
}

impl Healthcheck {
    /// Whether a probe should run at all (`disable: true` or `test: [NONE]` turn it off).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        !self.disable && self.test.first().is_some_and(|kind| kind != "NONE")
    }
}

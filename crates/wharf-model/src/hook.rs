//! A lifecycle hook: a command run inside a service's container (or beside its
//! process, natively) right after it starts (`post_start`) or right before it stops
//! (`pre_stop`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::service::ShellCommand;
use crate::skip::is_false;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceHook {
    pub command: ShellCommand,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// As written: a bare name stays unset here (Compose does not fill it in from the
    /// environment); the runner resolves it when the hook runs.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, Option<String>>,
}

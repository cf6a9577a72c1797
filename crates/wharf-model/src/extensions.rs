//! `x-*` keys, kept verbatim wherever Compose allows them.

use std::collections::BTreeMap;

/// Extension fields of one object. The loader hands them over under the `#extensions`
/// key and output flattens them back into their parent, after the known fields.
pub type Extensions = BTreeMap<String, serde_json::Value>;

/// The serde key extension fields travel under.
pub const EXTENSIONS_KEY: &str = "#extensions";

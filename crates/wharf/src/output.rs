//! What commands print: JSON and aligned tables.

use serde_json::Value;

pub fn to_json(value: &Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// The `s` of a plural noun, for `count` of them.
pub fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Aligns rows in columns the way Compose's table writer does: each column but the last
/// as wide as its widest cell plus three spaces, and at least 20.
pub fn aligned_table<const N: usize>(rows: &[[String; N]]) -> String {
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|row| row.iter().map(String::as_str).collect())
        .collect();
    wharf_api::aligned_columns(&rows, 20)
}

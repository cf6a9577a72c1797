//! What commands print: JSON and aligned tables.

use std::fmt::Write as _;

use serde_json::Value;

pub fn to_json(value: &Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Aligns rows in columns the way Compose's table writer does: each column but the last
/// as wide as its widest cell plus three spaces, and at least 20.
/// The `s` of a plural noun, for `count` of them.
pub fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

pub fn aligned_table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [20; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count() + 3);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<width$}", width = widths[i]);
            }
        }
        out.push('\n');
    }
    out
}

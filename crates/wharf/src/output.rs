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
    wharf_api::aligned_columns(&rows, 20, 3)
}

/// `bytes` in the largest binary unit it fills: the number and the unit.
fn in_binary_units(bytes: u64) -> (f64, &'static str) {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < units.len() {
        size /= 1024.0;
        unit += 1;
    }
    (size, units[unit])
}

/// `7.2MiB`: a size in the largest binary unit it fills.
pub fn human_size(bytes: u64) -> String {
    match in_binary_units(bytes) {
        (_, "B") => format!("{bytes}B"),
        (size, unit) => format!("{size:.1}{unit}"),
    }
}

/// A size as Docker writes one (`552KiB`, `23.54GiB`): binary units, four
/// significant digits, no trailing zeros, as Go's `%.4g`.
pub fn docker_size(bytes: u64) -> String {
    let (size, unit) = in_binary_units(bytes);
    let whole_digits = if size < 1.0 {
        1
    } else {
        size.log10().floor() as usize + 1
    };
    let text = format!("{size:.*}", 4usize.saturating_sub(whole_digits));
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{unit}")
}

#[cfg(test)]
mod tests {
    use super::{docker_size, human_size};

    #[test]
    fn sizes_as_docker_writes_them() {
        assert_eq!(docker_size(0), "0B");
        assert_eq!(docker_size(565_248), "552KiB");
        assert_eq!(docker_size(25_275_863_040), "23.54GiB");
        assert_eq!(docker_size(1_536), "1.5KiB");
        assert_eq!(docker_size(1_023), "1023B");
    }

    #[test]
    fn sizes_read_in_the_largest_unit() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(7_549_747), "7.2MiB");
        assert_eq!(human_size(3 << 30), "3.0GiB");
    }
}

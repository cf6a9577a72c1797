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

/// `bytes` in the largest unit of `units` (each `step` times the one before) it
/// fills: the number and the unit.
fn in_units(bytes: u64, step: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= step && unit + 1 < units.len() {
        size /= step;
        unit += 1;
    }
    (size, units[unit])
}

const BINARY_UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// `7.2MiB`: a size in the largest binary unit it fills.
pub fn human_size(bytes: u64) -> String {
    match in_units(bytes, 1024.0, &BINARY_UNITS) {
        (_, "B") => format!("{bytes}B"),
        (size, unit) => format!("{size:.1}{unit}"),
    }
}

/// A size as Docker writes one (`552KiB`, `23.54GiB`): binary units, four
/// significant digits, no trailing zeros, as Go's `%.4g`.
pub fn docker_size(bytes: u64) -> String {
    let (size, unit) = in_units(bytes, 1024.0, &BINARY_UNITS);
    format!("{}{unit}", significant(size, 4))
}

/// An image's size as Compose's `images` writes it (`1.99MB`): decimal units, three
/// significant digits, as go-units' `HumanSizeWithPrecision`.
pub fn image_size(bytes: u64) -> String {
    let (size, unit) = in_units(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"]);
    format!("{}{unit}", significant(size, 3))
}

/// `size` to `digits` significant digits, without trailing zeros, as Go's `%.Ng`
/// writes a number below 10^N.
fn significant(size: f64, digits: usize) -> String {
    let whole_digits = if size < 1.0 {
        1
    } else {
        size.log10().floor() as usize + 1
    };
    let text = format!("{size:.*}", digits.saturating_sub(whole_digits));
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::{docker_size, human_size, image_size};

    #[test]
    fn sizes_as_docker_writes_them() {
        assert_eq!(docker_size(0), "0B");
        assert_eq!(docker_size(565_248), "552KiB");
        assert_eq!(docker_size(25_275_863_040), "23.54GiB");
        assert_eq!(docker_size(1_536), "1.5KiB");
        assert_eq!(docker_size(1_023), "1023B");
    }

    #[test]
    fn image_sizes_as_compose_writes_them() {
        assert_eq!(image_size(1_985_472), "1.99MB");
        assert_eq!(image_size(2_000_000), "2MB");
        assert_eq!(image_size(123_456_789), "123MB");
        assert_eq!(image_size(999), "999B");
    }

    #[test]
    fn sizes_read_in_the_largest_unit() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(7_549_747), "7.2MiB");
        assert_eq!(human_size(3 << 30), "3.0GiB");
    }
}

//! What commands print: YAML in Compose's style, JSON, and aligned tables.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Drops what Compose prints in JSON but omits in YAML: unset commands and empty
/// `ipam`, `placement` and `resources`.
pub fn yaml_shape(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|key, child| match key.as_str() {
            "command" | "entrypoint" => {
                !child.is_null() && child.as_array().is_none_or(|a| !a.is_empty())
            }
            "ipam" | "placement" | "resources" => child.as_object().is_none_or(|o| !o.is_empty()),
            _ => true,
        });
        map.values_mut().for_each(yaml_shape);
    } else if let Value::Array(items) = value {
        items.iter_mut().for_each(yaml_shape);
    }
}

pub fn to_json(value: &Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// Block-style YAML with two-space indents, quoting only where a plain scalar would
/// read back as something else.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize) {
    for (key, value) in map {
        out.push_str(&" ".repeat(indent));
        out.push_str(&quote_if_needed(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key goes on the dash's line, the rest align under it.
                let mut first = true;
                for (key, value) in map {
                    if !first {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    first = false;
                    out.push_str(&quote_if_needed(key));
                    out.push(':');
                    write_value_after_key(out, value, indent + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            scalar => {
                out.push_str(&scalar_text(scalar));
                out.push('\n');
            }
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, indent + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => wharf_manifest::format_float(f),
            _ => n.to_string(),
        },
        Value::String(s) => quote_if_needed(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

fn quote_if_needed(text: &str) -> String {
    if is_plain_safe(text) {
        return text.to_owned();
    }
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Words YAML 1.1 readers take as booleans; quoted so any reader keeps them strings.
const YAML11_WORDS: [&str; 12] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "off",
];

fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if text.trim() != text
        || YAML11_WORDS.contains(&text)
        || text.eq_ignore_ascii_case("on")
        || text.eq_ignore_ascii_case("off")
    {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        && (first != '-' || text.len() <= 1 || text.starts_with("- ") || looks_numeric(text))
    {
        return false;
    }
    if text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.chars().any(char::is_control)
    {
        return false;
    }
    !looks_numeric(text)
        && !matches!(
            text,
            "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        )
}

fn looks_numeric(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    body.starts_with('.') && body.len() > 1
        || body.chars().next().is_some_and(|c| c.is_ascii_digit())
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':'))
            && (body.parse::<f64>().is_ok()
                || body.chars().all(|c| {
                    c.is_ascii_hexdigit() || matches!(c, 'x' | 'o' | 'b' | '_' | 'X' | 'O' | 'B')
                })
                || body.contains(':'))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_read_back_as_other_types_are_quoted() {
        for text in [
            "8080", "1.5", "true", "null", "yes", "", " x", "a: b", "#x", "0x1F", "1e3",
        ] {
            assert!(quote_if_needed(text).starts_with('"'), "{text}");
        }
        for text in ["nginx:1.25", "/tmp/x", "-c", "python", "a b", "127.0.0.1"] {
            assert_eq!(quote_if_needed(text), text, "{text}");
        }
    }

    #[test]
    fn nested_lists_and_maps_render_in_block_style() {
        let value = serde_json::json!({"a": {"b": [1, {"c": "d", "e": []}]}, "f": {}});
        assert_eq!(
            to_yaml(&value),
            "a:\n  b:\n    - 1\n    - c: d\n      e: []\nf: {}\n"
        );
    }
}

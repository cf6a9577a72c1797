//! Compose's YAML: a value printed as `docker compose config` prints it (Go's yaml.v3),
//! block style with two-space indents, the same quoting and the same key order.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::go_float::format_float;

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

pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => write_scalar(&mut out, scalar, 0),
    }
    out
}

/// A struct's fields keep their order; a Go map's keys are sorted by yaml.v3's
/// natural order. The model's maps arrive sorted bytewise (`BTreeMap`), so a mapping
/// whose keys are in bytewise order is one of those, and is re-sorted.
fn ordered_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        entries.sort_by(|a, b| natural_order(a.0, b.0));
    }
    entries
}

/// The entries of `map` at `indent`; with `first_inline`, the first one goes where the
/// writer stands (after a list's dash) and the rest align under it.
fn write_map(out: &mut String, map: &Map<String, Value>, indent: usize, first_inline: bool) {
    for (i, (key, value)) in ordered_entries(map).into_iter().enumerate() {
        if !(first_inline && i == 0) {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&flow_scalar(key));
        out.push(':');
        write_node(out, value, indent, false);
    }
}

fn write_seq(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        write_node(out, item, indent, true);
    }
}

/// A value after its key's colon, or after a list's dash (`after_dash`), the one
/// standing at `indent`.
fn write_node(out: &mut String, value: &Value, indent: usize, after_dash: bool) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push(if after_dash { ' ' } else { '\n' });
            write_map(out, map, indent + 2, after_dash);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, indent + 2);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, indent + 2);
        }
    }
}

/// A scalar and its line break; a multi-line string as a literal block indented to
/// `indent`.
fn write_scalar(out: &mut String, value: &Value, indent: usize) {
    let text = match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => format_float(f),
            _ => n.to_string(),
        },
        Value::String(s) if s.contains('\n') && literal_allowed(s) => {
            write_literal(out, s, indent);
            return;
        }
        Value::String(s) => flow_scalar(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    };
    out.push_str(&text);
    out.push('\n');
}

fn write_literal(out: &mut String, text: &str, indent: usize) {
    let body = text.trim_end_matches('\n');
    let chomping = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push('|');
    out.push_str(chomping);
    out.push('\n');
    let kept = if chomping == "+" { text } else { body };
    for line in kept.strip_suffix('\n').unwrap_or(kept).split('\n') {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// A literal block holds the text as is: no control characters, no line starting
/// with a space (it would need an indentation indicator), no space before a break.
fn literal_allowed(text: &str) -> bool {
    !text.starts_with(' ')
        && !text.contains(" \n")
        && !text.chars().any(|c| c != '\n' && is_special(c))
}

/// Plain when it reads back as the same string; double-quoted when it would read back
/// as another type or holds characters only escapes can carry; single-quoted otherwise.
fn flow_scalar(text: &str) -> String {
    if resolves_to_other_type(text) || text.chars().any(is_special) {
        return double_quoted(text);
    }
    if plain_allowed(text) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', "''"))
}

/// Characters YAML cannot print unescaped: controls (tab and line breaks included)
/// and the byte-order mark.
fn is_special(c: char) -> bool {
    c.is_control() || c == '\u{feff}'
}

fn double_quoted(text: &str) -> String {
    use std::fmt::Write as _;
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if is_special(c) => {
                let _ = write!(quoted, "\\u{:04X}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// What yaml.v3 will not print plain: empty, leading or trailing space, an indicator
/// first, `: ` or ` #` inside, a trailing `:`, a document marker.
fn plain_allowed(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if text.trim_matches(' ') != text || text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    let second = text.chars().nth(1);
    let indicator = match first {
        '-' | '?' | ':' => second.is_none_or(|c| c == ' '),
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => true,
        _ => false,
    };
    !indicator && !text.contains(": ") && !text.contains(" #") && !text.ends_with(':')
}

/// Strings a YAML reader would take for a number, a boolean (YAML 1.1's words too,
/// which yaml.v3 still quotes) or null.
fn resolves_to_other_type(text: &str) -> bool {
    const WORDS: [&str; 24] = [
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON",
    ];
    WORDS.contains(&text) || matches!(text, "off" | "Off" | "OFF") || looks_numeric(text)
}

fn looks_numeric(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    if matches!(body, ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    body.starts_with('.') && body.len() > 1 && body[1..].chars().all(|c| c.is_ascii_digit())
        || body.chars().next().is_some_and(|c| c.is_ascii_digit())
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':'))
            && (body.replace('_', "").parse::<f64>().is_ok()
                || body.chars().all(|c| {
                    c.is_ascii_hexdigit() || matches!(c, 'x' | 'o' | 'b' | '_' | 'X' | 'O' | 'B')
                })
                || is_base60(body))
}

/// YAML 1.1's sexagesimal numbers (`1:20`), which yaml.v3 quotes.
fn is_base60(text: &str) -> bool {
    let mut parts = text.split(':');
    let head = parts.next().unwrap_or_default();
    !head.is_empty()
        && head.chars().all(|c| c.is_ascii_digit() || c == '_')
        && text.contains(':')
        && parts.all(|p| {
            let digits = p.split('.').next().unwrap_or_default();
            (1..=2).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit())
                && digits.parse::<u8>().is_ok_and(|n| n < 60)
        })
}

/// yaml.v3's order of map keys: letters compare as characters, runs of digits as
/// numbers, so `l2` comes before `l10`.
fn natural_order(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut digits = false;
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            digits = ar[i].is_ascii_digit();
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            let a_first = if digits { al } else { bl };
            return if a_first {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let number = |chars: &[char]| {
            let run: String = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            (run.parse::<u128>().unwrap_or(0), run.len())
        };
        let leading_zero_matters = (ar[i] == '0' || br[i] == '0')
            && ar[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .any(|c| *c != '0');
        let ((an, alen), (bn, blen)) = (number(&ar), number(&br));
        if !leading_zero_matters && an != bn {
            return an.cmp(&bn);
        }
        if alen != blen {
            return alen.cmp(&blen);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_as_yaml_v3_quotes_them() {
        for (text, shown) in [
            ("8080", "\"8080\""),
            ("1.5", "\"1.5\""),
            ("yes", "\"yes\""),
            ("", "\"\""),
            ("tab\there", "\"tab\\there\""),
            ("a: b", "'a: b'"),
            ("#x", "'#x'"),
            ("it's: x", "'it''s: x'"),
            ("trail ", "'trail '"),
            ("- dash", "'- dash'"),
            ("nginx:1.25", "nginx:1.25"),
            ("-c", "-c"),
            ("a b", "a b"),
            ("127.0.0.1", "127.0.0.1"),
        ] {
            assert_eq!(flow_scalar(text), shown, "{text}");
        }
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let value = serde_json::json!({"a": "one\ntwo\n", "b": ["x\ny"]});
        assert_eq!(
            to_yaml(&value),
            "a: |\n  one\n  two\nb:\n  - |-\n    x\n    y\n"
        );
    }

    #[test]
    fn go_map_keys_sort_naturally_and_struct_fields_keep_their_order() {
        let value = serde_json::json!({"l1": 1, "l10": 2, "l2": 3});
        assert_eq!(to_yaml(&value), "l1: 1\nl2: 3\nl10: 2\n");
        let value = serde_json::json!({"target": 1, "published": 2});
        assert_eq!(to_yaml(&value), "target: 1\npublished: 2\n");
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

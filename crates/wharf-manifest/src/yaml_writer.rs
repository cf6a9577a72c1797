//! Compose's YAML: a value printed as `docker compose config` prints it (Go's yaml.v3),
//! block style with two-space indents, the same quoting and the same key order.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::Serialize;
use wharf_model::Project;

use crate::go_float::format_float_g;
use crate::yaml_scalar;
use crate::yaml_tree::{Yaml, tree};

/// `value` in YAML, as Go's yaml.v3 writes it.
pub fn to_yaml<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    Ok(written(&tree(value, false)?, 4096))
}

/// The project as `docker compose config` prints it: extension keys inlined after the
/// known fields everywhere, `$` written `$$` when asked.
pub fn project_yaml(project: &Project, escape_dollars: bool) -> serde_json::Result<String> {
    let mut value = tree(project, escape_dollars)?;
    if let Some(Yaml::Map(services)) = value.get_mut("services") {
        for (_, service) in services {
            ssh_keys(service);
            ulimits_in_full(service);
        }
    }
    shape(&mut value, true);
    Ok(written(&value, crate::compose_json::expected_size(project)))
}

/// Compose's YAML prints a build's `id=path` SSH key as the string `id: path`.
fn ssh_keys(service: &mut Yaml) {
    let keys = service
        .get_mut("build")
        .and_then(|build| build.get_mut("ssh"));
    if let Some(Yaml::Seq(keys)) = keys {
        for key in keys {
            if let Yaml::Str(text) = key
                && let Some((id, path)) = text.split_once('=')
            {
                *text = format!("{id}: {path}");
            }
        }
    }
}

/// Compose's YAML prints a ulimit's `soft` and `hard` even at 0 (its JSON leaves them
/// out): `core: {soft: 0, hard: 0}` stays so. Its other keys (extensions) follow.
fn ulimits_in_full(service: &mut Yaml) {
    if let Some(Yaml::Map(ulimits)) = service.get_mut("ulimits") {
        for (_, limit) in ulimits {
            if let Yaml::Map(fields) = limit {
                for name in ["hard", "soft"] {
                    let value = fields
                        .iter()
                        .position(|(key, _)| key == name)
                        .map_or(Yaml::Int(0), |at| fields.remove(at).1);
                    fields.insert(0, (name.to_owned(), value));
                }
            }
        }
    }
}

/// Drops what Compose prints in JSON but omits in YAML: a service's or a hook's unset
/// commands, and empty `ipam`, `placement` and `resources`. `commands`: whether an
/// unset `command` here goes (a watch rule's `exec` keeps its).
fn shape(value: &mut Yaml, commands: bool) {
    match value {
        Yaml::Map(entries) => {
            entries.retain(|(key, child)| match key.as_str() {
                // Unset, it is left out; set empty (`entrypoint: []`, `command: ""`), kept.
                "command" | "entrypoint" if commands => !matches!(child, Yaml::Null),
                "ipam" | "placement" | "resources" => {
                    !matches!(child, Yaml::Map(fields) if fields.is_empty())
                }
                _ => true,
            });
            for (key, child) in entries {
                shape(child, commands && key != "develop");
            }
        }
        Yaml::Seq(items) => items.iter_mut().for_each(|item| shape(item, commands)),
        _ => {}
    }
}

fn written(value: &Yaml, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    match value {
        Yaml::Map(entries) if !entries.is_empty() => write_map(&mut out, entries, 0, false),
        Yaml::Seq(items) if !items.is_empty() => write_seq(&mut out, items, 0, false),
        scalar => write_scalar(&mut out, scalar, 0),
    }
    out
}

/// The entries of a mapping at `indent`; with `first_inline`, the first one goes where
/// the writer stands (after a list's dash) and the rest align under it.
///
/// A struct's fields keep their order; a Go map's keys are sorted by yaml.v3's
/// natural order. The model's maps arrive sorted bytewise (`BTreeMap`), so a mapping
/// whose keys are in bytewise order is one of those, and is re-sorted.
fn write_map(out: &mut String, entries: &[(String, Yaml)], indent: usize, first_inline: bool) {
    let mut write = |i: usize, (key, value): &(String, Yaml)| {
        if !(first_inline && i == 0) {
            indent_line(out, indent);
        }
        if is_simple_key(key) {
            out.push_str(&yaml_scalar::flow(key));
            out.push(':');
            write_node(out, value, indent, false);
        } else {
            // yaml.v3's explicit form: `? key` on its own, then `: value`.
            out.push_str("? ");
            yaml_scalar::write_value(out, key, indent + 2);
            indent_line(out, indent);
            out.push(':');
            write_node(out, value, indent, true);
        }
    };
    if entries.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        let mut sorted: Vec<&(String, Yaml)> = entries.iter().collect();
        sorted.sort_by(|a, b| natural_order(&a.0, &b.0));
        sorted
            .into_iter()
            .enumerate()
            .for_each(|(i, entry)| write(i, entry));
    } else {
        entries
            .iter()
            .enumerate()
            .for_each(|(i, entry)| write(i, entry));
    }
}

/// Whether yaml.v3 writes `key` as a plain `key:` (else as `? key`): not over 128
/// bytes, and on one line.
fn is_simple_key(key: &str) -> bool {
    key.len() <= 128 && !key.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
}

/// Starts a line `indent` spaces in.
pub fn indent_line(out: &mut String, indent: usize) {
    const SPACES: &str = "                                                                ";
    let mut left = indent;
    while left > 0 {
        let run = left.min(SPACES.len());
        out.push_str(&SPACES[..run]);
        left -= run;
    }
}

/// A list's items at `indent`; with `first_inline` the first goes on the current line
/// (a list in a list: `- - a`).
fn write_seq(out: &mut String, items: &[Yaml], indent: usize, first_inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if !(first_inline && i == 0) {
            indent_line(out, indent);
        }
        out.push('-');
        write_node(out, item, indent, true);
    }
}

/// A value after its key's colon, or after a list's dash (`after_dash`), the one
/// standing at `indent`.
fn write_node(out: &mut String, value: &Yaml, indent: usize, after_dash: bool) {
    match value {
        Yaml::Map(entries) if !entries.is_empty() => {
            out.push(if after_dash { ' ' } else { '\n' });
            write_map(out, entries, indent + 2, after_dash);
        }
        Yaml::Seq(items) if !items.is_empty() => {
            out.push(if after_dash { ' ' } else { '\n' });
            write_seq(out, items, indent + 2, after_dash);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, indent + 2);
        }
    }
}

/// A scalar and its line break; a multi-line string as a literal block indented to
/// `indent`.
fn write_scalar(out: &mut String, value: &Yaml, indent: usize) {
    let _ = match value {
        Yaml::Str(text) => return yaml_scalar::write_value(out, text, indent),
        Yaml::Null => out.write_str("null"),
        Yaml::Bool(value) => write!(out, "{value}"),
        Yaml::Int(number) => write!(out, "{number}"),
        Yaml::Uint(number) => write!(out, "{number}"),
        // Go's YAML writes floats with `%g` (`1e+06`).
        Yaml::Float(number) => out.write_str(&format_float_g(*number)),
        Yaml::Seq(_) => out.write_str("[]"),
        Yaml::Map(_) => out.write_str("{}"),
    };
    out.push('\n');
}

/// yaml.v3's order of map keys: letters compare as characters, runs of digits as
/// numbers, so `l2` comes before `l10`.
/// Go's natural order of map keys: runs of digits compare as numbers.
fn natural_order(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        natural_order_of(a.as_bytes(), b.as_bytes())
    } else {
        let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        natural_order_of(&ar, &br)
    }
}

fn natural_order_of<C: Copy + Into<char>>(ar: &[C], br: &[C]) -> Ordering {
    let char_at = |chars: &[C], i: usize| -> char { chars[i].into() };
    let mut digits = false;
    for i in 0..ar.len().min(br.len()) {
        let (ac, bc) = (char_at(ar, i), char_at(br, i));
        if ac == bc {
            digits = ac.is_ascii_digit();
            continue;
        }
        let (al, bl) = (ac.is_alphabetic(), bc.is_alphabetic());
        if al && bl {
            return ac.cmp(&bc);
        }
        if al || bl {
            let a_first = if digits { al } else { bl };
            return if a_first {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let number = |chars: &[C]| {
            let run = chars[i..]
                .iter()
                .take_while(|c| (**c).into().is_ascii_digit())
                .count();
            let value = chars[i..i + run]
                .iter()
                .try_fold(0u128, |n, c| {
                    n.checked_mul(10)?
                        .checked_add(u128::from((*c).into().to_digit(10)?))
                })
                .unwrap_or(0);
            (value, run)
        };
        let leading_zero_matters = (ac == '0' || bc == '0')
            && ar[..i]
                .iter()
                .rev()
                .map(|c| (*c).into())
                .take_while(char::is_ascii_digit)
                .any(|c| c != '0');
        let ((an, alen), (bn, blen)) = (number(ar), number(br));
        if !leading_zero_matters && an != bn {
            return an.cmp(&bn);
        }
        if alen != blen {
            return alen.cmp(&blen);
        }
        return ac.cmp(&bc);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        let value = serde_json::json!({"a": "one\ntwo\n", "b": ["x\ny"]});
        assert_eq!(
            to_yaml(&value).unwrap(),
            "a: |\n  one\n  two\nb:\n  - |-\n    x\n    y\n"
        );
    }

    #[test]
    fn go_map_keys_sort_naturally_and_struct_fields_keep_their_order() {
        let value = serde_json::json!({"l1": 1, "l10": 2, "l2": 3});
        assert_eq!(to_yaml(&value).unwrap(), "l1: 1\nl2: 3\nl10: 2\n");
        let value = serde_json::json!({"target": 1, "published": 2});
        assert_eq!(to_yaml(&value).unwrap(), "target: 1\npublished: 2\n");
    }

    #[test]
    fn nested_lists_and_maps_render_in_block_style() {
        let value = serde_json::json!({"a": {"b": [1, {"c": "d", "e": []}]}, "f": {}});
        assert_eq!(
            to_yaml(&value).unwrap(),
            "a:\n  b:\n    - 1\n    - c: d\n      e: []\nf: {}\n"
        );
    }

    #[test]
    fn deep_values_indent_two_spaces_a_level() {
        let mut value = serde_json::json!("leaf");
        for _ in 0..40 {
            value = serde_json::json!({ "k": value });
        }
        let text = to_yaml(&value).unwrap();
        assert!(text.ends_with(&format!("\n{}k: leaf\n", " ".repeat(78))));
        assert_eq!(text.lines().count(), 40);
    }
}

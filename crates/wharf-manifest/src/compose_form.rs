//! A project in Compose's JSON form as a `serde_json::Value`, as `docker compose config
//! --format json` prints it: only the top level's extension keys, inlined after the
//! known fields; `$` escaped as `$$` when asked. It is the input of Compose's
//! per-service config hash (`config --format json` itself is written straight from the
//! project, `compose_json`; YAML has its own form, `yaml_writer`).

use serde_json::Value;
use wharf_model::{EXTENSIONS_KEY, Project};

/// The project as Compose's JSON has it.
pub fn project_value(project: &Project, escape_dollars: bool) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(project)?;
    if let Value::Object(top) = &mut value {
        for child in top.values_mut() {
            drop_extensions(child);
        }
        json_only_forms(top);
        // The only extensions left are the top level's own.
        inline_extensions_here(top);
        // Go writes the top level of its JSON from a map: in sorted order.
        top.sort_keys();
    }
    if escape_dollars {
        escape(&mut value);
    }
    Ok(value)
}

/// Where Compose's JSON differs from its YAML: top-level models are left out, block IO
/// devices keep Go's field names, and a watch rule always has an `exec`.
fn json_only_forms(top: &mut serde_json::Map<String, Value>) {
    top.shift_remove("models");
    let Some(Value::Object(services)) = top.get_mut("services") else {
        return;
    };
    for service in services.values_mut() {
        if let Some(Value::Object(blkio)) = service.get_mut("blkio_config") {
            for (key, devices) in blkio.iter_mut() {
                if key == "weight" {
                    continue;
                }
                for device in devices.as_array_mut().into_iter().flatten() {
                    if let Value::Object(fields) = device {
                        *fields = std::mem::take(fields)
                            .into_iter()
                            .map(|(name, value)| (go_field_name(&name), value))
                            .collect();
                    }
                }
            }
        }
        let rules = service
            .pointer_mut("/develop/watch")
            .and_then(Value::as_array_mut);
        for rule in rules.into_iter().flatten() {
            if let Value::Object(rule) = rule
                && !rule.contains_key("exec")
            {
                // In Go's field order: after path, action and target.
                let at = ["path", "action", "target"]
                    .iter()
                    .filter(|key| rule.contains_key(**key))
                    .count();
                rule.shift_insert(at, "exec".to_owned(), serde_json::json!({"command": null}));
            }
        }
    }
}

/// `path` → `Path`: the name of a Go struct field that has no JSON tag.
fn go_field_name(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Moves `map`'s own extensions (not its children's) in among its keys.
fn inline_extensions_here(map: &mut serde_json::Map<String, Value>) {
    if let Some(Value::Object(extensions)) = map.shift_remove(EXTENSIONS_KEY) {
        for (key, mut extension) in extensions {
            sort_keys(&mut extension);
            map.insert(key, extension);
        }
    }
}

fn drop_extensions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.shift_remove(EXTENSIONS_KEY);
            map.values_mut().for_each(drop_extensions);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_extensions),
        _ => {}
    }
}

/// Extension values print with sorted keys, as Go maps do, and an empty list as
/// `null`, as Compose's JSON has it.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) if items.is_empty() => *value = Value::Null,
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Output is meant to load again, so a literal `$` is written `$$`.
fn escape(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('$') => *text = text.replace('$', "$$"),
        Value::Object(map) => {
            // Keys are escaped too: Compose escapes every string of the tree.
            if map.keys().any(|key| key.contains('$')) {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(key, value)| (key.replace('$', "$$"), value))
                    .collect();
            }
            map.values_mut().for_each(escape);
        }
        Value::Array(items) => items.iter_mut().for_each(escape),
        _ => {}
    }
}

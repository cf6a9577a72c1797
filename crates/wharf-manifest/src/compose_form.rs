//! A project in Compose's JSON form, as `docker compose config` prints it: extension
//! keys inlined after the known fields, `$` escaped as `$$` when asked. It is also the
//! input of Compose's per-service config hash.

use serde_json::Value;
use wharf_model::{EXTENSIONS_KEY, Project};

/// The project as Compose prints it. JSON keeps only the top-level `x-*` keys, as
/// Compose's does; YAML keeps them everywhere.
pub fn project_value(
    project: &Project,
    escape_dollars: bool,
    json: bool,
) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(project)?;
    if let Value::Object(top) = &mut value
        && json
    {
        for child in top.values_mut() {
            drop_extensions(child);
        }
    }
    inline_extensions(&mut value);
    if escape_dollars {
        escape(&mut value);
    }
    Ok(value)
}

fn inline_extensions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                inline_extensions(child);
            }
            if let Some(Value::Object(extensions)) = map.shift_remove(EXTENSIONS_KEY) {
                for (key, mut extension) in extensions {
                    sort_keys(&mut extension);
                    map.insert(key, extension);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(inline_extensions),
        _ => {}
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

/// Extension values print with sorted keys, as Go maps do.
fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Output is meant to load again, so a literal `$` is written `$$`.
fn escape(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('$') => *text = text.replace('$', "$$"),
        Value::Object(map) => map.values_mut().for_each(escape),
        Value::Array(items) => items.iter_mut().for_each(escape),
        _ => {}
    }
}

//! Merges an override tree into a base tree with Compose's rules: mappings merge by
//! key, most lists append, and in a few an entry replaces the base's with the same
//! key (`volumes` by target, `secrets` and `configs` by source and target). `!reset` removes a value,
//! `!override` replaces it whole. Both trees must already be canonical.

use crate::node::{Map, Node, NodeTag, Value};

/// Merges `over` into `base`. `path` is the dotted location of `base` in the file.
pub fn merge(base: &mut Node, over: Node, path: &[&str]) {
    if over.tag == Some(NodeTag::Override)
        || replaces_whole(path)
        || other_logging_driver(base, &over, path)
    {
        *base = strip_tags(over);
        return;
    }
    match (&mut base.value, over.value) {
        (Value::Map(base_map), Value::Map(over_map)) => merge_maps(base_map, over_map, path),
        (Value::Seq(base_items), Value::Seq(over_items)) => {
            merge_lists(base_items, over_items, path);
        }
        (_, Value::Null) if is_service_level(path) => {}
        (_, value) => {
            *base = strip_tags(Node {
                value,
                span: over.span,
                tag: None,
            });
        }
    }
}

fn merge_maps(base: &mut Map, over: Map, path: &[&str]) {
    for (key, value) in over.into_entries() {
        if value.tag == Some(NodeTag::Reset) {
            base.remove(key.name());
            continue;
        }
        // A network named again with no settings (`networks: [back]`) keeps the
        // base's aliases and addresses, as Compose's merge does.
        if value.is_null()
            && matches!(path, ["services", _, "networks"])
            && base.contains(key.name())
        {
            continue;
        }
        let mut child_path = path.to_vec();
        child_path.push(key.name());
        match base.get_mut(key.name()) {
            Some(existing) if !key.name().starts_with("x-") => merge(existing, value, &child_path),
            _ => base.insert(key, strip_tags(value)),
        }
    }
}

fn merge_lists(base: &mut Vec<Node>, over: Vec<Node>, path: &[&str]) {
    let identity: fn(&Node) -> Option<String> = match path {
        ["services", _, "volumes"] => |n| field(n, "target"),
        // The same file at another target is another mount.
        ["services", _, "secrets" | "configs"] => {
            |n| Some(format!("{:?}:{:?}", field(n, "source"), field(n, "target")))
        }
        // Appended as they are, duplicates too (`cache_from: [a, b, a]`), as Compose
        // appends; the lists that keep one entry per key are `unicity`'s.
        _ => |_| None,
    };
    for item in over {
        let item = strip_tags(item);
        let id = identity(&item);
        // An entry with the same identity replaces the base's whole (a mount made
        // writable loses `read_only`), as Compose's merge does.
        match base
            .iter_mut()
            .find(|existing| id.is_some() && identity(existing) == id)
        {
            Some(existing) => *existing = item,
            None => base.push(item),
        }
    }
}

fn replaces_whole(path: &[&str]) -> bool {
    matches!(
        path,
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"]
    )
}

/// Logging set with another driver replaces the base's whole; with the same driver
/// (or none) its options merge.
fn other_logging_driver(base: &Node, over: &Node, path: &[&str]) -> bool {
    let driver = |n: &Node| field(n, "driver").filter(|d| !d.is_empty());
    matches!(path, ["services", _, "logging"])
        && matches!((driver(base), driver(over)), (Some(a), Some(b)) if a != b)
}

fn is_service_level(path: &[&str]) -> bool {
    matches!(path, ["services", _])
}

fn field(node: &Node, key: &str) -> Option<String> {
    node.as_map()?.get(key)?.scalar_text()
}

/// A span-free rendering of a node, to find duplicates.
pub fn fingerprint(node: &Node) -> String {
    match &node.value {
        Value::Null => "~".to_owned(),
        Value::Seq(items) => {
            format!(
                "[{}]",
                items.iter().map(fingerprint).collect::<Vec<_>>().join(",")
            )
        }
        Value::Map(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}:{}", k.name(), fingerprint(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => format!("{:?}", node.scalar_text()),
    }
}

/// Removes `!reset` entries (nothing to reset in a single file) and drops tags.
pub fn strip_tags(mut node: Node) -> Node {
    strip_tags_in_place(&mut node);
    node
}

fn strip_tags_in_place(node: &mut Node) {
    node.tag = None;
    let reset = |v: &Node| v.tag == Some(NodeTag::Reset);
    // Looked for before anything is moved: a `!reset` is rare.
    match &mut node.value {
        Value::Map(map) => {
            if map.iter().any(|(_, v)| reset(v)) {
                map.retain(|v| !reset(v));
            }
            map.iter_mut().for_each(|(_, v)| strip_tags_in_place(v));
        }
        Value::Seq(items) => {
            if items.iter().any(reset) {
                items.retain(|v| !reset(v));
            }
            items.iter_mut().for_each(strip_tags_in_place);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileRef;
    use crate::yaml::parse_documents;

    fn tree(text: &str) -> Node {
        let mut node = parse_documents(&FileRef::new("t.yaml", text))
            .unwrap()
            .remove(0);
        crate::canonical::canonicalize(
            &mut node,
            crate::canonical::Form {
                normalize: true,
                interpolated: true,
            },
        )
        .unwrap();
        node
    }

    fn merged(base: &str, over: &str) -> String {
        let mut base = tree(base);
        merge(&mut base, tree(over), &[]);
        fingerprint(&base)
    }

    #[test]
    fn environment_merges_by_key_and_command_replaces() {
        let out = merged(
            "services: {a: {command: x y, environment: [A=1, B=2]}}",
            "services: {a: {command: [z], environment: {B: 3}}}",
        );
        assert!(out.contains("command:[Some(\"z\")]"), "{out}");
        assert!(
            out.contains("A:Some(\"1\")") && out.contains("B:Some(\"3\")"),
            "{out}"
        );
    }

    #[test]
    fn volumes_merge_by_target() {
        let out = merged(
            "services: {a: {volumes: ['./x:/data', '/cache']}}",
            "services: {a: {volumes: ['./y:/data:ro']}}",
        );
        assert!(
            out.contains("./y") && !out.contains("./x") && out.contains("/cache"),
            "{out}"
        );
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let out = merged(
            "services: {a: {ports: ['80'], labels: {a: b}}}",
            "services: {a: {ports: !reset [], labels: !override {c: d}}}",
        );
        assert!(
            !out.contains("ports") && !out.contains("a:Some(\"b\")"),
            "{out}"
        );
        assert!(out.contains("c:Some(\"d\")"), "{out}");
    }
}

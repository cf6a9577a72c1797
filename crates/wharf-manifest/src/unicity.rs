//! Compose keeps one entry per key in some of a service's lists, once the files have
//! merged (a single file too): `cap_add: [A, A]` is one capability, two mounts on one
//! target are the last, and `8080:80` then `0.0.0.0:8080:80` is one port. A later
//! entry takes the place of the earlier one with its key.

use std::collections::HashMap;

use crate::merge::fingerprint;
use crate::node::{Node, Value};

type Index = fn(&Node) -> Option<String>;

pub fn enforce(root: &mut Node) {
    let Some(services) = root
        .as_map_mut()
        .and_then(|top| top.get_mut("services"))
        .and_then(Node::as_map_mut)
    else {
        return;
    };
    for (_, service) in services.iter_mut() {
        let Some(service) = service.as_map_mut() else {
            continue;
        };
        for (key, list) in service.iter_mut() {
            let index: Index = match key.name() {
                "cap_add" | "cap_drop" | "dns" | "dns_opt" | "dns_search" | "expose" | "links"
                | "profiles" | "tmpfs" => whole,
                "volumes" | "devices" => target,
                "ports" => port,
                "secrets" => |n| mount(n, "/run/secrets/"),
                "configs" => |n| mount(n, "/"),
                "env_file" => |n| n.as_map()?.get("path")?.scalar_text(),
                "build" => {
                    for field in ["tags", "platforms"] {
                        if let Some(items) = list.as_map_mut().and_then(|b| b.get_mut(field)) {
                            keep_one_per_key(items, whole);
                        }
                    }
                    continue;
                }
                "networks" => {
                    for (_, network) in list
                        .as_map_mut()
                        .into_iter()
                        .flat_map(crate::node::Map::iter_mut)
                    {
                        if let Some(aliases) =
                            network.as_map_mut().and_then(|n| n.get_mut("aliases"))
                        {
                            keep_one_per_key(aliases, whole);
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            keep_one_per_key(list, index);
        }
    }
}

/// Each key once, where it first came, with the value that came last.
fn keep_one_per_key(list: &mut Node, index: Index) {
    let Value::Seq(items) = &mut list.value else {
        return;
    };
    let keys: Vec<Option<String>> = items.iter().map(index).collect();
    // Most lists are short and repeat nothing: they stay as they are.
    let repeats_earlier =
        |at: usize| keys[at].is_some() && keys[..at].iter().any(|key| *key == keys[at]);
    if keys.len() <= 16 && !(0..keys.len()).any(repeats_earlier) {
        return;
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<Node> = Vec::with_capacity(items.len());
    for (item, key) in items.drain(..).zip(keys) {
        match key.map(|key| (seen.get(&key).copied(), key)) {
            Some((Some(at), _)) => kept[at] = item,
            Some((None, key)) => {
                seen.insert(key, kept.len());
                kept.push(item);
            }
            None => kept.push(item),
        }
    }
    *items = kept;
}

#[expect(
    clippy::unnecessary_wraps,
    reason = "every index has the one signature"
)]
fn whole(node: &Node) -> Option<String> {
    Some(node.scalar_text().unwrap_or_else(|| fingerprint(node)))
}

fn target(node: &Node) -> Option<String> {
    let map = node.as_map()?;
    map.get("target")
        .or_else(|| map.get("source"))?
        .scalar_text()
}

/// Where a secret or config is mounted: its target, else `default` and its source.
fn mount(node: &Node, default: &str) -> Option<String> {
    let map = node.as_map()?;
    match map.get("target").and_then(Node::scalar_text) {
        Some(target) => Some(target),
        None => Some(format!("{default}{}", map.get("source")?.scalar_text()?)),
    }
}

/// A port by where it is published: address (all of them unless given), port, target
/// and protocol; its name and application protocol are not part of it.
fn port(node: &Node) -> Option<String> {
    let map = node.as_map()?;
    let mut key = String::new();
    for (field, default, then) in [
        ("host_ip", "0.0.0.0", ":"),
        ("published", "", ":"),
        ("target", "", "/"),
        ("protocol", "tcp", ""),
    ] {
        match map.get(field).map(|n| &n.value) {
            Some(Value::Str(text)) => key.push_str(text),
            Some(value) => key.push_str(value.scalar_text().as_deref().unwrap_or(default)),
            None => key.push_str(default),
        }
        key.push_str(then);
    }
    Some(key)
}

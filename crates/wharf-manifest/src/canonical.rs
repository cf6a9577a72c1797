//! Rewrites every short syntax in a file's tree into Compose's long syntax, so merging
//! and typing see one form. Each new node keeps the span of the text it came from.

use crate::error::{Error, Result};
use crate::node::{Key, Map, Node, NodeTag, Value};
use crate::schema;
use crate::shell_words;
use crate::short_syntax::{parse_port, parse_volume};
use crate::source::Span;

/// How far a tree is brought to the long syntax.
#[derive(Clone, Copy)]
pub struct Form {
    /// Also what Compose counts as normalizing, which `config --no-normalize` leaves
    /// as written: `pull_policy: if_not_present` → `missing`, mount targets cleaned.
    pub normalize: bool,
    /// Its variables were filled. When not (`config --no-interpolate`), short ports
    /// are kept as written (one may hold a variable), as Compose keeps them.
    pub interpolated: bool,
}

/// The top-level sections of named resources services refer to.
pub(crate) const RESOURCE_SECTIONS: [&str; 4] = ["networks", "volumes", "secrets", "configs"];

/// Canonicalizes a whole file (top-level mapping).
pub fn canonicalize(root: &mut Node, form: Form) -> Result<()> {
    schema::refuse_dates_and_empty_values(root)?;
    let Some(top) = root.as_map_mut() else {
        return Ok(());
    };
    schema::refuse_empty_attributes(top)?;
    if let Some(version) = top.get("version").filter(|v| v.as_str().is_none()) {
        return Err(Error::at(&version.span, "version must be a string")
            .with_help("it is obsolete: remove it, or quote it (\"3.8\")"));
    }
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for (name, service) in services.iter_mut() {
            canonicalize_service(name.name(), service, form)?;
        }
    }
    for section in RESOURCE_SECTIONS {
        if let Some(objects) = top.get_mut(section).and_then(Node::as_map_mut) {
            for (name, object) in objects.iter_mut() {
                schema::object_in_file(section, name.name(), object)?;
                if let Some(map) = object.as_map_mut() {
                    let path = || format!("{section}.{}.driver_opts", name.name());
                    schema::option_values(path, map.get("driver_opts"), false)?;
                    to_mapping(map, "labels", false)?;
                    text_mapping(map, "driver_opts")?;
                    legacy_external_name(section, name.name(), map)?;
                }
            }
        }
    }
    Ok(())
}

fn canonicalize_service(name: &str, service: &mut Node, form: Form) -> Result<()> {
    let normalize = form.normalize;
    let Some(map) = service.as_map_mut() else {
        return Ok(());
    };
    // Each file as Compose validates it: interpolated and cast, not yet rewritten.
    schema::service_in_file(name, map)?;
    if let Some(build) = map.get_mut("build") {
        if let Some(context) = build.as_str() {
            let span = build.span.clone();
            *build = map_node(vec![("context", Node::str(context, span.clone()))], span);
        }
        if let Some(build_map) = build.as_map_mut() {
            to_mapping(build_map, "args", true)?;
            to_mapping(build_map, "labels", false)?;
            to_mapping(build_map, "additional_contexts", false)?;
            extra_hosts(build_map)?;
            // `tags`, `platforms`, `cache_from` and `cache_to` stay lists: Compose
            // refuses one written as a string.
            string_to_list(build_map, &["no_cache_filter"]);
            ssh_keys(build_map)?;
            file_references(build_map, "secrets");
            for key in ["provenance", "sbom"] {
                if let Some(attestation) = build_map.get_mut(key)
                    && let Some(text) = attestation.scalar_text()
                {
                    attestation.value = Value::Str(text);
                }
            }
        }
    }
    split_command(map, "command")?;
    split_command(map, "entrypoint")?;
    for key in ["post_start", "pre_stop"] {
        for hook in seq_items(map, key).filter_map(Node::as_map_mut) {
            split_command(hook, "command")?;
            to_mapping(hook, "environment", true)?;
        }
    }
    if let Some(develop) = map.get_mut("develop").and_then(Node::as_map_mut) {
        for rule in seq_items(develop, "watch").filter_map(Node::as_map_mut) {
            string_to_list(rule, &["ignore", "include"]);
            if let Some(exec) = rule.get_mut("exec").and_then(Node::as_map_mut) {
                split_command(exec, "command")?;
                to_mapping(exec, "environment", true)?;
            }
        }
    }
    if let Some(test) = map
        .get_mut("healthcheck")
        .and_then(Node::as_map_mut)
        .and_then(|h| h.get_mut("test"))
        && let Some(text) = test.as_str()
    {
        let span = test.span.clone();
        *test = list_node(vec!["CMD-SHELL".to_owned(), text.to_owned()], &span);
    }
    healthcheck_test_form(name, map)?;
    to_mapping(map, "environment", true)?;
    for key in ["labels", "annotations", "sysctls", "storage_opt"] {
        to_mapping(map, key, false)?;
    }
    if let Some(deploy) = map.get_mut("deploy").and_then(Node::as_map_mut) {
        to_mapping(deploy, "labels", false)?;
        if let Some(reservations) = deploy
            .get_mut("resources")
            .and_then(Node::as_map_mut)
            .and_then(|r| r.get_mut("reservations"))
            .and_then(Node::as_map_mut)
        {
            devices_count_all(seq_items(reservations, "devices"))?;
        }
    }
    if let Some(gpus) = map.get_mut("gpus") {
        if gpus.as_str() == Some("all") {
            let span = gpus.span.clone();
            let every = Node::new(Value::Int(-1), span.clone());
            *gpus = Node::new(
                Value::Seq(vec![map_node(vec![("count", every)], span.clone())]),
                span,
            );
        }
        if let Value::Seq(items) = &mut gpus.value {
            // Compose reads only these of a GPU request, and drops any other key.
            for item in items.iter_mut().filter_map(Node::as_map_mut) {
                let known = ["capabilities", "driver", "count", "device_ids", "options"];
                let kept = std::mem::take(item)
                    .into_entries()
                    .into_iter()
                    .filter(|(key, _)| known.contains(&key.name()))
                    .collect();
                *item = Map::from_entries(kept);
            }
            devices_count_all(items.iter_mut())?;
        }
    }
    if let Some(pull_policy) = map.get_mut("pull_policy")
        && normalize
        && pull_policy.as_str() == Some("if_not_present")
    {
        pull_policy.value = Value::Str("missing".to_owned());
    }
    for item in seq_items(map, "group_add") {
        if let Some(text) = item.scalar_text() {
            item.value = Value::Str(text);
        }
    }
    blkio_config(map)?;
    provider_options(map)?;
    if let Some(models) = map.get_mut("models")
        && let Some(names) = models.as_seq()
    {
        let entries = names
            .iter()
            .map(|name| {
                let key = Key::new(name.scalar_text().unwrap_or_default(), name.span.clone());
                (key, Node::null(name.span.clone()))
            })
            .collect();
        models.value = Value::Map(Map::from_entries(entries));
    }
    if let Some(logging) = map.get_mut("logging").and_then(Node::as_map_mut) {
        schema::option_values(
            || "logging.options".to_owned(),
            logging.get("options"),
            true,
        )?;
        text_mapping(logging, "options")?;
    }
    extra_hosts(map)?;
    env_files(map);
    ports(map, form.interpolated)?;
    volumes(map, normalize)?;
    depends_on(name, map)?;
    if let Some(networks) = map.get_mut("networks")
        && let Some(items) = networks.as_seq()
    {
        let entries = items
            .iter()
            .map(|item| {
                (
                    Key::new(item.scalar_text().unwrap_or_default(), item.span.clone()),
                    Node::null(item.span.clone()),
                )
            })
            .collect();
        networks.value = Value::Map(Map::from_entries(entries));
    }
    if let Some(networks) = map.get_mut("networks").and_then(Node::as_map_mut) {
        for (name, network) in networks.iter_mut() {
            if let Some(network) = network.as_map_mut() {
                let path = || format!("networks.{}.driver_opts", name.name());
                schema::option_values(path, network.get("driver_opts"), false)?;
                text_mapping(network, "driver_opts")?;
            }
        }
    }
    file_references(map, "secrets");
    file_references(map, "configs");
    string_to_list(map, &["dns", "dns_search", "tmpfs", "label_file"]);
    // An empty DNS server is no server: Compose leaves it out (and the key, if none is
    // left).
    if let Some(Value::Seq(servers)) = map.get_mut("dns").map(|d| &mut d.value) {
        servers.retain(|server| server.as_str() != Some(""));
        if servers.is_empty() {
            map.remove("dns");
        }
    }
    if let Some(expose) = map.get_mut("expose").and_then(|e| match &mut e.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }) {
        for item in expose {
            if let Some(text) = item.scalar_text() {
                item.value = Value::Str(text);
            }
        }
    }
    if let Some(extends) = map.get_mut("extends")
        && let Some(name) = extends.as_str()
    {
        let span = extends.span.clone();
        *extends = map_node(vec![("service", Node::str(name, span.clone()))], span);
    }
    if let Some(devices) = map.get_mut("devices").and_then(|d| match &mut d.value {
        Value::Seq(items) => Some(items),
        _ => None,
    }) {
        for device in devices {
            if let Some(text) = device.as_str() {
                let parts: Vec<&str> = text.split(':').collect();
                let (source, target, permissions) = match parts.as_slice() {
                    [s] => (*s, *s, "rwm"),
                    [s, t] => (*s, *t, "rwm"),
                    [s, t, p] => (*s, *t, *p),
                    _ => {
                        return Err(Error::at(
                            &device.span,
                            format!(
                                "invalid device {text:?}: expected SOURCE[:TARGET[:PERMISSIONS]]"
                            ),
                        ));
                    }
                };
                // An empty target (`/dev/sda:`) is the source's path, as in Compose.
                let target = if target.is_empty() { source } else { target };
                let span = device.span.clone();
                *device = map_node(
                    vec![
                        ("source", Node::str(source, span.clone())),
                        ("target", Node::str(target, span.clone())),
                        ("permissions", Node::str(permissions, span.clone())),
                    ],
                    span,
                );
            }
        }
    }
    Ok(())
}

/// A shell-form command (`command: npm start`) → its words, as Compose stores it.
fn split_command(map: &mut Map, key: &str) -> Result<()> {
    if let Some(node) = map.get_mut(key)
        && let Some(text) = node.as_str()
    {
        let words = shell_words::split(text).map_err(|e| Error::at(&node.span, e))?;
        let (span, tag) = (node.span.clone(), node.tag);
        *node = list_node(words, &span);
        // `command: !reset ""` still resets.
        node.tag = tag;
    }
    Ok(())
}

/// The items of the sequence under `key`, or none.
fn seq_items<'a>(map: &'a mut Map, key: &str) -> std::slice::IterMut<'a, Node> {
    match map.get_mut(key).map(|n| &mut n.value) {
        Some(Value::Seq(items)) => items.iter_mut(),
        _ => [].iter_mut(),
    }
}

/// A device request's `count: all` is stored as -1, Docker's "every device"; its
/// options are strings.
fn devices_count_all<'a>(devices: impl Iterator<Item = &'a mut Node>) -> Result<()> {
    for device in devices.filter_map(Node::as_map_mut) {
        if let Some(count) = device.get_mut("count")
            && count.as_str() == Some("all")
        {
            count.value = Value::Int(-1);
        }
        to_mapping(device, "options", false)?;
    }
    Ok(())
}

/// Block IO rates are stored as strings: bytes per second (`12mb` → `12582912`), or
/// operations per second as written.
fn blkio_config(map: &mut Map) -> Result<()> {
    let Some(blkio) = map.get_mut("blkio_config").and_then(Node::as_map_mut) else {
        return Ok(());
    };
    for (key, in_bytes) in [
        ("device_read_bps", true),
        ("device_write_bps", true),
        ("device_read_iops", false),
        ("device_write_iops", false),
    ] {
        for device in seq_items(blkio, key) {
            let Some(rate) = device.as_map_mut().and_then(|d| d.get_mut("rate")) else {
                continue;
            };
            let Some(text) = rate.scalar_text() else {
                continue;
            };
            let stored = if matches!(rate.value, Value::Float(_)) {
                "0".to_owned() // a rate Compose reads from a float is zero
            } else if in_bytes {
                wharf_model::UnitBytes::parse(&text)
                    .map_err(|e| Error::at(&rate.span, e))?
                    .0
                    .to_string()
            } else {
                text
            };
            rate.value = Value::Str(stored);
        }
    }
    Ok(())
}

/// A provider's options are lists of strings: a single value becomes a one-item list.
/// Each value is a scalar or a list of them, as Compose's schema says.
fn provider_options(map: &mut Map) -> Result<()> {
    let Some(options) = map
        .get_mut("provider")
        .and_then(Node::as_map_mut)
        .and_then(|p| p.get_mut("options"))
        .and_then(Node::as_map_mut)
    else {
        return Ok(());
    };
    for (key, value) in options.iter_mut() {
        let span = value.span.clone();
        let nodes = match &value.value {
            Value::Seq(items) => items.as_slice(),
            _ => std::slice::from_ref(&*value),
        };
        let items: Option<Vec<String>> = nodes
            .iter()
            .map(|n| n.scalar_text().filter(|_| !n.is_null()))
            .collect();
        let Some(items) = items else {
            return Err(Error::at(
                &span,
                format!(
                    "provider.options.{} must be a boolean, number or string, or a list of them",
                    key.name()
                ),
            ));
        };
        *value = list_node(items, &span);
    }
    Ok(())
}

pub fn map_node(entries: Vec<(&str, Node)>, span: Span) -> Node {
    let entries = entries
        .into_iter()
        .map(|(k, v)| (Key::new(k, span.clone()), v))
        .collect();
    Node::new(Value::Map(Map::from_entries(entries)), span)
}

fn list_node(words: Vec<String>, span: &Span) -> Node {
    Node::new(
        Value::Seq(
            words
                .into_iter()
                .map(|w| Node::str(w, span.clone()))
                .collect(),
        ),
        span.clone(),
    )
}

/// `["A=1", "B"]` → `{A: "1", B: null}`; map values that are scalars become strings.
/// With `keep_null`, a bare `B` stays null (to be resolved from the environment);
/// otherwise it becomes an empty string.
fn to_mapping(map: &mut Map, key: &str, keep_null: bool) -> Result<()> {
    let Some(node) = map.get_mut(key) else {
        return Ok(());
    };
    let mut entries = Vec::new();
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                // Only text: Compose refuses `- 1` or `- true` in the list form.
                let Value::Str(text) = &item.value else {
                    return Err(Error::at(
                        &item.span,
                        format!("{key} entries must be strings, found {}", item.kind()),
                    )
                    .with_help("quote it, as KEY=value"));
                };
                let text = text.clone();
                let assigned = text.contains('=');
                let (name, value) = match text.split_once('=') {
                    Some((name, value)) => (name.to_owned(), Node::str(value, item.span.clone())),
                    None if keep_null => (text.clone(), Node::null(item.span.clone())),
                    None => (text.clone(), Node::str("", item.span.clone())),
                };
                // `KEY = value` is a mistake Compose refuses in variables: in any entry
                // of `environment`, in an assignment of the others (build `args`).
                let variables = key == "environment" || (keep_null && assigned);
                if variables && name.ends_with(char::is_whitespace) {
                    return Err(Error::at(
                        &item.span,
                        format!("environment variable {name:?} is declared with a trailing space"),
                    )
                    .with_help("write KEY=value, without spaces around `=`"));
                }
                entries.retain(|(k, _): &(Key, Node)| k.name() != name);
                entries.push((Key::new(name, item.span.clone()), value));
            }
        }
        Value::Map(existing) => {
            for (name, value) in existing.iter() {
                // Compose's schema wants a key with a character other than a line break.
                if name.name().chars().all(|c| c == '\n') {
                    return Err(Error::at(&name.span, format!("{key} has an empty key"))
                        .with_help("name the entry"));
                }
                let mut text = match (&value.value, value.scalar_text()) {
                    // Compose writes a number in a string map with Go's `%g`.
                    (Value::Float(f), _) => {
                        Node::str(crate::go_float::format_float_g(*f), value.span.clone())
                    }
                    (_, Some(text)) => Node::str(text, value.span.clone()),
                    (_, None) if value.is_null() && !keep_null => Node::str("", value.span.clone()),
                    (_, None) => value.clone(),
                };
                // `!reset` on one entry must survive to the merge that removes it.
                text.tag = value.tag;
                entries.push((name.clone(), text));
            }
        }
        _ => return Ok(()),
    }
    node.value = Value::Map(Map::from_entries(entries));
    Ok(())
}

/// Options that must be written as a mapping (Compose refuses the `KEY=VALUE` list
/// form here), their values read as text (`max-file: 3` is `"3"`).
fn text_mapping(map: &mut Map, key: &str) -> Result<()> {
    if let Some(list) = map.get(key).filter(|n| n.as_seq().is_some()) {
        return Err(
            Error::at(&list.span, format!("{key} must be a mapping, found a list"))
                .with_help("write each option as `name: value`"),
        );
    }
    to_mapping(map, key, false)
}

/// A string where a list is allowed becomes a one-item list.
fn string_to_list(map: &mut Map, keys: &[&str]) {
    for key in keys {
        if let Some(node) = map.get_mut(key)
            && node.as_str().is_some()
        {
            let item = node.clone();
            node.value = Value::Seq(vec![item]);
        }
    }
}

/// Build ssh keys as a list of `default` or `ID=PATH`. A mapping's `{ID: PATH}` is
/// `ID=PATH` and its `{ID: null}` the bare id; in a list, a bare id other than
/// `default` is refused, as Compose refuses it.
fn ssh_keys(build: &mut Map) -> Result<()> {
    let Some(ssh) = build.get_mut("ssh") else {
        return Ok(());
    };
    for key in ssh.as_seq().unwrap_or_default() {
        if let Some(text) = key.as_str()
            && !text.contains('=')
            && text != "default"
        {
            return Err(Error::at(&key.span, format!("invalid ssh key {text:?}"))
                .with_help("write `default` for your agent, or ID=PATH for a key file"));
        }
    }
    if let Value::Map(keys) = &ssh.value {
        let items = keys
            .iter()
            .map(|(id, path)| {
                let text = match path.scalar_text() {
                    Some(path) => format!("{}={path}", id.name()),
                    None => id.name().to_owned(),
                };
                Node::str(text, id.span.clone())
            })
            .collect();
        ssh.value = Value::Seq(items);
    }
    Ok(())
}

/// `["host:1.2.3.4", "host=5.6.7.8"]` or `{host: ip | [ips]}` → `{host: [ips]}`.
fn extra_hosts(map: &mut Map) -> Result<()> {
    let Some(node) = map.get_mut("extra_hosts") else {
        return Ok(());
    };
    let mut hosts: Vec<(Key, Node)> = Vec::new();
    // `tag`: a `!reset` on the host's entry, which the merge must still see.
    let mut add = |name: String, ip: Node, span: &Span, tag: Option<NodeTag>| {
        if name.is_empty() {
            return Err(Error::at(span, "extra_hosts entry without a host name")
                .with_help("write HOST=IP, as in db=10.0.0.2"));
        }
        if let Some((_, list)) = hosts.iter_mut().find(|(k, _)| k.name() == name) {
            if let Value::Seq(items) = &mut list.value {
                items.push(ip);
            }
            list.tag = list.tag.or(tag);
        } else {
            let mut list = Node::new(Value::Seq(vec![ip]), span.clone());
            list.tag = tag;
            hosts.push((Key::new(name, span.clone()), list));
        }
        Ok(())
    };
    // An address is text: Compose's schema refuses `db: 1` or `- 1`.
    let text_only = |entry: &Node, at: &str| match entry.value {
        Value::Int(_) | Value::Uint(_) | Value::Float(_) | Value::Bool(_) => Err(Error::at(
            &entry.span,
            format!("extra_hosts{at} must be a string, found {}", entry.kind()),
        )
        .with_help("quote the address")),
        _ => Ok(()),
    };
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                text_only(item, "")?;
                let text = item.scalar_text().unwrap_or_default();
                let (name, ip) = text
                    .split_once('=')
                    .or_else(|| text.split_once(':'))
                    .ok_or_else(|| {
                        Error::at(
                            &item.span,
                            format!("invalid extra_hosts entry {text:?}: expected HOST=IP"),
                        )
                    })?;
                // An IPv6 address may come bracketed; Compose stores it bare.
                let ip = ip
                    .strip_prefix('[')
                    .and_then(|ip| ip.strip_suffix(']'))
                    .unwrap_or(ip);
                add(
                    name.to_owned(),
                    Node::str(ip, item.span.clone()),
                    &item.span,
                    None,
                )?;
            }
        }
        Value::Map(entries) => {
            for (name, value) in entries.iter() {
                match &value.value {
                    Value::Seq(ips) => {
                        for ip in ips {
                            text_only(ip, &format!(".{}", name.name()))?;
                            add(
                                name.name().to_owned(),
                                Node::str(ip.scalar_text().unwrap_or_default(), ip.span.clone()),
                                &name.span,
                                value.tag,
                            )?;
                        }
                    }
                    _ => add(
                        name.name().to_owned(),
                        {
                            text_only(value, &format!(".{}", name.name()))?;
                            Node::str(value.scalar_text().unwrap_or_default(), value.span.clone())
                        },
                        &name.span,
                        value.tag,
                    )?,
                }
            }
        }
        _ => return Ok(()),
    }
    node.value = Value::Map(Map::from_entries(hosts));
    Ok(())
}

/// `env_file: a.env` / `[a.env]` → `[{path: a.env, required: true}]`.
fn env_files(map: &mut Map) {
    let Some(node) = map.get_mut("env_file") else {
        return;
    };
    let items: Vec<Node> = match &node.value {
        Value::Str(_) => vec![node.clone()],
        Value::Seq(items) => items.clone(),
        _ => return,
    };
    let entries = items
        .into_iter()
        .map(|item| {
            if let Some(path) = item.as_str() {
                map_node(
                    vec![
                        ("path", Node::str(path, item.span.clone())),
                        ("required", Node::new(Value::Bool(true), item.span.clone())),
                    ],
                    item.span.clone(),
                )
            } else {
                let mut item = item;
                if let Some(entry) = item.as_map_mut()
                    && !entry.contains("required")
                {
                    let span = entry
                        .key("path")
                        .map(|k| k.span.clone())
                        .unwrap_or_default();
                    entry.push((
                        Key::new("required", span.clone()),
                        Node::new(Value::Bool(true), span),
                    ));
                }
                item
            }
        })
        .collect();
    node.value = Value::Seq(entries);
}

fn ports(map: &mut Map, interpolated: bool) -> Result<()> {
    let Some(Value::Seq(items)) = map.get_mut("ports").map(|n| &mut n.value) else {
        return Ok(());
    };
    let mut expanded = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        let span = item.span.clone();
        match &item.value {
            Value::Str(text) if !interpolated => {
                let raw = Node::str(text.clone(), span.clone());
                expanded.push(map_node(vec![(wharf_model::RAW_PORT_KEY, raw)], span));
            }
            Value::Str(_) | Value::Int(_) | Value::Uint(_) => {
                let text = item.scalar_text().unwrap_or_default();
                let specs = parse_port(&text).map_err(|e| Error::at(&span, e))?;
                for spec in specs {
                    let mut entries = vec![("mode", Node::str("ingress", span.clone()))];
                    if !spec.host_ip.is_empty() {
                        entries.push(("host_ip", Node::str(spec.host_ip, span.clone())));
                    }
                    entries.push((
                        "target",
                        Node::new(Value::Int(i64::from(spec.target)), span.clone()),
                    ));
                    if !spec.published.is_empty() {
                        entries.push(("published", Node::str(spec.published, span.clone())));
                    }
                    entries.push(("protocol", Node::str(spec.protocol, span.clone())));
                    expanded.push(map_node(entries, span.clone()));
                }
            }
            Value::Map(_) => {
                let mut item = item;
                if let Some(port) = item.as_map_mut() {
                    if let Some(ip) = port.get("host_ip")
                        && let Some(text) = ip.as_str()
                        && text.parse::<std::net::IpAddr>().is_err()
                    {
                        return Err(Error::at(
                            &ip.span,
                            format!("invalid port host_ip {text:?}: not an IP address"),
                        )
                        .with_help("write an address such as 127.0.0.1 or ::1"));
                    }
                    if let Some(published) = port.get_mut("published")
                        && let Some(text) = published.scalar_text()
                    {
                        published.value = Value::Str(text);
                    }
                    for (key, default) in [("mode", "ingress"), ("protocol", "tcp")] {
                        if !port.contains(key) {
                            port.push((
                                Key::new(key, span.clone()),
                                Node::str(default, span.clone()),
                            ));
                        }
                    }
                }
                expanded.push(item);
            }
            _ => expanded.push(item),
        }
    }
    *items = expanded;
    Ok(())
}

fn volumes(map: &mut Map, clean_targets: bool) -> Result<()> {
    let Some(Value::Seq(items)) = map.get_mut("volumes").map(|n| &mut n.value) else {
        return Ok(());
    };
    for item in items.iter_mut() {
        let span = item.span.clone();
        let short = item.as_str().is_some();
        if let Some(text) = item.as_str() {
            let spec = parse_volume(text).map_err(|e| Error::at(&span, e))?;
            let mut entries = vec![("type", Node::str(spec.kind, span.clone()))];
            if !spec.source.is_empty() {
                entries.push(("source", Node::str(spec.source.clone(), span.clone())));
            }
            entries.push(("target", Node::str(spec.target.clone(), span.clone())));
            if spec.read_only {
                entries.push(("read_only", Node::new(Value::Bool(true), span.clone())));
            }
            if spec.kind == "bind" {
                let mut bind = vec![(
                    "create_host_path",
                    Node::new(Value::Bool(true), span.clone()),
                )];
                if !spec.selinux.is_empty() {
                    bind.insert(
                        0,
                        ("selinux", Node::str(spec.selinux.clone(), span.clone())),
                    );
                }
                if !spec.propagation.is_empty() {
                    bind.insert(
                        0,
                        (
                            "propagation",
                            Node::str(spec.propagation.clone(), span.clone()),
                        ),
                    );
                }
                entries.push(("bind", map_node(bind, span.clone())));
                // Compose keeps a bind's `nocopy` too, in a volume section.
                if spec.nocopy {
                    let nocopy = vec![("nocopy", Node::new(Value::Bool(true), span.clone()))];
                    entries.push(("volume", map_node(nocopy, span.clone())));
                }
            } else {
                // A named volume keeps its SELinux label in a `bind` section, as
                // Compose writes it.
                if !spec.selinux.is_empty() {
                    let selinux = vec![("selinux", Node::str(spec.selinux.clone(), span.clone()))];
                    entries.push(("bind", map_node(selinux, span.clone())));
                }
                let options = if spec.nocopy {
                    vec![("nocopy", Node::new(Value::Bool(true), span.clone()))]
                } else {
                    Vec::new()
                };
                if !spec.bare {
                    entries.push(("volume", map_node(options, span.clone())));
                }
            }
            *item = map_node(entries, span);
        }
        // Compose stores every mount's target cleaned (`/data/` → `/data`): the short
        // syntax's as it is read, the long syntax's as it normalizes; the long syntax
        // otherwise stays as written.
        if let Some(target) = item.as_map_mut().and_then(|m| m.get_mut("target"))
            && (short || clean_targets)
            && let Value::Str(text) = &mut target.value
        {
            *text = crate::paths::clean(std::path::Path::new(text.as_str()))
                .to_string_lossy()
                .into_owned();
        }
    }
    Ok(())
}

/// A healthcheck's test as a list says how to run it first, as Compose requires.
fn healthcheck_test_form(service: &str, map: &Map) -> Result<()> {
    let first = map
        .get("healthcheck")
        .and_then(Node::as_map)
        .and_then(|h| h.get("test"))
        .and_then(|t| match &t.value {
            Value::Seq(items) => items.first(),
            _ => None,
        });
    match first {
        Some(item) if !matches!(item.as_str(), Some("CMD" | "CMD-SHELL" | "NONE")) => Err(
            Error::at(
                &item.span,
                format!("services.{service}.healthcheck.test must start with CMD, CMD-SHELL or NONE"),
            )
            .with_help("put \"CMD\" first to run the program, or write the test as one string to run it in a shell"),
        ),
        _ => Ok(()),
    }
}

fn depends_on(service: &str, map: &mut Map) -> Result<()> {
    let Some(node) = map.get_mut("depends_on") else {
        return Ok(());
    };
    let defaults = |span: &Span| {
        vec![
            (
                Key::new("condition", span.clone()),
                Node::str("service_started", span.clone()),
            ),
            (
                Key::new("required", span.clone()),
                Node::new(Value::Bool(true), span.clone()),
            ),
        ]
    };
    match &mut node.value {
        Value::Seq(items) => {
            let mut entries = Vec::new();
            for item in items.iter() {
                let name = item.as_str().ok_or_else(|| {
                    Error::at(&item.span, "depends_on entries must be service names")
                })?;
                let value = Node::new(
                    Value::Map(Map::from_entries(defaults(&item.span))),
                    item.span.clone(),
                );
                entries.push((Key::new(name, item.span.clone()), value));
            }
            node.value = Value::Map(Map::from_entries(entries));
        }
        Value::Str(_) | Value::Bool(_) | Value::Int(_) | Value::Uint(_) | Value::Float(_) => {
            return Err(Error::at(
                &node.span,
                format!(
                    "services.{service}.depends_on must be a list of service names or a mapping, found {}",
                    node.kind()
                ),
            )
            .with_help("list them even when there is one: depends_on: [db]"));
        }
        Value::Map(deps) => {
            for (name, dep) in deps.iter_mut() {
                let span = dep.span.clone();
                // The long form names its condition, as Compose's schema requires.
                let condition = dep.as_map().map(|d| d.contains("condition"));
                if condition != Some(true) && dep.tag.is_none() {
                    let what = if condition.is_none() {
                        "must be a mapping"
                    } else {
                        "needs a condition"
                    };
                    return Err(Error::at(
                        &span,
                        format!("services.{service}.depends_on.{} {what}", name.name()),
                    )
                    .with_help(
                        "condition: service_started, service_healthy or \
                             service_completed_successfully; or list the service by name",
                    ));
                }
                if let Some(dep_map) = dep.as_map_mut() {
                    for (key, value) in defaults(&span) {
                        if !dep_map.contains(key.name()) {
                            dep_map.push((key, value));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `secrets: [name]` → `[{source: name}]`.
fn file_references(map: &mut Map, key: &str) {
    let Some(Value::Seq(items)) = map.get_mut(key).map(|n| &mut n.value) else {
        return;
    };
    for item in items {
        if let Some(name) = item.as_str() {
            let span = item.span.clone();
            *item = map_node(vec![("source", Node::str(name, span.clone()))], span);
        }
    }
}

/// `external: {name: x}` (Compose file format 2/3) → `external: true` + `name: x`;
/// another `name:` beside it must say the same.
fn legacy_external_name(section: &str, key: &str, map: &mut Map) -> Result<()> {
    let Some(external) = map.get_mut("external") else {
        return Ok(());
    };
    let Some(name) = legacy_external(external).cloned() else {
        if external.as_map().is_some() {
            external.value = Value::Bool(true);
        }
        return Ok(());
    };
    external.value = Value::Bool(true);
    if let Some(written) = map.get("name")
        && written.as_str() != name.as_str()
    {
        return Err(Error::at(
            &name.span,
            format!("{section}.{key}: name and external.name conflict; only use name"),
        ));
    }
    let span = name.span.clone();
    map.insert(Key::new("name", span), name);
    Ok(())
}

/// The `name` inside an `external:` mapping, the form Compose warns is deprecated.
fn legacy_external(external: &Node) -> Option<&Node> {
    external.as_map().and_then(|m| m.get("name"))
}

/// Compose's warning for each `external: {name: …}` in a file, before it is rewritten.
pub fn legacy_external_warnings(document: &Node) -> Vec<String> {
    let Some(top) = document.as_map() else {
        return Vec::new();
    };
    let mut warnings = Vec::new();
    for section in RESOURCE_SECTIONS {
        for (key, object) in top
            .get(section)
            .and_then(Node::as_map)
            .into_iter()
            .flat_map(Map::iter)
        {
            let external = object.as_map().and_then(|m| m.get("external"));
            if external.and_then(legacy_external).is_some() {
                warnings.push(format!(
                    "{section}.{}: external.name is deprecated. Please set name and external: true",
                    key.name()
                ));
            }
        }
    }
    warnings
}

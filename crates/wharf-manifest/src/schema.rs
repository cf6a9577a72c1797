//! The constraints of Compose's JSON schema that the typed model cannot express by
//! itself: enumerations, name patterns and mutually exclusive attributes. Checked on the
//! merged tree, so each error points at the value the user wrote.

use crate::error::{Error, Result};
use crate::loader::LoadOptions;
use crate::node::{Key, Map, Node, Value};

const DEPENDENCY_CONDITIONS: &[&str] = &[
    "service_started",
    "service_healthy",
    "service_completed_successfully",
];
const MOUNT_TYPES: &[&str] = &["bind", "volume", "tmpfs", "cluster", "npipe", "image"];
const CGROUP_MODES: &[&str] = &["host", "private"];
const UPDATE_ORDERS: &[&str] = &["start-first", "stop-first"];
const WATCH_ACTIONS: &[&str] = &["rebuild", "sync", "restart", "sync+restart", "sync+exec"];
const PULL_POLICIES: &[&str] = &[
    "always",
    "never",
    "build",
    "if_not_present",
    "missing",
    "refresh",
    "daily",
    "weekly",
];
/// Service lists whose entries Compose's schema wants unique.
const UNIQUE_ITEMS: [&str; 5] = [
    "security_opt",
    "volumes_from",
    "group_add",
    "device_cgroup_rules",
    "external_links",
];
/// Service attributes that Compose's schema lets be written with no value (`deploy:`).
const NULLABLE_SERVICE_ATTRIBUTES: &[&str] = &["command", "entrypoint", "deploy", "develop"];
/// Attributes a volume marked `external` must not set: it is not wharf's to create.
const EXTERNAL_VOLUME_CONFLICTS: &[&str] = &["driver", "driver_opts", "labels"];

/// Refuses a top-level section or service attribute written with no value (an
/// `environment:` whose entries were all commented out), as Compose does, except the
/// few its schema lets be null. Checked on each file, before files merge.
pub fn refuse_empty_attributes(top: &Map) -> Result<()> {
    // `!reset null` is a merge instruction, not a value.
    let refused = |key: &Key, value: &Node, allowed: &[&str]| {
        value.is_null()
            && value.tag.is_none()
            && !allowed.contains(&key.name())
            && !key.name().starts_with("x-")
    };
    let empty = |key: &Key, path: String| {
        Error::at(&key.span, format!("{path} has no value")).with_help(
            "give it one, or remove the line (with its entries all commented out, it has none)",
        )
    };
    for (key, value) in top.iter() {
        if refused(key, value, &["include"]) {
            return Err(empty(key, key.name().to_owned()));
        }
    }
    let Some(services) = top.get("services").and_then(Node::as_map) else {
        return Ok(());
    };
    for (name, service) in services.iter() {
        for (key, value) in service.as_map().into_iter().flat_map(Map::iter) {
            if refused(key, value, NULLABLE_SERVICE_ATTRIBUTES) {
                return Err(empty(
                    key,
                    format!("services.{}.{}", name.name(), key.name()),
                ));
            }
        }
    }
    Ok(())
}

/// Mappings below a service whose entries Compose's schema lets be null (`KEY:` in
/// `environment` is a variable taken from the shell; `front:` under `networks` joins
/// it with no settings); `*` is each item of a list.
const NULLABLE_ENTRIES: &[&[&str]] = &[
    &["environment"],
    &["labels"],
    &["annotations"],
    &["sysctls"],
    &["storage_opt"],
    &["networks"],
    &["build", "args"],
    &["build", "labels"],
    &["build", "ssh"],
    &["deploy", "labels"],
    &["logging", "options"],
    &["post_start", "*", "environment"],
    &["pre_stop", "*", "environment"],
    &["develop", "watch", "*", "exec", "environment"],
];

/// A step from a service (or top-level object) down to a value: a key, or a list's
/// item (`*` in the patterns).
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Item(usize),
}

/// The dotted path of `steps`, made only for an error.
fn path_of(steps: &[Step]) -> String {
    At(steps).to_string()
}

/// What Compose's schema refuses in a top-level network, volume, secret or config as
/// one file writes it: an unknown key in `external`.
pub fn object_in_file(section: &str, name: &str, object: &Node) -> Result<()> {
    // `external: {name: …}`, the old form, has nothing else.
    if let Some(external) = nested_in(object, &["external"]).and_then(Node::as_map)
        && let Some((key, _)) = external
            .iter()
            .find(|(key, _)| key.name() != "name" && !key.name().starts_with("x-"))
    {
        return Err(Error::at(
            &key.span,
            format!("{section}.{name}.external has no {:?}", key.name()),
        )
        .with_help("write `external: true` and the object's `name:`"));
    }
    Ok(())
}

/// What Compose refuses anywhere in a file, found in one walk of it (every node of
/// every file passes here, so nothing is allocated but for an error):
/// - an unquoted date (`2001-12-14`) outside an extension: Go's YAML reads it as a
///   time, which Compose's schema refuses where it wants text;
/// - a value left empty inside an attribute of a service or of a top-level object
///   (`args:` whose entries are all commented out, `interval:`, a bare `-`), but for
///   the entries the schema lets be null (`NULLABLE_ENTRIES`, an object's `labels`)
///   and a command (a hook's `command:`). An attribute itself left empty is
///   `refuse_empty_attributes`'.
pub fn refuse_dates_and_empty_values(root: &Node) -> Result<()> {
    walk_file(root, &mut Vec::new())
}

fn walk_file<'a>(node: &'a Node, steps: &mut Vec<Step<'a>>) -> Result<()> {
    let empty = |node: &Node, steps: &[Step]| {
        Error::at(&node.span, format!("{} has no value", path_of(steps))).with_help(
            "give it one, or remove the line (with its entries all commented out, it has none)",
        )
    };
    match &node.value {
        Value::Time(_) => {
            return Err(Error::at(
                &node.span,
                format!(
                    "{} is an unquoted date, which Compose reads as a time, not text",
                    path_of(steps)
                ),
            )
            .with_help("quote it"));
        }
        Value::Map(map) => {
            let entries = entries_checked(steps);
            for (key, value) in map.iter() {
                if key.name().starts_with("x-") {
                    continue;
                }
                steps.push(Step::Key(key.name()));
                let refused = entries == Some(false)
                    && value.is_null()
                    && value.tag.is_none()
                    && key.name() != "command";
                let checked = if refused {
                    Err(empty(value, steps))
                } else {
                    walk_file(value, steps)
                };
                steps.pop();
                checked?;
            }
        }
        Value::Seq(items) => {
            let checked_here = entries_checked(steps).is_some();
            for (at, item) in items.iter().enumerate() {
                steps.push(Step::Item(at));
                let checked = if checked_here && item.is_null() && item.tag.is_none() {
                    Err(empty(item, steps))
                } else {
                    walk_file(item, steps)
                };
                steps.pop();
                checked?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether the entries of the value at `steps` (from the file's top) may be null:
/// `None` outside the attributes of services and top-level objects, where it is not
/// checked here.
fn entries_checked(steps: &[Step]) -> Option<bool> {
    let (nullable, attribute): (&[&[&str]], &[Step]) = match steps {
        [Step::Key("services"), _, attribute @ ..] if !attribute.is_empty() => {
            (NULLABLE_ENTRIES, attribute)
        }
        // An object's own entries too: `labels:` left empty is refused, `data:` is not.
        [
            Step::Key("networks" | "volumes" | "secrets" | "configs"),
            _,
            attribute @ ..,
        ] => (&[&["labels"]], attribute),
        _ => return None,
    };
    Some(nullable.iter().any(|pattern| {
        pattern.len() == attribute.len()
            && pattern
                .iter()
                .zip(attribute)
                .all(|(want, step)| match step {
                    Step::Key(key) => want == key,
                    Step::Item(_) => *want == "*",
                })
    }))
}

/// Also, unless `options` skip them, what Compose checks as consistency (watch rules'
/// targets, non-negative counts) and while resolving paths (a bind mount's source).
pub fn check(root: &Node, options: &LoadOptions) -> Result<()> {
    let Some(top) = root.as_map() else {
        return Ok(());
    };
    if let Some(services) = top.get("services").and_then(Node::as_map) {
        for (key, service) in services.iter() {
            if !is_resource_name(key.name()) {
                return Err(
                    Error::at(&key.span, format!("invalid service name {:?}", key.name())).with_help(
                        "a service name may hold only ASCII letters (a-z, A-Z), digits, '.', '_' and '-'",
                    ),
                );
            }
            let path = format!("services.{}", key.name());
            let Some(service) = service.as_map() else {
                return Err(Error::at(
                    &service.span,
                    format!("{path} must be a mapping, found {}", service.kind()),
                ));
            };
            check_service(&path, service, options)?;
        }
    }
    if let Some(volumes) = top.get("volumes").and_then(Node::as_map) {
        for (key, volume) in volumes.iter() {
            if let Some(volume) = volume.as_map() {
                check_external_volume(key.name(), volume)?;
            }
        }
    }
    for (key, model) in top
        .get("models")
        .and_then(Node::as_map)
        .into_iter()
        .flat_map(Map::iter)
    {
        require(|| format!("models.{}", key.name()), model, &["model"])?;
        // An integer, not text: Compose's schema takes no other.
        if let Some(size) = nested_in(model, &["context_size"])
            && !matches!(size.value, Value::Int(_) | Value::Uint(_))
            && !matches!(size.value, Value::Float(f) if f.fract() == 0.0)
        {
            return Err(must_be(
                size,
                format!("models.{}.context_size", key.name()),
                "a whole number, unquoted",
            ));
        }
    }

    for (section, sources) in [
        ("secrets", &["file", "environment"][..]),
        ("configs", &["file", "environment", "content"][..]),
    ] {
        if let Some(objects) = top.get(section).and_then(Node::as_map) {
            for (key, object) in objects.iter() {
                if let Some(object) = object.as_map() {
                    check_file_object(&format!("{section}.{}", key.name()), object, sources)?;
                }
            }
        }
    }
    Ok(())
}

fn check_service(path: &str, service: &Map, options: &LoadOptions) -> Result<()> {
    check_required(path, service, !options.keep_relative_paths)?;
    // Lists Compose's schema wants without a repeat, once the files have merged.
    for key in UNIQUE_ITEMS {
        if let Some(twice) = repeated(service.get(key).and_then(Node::as_seq).unwrap_or_default()) {
            return Err(twice_error(&format!("{path}.{key}"), twice));
        }
    }
    if !options.skip_consistency {
        check_consistent(path, service)?;
    }
    if let Some(dependencies) = service.get("depends_on").and_then(Node::as_map) {
        for (name, dependency) in dependencies.iter() {
            if let Some(condition) = dependency.as_map().and_then(|d| d.get("condition")) {
                one_of(
                    &format!("{path}.depends_on.{}.condition", name.name()),
                    condition,
                    DEPENDENCY_CONDITIONS,
                )?;
            }
        }
    }
    if let Some(volumes) = service.get("volumes").and_then(Node::as_seq) {
        for (i, volume) in volumes.iter().enumerate() {
            if let Some(kind) = volume.as_map().and_then(|v| v.get("type")) {
                one_of(&format!("{path}.volumes.{i}.type"), kind, MOUNT_TYPES)?;
            }
        }
    }
    if let Some(name) = service.get("container_name")
        && let Some(text) = name.as_str()
        && !is_container_name(text)
    {
        return Err(Error::at(
            &name.span,
            format!("{path}.container_name {text:?} is not a valid container name"),
        )
        .with_help("a container name needs a letter or digit followed by one more letter, digit, '_', '.' or '-'"));
    }
    count_or_device_ids(
        || format!("{path}.deploy.resources.reservations.devices"),
        reserved_devices(service),
    )?;
    if let Some(cgroup) = service.get("cgroup") {
        one_of(&format!("{path}.cgroup"), cgroup, CGROUP_MODES)?;
    }
    if let Some(watches) = nested(service, &["develop", "watch"]).and_then(Node::as_seq) {
        for (i, watch) in watches.iter().enumerate() {
            if let Some(action) = watch.as_map().and_then(|w| w.get("action")) {
                one_of(
                    &format!("{path}.develop.watch.{i}.action"),
                    action,
                    WATCH_ACTIONS,
                )?;
            }
        }
    }
    if let Some(policy) = service.get("pull_policy")
        && let Some(text) = policy.as_str()
        && !is_pull_policy(text)
    {
        return Err(Error::at(
            &policy.span,
            format!("{path}.pull_policy {text:?} is not a pull policy"),
        )
        .with_help(format!(
            "use one of {}, or every_<interval> (every_12h)",
            PULL_POLICIES.join(", ")
        )));
    }
    for limit in ["limits", "reservations"] {
        if let Some(memory) = nested(service, &["deploy", "resources", limit, "memory"])
            && !matches!(memory.value, Value::Str(_))
        {
            return Err(Error::at(
                &memory.span,
                format!("{path}.deploy.resources.{limit}.memory must be a string"),
            )
            .with_help("write the size as text with its unit: memory: 512M"));
        }
    }
    Ok(())
}

/// What Compose's schema refuses in a service as one file writes it (Compose validates
/// each file before they merge): a fraction or a number out of bounds where a whole
/// number goes, and attributes of the wrong kind that the canonical form would hide.
pub fn service_in_file(service: &str, map: &Map) -> Result<()> {
    let path = |at: &str| format!("services.{service}.{at}");
    // The list form, which the canonical form would make a mapping, is refused.
    if let Some(node) = map.get("storage_opt")
        && node.as_map().is_none()
    {
        return Err(Error::at(
            &node.span,
            format!(
                "{} must be a mapping, found {}",
                path("storage_opt"),
                node.kind()
            ),
        ));
    }
    let build = map.get("build").and_then(Node::as_map);
    each_at(map, &["devices", "*"], |device, at| {
        if device.as_map().is_some_and(|d| !d.contains("target")) {
            return Err(Error::at(
                &device.span,
                format!("{} is missing a mount target", path(&at.to_string())),
            )
            .with_help("name the path inside the container: target: /dev/sda"));
        }
        Ok(())
    })?;
    for key in ["provenance", "sbom"] {
        if let Some(node) = build.and_then(|b| b.get(key))
            && !matches!(node.value, Value::Bool(_) | Value::Str(_))
        {
            return Err(must_be(
                node,
                path(&format!("build.{key}")),
                "a boolean or a string",
            ));
        }
    }
    // Where Compose's schema wants a real boolean or number, not text (not even one
    // a variable filled in).
    for (keys, kind) in STRICT_KINDS {
        each_at(map, keys, |node, at| {
            let fits = match kind {
                Strict::Boolean => matches!(node.value, Value::Bool(_)),
                Strict::Number => {
                    matches!(node.value, Value::Int(_) | Value::Uint(_) | Value::Float(_))
                }
            };
            if !fits && !node.is_null() {
                let kind = match kind {
                    Strict::Boolean => "a boolean (true or false, unquoted)",
                    Strict::Number => "a number, unquoted",
                };
                return Err(must_be(node, path(&at.to_string()), kind));
            }
            Ok(())
        })?;
    }
    // Lists Compose's schema wants without a repeat, as each file writes them (the
    // canonical forms would fold the repeat away).
    for keys in [
        &["depends_on"][..],
        &["networks"],
        &["extra_hosts"],
        &["build", "ssh"],
        &["build", "extra_hosts"],
    ] {
        each_at(map, keys, |list, at| {
            match repeated(list.as_seq().unwrap_or_default()) {
                Some(twice) => Err(twice_error(&path(&at.to_string()), twice)),
                None => Ok(()),
            }
        })?;
    }
    each_at(map, &["ports", "*"], |port, at| {
        if let Some(published) = nested_in(port, &["published"])
            && matches!(published.value, Value::Bool(_))
        {
            return Err(must_be(
                published,
                path(&format!("{at}.published")),
                "a port number or range",
            ));
        }
        if port.as_map().is_some_and(|p| !p.contains("target")) {
            return Err(Error::at(
                &port.span,
                format!("{} is missing a target port", path(&at.to_string())),
            ));
        }
        Ok(())
    })?;
    each_at(map, &["volumes", "*", "tmpfs", "size"], |size, at| {
        if matches!(size.value, Value::Int(n) if n < 0) {
            return Err(Error::at(
                &size.span,
                format!(
                    "{} must be greater than or equal to 0",
                    path(&at.to_string())
                ),
            ));
        }
        Ok(())
    })?;
    // Compose decodes a weight as a number only: `"10"` fails there. So are a build's
    // ulimits (Compose cannot read text there, unlike a service's).
    let unquoted_number = |number: &Node, at: &At| match number.value {
        Value::Str(_) => Err(must_be(number, path(&at.to_string()), "a number, unquoted")),
        _ => Ok(()),
    };
    each_at(map, &["blkio_config", "weight"], unquoted_number)?;
    each_at(
        map,
        &["blkio_config", "weight_device", "*", "weight"],
        unquoted_number,
    )?;
    each_at(map, &["develop", "watch", "*"], |rule, at| {
        let at = path(&at.to_string());
        if let Some(watched) = nested_in(rule, &["path"])
            && watched.as_str() == Some("")
        {
            return Err(Error::at(
                &watched.span,
                format!("{at}.path can't be blank"),
            ));
        }
        if let Some(exec) = nested_in(rule, &["exec"]) {
            require(|| format!("{at}.exec"), exec, &["command"])?;
        }
        Ok(())
    })?;
    each_at(map, &["build", "ulimits", "*"], unquoted_number)?;
    each_at(map, &["build", "ulimits", "*", "soft"], unquoted_number)?;
    each_at(map, &["build", "ulimits", "*", "hard"], unquoted_number)?;
    // A build's additional contexts are text.
    each_at(
        map,
        &["build", "additional_contexts", "*"],
        |context, at| match context.value {
            Value::Str(_) | Value::Null => Ok(()),
            _ => Err(must_be(context, path(&at.to_string()), "a string")),
        },
    )?;
    if let Some(Value::Seq(contexts)) = map
        .get("build")
        .and_then(|b| nested_in(b, &["additional_contexts"]))
        .map(|c| &c.value)
    {
        for context in contexts {
            if let Some(text) = context.as_str()
                && !text.contains('=')
            {
                return Err(Error::at(
                    &context.span,
                    format!(
                        "{}: invalid value {text:?}, expected NAME=CONTEXT",
                        path("build.additional_contexts")
                    ),
                ));
            }
        }
    }
    for section in ["update_config", "rollback_config"] {
        if let Some(order) = nested(map, &["deploy", section, "order"]) {
            one_of(
                &path(&format!("deploy.{section}.order")),
                order,
                UPDATE_ORDERS,
            )?;
        }
    }
    if let Some(file) = map.get("extends").and_then(|e| nested_in(e, &["file"]))
        && file.as_str().is_none()
    {
        return Err(must_be(file, path("extends.file"), "a string"));
    }
    // One pass over the attributes: most services set few of those the tables name.
    for (key, value) in map.iter() {
        let first = key.name();
        for attribute in WHOLE_NUMBERS.iter().filter(|a| a.path[0] == first) {
            each_below(value, first, &attribute.path[1..], |node, at| {
                attribute.check(|| path(&at.to_string()), node)
            })?;
        }
        for keys in NO_FLOATS.iter().filter(|keys| keys[0] == first) {
            each_below(value, first, &keys[1..], |node, at| match node.value {
                Value::Float(_) => Err(must_be(
                    node,
                    path(&at.to_string()),
                    "a whole number or text",
                )),
                _ => Ok(()),
            })?;
        }
    }
    Ok(())
}

/// What a strictly typed attribute must be.
#[derive(Clone, Copy)]
enum Strict {
    Boolean,
    Number,
}

/// Attributes Compose's schema types as a boolean or number alone (most others also
/// take text, for interpolation).
const STRICT_KINDS: [(&[&str], Strict); 5] = [
    (&["use_api_socket"], Strict::Boolean),
    (&["depends_on", "*", "required"], Strict::Boolean),
    (&["develop", "watch", "*", "initial_sync"], Strict::Boolean),
    (&["networks", "*", "priority"], Strict::Number),
    (&["networks", "*", "gw_priority"], Strict::Number),
];

/// How Compose reads text at a numeric attribute before its schema sees it.
#[derive(Clone, Copy)]
enum Cast {
    /// Left text, which the schema lets through.
    None,
    Int,
    Float,
}

/// A service attribute Compose's schema types as an integer: a number with a fraction is
/// refused there (elsewhere Go cuts it), as is one out of its bounds.
struct WholeNumber {
    /// Keys from the service down; `*` is each item of a list or value of a mapping.
    path: &'static [&'static str],
    cast: Cast,
    bounds: Option<(i64, i64)>,
}

const fn whole(path: &'static [&'static str]) -> WholeNumber {
    WholeNumber {
        path,
        cast: Cast::None,
        bounds: None,
    }
}

const WHOLE_NUMBERS: &[WholeNumber] = &[
    WholeNumber {
        path: &["cpu_count"],
        cast: Cast::Int,
        bounds: Some((0, i64::MAX)),
    },
    WholeNumber {
        path: &["cpu_percent"],
        cast: Cast::Float,
        bounds: Some((0, 100)),
    },
    WholeNumber {
        path: &["oom_score_adj"],
        cast: Cast::Int,
        bounds: Some((-1000, 1000)),
    },
    whole(&["scale"]),
    whole(&["mem_reservation"]),
    whole(&["mem_swappiness"]),
    whole(&["build", "shm_size"]),
    whole(&["ports", "*", "published"]),
    whole(&["volumes", "*", "tmpfs", "size"]),
    whole(&["blkio_config", "device_read_bps", "*", "rate"]),
    whole(&["blkio_config", "device_read_iops", "*", "rate"]),
    whole(&["blkio_config", "device_write_bps", "*", "rate"]),
    whole(&["blkio_config", "device_write_iops", "*", "rate"]),
    whole(&["blkio_config", "weight"]),
    whole(&["blkio_config", "weight_device", "*", "weight"]),
    whole(&["ports", "*", "target"]),
    whole(&["deploy", "replicas"]),
    whole(&["deploy", "update_config", "parallelism"]),
    whole(&["deploy", "rollback_config", "parallelism"]),
    whole(&["deploy", "restart_policy", "max_attempts"]),
    whole(&["deploy", "placement", "max_replicas_per_node"]),
    whole(&["deploy", "resources", "limits", "pids"]),
    whole(&["deploy", "resources", "reservations", "pids"]),
];

/// Attributes Compose reads as an integer or text, refusing any float (`80.0` too).
const NO_FLOATS: [&[&str]; 5] = [
    &["expose", "*"],
    &["group_add", "*"],
    &["ulimits", "*"],
    &["ulimits", "*", "soft"],
    &["ulimits", "*", "hard"],
];

impl WholeNumber {
    fn check(&self, path: impl Fn() -> String, node: &Node) -> Result<()> {
        #[allow(clippy::cast_precision_loss)] // bounds and counts far inside f64's range
        let number = match (&node.value, self.cast) {
            (Value::Int(i), _) => *i as f64,
            (Value::Uint(u), _) => *u as f64,
            (Value::Float(f), _) => *f,
            (Value::Str(text), Cast::Int) => match wharf_model::go_number::parse_int(text) {
                Some(i) => i as f64,
                None => return Ok(()), // the typing says why it is no number
            },
            (Value::Str(text), Cast::Float) => match wharf_model::go_number::parse_float(text) {
                Some(f) => f,
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        #[allow(clippy::cast_precision_loss)]
        let within = self
            .bounds
            .is_none_or(|(low, high)| (low as f64..=high as f64).contains(&number));
        if number.fract() == 0.0 && within {
            return Ok(());
        }
        let wanted = match self.bounds {
            Some((low, i64::MAX)) => format!("a whole number from {low}"),
            Some((low, high)) => format!("a whole number from {low} to {high}"),
            None => "a whole number".to_owned(),
        };
        Err(must_be(node, path(), &wanted))
    }
}

/// Where a found node is below its service, written out only for an error.
struct At<'s, 'a>(&'s [Step<'a>]);

impl std::fmt::Display for At<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if i == 0 => write!(f, "{key}")?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Item(at) => write!(f, "[{at}]")?,
            }
        }
        Ok(())
    }
}

/// Calls `visit` with each node at `keys` below a service (`*`: each list item or
/// mapping value) and where it is, until one is refused.
fn each_at<'a>(
    service: &'a Map,
    keys: &[&'a str],
    mut visit: impl FnMut(&'a Node, &At<'_, 'a>) -> Result<()>,
) -> Result<()> {
    match keys.split_first() {
        Some((first, rest)) => match service.get(first) {
            Some(node) => each_below(node, first, rest, &mut visit),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

/// The same below the service's attribute `first`, whose value is `node`.
fn each_below<'a>(
    node: &'a Node,
    first: &'a str,
    keys: &[&'a str],
    mut visit: impl FnMut(&'a Node, &At<'_, 'a>) -> Result<()>,
) -> Result<()> {
    let mut steps = Vec::with_capacity(keys.len() + 1);
    steps.push(Step::Key(first));
    visit_at(node, keys, &mut steps, &mut visit)
}

fn visit_at<'a>(
    node: &'a Node,
    keys: &[&'a str],
    steps: &mut Vec<Step<'a>>,
    visit: &mut impl FnMut(&'a Node, &At<'_, 'a>) -> Result<()>,
) -> Result<()> {
    let Some((first, rest)) = keys.split_first() else {
        return visit(node, &At(steps));
    };
    let mut below = |child: &'a Node, step: Step<'a>, steps: &mut Vec<Step<'a>>| {
        steps.push(step);
        let visited = visit_at(child, rest, steps, visit);
        steps.pop();
        visited
    };
    if *first == "*" {
        for (at, item) in node.as_seq().unwrap_or_default().iter().enumerate() {
            below(item, Step::Item(at), steps)?;
        }
        for (key, value) in node.as_map().into_iter().flat_map(Map::iter) {
            below(value, Step::Key(key.name()), steps)?;
        }
    } else if let Some(child) = node.as_map().and_then(|m| m.get(first)) {
        below(child, Step::Key(first), steps)?;
    }
    Ok(())
}

/// The first item of `items` that repeats an earlier one, as text.
fn repeated(items: &[Node]) -> Option<&Node> {
    items.iter().enumerate().find_map(|(at, item)| {
        items[..at]
            .iter()
            .any(|earlier| earlier.scalar_text() == item.scalar_text())
            .then_some(item)
    })
}

fn twice_error(path: &str, item: &Node) -> Error {
    Error::at(
        &item.span,
        format!(
            "{path} lists {:?} twice",
            item.scalar_text().unwrap_or_default()
        ),
    )
    .with_help("list each once")
}

/// `node`, at `at`, is not what Compose's schema wants there.
fn must_be(node: &Node, at: impl std::fmt::Display, wanted: &str) -> Error {
    Error::at(
        &node.span,
        format!("{at} must be {wanted}, found {}", node_text(node)),
    )
}

/// A scalar as the user wrote it, for an error.
fn node_text(node: &Node) -> String {
    match &node.value {
        Value::Str(text) => format!("{text:?}"),
        // `1.0`, not Go's `1`: the fraction is the point.
        Value::Float(number) => format!("{number:?}"),
        _ => node.scalar_text().unwrap_or_else(|| node.kind().to_owned()),
    }
}

/// What Compose checks as consistency rather than schema: a watch rule that copies
/// names where to, and counts are not negative.
fn check_consistent(path: &str, service: &Map) -> Result<()> {
    if let Some(build) = service.get("build").and_then(Node::as_map)
        && build.contains("dockerfile")
        && let Some(inline) = build.key("dockerfile_inline")
    {
        return Err(Error::at(
            &inline.span,
            format!("{path}.build sets both dockerfile and dockerfile_inline"),
        )
        .with_help("keep one: the Dockerfile's path, or its text"));
    }
    // A tmpfs and a volume on one target: Compose refuses the second mount.
    let tmpfs: Vec<String> = service
        .get("tmpfs")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .filter_map(Node::as_str)
        .map(|t| t.split(':').next().unwrap_or(t).to_owned())
        .collect();
    for (i, volume) in service
        .get("volumes")
        .and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(target) = volume
            .as_map()
            .and_then(|v| v.get("target"))
            .and_then(Node::as_str)
            && tmpfs.iter().any(|t| t == target)
        {
            return Err(Error::at(
                &volume.span,
                format!("{path}.volumes[{i}]: target {target} is already mounted as a tmpfs"),
            ));
        }
    }
    let watch = nested(service, &["develop", "watch"])
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for (i, rule) in watch.iter().enumerate() {
        let action = rule
            .as_map()
            .and_then(|r| r.get("action"))
            .and_then(Node::as_str);
        if !matches!(action, Some("rebuild" | "restart"))
            && !rule.as_map().is_some_and(|r| r.contains("target"))
        {
            return Err(Error::at(
                &rule.span,
                format!("{path}.develop.watch[{i}]: target is required for non-rebuild actions"),
            ));
        }
    }
    let replicas = nested(service, &["deploy", "replicas"]).map(|n| (n, "deploy.replicas"));
    for (count, name) in service
        .get("scale")
        .map(|n| (n, "scale"))
        .into_iter()
        .chain(replicas)
    {
        let negative = match &count.value {
            Value::Int(n) => *n < 0,
            // Compose casts text here first: `scale: "-1"` is -1.
            Value::Str(text) => wharf_model::go_number::parse_int(text).is_some_and(|n| n < 0),
            _ => false,
        };
        if negative {
            return Err(Error::at(
                &count.span,
                format!("{path}.{name} must be greater than or equal to 0"),
            ));
        }
    }
    Ok(())
}

/// What Compose's schema requires of the nested sections, and the values it bounds.
fn check_required(path: &str, service: &Map, bind_sources: bool) -> Result<()> {
    let items = |key: &str| service.get(key).and_then(Node::as_seq).unwrap_or_default();
    for key in ["post_start", "pre_stop"] {
        for (i, hook) in items(key).iter().enumerate() {
            require(|| format!("{path}.{key}[{i}]"), hook, &["command"])?;
        }
    }
    if let Some(provider) = service.get("provider") {
        require(|| format!("{path}.provider"), provider, &["type"])?;
    }
    let watch = nested(service, &["develop", "watch"])
        .and_then(Node::as_seq)
        .unwrap_or_default();
    for (i, rule) in watch.iter().enumerate() {
        let at = || format!("{path}.develop.watch[{i}]");
        require(at, rule, &["path", "action"])?;
    }
    for (i, device) in reserved_devices(service).iter().enumerate() {
        require(
            || format!("{path}.deploy.resources.reservations.devices[{i}]"),
            device,
            &["capabilities"],
        )?;
    }
    for (i, mount) in items("volumes").iter().enumerate() {
        let at = || format!("{path}.volumes[{i}]");
        require(at, mount, &["type", "target"])?;
        // A tmpfs mode is a number (`0755` unquoted, read as octal), never a string.
        if let Some(mode) = nested_in(mount, &["tmpfs", "mode"])
            && matches!(mode.value, Value::Str(_))
        {
            return Err(Error::at(
                &mode.span,
                format!("{}.tmpfs.mode must be a number, not a string", at()),
            )
            .with_help("write the mode unquoted: `mode: 0755`"));
        }
        if bind_sources && nested_in(mount, &["type"]).and_then(Node::as_str) == Some("bind") {
            require(at, mount, &["source"])?;
        }
    }
    if let Some(limits) = nested(service, &["deploy", "resources", "limits"]).and_then(Node::as_map)
    {
        for key in ["devices", "generic_resources"] {
            if let Some(found) = limits.key(key) {
                return Err(Error::at(
                    &found.span,
                    format!(
                        "{path}.deploy.resources.limits: additional properties '{key}' not allowed"
                    ),
                )
                .with_help("devices are reserved: `deploy.resources.reservations.devices`"));
            }
        }
    }
    count_or_device_ids(|| format!("{path}.gpus"), items("gpus"))
}

/// A device request asks for a number of devices or for these devices, not both.
fn count_or_device_ids(path: impl Fn() -> String, requests: &[Node]) -> Result<()> {
    for request in requests.iter().filter_map(Node::as_map) {
        if let (true, Some(ids)) = (request.contains("count"), request.key("device_ids")) {
            return Err(Error::at(
                &ids.span,
                format!(
                    "{}: \"count\" and \"device_ids\" attributes are exclusive",
                    path()
                ),
            )
            .with_help("ask for a number of devices, or for these devices, not both"));
        }
    }
    Ok(())
}

/// The node at `keys` below `map`, through nested mappings.
fn nested<'a>(map: &'a Map, keys: &[&str]) -> Option<&'a Node> {
    let (first, rest) = keys.split_first()?;
    rest.iter()
        .try_fold(map.get(first)?, |node, key| node.as_map()?.get(key))
}

/// The node at `keys` below `node`, when it is a mapping.
fn nested_in<'a>(node: &'a Node, keys: &[&str]) -> Option<&'a Node> {
    nested(node.as_map()?, keys)
}

/// `deploy.resources.reservations.devices`, or none.
fn reserved_devices(service: &Map) -> &[Node] {
    nested(service, &["deploy", "resources", "reservations", "devices"])
        .and_then(Node::as_seq)
        .unwrap_or_default()
}

/// `node` is a mapping that sets each of `keys`; `path` is made only for the error.
fn require(path: impl Fn() -> String, node: &Node, keys: &[&str]) -> Result<()> {
    for key in keys {
        if !node.as_map().is_some_and(|m| m.contains(key)) {
            return Err(Error::at(
                &node.span,
                format!("{}: missing property '{key}'", path()),
            ));
        }
    }
    Ok(())
}

fn check_external_volume(name: &str, volume: &Map) -> Result<()> {
    // `"true"` (a variable, often) is true to Compose too.
    let external = volume.get("external").is_some_and(|e| match &e.value {
        Value::Bool(b) => *b,
        Value::Str(text) => matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "yes" | "y" | "on"
        ),
        Value::Map(_) => true,
        _ => false,
    });
    if !external {
        return Ok(());
    }
    for attribute in EXTERNAL_VOLUME_CONFLICTS {
        if let Some(key) = volume.key(attribute) {
            return Err(Error::at(
                &key.span,
                format!("volumes.{name}: conflicting parameters \"external\" and \"{attribute}\" specified"),
            )
            .with_help("an external volume is created outside the project; drop one of the two"));
        }
    }
    Ok(())
}

fn check_file_object(path: &str, object: &Map, sources: &[&str]) -> Result<()> {
    let set: Vec<&str> = sources
        .iter()
        .copied()
        .filter(|s| object.contains(s))
        .collect();
    let listed = sources.join("|");
    if set.len() > 1 {
        let key = object
            .key(set[1])
            .map(|k| k.span.clone())
            .unwrap_or_default();
        return Err(Error::at(
            &key,
            format!("{path}: {listed} attributes are mutually exclusive"),
        ));
    }
    let external = object
        .get("external")
        .is_some_and(|e| !matches!(e.value, Value::Bool(false)));
    if set.is_empty() && !external {
        let span = object
            .iter()
            .next()
            .map(|(k, _)| k.span.clone())
            .unwrap_or_default();
        return Err(
            Error::at(&span, format!("{path}: one of {listed} must be set"))
                .with_help("or mark it `external: true` if it is created outside the project"),
        );
    }
    Ok(())
}

/// Option values as Compose's schema allows them: numbers and strings (and null, for
/// `nullable`), checked before they are made strings. `path` is made only for the error.
pub fn option_values(
    path: impl Fn() -> String,
    options: Option<&Node>,
    nullable: bool,
) -> Result<()> {
    for (key, value) in options
        .and_then(Node::as_map)
        .into_iter()
        .flat_map(Map::iter)
    {
        let allowed = match value.value {
            Value::Str(_) | Value::Int(_) | Value::Uint(_) | Value::Float(_) => true,
            Value::Null => nullable,
            _ => false,
        };
        if !allowed {
            let kinds = if nullable {
                "a null, number or string"
            } else {
                "a number or string"
            };
            return Err(Error::at(
                &value.span,
                format!("{}.{} must be {kinds}", path(), key.name()),
            ));
        }
    }
    Ok(())
}

fn one_of(path: &str, node: &Node, allowed: &[&str]) -> Result<()> {
    match node.as_str() {
        Some(text) if allowed.contains(&text) => Ok(()),
        _ => Err(Error::at(
            &node.span,
            format!("{path} must be one of {}", quoted_list(allowed)),
        )),
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_resource_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Compose's pattern for container names, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, which its
/// schema matches anywhere in the name (the pattern is not anchored): a letter or digit
/// followed by one more name character, somewhere.
fn is_container_name(name: &str) -> bool {
    name.as_bytes().windows(2).any(|pair| {
        pair[0].is_ascii_alphanumeric()
            && (pair[1].is_ascii_alphanumeric() || matches!(pair[1], b'_' | b'.' | b'-'))
    })
}

/// Compose's pull-policy pattern, matched anywhere in the text as its schema does: one
/// of the policies, or `every_` followed by `<digits><unit>`.
fn is_pull_policy(text: &str) -> bool {
    PULL_POLICIES.iter().any(|policy| text.contains(policy))
        || text.match_indices("every_").any(|(at, prefix)| {
            let rest = &text[at + prefix.len()..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            digits > 0
                && matches!(
                    rest.as_bytes().get(digits),
                    Some(b'w' | b'd' | b'h' | b'm' | b's')
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_intervals() {
        assert!(is_pull_policy("daily"));
        assert!(is_pull_policy("every_12h"));
        assert!(is_pull_policy("every_1d12h30m"));
        assert!(!is_pull_policy("every_"));
        assert!(!is_pull_policy("every_h"));
        assert!(!is_pull_policy("every_12x"));
        assert!(!is_pull_policy("sometimes"));
        // Compose's schema matches its pattern anywhere in the text.
        assert!(is_pull_policy("xalwaysx"));
        assert!(is_pull_policy("x_every_5m_x"));
    }

    #[test]
    fn resource_names() {
        assert!(is_resource_name("web-1.api_x"));
        assert!(!is_resource_name("a b"));
        assert!(!is_resource_name(""));
    }

    #[test]
    fn container_names() {
        assert!(is_container_name("db-1.x_y"));
        assert!(!is_container_name("x"));
        assert!(!is_container_name("a b"));
        assert!(!is_container_name("-"));
        // Compose's schema matches its pattern anywhere in the name.
        assert!(is_container_name("-db"));
        assert!(is_container_name("a b1"));
    }
}

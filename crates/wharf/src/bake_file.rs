//! `wharf build --print`: the project's builds as a BuildKit bake file, the one
//! `docker compose build --print` gives, so `wharf build --print | docker buildx bake
//! -f -` builds what wharf's classic-builder builds cannot (`ssh`, secrets, several
//! platforms).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use wharf_model::{Build, Project, Ulimit};
use wharf_runtime::image_name;

use crate::image_build::{BuildOptions, build_arguments, image_labels};

/// The bake file of `chosen` (the services to build) in `project`, a target each;
/// `push` (`build --push`) sends the images that have a name to their registry.
pub fn bake_file(
    project: &Project,
    chosen: &[String],
    options: &BuildOptions,
    push: bool,
) -> Value {
    let chosen = &with_context_services(project, chosen);
    let targets = target_names(project);
    let mut definitions = Map::new();
    for (name, service) in &project.services {
        let Some(build) = service.build.as_ref().filter(|_| chosen.contains(name)) else {
            continue;
        };
        let image = image_name(project, name, service);
        let push = push && !service.image.is_empty();
        definitions.insert(
            targets[name].clone(),
            target(project, name, build, &image, &targets, options, push),
        );
    }
    let group: Vec<&String> = chosen
        .iter()
        .filter(|name| project.services[*name].build.is_some())
        .map(|name| &targets[name])
        .collect();
    json!({"group": {"default": {"targets": group}}, "target": definitions})
}

/// `chosen` and the services whose images their builds take as contexts
/// (`additional_contexts: service:x`), which Compose builds first.
fn with_context_services(project: &Project, chosen: &[String]) -> Vec<String> {
    let mut all: Vec<String> = chosen.to_vec();
    let mut next = 0;
    while let Some(name) = all.get(next).cloned() {
        next += 1;
        let contexts = project
            .services
            .get(&name)
            .and_then(|s| s.build.as_ref())
            .map(|b| b.additional_contexts.values())
            .into_iter()
            .flatten();
        for other in contexts.filter_map(|c| c.strip_prefix("service:")) {
            if project.services.contains_key(other) && !all.iter().any(|n| n == other) {
                all.push(other.to_owned());
            }
        }
    }
    all
}

/// Each building service's target name: a bake name cannot hold a dot, and one made
/// alike another gets `_` until it is its own (given in sorted order, so stable).
fn target_names(project: &Project) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let mut used = std::collections::BTreeSet::new();
    for name in project.services.keys() {
        let mut target = name.replace('.', "_");
        while used.contains(&target) {
            target.push('_');
        }
        used.insert(target.clone());
        names.insert(name.clone(), target);
    }
    names
}

fn target(
    project: &Project,
    service: &str,
    build: &Build,
    image: &str,
    targets: &BTreeMap<String, String>,
    options: &BuildOptions,
    push: bool,
) -> Value {
    let mut target = Map::new();
    let mut put = |key: &str, value: Value| {
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(items) => items.is_empty(),
            Value::Object(map) => map.is_empty(),
            Value::Bool(b) => !b,
            Value::Number(_) => false,
        };
        if !empty {
            target.insert(key.to_owned(), value);
        }
    };
    let context = build.context_dir();
    put("context", context.into());
    let contexts: Map<String, Value> = build
        .additional_contexts
        .iter()
        .map(|(key, value)| {
            let value = match value.strip_prefix("service:") {
                Some(other) => format!(
                    "target:{}",
                    targets.get(other).map_or(other, String::as_str)
                ),
                None => value.clone(),
            };
            (key.clone(), value.into())
        })
        .collect();
    put("contexts", contexts.into());
    if build.inline_dockerfile().is_none() {
        put(
            "dockerfile",
            dockerfile_path(context, build.dockerfile_path()).into(),
        );
    }
    put(
        "dockerfile-inline",
        build
            .inline_dockerfile()
            .unwrap_or_default()
            .replace("${", "$${")
            .into(),
    );
    // Bake interpolates `${…}` itself: what the file meant literally stays literal.
    let args: Map<String, Value> = build_arguments(build, options)
        .into_iter()
        .map(|(key, value)| (key, value.replace("${", "$${").into()))
        .collect();
    put("args", args.into());
    let labels: Map<String, Value> = image_labels(&project.name, service, build)
        .into_iter()
        .map(|(key, value)| (key, value.into()))
        .collect();
    put("labels", labels.into());
    let tags: Vec<Value> = build
        .tags
        .iter()
        .map(String::as_str)
        .chain([image])
        .map(Value::from)
        .collect();
    put("tags", tags.into());
    put("cache-from", build.cache_from.clone().into());
    put("cache-to", build.cache_to.clone().into());
    put("target", build.target.clone().into());
    put("secret", secrets(project, build).into());
    put("ssh", ssh(build).into());
    put("platforms", build.platforms.clone().into());
    put("pull", (build.pull || options.pull).into());
    put("no-cache", (build.no_cache || options.no_cache).into());
    put("network", build.network.clone().into());
    put("no-cache-filter", build.no_cache_filter.clone().into());
    // A size is a string in bake's JSON, as Compose writes its sizes.
    if build.shm_size.0 != 0 {
        put("shm-size", build.shm_size.0.to_string().into());
    }
    let ulimits: Vec<Value> = build
        .ulimits
        .iter()
        .map(|(name, limit)| match limit {
            Ulimit::Single(n) => format!("{name}={n}").into(),
            Ulimit::Range { soft, hard } => format!("{name}={soft}:{hard}").into(),
        })
        .collect();
    put("ulimits", ulimits.into());
    let mut entitlements = build.entitlements.clone();
    if build.privileged {
        entitlements.push("security.insecure".to_owned());
    }
    put("entitlements", entitlements.into());
    let hosts: Map<String, Value> = build
        .extra_hosts
        .iter()
        .map(|(host, addresses)| (host.clone(), addresses.join(",").into()))
        .collect();
    put("extra-hosts", hosts.into());
    let output = if build.platforms.len() > 1 {
        format!("type=image,push={push}")
    } else if push {
        "type=registry".to_owned()
    } else {
        "type=docker".to_owned()
    };
    put("output", vec![output].into());
    let attest: Vec<Value> = [("provenance", &build.provenance), ("sbom", &build.sbom)]
        .into_iter()
        .filter_map(|(kind, value)| match value.as_str() {
            "" => None,
            "true" => Some(format!("type={kind}").into()),
            "false" => Some(format!("type={kind},disabled=true").into()),
            other => Some(format!("type={kind},{other}").into()),
        })
        .collect();
    put("attest", attest.into());
    Value::Object(target)
}

/// The Dockerfile's path as bake wants it: joined to a local context.
fn dockerfile_path(context: &str, dockerfile: &str) -> String {
    if context.contains("://") || context.starts_with("git@") || Path::new(dockerfile).is_absolute()
    {
        return dockerfile.to_owned();
    }
    Path::new(context).join(dockerfile).display().to_string()
}

/// `id=…,type=file,src=…` or `id=…,type=env,env=…` per build secret.
fn secrets(project: &Project, build: &Build) -> Vec<Value> {
    build
        .secrets
        .iter()
        .filter_map(|reference| {
            let definition = project.secrets.get(&reference.source)?;
            let id = if reference.target.is_empty() {
                &reference.source
            } else {
                &reference.target
            };
            if !definition.environment.is_empty() {
                Some(format!("id={id},type=env,env={}", definition.environment).into())
            } else if !definition.file.is_empty() {
                Some(format!("id={id},type=file,src={}", definition.file).into())
            } else {
                None
            }
        })
        .collect()
}

/// `ID=PATH` per ssh key (`default` alone is `default=`).
fn ssh(build: &Build) -> Vec<Value> {
    build
        .ssh
        .iter()
        .filter_map(|key| match key {
            Value::String(text) if text.contains('=') => Some(text.clone().into()),
            Value::String(text) => Some(format!("{text}=").into()),
            Value::Object(map) => map
                .iter()
                .next()
                .map(|(id, path)| format!("{id}={}", path.as_str().unwrap_or_default()).into()),
            _ => None,
        })
        .collect()
}

//! Resolving relative paths in a tree against the directory they are relative to:
//! the project directory, an included project's, or an extended file's.

use std::path::{Component, Path, PathBuf};

use crate::node::{Node, Value};

/// Makes the relative paths of a canonical tree absolute against `dir`.
pub fn absolutize(root: &mut Node, dir: &Path, home: Option<&str>) {
    let Some(top) = root.as_map_mut() else { return };
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for (_, service) in services.iter_mut() {
            absolutize_service(service, dir, home);
        }
    }
    if let Some(volumes) = top.get_mut("volumes").and_then(Node::as_map_mut) {
        for (_, volume) in volumes.iter_mut() {
            if let Some(volume) = volume.as_map_mut() {
                bind_device(volume, dir, home);
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(objects) = top.get_mut(section).and_then(Node::as_map_mut) {
            for (_, object) in objects.iter_mut() {
                if let Some(file) = object.as_map_mut().and_then(|m| m.get_mut("file")) {
                    resolve_node(file, dir, home);
                }
            }
        }
    }
}

pub fn absolutize_service(service: &mut Node, dir: &Path, home: Option<&str>) {
    let Some(map) = service.as_map_mut() else {
        return;
    };
    if let Some(build) = map.get_mut("build").and_then(Node::as_map_mut) {
        if let Some(context) = build.get_mut("context")
            && context.as_str().is_some_and(|c| !is_remote(c))
        {
            resolve_node(context, dir, home);
        }
        // Compose takes every additional context without a URL scheme for a path.
        if let Some(contexts) = build
            .get_mut("additional_contexts")
            .and_then(Node::as_map_mut)
        {
            for (_, context) in contexts.iter_mut() {
                if context.as_str().is_some_and(|c| !c.contains("://")) {
                    resolve_node(context, dir, home);
                }
            }
        }
    }
    if let Some(Value::Seq(files)) = map.get_mut("env_file").map(|n| &mut n.value) {
        for file in files {
            if let Some(path) = file.as_map_mut().and_then(|m| m.get_mut("path")) {
                resolve_node(path, dir, home);
            }
        }
    }
    if let Some(Value::Seq(mounts)) = map.get_mut("volumes").map(|n| &mut n.value) {
        for mount in mounts {
            let Some(mount) = mount.as_map_mut() else {
                continue;
            };
            if mount.get("type").and_then(Node::as_str) == Some("bind")
                && let Some(source) = mount.get_mut("source")
            {
                resolve_node(source, dir, home);
            }
        }
    }
    if let Some(Value::Seq(files)) = map.get_mut("label_file").map(|n| &mut n.value) {
        for file in files {
            resolve_node(file, dir, home);
        }
    }
    if let Some(Value::Seq(rules)) = map
        .get_mut("develop")
        .and_then(Node::as_map_mut)
        .and_then(|d| d.get_mut("watch"))
        .map(|n| &mut n.value)
    {
        for rule in rules {
            if let Some(path) = rule.as_map_mut().and_then(|r| r.get_mut("path")) {
                resolve_node(path, dir, home);
            }
        }
    }
    if let Some(file) = map
        .get_mut("extends")
        .and_then(Node::as_map_mut)
        .and_then(|e| e.get_mut("file"))
    {
        resolve_node(file, dir, home);
    }
}

/// A local volume bound to a host directory (`driver: local`, `o: bind`) names that
/// directory in `driver_opts.device`, relative to the project as a bind mount's source.
fn bind_device(volume: &mut crate::node::Map, dir: &Path, home: Option<&str>) {
    if volume.get("driver").and_then(Node::as_str) != Some("local") {
        return;
    }
    let Some(options) = volume.get_mut("driver_opts").and_then(Node::as_map_mut) else {
        return;
    };
    if options.get("o").and_then(Node::as_str) != Some("bind") {
        return;
    }
    if let Some(device) = options.get_mut("device") {
        resolve_node(device, dir, home);
    }
}

fn resolve_node(node: &mut Node, dir: &Path, home: Option<&str>) {
    if let Value::Str(text) = &mut node.value {
        *text = resolve(text, dir, home).to_string_lossy().into_owned();
    }
}

/// As Compose resolves a path: `~` → home and relative → under `dir`, each with `.`
/// and `..` folded away lexically; an absolute path stays exactly as written.
pub fn resolve(path: &str, dir: &Path, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            clean(&PathBuf::from(format!("{home}{rest}")))
        }
        _ if Path::new(path).is_absolute() => PathBuf::from(path),
        _ => clean(&dir.join(path)),
    }
}

pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_home_and_dots() {
        let dir = Path::new("/p/q");
        assert_eq!(resolve("./data", dir, None), PathBuf::from("/p/q/data"));
        assert_eq!(resolve("../x/./y", dir, None), PathBuf::from("/p/x/y"));
        assert_eq!(
            resolve("~/cache", dir, Some("/home/u")),
            PathBuf::from("/home/u/cache")
        );
        assert_eq!(resolve("/abs", dir, None), PathBuf::from("/abs"));
        assert_eq!(resolve("/srv//x/", dir, None), PathBuf::from("/srv//x/"));
    }
}

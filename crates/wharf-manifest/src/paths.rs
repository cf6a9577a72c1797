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
    if let Some(context) = map
        .get_mut("build")
        .and_then(Node::as_map_mut)
        .and_then(|b| b.get_mut("context"))
        && context.as_str().is_some_and(|c| !is_remote(c))
    {
        resolve_node(context, dir, home);
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
    if let Some(file) = map
        .get_mut("extends")
        .and_then(Node::as_map_mut)
        .and_then(|e| e.get_mut("file"))
    {
        resolve_node(file, dir, home);
    }
}

fn resolve_node(node: &mut Node, dir: &Path, home: Option<&str>) {
    if let Value::Str(text) = &mut node.value {
        *text = resolve(text, dir, home).to_string_lossy().into_owned();
    }
}

/// `~` → home, relative → under `dir`, then `.` and `..` folded away lexically.
pub fn resolve(path: &str, dir: &Path, home: Option<&str>) -> PathBuf {
    let expanded = match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(format!("{home}{rest}"))
        }
        _ => PathBuf::from(path),
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        dir.join(expanded)
    };
    clean(&joined)
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
    }
}

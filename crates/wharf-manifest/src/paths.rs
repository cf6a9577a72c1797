//! Resolving relative paths in a tree against the directory they are relative to:
//! the project directory, an included project's, or an extended file's.

use std::path::{Component, Path, PathBuf};

use crate::node::{Node, Value};

/// Makes the relative paths of a canonical tree absolute against `dir`.
pub fn absolutize(root: &mut Node, dir: &Path, home: Option<&str>) {
    visit_paths(root, &mut |node| resolve_node(node, dir, home));
}

/// Resolves the paths of an included or extended file's tree against its directory.
pub struct Resolver<'a> {
    pub dir: &'a Path,
    pub home: Option<String>,
    /// `config --no-path-resolution`: a relative path becomes relative to this
    /// project directory instead of absolute (`~` and absolute paths are resolved as
    /// ever), and only in these files: the paths of files they imported in turn were
    /// rebased already.
    pub rebase_on: Option<(&'a Path, &'a [PathBuf])>,
}

impl Resolver<'_> {
    pub fn tree(&self, root: &mut Node) {
        visit_paths(root, &mut |node| self.resolve(node));
    }

    pub fn service(&self, service: &mut Node) {
        visit_service_paths(service, &mut |node| self.resolve(node));
    }

    fn resolve(&self, node: &mut Node) {
        let Some((project_dir, files)) = self.rebase_on else {
            return resolve_node(node, self.dir, self.home.as_deref());
        };
        let from_these = node
            .span
            .path()
            .is_some_and(|file| files.iter().any(|f| f == file));
        let Value::Str(text) = &mut node.value else {
            return;
        };
        if !from_these {
            return;
        }
        let written_relative = !text.starts_with('/') && !text.starts_with('~');
        let resolved = resolve(text, self.dir, self.home.as_deref());
        *text = match relative_to(&resolved, project_dir).filter(|_| written_relative) {
            Some(relative) => relative.to_string_lossy().into_owned(),
            None => resolved.to_string_lossy().into_owned(),
        };
    }
}

/// `path` relative to `base`, both absolute and clean: `None` when `path` is not
/// absolute.
fn relative_to(path: &Path, base: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut path_parts = path.components().peekable();
    let mut base_parts = base.components().peekable();
    while let (Some(a), Some(b)) = (path_parts.peek(), base_parts.peek()) {
        if a != b {
            break;
        }
        path_parts.next();
        base_parts.next();
    }
    let mut relative: PathBuf = base_parts.map(|_| Component::ParentDir).collect();
    relative.extend(path_parts);
    Some(if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative
    })
}

/// Calls `f` on every node of a canonical tree that holds a local path.
fn visit_paths(root: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    let Some(top) = root.as_map_mut() else { return };
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for (_, service) in services.iter_mut() {
            visit_service_paths(service, f);
        }
    }
    if let Some(volumes) = top.get_mut("volumes").and_then(Node::as_map_mut) {
        for (_, volume) in volumes.iter_mut() {
            if let Some(device) = volume.as_map_mut().and_then(bind_device) {
                f(device);
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(objects) = top.get_mut(section).and_then(Node::as_map_mut) {
            for (_, object) in objects.iter_mut() {
                if let Some(file) = object.as_map_mut().and_then(|m| m.get_mut("file")) {
                    f(file);
                }
            }
        }
    }
}

fn visit_service_paths(service: &mut Node, f: &mut dyn FnMut(&mut Node)) {
    let Some(map) = service.as_map_mut() else {
        return;
    };
    if let Some(build) = map.get_mut("build").and_then(Node::as_map_mut) {
        // An empty context, additional context or env file stays empty, as Compose
        // leaves it (a bind mount's empty source is the directory, below).
        if let Some(context) = build.get_mut("context")
            && context
                .as_str()
                .is_some_and(|c| !c.is_empty() && !is_remote(c))
        {
            f(context);
        }
        // An ssh key's file (`ID=PATH`); `default` alone is the agent's socket.
        if let Some(Value::Seq(keys)) = build.get_mut("ssh").map(|n| &mut n.value) {
            for key in keys {
                let Some((id, path)) = key.as_str().and_then(|k| k.split_once('=')) else {
                    continue;
                };
                let id = id.to_owned();
                let mut path = Node::str(path, key.span.clone());
                f(&mut path);
                key.value = Value::Str(format!("{id}={}", path.as_str().unwrap_or_default()));
            }
        }
        // Compose takes every additional context without a URL scheme for a path, but
        // another service's image (`service:x`).
        if let Some(contexts) = build
            .get_mut("additional_contexts")
            .and_then(Node::as_map_mut)
        {
            for (_, context) in contexts.iter_mut() {
                if context.as_str().is_some_and(|c| {
                    !c.is_empty() && !c.contains("://") && !c.starts_with("service:")
                }) {
                    f(context);
                }
            }
        }
    }
    if let Some(Value::Seq(files)) = map.get_mut("env_file").map(|n| &mut n.value) {
        for file in files {
            if let Some(path) = file
                .as_map_mut()
                .and_then(|m| m.get_mut("path"))
                .filter(|p| p.as_str() != Some(""))
            {
                f(path);
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
                f(source);
            }
        }
    }
    if let Some(Value::Seq(files)) = map.get_mut("label_file").map(|n| &mut n.value) {
        for file in files {
            f(file);
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
                f(path);
            }
        }
    }
    if let Some(file) = map
        .get_mut("extends")
        .and_then(Node::as_map_mut)
        .and_then(|e| e.get_mut("file"))
    {
        f(file);
    }
}

/// A local volume bound to a host directory (`driver: local`, `o: bind`) names that
/// directory in `driver_opts.device`, relative to the project as a bind mount's source.
fn bind_device(volume: &mut crate::node::Map) -> Option<&mut Node> {
    if volume.get("driver").and_then(Node::as_str) != Some("local") {
        return None;
    }
    let options = volume.get_mut("driver_opts").and_then(Node::as_map_mut)?;
    if options.get("o").and_then(Node::as_str) != Some("bind") {
        return None;
    }
    options.get_mut("device")
}

fn resolve_node(node: &mut Node, dir: &Path, home: Option<&str>) {
    if let Value::Str(text) = &mut node.value {
        *text = resolve(text, dir, home).to_string_lossy().into_owned();
    }
}

/// As Compose resolves a path: `~` → home and relative → under `dir`, each with `.`
/// and `..` folded away lexically; an absolute path stays exactly as written, a
/// Windows one too (a file shared between machines).
pub fn resolve(path: &str, dir: &Path, home: Option<&str>) -> PathBuf {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            clean(&PathBuf::from(format!("{home}{rest}")))
        }
        // Compose reads `~user/a` as `~/user/a`, not as another user's home.
        (Some(rest), Some(home)) => clean(&PathBuf::from(format!("{home}/{rest}"))),
        _ if Path::new(path).is_absolute() || is_windows_absolute(path) => PathBuf::from(path),
        _ => clean(&dir.join(path)),
    }
}

/// `C:\data`, `d:/projects` or `\\server\share`, which Compose leaves as written
/// (`C:data` is relative to the drive's current directory, so it is resolved).
#[must_use]
pub fn is_windows_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with("\\\\")
        || matches!(bytes, [letter, b':', b'/' | b'\\', ..] if letter.is_ascii_alphabetic())
}

/// `path` cleaned as Go's `path.Clean` cleans it, by its text alone: each `..` takes
/// back the name before it (none above the root), and nothing left is `.`.
pub fn clean(path: &Path) -> PathBuf {
    if path.to_str().is_some_and(is_clean) {
        return path.to_path_buf();
    }
    clean_by_names(path)
}

fn clean_by_names(path: &Path) -> PathBuf {
    let mut out: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(component),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Whether `text` is a path [`clean`] leaves as it is (most paths written): no empty,
/// `.` or `..` name and no slash at the end, `/` aside.
fn is_clean(text: &str) -> bool {
    text == "/"
        || (!text.is_empty()
            && !text.ends_with('/')
            && text
                .split('/')
                .enumerate()
                .all(|(at, name)| !matches!(name, "." | "..") && (at == 0 || !name.is_empty())))
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

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        let cleaned = |path: &str| clean(Path::new(path)).to_string_lossy().into_owned();
        assert_eq!(cleaned("b/../c/"), "c");
        assert_eq!(cleaned("../../x"), "../../x");
        assert_eq!(cleaned("/../x"), "/x");
        assert_eq!(cleaned("a/.."), ".");
    }

    /// The shortcut for a path already clean agrees with cleaning it name by name, and
    /// takes the paths most files write.
    #[test]
    fn a_clean_path_is_told_as_cleaning_would_leave_it() {
        for text in [
            "/", "/a", "a", "a/b", "/a/b", "a/", "/a/", "//a", "a//b", ".", "..", "./a", "a/.",
            "a/..", "/..", "../a", "a/.b", "a/..b", "...", "", "a/b/", "/a/./b",
        ] {
            let path = Path::new(text);
            if is_clean(text) {
                assert_eq!(clean_by_names(path).as_os_str(), text);
            }
            assert_eq!(
                clean(path).as_os_str(),
                clean_by_names(path).as_os_str(),
                "{text:?}"
            );
        }
        assert!(
            ["/", "/a/b", "a", "data/x.b", "/var/lib/..d"]
                .iter()
                .all(|t| is_clean(t))
        );
    }

    #[test]
    fn windows_paths_stay_as_written() {
        let dir = Path::new("/p");
        assert_eq!(resolve("C:\\data", dir, None), PathBuf::from("C:\\data"));
        assert_eq!(resolve("d:/x", dir, None), PathBuf::from("d:/x"));
        assert_eq!(resolve("C:data", dir, None), PathBuf::from("/p/C:data"));
    }

    #[test]
    fn a_path_relative_to_the_project_climbs_out_where_it_must() {
        let project = Path::new("/p/q");
        let rel = |path: &str| relative_to(Path::new(path), project);
        assert_eq!(rel("/p/q/lib/data"), Some(PathBuf::from("lib/data")));
        assert_eq!(rel("/p/other"), Some(PathBuf::from("../other")));
        assert_eq!(rel("/p/q"), Some(PathBuf::from(".")));
        assert_eq!(rel("lib"), None);
    }
}

//! Top-level `include:`: other Compose projects loaded on their own (their own
//! directory and `.env`) and added to this one. Redefining an included resource in the
//! including file is an error, as in Compose.

use std::path::{Path, PathBuf};

use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::interpolate::Variables;
use crate::loader::{Context, RemoteFiles};
use crate::merge::fingerprint;
use crate::node::{Node, Value};
use crate::paths;

const SECTIONS: [&str; 5] = ["services", "networks", "volumes", "secrets", "configs"];

pub fn apply(context: &mut Context<'_>, document: &mut Node, project_dir: &Path) -> Result<()> {
    let Some(top) = document.as_map_mut() else {
        return Ok(());
    };
    let Some(includes) = top.remove("include") else {
        return Ok(());
    };
    let items = match includes.value {
        Value::Seq(items) => items,
        Value::Null => return Ok(()),
        _ => {
            return Err(Error::at(
                &includes.span,
                format!("include must be a list, found {}", includes.kind()),
            ));
        }
    };
    for item in items {
        let entry =
            IncludeEntry::from_node(&item, project_dir, context.options.remote_files.as_ref())?;
        let imported = load_included(context, &entry)?;
        let Some(imported) = imported.as_map() else {
            continue;
        };
        for section in SECTIONS {
            let Some(resources) = imported.get(section).and_then(Node::as_map) else {
                continue;
            };
            if top.get(section).is_none() {
                top.insert(
                    crate::node::Key::new(section, item.span.clone()),
                    crate::loader::empty_map(item.span.clone()),
                );
            }
            let target = top
                .get_mut(section)
                .and_then(Node::as_map_mut)
                .ok_or_else(|| Error::at(&item.span, format!("{section} must be a mapping")))?;
            for (key, value) in resources.iter() {
                match target.get(key.name()) {
                    Some(existing) if fingerprint(existing) != fingerprint(value) => {
                        return Err(Error::at(
                            &target
                                .key(key.name())
                                .map(|k| k.span.clone())
                                .unwrap_or_default(),
                            format!(
                                "{section}.{} conflicts with the one imported from {}",
                                key.name(),
                                entry.paths[0].display()
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => target.push((key.clone(), value.clone())),
                }
            }
        }
    }
    Ok(())
}

struct IncludeEntry {
    paths: Vec<PathBuf>,
    project_dir: PathBuf,
    env_files: Vec<PathBuf>,
}

impl IncludeEntry {
    fn from_node(node: &Node, base: &Path, remote: Option<&RemoteFiles>) -> Result<Self> {
        let local = |text: &str, node: &Node| -> Result<PathBuf> {
            if text.starts_with("oci://") {
                let fetch = remote.ok_or_else(|| {
                    Error::at(&node.span, format!("{text:?} cannot be fetched here"))
                })?;
                return (fetch.0)(text).map_err(|err| Error::at(&node.span, err));
            }
            if text.starts_with("git@") || text.contains(".git#") {
                return Err(Error::at(
                    &node.span,
                    format!("{text:?} is a git repository, which wharf does not include yet"),
                )
                .with_help("include a local checkout of it instead"));
            }
            Ok(paths::resolve(text, base, None))
        };
        let strings = |node: &Node, what: &str| -> Result<Vec<PathBuf>> {
            match &node.value {
                Value::Str(s) => Ok(vec![local(s, node)?]),
                Value::Seq(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .ok_or_else(|| {
                                Error::at(&i.span, format!("include {what} must be a path"))
                            })
                            .and_then(|s| local(s, i))
                    })
                    .collect(),
                _ => Err(Error::at(
                    &node.span,
                    format!("include {what} must be a path or a list of paths"),
                )),
            }
        };
        let (file_paths, project_dir, env_files) = match &node.value {
            Value::Str(_) => (strings(node, "path")?, None, Vec::new()),
            Value::Map(map) => {
                for (key, _) in map.iter() {
                    if !["path", "project_directory", "env_file"].contains(&key.name()) {
                        return Err(Error::at(
                            &key.span,
                            format!("unknown key `{}` in include", key.name()),
                        )
                        .with_help("expected path, project_directory or env_file"));
                    }
                }
                let path = map
                    .get("path")
                    .ok_or_else(|| Error::at(&node.span, "include needs a path"))?;
                let project_dir = map
                    .get("project_directory")
                    .map(|d| {
                        d.as_str()
                            .map(|s| paths::resolve(s, base, None))
                            .ok_or_else(|| Error::at(&d.span, "project_directory must be a path"))
                    })
                    .transpose()?;
                let env_files = map
                    .get("env_file")
                    .map(|e| strings(e, "env_file"))
                    .transpose()?
                    .unwrap_or_default();
                (strings(path, "path")?, project_dir, env_files)
            }
            _ => {
                return Err(Error::at(
                    &node.span,
                    "an include entry must be a path or a mapping",
                ));
            }
        };
        if file_paths.is_empty() {
            return Err(Error::at(&node.span, "include needs a path"));
        }
        let project_dir = project_dir.unwrap_or_else(|| {
            file_paths[0]
                .parent()
                .map_or_else(|| base.to_path_buf(), Path::to_path_buf)
        });
        Ok(Self {
            paths: file_paths,
            project_dir,
            env_files,
        })
    }
}

fn load_included(context: &mut Context<'_>, entry: &IncludeEntry) -> Result<Node> {
    let env_files = if entry.env_files.is_empty() {
        Environment::default_env_files(&entry.project_dir)
    } else {
        entry.env_files.clone()
    };
    // The including project's variables win over the included one's .env.
    let env = Environment::load(context.env.vars(), &env_files)?;
    let mut sub = Context {
        options: context.options,
        env: &env,
        variables: Vec::new(),
        warnings: Vec::new(),
        including: context.including.clone(),
        project_dir: context.project_dir.clone(),
    };
    let mut tree = sub.load_tree(&entry.paths, &entry.project_dir)?;
    sub.imported_paths(&entry.project_dir, &entry.paths)
        .tree(&mut tree);
    context.variables.append(&mut sub.variables);
    context.warnings.append(&mut sub.warnings);
    for name in env.unset_names() {
        context.env.unset(&name);
    }
    Ok(tree)
}

//! `extends:`: a service starts from another one (in the same file or another file)
//! and merges its own keys over it with the usual override rules.

use std::path::Path;

use crate::canonical::{Form, canonicalize};
use crate::error::{Error, Result};
use crate::interpolate::interpolate_tree;
use crate::loader::Context;
use crate::merge::{merge, strip_tags};
use crate::node::{Map, Node};
use crate::paths;

pub fn apply(context: &mut Context<'_>, document: &mut Node, file_dir: &Path) -> Result<()> {
    let Some(services) = document
        .as_map_mut()
        .and_then(|m| m.get_mut("services"))
        .and_then(Node::as_map_mut)
    else {
        return Ok(());
    };
    let names: Vec<String> = services.iter().map(|(k, _)| k.name().to_owned()).collect();
    for name in names {
        resolve(context, services, &name, file_dir, &mut Vec::new())?;
    }
    Ok(())
}

fn resolve(
    context: &mut Context<'_>,
    services: &mut Map,
    name: &str,
    file_dir: &Path,
    stack: &mut Vec<String>,
) -> Result<()> {
    let Some(service) = services.get(name) else {
        return Ok(());
    };
    let Some(extends) = service.as_map().and_then(|m| m.get("extends")).cloned() else {
        return Ok(());
    };
    if stack.iter().any(|s| s == name) {
        stack.push(name.to_owned());
        return Err(Error::at(
            &extends.span,
            format!("circular reference in extends: {}", stack.join(" -> ")),
        ));
    }
    stack.push(name.to_owned());
    let spec = extends
        .as_map()
        .ok_or_else(|| Error::at(&extends.span, "extends must be a service name or a mapping"))?;
    let base_name = spec
        .get("service")
        .and_then(Node::as_str)
        .ok_or_else(|| Error::at(&extends.span, "extends needs a service"))?
        .to_owned();
    let mut base = if let Some(file) = spec.get("file").and_then(Node::as_str) {
        let path = paths::resolve(file, file_dir, None);
        let other_dir = path.parent().unwrap_or(file_dir).to_path_buf();
        let mut tree: Option<Node> = None;
        for mut document in context.read_documents(&path)? {
            if context.options.interpolate {
                interpolate_tree(&mut document, context.env)?;
            }
            canonicalize(
                &mut document,
                Form {
                    normalize: !context.options.skip_normalization,
                    interpolated: context.options.interpolate,
                },
            )?;
            match &mut tree {
                None => tree = Some(strip_tags(document)),
                Some(base) => merge(base, document, &[]),
            }
        }
        let mut tree =
            tree.ok_or_else(|| Error::at(&extends.span, format!("{} is empty", path.display())))?;
        let other = tree
            .as_map_mut()
            .and_then(|m| m.get_mut("services"))
            .and_then(Node::as_map_mut)
            .filter(|s| s.contains(&base_name))
            .ok_or_else(|| {
                Error::at(
                    &extends.span,
                    format!(
                        "cannot extend service {base_name:?}: not found in {}",
                        path.display()
                    ),
                )
            })?;
        resolve(
            context,
            other,
            &base_name,
            &other_dir,
            &mut vec![format!("{}:{base_name}", path.display())],
        )?;
        let mut base = other
            .get(&base_name)
            .cloned()
            .unwrap_or_else(|| Node::null(extends.span.clone()));
        context
            .imported_paths(&other_dir, std::slice::from_ref(&path))
            .service(&mut base);
        base
    } else {
        if !services.contains(&base_name) {
            return Err(Error::at(
                &extends.span,
                format!("service {name:?} extends undefined service {base_name:?}"),
            ));
        }
        resolve(context, services, &base_name, file_dir, stack)?;
        services
            .get(&base_name)
            .cloned()
            .unwrap_or_else(|| Node::null(extends.span.clone()))
    };
    if let Some(map) = base.as_map_mut() {
        map.remove("extends");
    }
    let mut own = services
        .get(name)
        .cloned()
        .unwrap_or_else(|| Node::null(extends.span.clone()));
    if let Some(map) = own.as_map_mut() {
        map.remove("extends");
    }
    merge(&mut base, own, &["services", name]);
    if let Some(slot) = services.get_mut(name) {
        *slot = base;
    }
    stack.pop();
    Ok(())
}

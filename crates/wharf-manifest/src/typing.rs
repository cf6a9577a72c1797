//! Typing the merged tree into the model. Services are typed one at a time and each
//! one's nodes are freed as soon as it is typed, so a project of tens of thousands of
//! services never holds its whole tree and its whole model at once.

use std::collections::{HashMap, HashSet};

use wharf_model::Project;
use wharf_model::x_wharf::{ProjectSettings, ServiceSettings};

use crate::canonical::RESOURCE_SECTIONS;
use crate::de::from_node;
use crate::error::Result;
use crate::node::{Node, Value};
use crate::source::Span;

/// What the files say that the typed project cannot: where each service and each of
/// its `depends_on` entries is written, for errors found after typing, and which
/// networks, volumes, secrets and configs are given an empty `name:`.
#[derive(Default)]
pub struct Written {
    services: HashMap<String, Span>,
    dependencies: HashMap<(String, String), Span>,
    empty_names: HashSet<(&'static str, String)>,
}

impl Written {
    pub fn service(&self, name: &str) -> Span {
        self.services.get(name).cloned().unwrap_or_default()
    }

    /// Where `service` names `dependency` in its `depends_on`, else the service.
    pub fn dependency(&self, service: &str, dependency: &str) -> Span {
        self.dependencies
            .get(&(service.to_owned(), dependency.to_owned()))
            .cloned()
            .unwrap_or_else(|| self.service(service))
    }

    /// Whether `section.key` is written with `name: ""`, which Compose keeps empty
    /// rather than naming it after its key.
    pub fn has_empty_name(&self, section: &'static str, key: &str) -> bool {
        self.empty_names.contains(&(section, key.to_owned()))
    }

    fn note_empty_names(&mut self, root: &Node) {
        for section in RESOURCE_SECTIONS {
            let Some(objects) = root
                .as_map()
                .and_then(|top| top.get(section))
                .and_then(Node::as_map)
            else {
                continue;
            };
            for (key, object) in objects.iter() {
                let name = object.as_map().and_then(|m| m.get("name"));
                if name.and_then(Node::as_str) == Some("") {
                    self.empty_names.insert((section, key.name().to_owned()));
                }
            }
        }
    }
}

/// The project typed from `root` (consumed), with its `x-wharf` settings, and where
/// each service was written.
pub fn type_project(mut root: Node) -> Result<(Project, Written)> {
    let top = root.as_map_mut();
    // Not a mapping: left in place for the project's typing to say so.
    let services = top.and_then(|top| match top.get("services") {
        Some(node) if matches!(node.value, Value::Map(_)) => top.remove("services"),
        _ => None,
    });
    let mut written = Written::default();
    let mut typed = std::collections::BTreeMap::new();
    if let Some(Node {
        value: Value::Map(services),
        ..
    }) = services
    {
        for (key, node) in services.into_entries() {
            let path = format!("services.{}", key.name());
            let mut service: Box<wharf_model::Service> = from_node(&node, &path)?;
            if let Some(settings) = node.as_map().and_then(|m| m.get("x-wharf")) {
                service.wharf = from_node::<ServiceSettings>(settings, &format!("{path}.x-wharf"))?;
            }
            if let Some(depends_on) = node
                .as_map()
                .and_then(|m| m.get("depends_on"))
                .and_then(Node::as_map)
            {
                for (dependency, _) in depends_on.iter() {
                    written.dependencies.insert(
                        (key.name().to_owned(), dependency.name().to_owned()),
                        dependency.span.clone(),
                    );
                }
            }
            written
                .services
                .insert(key.name().to_owned(), key.span.clone());
            typed.insert(key.into_name(), service);
        }
    }
    written.note_empty_names(&root);
    let mut project: Project = from_node(&root, "")?;
    if let Some(node) = root.as_map().and_then(|m| m.get("x-wharf")) {
        project.wharf = from_node::<ProjectSettings>(node, "x-wharf")?;
    }
    project.services = typed;
    Ok((project, written))
}

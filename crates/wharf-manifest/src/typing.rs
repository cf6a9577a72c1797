//! Typing the merged tree into the model. Services are typed one at a time and each
//! one's nodes are freed as soon as it is typed, so a project of tens of thousands of
//! services never holds its whole tree and its whole model at once.

use std::collections::HashMap;

use wharf_model::Project;
use wharf_model::x_wharf::{ProjectSettings, ServiceSettings};

use crate::de::from_node;
use crate::error::Result;
use crate::node::{Node, Value};
use crate::source::Span;

/// Where each service is defined, and each of its `depends_on` entries, for errors
/// found after typing.
#[derive(Default)]
pub struct ServiceSpans {
    services: HashMap<String, Span>,
    dependencies: HashMap<(String, String), Span>,
}

impl ServiceSpans {
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
}

/// The project typed from `root` (consumed), with its `x-wharf` settings, and where
/// each service was written.
pub fn type_project(mut root: Node) -> Result<(Project, ServiceSpans)> {
    let top = root.as_map_mut();
    // Not a mapping: left in place for the project's typing to say so.
    let services = top.and_then(|top| match top.get("services") {
        Some(node) if matches!(node.value, Value::Map(_)) => top.remove("services"),
        _ => None,
    });
    let mut spans = ServiceSpans::default();
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
                    spans.dependencies.insert(
                        (key.name().to_owned(), dependency.name().to_owned()),
                        dependency.span.clone(),
                    );
                }
            }
            spans
                .services
                .insert(key.name().to_owned(), key.span.clone());
            typed.insert(key.into_name(), service);
        }
    }
    let mut project: Project = from_node(&root, "")?;
    if let Some(node) = root.as_map().and_then(|m| m.get("x-wharf")) {
        project.wharf = from_node::<ProjectSettings>(node, "x-wharf")?;
    }
    project.services = typed;
    Ok((project, spans))
}

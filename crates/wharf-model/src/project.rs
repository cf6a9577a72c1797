//! A whole loaded project.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::x_wharf::ProjectSettings;
use crate::{Extensions, FileObject, Model, Network, Service, Volume};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    pub name: String,
    /// Boxed: a map node holds eleven, and a service is large and mostly empty.
    pub services: BTreeMap<String, Box<Service>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObject>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObject>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, Model>,
    #[serde(rename = "#extensions", skip_serializing_if = "Extensions::is_empty")]
    pub extensions: Extensions,
    /// The typed top-level `x-wharf` section (also kept verbatim in `extensions`).
    #[serde(skip)]
    pub wharf: ProjectSettings,
    /// `--compatibility`: names joined by `_`, as Compose v1 made them
    /// (`project_service_1`).
    #[serde(skip)]
    pub compatibility: bool,
}

impl Project {
    /// What joins the parts of a name wharf makes: an image's, an instance's.
    #[must_use]
    pub fn name_separator(&self) -> char {
        if self.compatibility { '_' } else { '-' }
    }

    /// `named` and every service they depend on, through the whole chain (names the
    /// project does not define are kept, for the caller to refuse).
    #[must_use]
    pub fn with_dependencies<'a>(&'a self, named: &'a [String]) -> BTreeSet<&'a str> {
        let mut wanted = BTreeSet::new();
        let mut pending: Vec<&str> = named.iter().map(String::as_str).collect();
        while let Some(name) = pending.pop() {
            if wanted.insert(name)
                && let Some(service) = self.services.get(name)
            {
                pending.extend(service.depends_on.keys().map(String::as_str));
            }
        }
        wanted
    }

    /// The services' names, each after what it depends on (ties in name order), as
    /// `docker compose config --services` lists them.
    #[must_use]
    pub fn services_in_dependency_order(&self) -> Vec<&str> {
        let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(self.services.len());
        for start in self.services.keys() {
            // Depth first without recursion: a chain of thousands is a real shape.
            let mut stack: Vec<(&str, bool)> = vec![(start, false)];
            while let Some((name, expanded)) = stack.pop() {
                if expanded {
                    out.push(name);
                    continue;
                }
                if !placed.insert(name) || !self.services.contains_key(name) {
                    continue;
                }
                stack.push((name, true));
                let dependencies = &self.services[name].depends_on;
                stack.extend(dependencies.keys().rev().map(|d| (d.as_str(), false)));
            }
        }
        out
    }
}

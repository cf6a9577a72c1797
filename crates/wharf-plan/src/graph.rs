//! The dependency graph: start order, stop order, and a subset with what it needs.

use std::collections::{BTreeMap, BTreeSet};

use crate::ServiceSpec;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("no such service: {0}")]
    UnknownService(String),
}

/// Services in an order where each comes after everything it depends on; ties broken
/// by name so the order is stable. Dependencies on services not in the map are ignored
/// (a non-required dependency of a disabled profile).
pub fn start_order(services: &BTreeMap<String, ServiceSpec>) -> Result<Vec<String>, GraphError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        services: &'a BTreeMap<String, ServiceSpec>,
        marks: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        order: &mut Vec<String>,
    ) -> Result<(), GraphError> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> =
                    stack[start..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(name.to_owned());
                return Err(GraphError::Cycle(cycle));
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        stack.push(name);
        if let Some(service) = services.get(name) {
            for dependency in service.depends_on.keys() {
                if services.contains_key(dependency) {
                    visit(dependency, services, marks, stack, order)?;
                }
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
        order.push(name.to_owned());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut order = Vec::with_capacity(services.len());
    for name in services.keys() {
        visit(name, services, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

/// The reverse of [`start_order`]: dependents stop before what they depend on.
fn stop_order(services: &BTreeMap<String, ServiceSpec>) -> Result<Vec<String>, GraphError> {
    let mut order = start_order(services)?;
    order.reverse();
    Ok(order)
}

/// The stop order in waves: a service is in the wave after the latest of the services
/// that depend on it, so each wave can stop at once, as Compose does, and no service
/// stops before what depends on it.
pub fn stop_levels(
    services: &BTreeMap<String, ServiceSpec>,
) -> Result<Vec<Vec<String>>, GraphError> {
    let mut wave: BTreeMap<&str, usize> = BTreeMap::new();
    // Dependents come before their dependencies in the stop order, so each
    // service's wave is known when its dependencies are reached.
    let order = stop_order(services)?;
    for name in &order {
        let at = *wave.entry(name.as_str()).or_insert(0);
        for dependency in services[name].depends_on.keys() {
            if let Some(key) = services.get_key_value(dependency).map(|(k, _)| k.as_str()) {
                let later = wave.entry(key).or_insert(0);
                *later = (*later).max(at + 1);
            }
        }
    }
    let waves: Vec<usize> = order.iter().map(|name| wave[name.as_str()]).collect();
    let mut levels: Vec<Vec<String>> = Vec::new();
    for (name, at) in order.into_iter().zip(waves) {
        if levels.len() <= at {
            levels.resize(at + 1, Vec::new());
        }
        levels[at].push(name);
    }
    Ok(levels)
}

/// `names` and, transitively, every service they depend on that exists.
pub fn with_dependencies(
    services: &BTreeMap<String, ServiceSpec>,
    names: &[String],
) -> Result<BTreeSet<String>, GraphError> {
    let mut selected = BTreeSet::new();
    let mut pending: Vec<String> = names.to_vec();
    while let Some(name) = pending.pop() {
        let service = services
            .get(&name)
            .ok_or_else(|| GraphError::UnknownService(name.clone()))?;
        for dependency in service.depends_on.keys() {
            if services.contains_key(dependency) && !selected.contains(dependency) {
                pending.push(dependency.clone());
            }
        }
        selected.insert(name);
    }
    Ok(selected)
}

/// `names` and, transitively, the services that asked to be restarted with them
/// (`depends_on: {db: {restart: true}}`).
pub fn with_restart_dependents(
    services: &BTreeMap<String, ServiceSpec>,
    names: &[String],
) -> BTreeSet<String> {
    let mut selected: BTreeSet<String> = names.iter().cloned().collect();
    loop {
        let more: Vec<String> = services
            .iter()
            .filter(|(name, _)| !selected.contains(*name))
            .filter(|(_, spec)| {
                spec.depends_on
                    .iter()
                    .any(|(dependency, d)| d.restart && selected.contains(dependency))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            return selected;
        }
        selected.extend(more);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Condition, Dependency};

    fn project(edges: &[(&str, &[&str])]) -> BTreeMap<String, ServiceSpec> {
        edges
            .iter()
            .map(|(name, deps)| {
                let mut spec = ServiceSpec::default();
                for dep in *deps {
                    spec.depends_on.insert(
                        (*dep).to_owned(),
                        Dependency {
                            condition: Condition::ServiceStarted,
                            required: true,
                            restart: false,
                        },
                    );
                }
                ((*name).to_owned(), spec)
            })
            .collect()
    }

    #[test]
    fn independent_services_stop_together_and_dependents_first() {
        let services = project(&[
            ("db", &[]),
            ("cache", &[]),
            ("api", &["db", "cache"]),
            ("web", &["api"]),
            ("solo", &[]),
        ]);
        let levels: Vec<BTreeSet<String>> = stop_levels(&services)
            .unwrap()
            .into_iter()
            .map(|level| level.into_iter().collect())
            .collect();
        let set = |names: &[&str]| {
            names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(
            levels,
            [set(&["solo", "web"]), set(&["api"]), set(&["db", "cache"])]
        );
    }

    #[test]
    fn dependencies_start_first_and_stop_last() {
        let services = project(&[("web", &["api", "db"]), ("api", &["db"]), ("db", &[])]);
        assert_eq!(start_order(&services).unwrap(), ["db", "api", "web"]);
        assert_eq!(stop_order(&services).unwrap(), ["web", "api", "db"]);
    }

    #[test]
    fn restart_reaches_dependents_that_asked_for_it() {
        let mut services = project(&[
            ("app", &["db"]),
            ("worker", &["app"]),
            ("db", &[]),
            ("other", &["db"]),
        ]);
        for (service, dependency) in [("app", "db"), ("worker", "app")] {
            services
                .get_mut(service)
                .unwrap()
                .depends_on
                .get_mut(dependency)
                .unwrap()
                .restart = true;
        }
        let chosen = with_restart_dependents(&services, &["db".into()]);
        assert_eq!(
            chosen.into_iter().collect::<Vec<_>>(),
            ["app", "db", "worker"]
        );
    }

    #[test]
    fn a_cycle_is_named_whole() {
        let services = project(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])]);
        assert_eq!(
            start_order(&services),
            Err(GraphError::Cycle(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "a".into()
            ]))
        );
    }

    #[test]
    fn a_subset_brings_its_dependencies_only() {
        let services = project(&[
            ("web", &["api"]),
            ("api", &["db"]),
            ("db", &[]),
            ("worker", &["db"]),
        ]);
        let subset = with_dependencies(&services, &["api".into()]).unwrap();
        assert_eq!(subset.into_iter().collect::<Vec<_>>(), ["api", "db"]);
        assert_eq!(
            with_dependencies(&services, &["nope".into()]),
            Err(GraphError::UnknownService("nope".into()))
        );
    }
}

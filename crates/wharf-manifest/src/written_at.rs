//! Where a service's attribute is written, found again after loading. The loader keeps
//! no positions past typing (a project of tens of thousands of services would pay for
//! them all), so a later check that refuses a value reads the files once more, on that
//! path only, to point at it.

use std::path::PathBuf;

use crate::node::Node;
use crate::source::{SourceFile, Span};
use crate::yaml;

/// Where `services.<service>.<attribute…>` is written in the last of `files` that
/// writes it (the one whose value wins), else where the last file that names the
/// service names it; `None` when no file does (a service from an `include` or an
/// `extends`).
pub fn written_at(files: &[PathBuf], service: &str, attribute: &[&str]) -> Option<Span> {
    let services: Vec<Node> = files
        .iter()
        .rev()
        .filter_map(|path| {
            let text = SourceFile::read_text(path).ok()?;
            let mut documents = yaml::parse_documents(&SourceFile::new(path, text)).ok()?;
            let mut top = documents.drain(..).next()?;
            top.as_map_mut()?.remove("services")
        })
        .collect();
    let attribute_at = |services: &Node| {
        let mut node = services.as_map()?.get(service)?;
        let mut span = None;
        for name in attribute {
            let map = node.as_map()?;
            span = Some(map.key(name)?.span.clone());
            node = map.get(name)?;
        }
        span
    };
    services
        .iter()
        .find_map(|services| attribute_at(services).filter(|_| !attribute.is_empty()))
        .or_else(|| {
            services
                .iter()
                .find_map(|services| Some(services.as_map()?.key(service)?.span.clone()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_winning_file_is_pointed_at_else_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("compose.yaml");
        let over = dir.path().join("compose.override.yaml");
        std::fs::write(&base, "services:\n  web:\n    image: x\n    restart: no\n").unwrap();
        std::fs::write(&over, "services:\n  web:\n    restart: sometimes\n").unwrap();
        let files = [base.clone(), over.clone()];
        let at = |attribute: &[&str]| written_at(&files, "web", attribute).map(|s| s.to_string());
        assert_eq!(at(&["restart"]), Some(format!("{}:3:5", over.display())));
        assert_eq!(at(&["image"]), Some(format!("{}:3:5", base.display())));
        assert_eq!(
            at(&["x-wharf", "process"]),
            Some(format!("{}:2:3", over.display()))
        );
        assert!(written_at(&files, "db", &[]).is_none());
    }
}

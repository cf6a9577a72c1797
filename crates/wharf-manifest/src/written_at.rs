//! Where a service's attribute is written, found again after loading. The loader keeps
//! no positions past typing (a project of tens of thousands of services would pay for
//! them all), so a later check that refuses a value reads the files once more, on that
//! path only, to point at it.

use std::path::PathBuf;

use crate::node::Node;
use crate::source::{SourceFile, Span};
use crate::yaml;

/// Where the deepest part of `path` (`["services", "web", "restart"]`) that a file
/// writes is written, in the last of `files` that writes it (the one whose value
/// wins); `None` when none writes even its first key (a service from an `include` or
/// an `extends`).
pub fn written_at(files: &[PathBuf], path: &[&str]) -> Option<Span> {
    let tops: Vec<Node> = files
        .iter()
        .rev()
        .filter_map(|file| {
            let text = SourceFile::read_text(file).ok()?;
            yaml::parse_documents(&SourceFile::new(file, text))
                .ok()?
                .into_iter()
                .next()
        })
        .collect();
    let key_at = |top: &Node, path: &[&str]| {
        let (last, above) = path.split_last()?;
        let mut node = top;
        for name in above {
            node = node.as_map()?.get(name)?;
        }
        Some(node.as_map()?.key(last)?.span.clone())
    };
    (1..=path.len())
        .rev()
        .find_map(|depth| tops.iter().find_map(|top| key_at(top, &path[..depth])))
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
        let at = |attribute: &[&str]| {
            let path: Vec<&str> = ["services", "web"]
                .iter()
                .chain(attribute)
                .copied()
                .collect();
            written_at(&files, &path).map(|s| s.to_string())
        };
        assert_eq!(at(&["restart"]), Some(format!("{}:3:5", over.display())));
        assert_eq!(at(&["image"]), Some(format!("{}:3:5", base.display())));
        assert_eq!(
            at(&["x-wharf", "process"]),
            Some(format!("{}:2:3", over.display()))
        );
        assert_eq!(at(&[]), Some(format!("{}:2:3", over.display())));
        assert!(written_at(&files, &["volumes", "db"]).is_none());
    }
}

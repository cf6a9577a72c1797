//! Where a service's attribute is written, found again after loading. The loader keeps
//! no positions past typing (a project of tens of thousands of services would pay for
//! them all), so a later check that refuses a value reads the files once more, on that
//! path only, to point at it.

use std::path::PathBuf;

use crate::node::Node;
use crate::source::{FileRef, Location, SourceFile};
use crate::yaml;

/// The compose files as written, read again, last first: the one whose values win.
pub struct WrittenFiles {
    tops: Vec<Node>,
}

impl WrittenFiles {
    /// Reads and parses `files` once; one that cannot be read is left out.
    pub fn read(files: &[PathBuf]) -> Self {
        let tops = files
            .iter()
            .rev()
            .filter_map(|file| {
                let text = SourceFile::read_text(file).ok()?;
                yaml::parse_documents(&FileRef::new(file, text))
                    .ok()?
                    .into_iter()
                    .next()
            })
            .collect();
        Self { tops }
    }

    /// Where the deepest part of `path` (`["services", "web", "restart"]`) that a file
    /// writes is written, in the last file that writes it; `None` when none writes even
    /// its first key (a service from an `include` or an `extends`).
    pub fn at(&self, path: &[&str]) -> Option<Location> {
        let key_at = |top: &Node, path: &[&str]| {
            let (last, above) = path.split_last()?;
            let mut node = top;
            for name in above {
                node = node.as_map()?.get(name)?;
            }
            Location::of(&node.as_map()?.key(last)?.span)
        };
        (1..=path.len())
            .rev()
            .find_map(|depth| self.tops.iter().find_map(|top| key_at(top, &path[..depth])))
    }
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
        let written = WrittenFiles::read(&[base.clone(), over.clone()]);
        let at = |attribute: &[&str]| {
            let path: Vec<&str> = ["services", "web"]
                .iter()
                .chain(attribute)
                .copied()
                .collect();
            written.at(&path).map(|s| s.to_string())
        };
        assert_eq!(at(&["restart"]), Some(format!("{}:3:5", over.display())));
        assert_eq!(at(&["image"]), Some(format!("{}:3:5", base.display())));
        assert_eq!(
            at(&["x-wharf", "process"]),
            Some(format!("{}:2:3", over.display()))
        );
        assert_eq!(at(&[]), Some(format!("{}:2:3", over.display())));
        assert!(written.at(&["volumes", "db"]).is_none());
    }
}

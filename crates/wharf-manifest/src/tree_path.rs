//! Where a node sits in the tree (`services.web.ports[0]`). Passes build it on the
//! stack as they descend and format it only when an error needs it: building the
//! string for every node cost more than the rest of typing a large file.

use std::fmt;

#[derive(Clone, Copy, Debug)]
pub enum TreePath<'a> {
    /// The start of a walk; may carry the dotted path of the subtree walked.
    Root(&'a str),
    Key(&'a TreePath<'a>, &'a str),
    Index(&'a TreePath<'a>, usize),
}

impl TreePath<'_> {
    pub fn is_empty(&self) -> bool {
        matches!(self, TreePath::Root(""))
    }
}

impl fmt::Display for TreePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreePath::Root(text) => f.write_str(text),
            TreePath::Key(parent, key) if parent.is_empty() => f.write_str(key),
            TreePath::Key(parent, key) => write!(f, "{parent}.{key}"),
            TreePath::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TreePath;

    #[test]
    fn formats_dotted_with_indexes() {
        let root = TreePath::Root("");
        let services = TreePath::Key(&root, "services");
        let web = TreePath::Key(&services, "web");
        let port = TreePath::Index(&web, 0);
        assert_eq!(port.to_string(), "services.web[0]");
        let named = TreePath::Root("x-wharf");
        assert_eq!(
            TreePath::Key(&named, "domain").to_string(),
            "x-wharf.domain"
        );
    }
}

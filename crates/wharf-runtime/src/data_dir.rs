//! wharf's data tree on this machine: volumes, sockets and servers' own directories.

use std::path::Path;

/// Creates a directory of wharf's data tree (volumes, sockets) and its missing parents:
/// others may pass through (0711) but not list them, since a server that runs as its
/// own user must reach its directory, which it then owns, private.
pub fn create_data_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o711)
        .create(dir)
}

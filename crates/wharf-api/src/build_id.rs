//! Which build of wharf a process runs, so the CLI can tell a wharfd that another
//! build started: an upgrade replaces the binary, and the daemon runs the old one on.

use std::os::unix::fs::MetadataExt as _;

/// The running executable's size and modification time, read through
/// `/proc/self/exe`, which still names the old file after an upgrade replaced it;
/// empty when it cannot be read.
#[must_use]
pub fn build_id() -> String {
    std::fs::metadata("/proc/self/exe").map_or_else(
        |_| String::new(),
        |found| {
            format!(
                "{}-{}.{:09}",
                found.size(),
                found.mtime(),
                found.mtime_nsec()
            )
        },
    )
}

//! `-f oci://REGISTRY/REPOSITORY[:TAG]`: a project someone published, fetched into
//! wharf's data directory (one private directory per version, by manifest digest) and
//! read from there as Compose reads it: the compose files as one file of several
//! documents, the extended and env files beside it, relative paths resolved there.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wharf_api::Paths;
use wharf_registry::{Reference, fetch_project};

const SCHEME: &str = "oci://";

/// Whether `file` names a published project.
pub fn is_remote(file: &Path) -> bool {
    file.to_str().is_some_and(|f| f.starts_with(SCHEME))
}

/// The local compose file of the project `file` names, fetched if this version of it
/// is not here yet.
pub fn local_copy(paths: &Paths, file: &Path) -> anyhow::Result<PathBuf> {
    let text = file.to_string_lossy();
    let reference = Reference::parse(&text[SCHEME.len()..])?;
    let fetched = fetch_project(&reference)?;
    let versions = paths.data.join("oci");
    let dir = versions.join(fetched.digest.trim_start_matches("sha256:"));
    let compose = dir.join("compose.yaml");
    if compose.is_file() {
        return Ok(compose);
    }
    // Written beside, then renamed: a fetch cut short leaves no half project behind.
    let partial = versions.join(format!(".partial-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_dir_all(&partial);
        wharf_api::create_private_dir(&partial)?;
        wharf_api::write_private(&partial.join("compose.yaml"), &fetched.compose)?;
        for (name, data) in &fetched.files {
            wharf_api::write_private(&partial.join(name), data)?;
        }
        std::fs::rename(&partial, &dir)
    };
    write()
        .or_else(|err| {
            let _ = std::fs::remove_dir_all(&partial);
            // Another wharf fetched the same version meanwhile.
            if compose.is_file() { Ok(()) } else { Err(err) }
        })
        .with_context(|| format!("cannot keep {reference} in {}", dir.display()))?;
    Ok(compose)
}

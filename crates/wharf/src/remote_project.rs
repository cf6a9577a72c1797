//! `-f oci://REGISTRY/REPOSITORY[:TAG]` (and `include: [oci://…]`): a project someone
//! published, fetched into wharf's data directory (one private directory per version,
//! by manifest digest) and read from there as Compose reads it: the compose files as
//! one file of several documents, the extended and env files beside it, relative paths
//! resolved there.
//! When the registry cannot be reached, the version fetched last is used, with a
//! warning, so `ps` and `down` still work offline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use wharf_api::Paths;
use wharf_manifest::RemoteFiles;
use wharf_registry::{Reference, RegistryError, fetch_project};

use crate::printer::Printer;
use crate::settings::Settings;
use crate::sigpipe;

const SCHEME: &str = "oci://";

/// What the loader calls for `include: [oci://…]`: the same local copy, its warnings
/// said as the command's.
pub fn fetcher(settings: &Settings) -> RemoteFiles {
    let paths = settings.paths.clone();
    let (verbose, quiet) = (settings.global.verbose, settings.global.quiet);
    let (ansi, progress) = (settings.global.ansi, settings.global.progress);
    RemoteFiles(Arc::new(move |url| {
        let printer = Printer::with(verbose, quiet, ansi, progress);
        local_copy(&paths, &printer, Path::new(url)).map_err(|err| format!("{err:#}"))
    }))
}

/// Whether `file` names a published project.
pub fn is_remote(file: &Path) -> bool {
    file.to_str().is_some_and(|f| f.starts_with(SCHEME))
}

/// The local compose file of the project `file` names, fetched if this version of it
/// is not here yet.
pub fn local_copy(paths: &Paths, printer: &Printer, file: &Path) -> anyhow::Result<PathBuf> {
    let text = file.to_string_lossy();
    let reference = Reference::parse(&text[SCHEME.len()..])?;
    let versions = paths.data.join("oci");
    // The version last fetched for this reference, by the reference's own digest.
    let last = versions.join("last").join(
        wharf_registry::digest(reference.to_string().as_bytes()).trim_start_matches("sha256:"),
    );
    let fetched = match sigpipe::as_errors_while(|| fetch_project(&reference)) {
        Ok(fetched) => fetched,
        Err(err @ RegistryError::Unreachable { .. }) => {
            let kept = std::fs::read_to_string(&last)
                .ok()
                .map(|digest| versions.join(digest.trim()).join("compose.yaml"))
                .filter(|compose| compose.is_file());
            let Some(compose) = kept else {
                return Err(err.into());
            };
            printer.warn(&format!(
                "{err}; using the copy of {reference} fetched last"
            ));
            return Ok(compose);
        }
        Err(err) => return Err(err.into()),
    };
    let hex = fetched.digest.trim_start_matches("sha256:");
    let dir = versions.join(hex);
    let compose = dir.join("compose.yaml");
    let remember = || -> std::io::Result<()> {
        wharf_api::create_private_dir(&versions.join("last"))?;
        wharf_api::write_private(&last, hex.as_bytes())
    };
    if compose.is_file() {
        remember().with_context(|| format!("cannot write {}", last.display()))?;
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
    remember().with_context(|| format!("cannot write {}", last.display()))?;
    Ok(compose)
}

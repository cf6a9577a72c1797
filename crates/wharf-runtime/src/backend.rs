//! Which services run as containers: `--backend`, `x-wharf.backend` per service, and
//! for `auto`, whether a Docker engine answers and has the service's image, or no
//! native way runs it.

use std::collections::{BTreeMap, BTreeSet};

use wharf_engine::BlockingEngine;
use wharf_manifest::Loaded;
use wharf_model::x_wharf::Backend;

/// Where services run unless their `x-wharf.backend` says otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// Docker when an engine answers and the service has no `x-wharf.process` of its
    /// own, and the engine has (or builds) the image or wharf knows no native way to
    /// run it (the engine then pulls it); else native
    #[default]
    Auto,
    /// Native processes
    Process,
    /// Containers of the Docker engine
    Docker,
}

/// The engine when one answers (`auto` probes it once).
pub fn engine() -> Option<BlockingEngine> {
    BlockingEngine::connect().ok()
}

/// Whether the engine has `image`. An engine that cannot say counts it as present,
/// so the error surfaces where the image is used, with the engine's words.
pub fn has_image(engine: &BlockingEngine, image: &str) -> bool {
    engine
        .inspect_image(image)
        .map_or(true, |found| found.is_some())
}

/// The services that run as containers.
pub fn containers(loaded: &Loaded, choice: BackendChoice) -> BTreeSet<String> {
    let mut engine = None;
    let mut probed = false;
    // Services sharing an image ask the engine about it once: a stack of 400 services
    // of one image is one question, not 400.
    let mut present: BTreeMap<&str, bool> = BTreeMap::new();
    let mut chosen = BTreeSet::new();
    for (name, service) in &loaded.project.services {
        let wanted = match (service.wharf.backend, choice) {
            (Backend::Process, _) => BackendChoice::Process,
            (Backend::Docker, _) => BackendChoice::Docker,
            (Backend::Auto, choice) => choice,
        };
        let container = match wanted {
            BackendChoice::Process => false,
            BackendChoice::Docker => true,
            // Its own native command, written for wharf: run natively.
            BackendChoice::Auto if service.wharf.process.is_some() => false,
            BackendChoice::Auto => {
                if !probed {
                    engine = self::engine();
                    probed = true;
                }
                engine.as_ref().is_some_and(|engine| {
                    service.build.is_some()
                        || !crate::lowering::has_native_way(service)
                        || *present
                            .entry(service.image.as_str())
                            .or_insert_with(|| has_image(engine, &service.image))
                })
            }
        };
        if container {
            chosen.insert(name.clone());
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service built from a Dockerfile runs in Docker under auto, unless the file
    /// says how to run it natively: then that, engine or not.
    #[test]
    fn auto_runs_natively_what_says_how() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("compose.yaml"),
            "services:\n  web:\n    build: .\n    x-wharf: {process: {command: [python3, app.py]}}\n",
        )
        .unwrap();
        let options = wharf_manifest::LoadOptions {
            working_dir: dir.path().to_path_buf(),
            interpolate: true,
            ..Default::default()
        };
        let loaded = wharf_manifest::load(&options).unwrap();
        assert!(containers(&loaded, BackendChoice::Auto).is_empty());
        assert!(containers(&loaded, BackendChoice::Docker).contains("web"));
    }
}

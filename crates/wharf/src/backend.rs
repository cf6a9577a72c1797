//! Which services run as containers: `--backend`, `x-wharf.backend` per service, and
//! for `auto`, whether a Docker engine answers and can run the service's image now.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::ValueEnum;
use wharf_api::{Client, ClientError};
use wharf_manifest::Loaded;
use wharf_model::x_wharf::Backend;

use crate::engine_diagnosis::EngineProblem;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// Docker when an engine answers and has (or builds) the image; else native
    #[default]
    Auto,
    /// Native processes
    Process,
    /// Containers of the Docker engine
    Docker,
}

/// The engine's socket: `DOCKER_HOST` (`unix://…`), else Docker's default, else
/// Podman's Docker-compatible one; or why there is none to try.
pub fn engine_socket() -> Result<PathBuf, EngineProblem> {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        let path = PathBuf::from(
            host.strip_prefix("unix://")
                .ok_or_else(|| EngineProblem::UnsupportedHost(host.clone()))?,
        );
        return if path.exists() {
            Ok(path)
        } else {
            Err(EngineProblem::HostMissing(path))
        };
    }
    let podman =
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("podman/podman.sock"));
    [Some(PathBuf::from("/var/run/docker.sock")), podman]
        .into_iter()
        .flatten()
        .find(|socket| socket.exists())
        .ok_or(EngineProblem::NoSocket)
}

/// A client of the engine when one answers.
pub fn engine() -> Option<Client> {
    let client = Client::new(engine_socket().ok()?);
    client
        .get::<serde_json::Value>("/version")
        .ok()
        .map(|_| client)
}

/// The engine's description of `image` (`/images/{image}/json`); `None` when it has
/// no such image. An odd answer counts as present, with nothing known of it.
pub fn inspect_image(engine: &Client, image: &str) -> Option<serde_json::Value> {
    match engine.get::<serde_json::Value>(&format!("/images/{image}/json")) {
        Ok(found) => Some(found),
        Err(ClientError::Api { status: 404, .. } | ClientError::Connect { .. }) => None,
        Err(_) => Some(serde_json::Value::Null),
    }
}

/// Whether the engine has `image`.
pub fn has_image(engine: &Client, image: &str) -> bool {
    inspect_image(engine, image).is_some()
}

/// The services that run as containers.
pub fn containers(loaded: &Loaded, choice: BackendChoice) -> BTreeSet<String> {
    let mut engine = None;
    let mut probed = false;
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
            BackendChoice::Auto => {
                if !probed {
                    engine = self::engine();
                    probed = true;
                }
                engine.as_ref().is_some_and(|engine| {
                    service.build.is_some() || has_image(engine, &service.image)
                })
            }
        };
        if container {
            chosen.insert(name.clone());
        }
    }
    chosen
}

//! Which services run as containers: `--backend`, `x-wharf.backend` per service, and
//! for `auto`, whether a Docker engine answers and can run the service's image now.

use std::collections::BTreeSet;
use std::path::PathBuf;

use clap::ValueEnum;
use wharf_api::{Client, ClientError};
use wharf_manifest::Loaded;
use wharf_model::x_wharf::Backend;

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
/// Podman's Docker-compatible one.
pub fn engine_socket() -> Option<PathBuf> {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        return host.strip_prefix("unix://").map(PathBuf::from);
    }
    let podman =
        std::env::var_os("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("podman/podman.sock"));
    [Some(PathBuf::from("/var/run/docker.sock")), podman]
        .into_iter()
        .flatten()
        .find(|socket| socket.exists())
}

/// A client of the engine when one answers.
pub fn engine() -> Option<Client> {
    let client = Client::new(engine_socket()?);
    client
        .get::<serde_json::Value>("/version")
        .ok()
        .map(|_| client)
}

/// Whether the engine has `image`.
pub fn has_image(engine: &Client, image: &str) -> bool {
    !matches!(
        engine.get::<serde_json::Value>(&format!("/images/{image}/json")),
        Err(ClientError::Api { status: 404, .. } | ClientError::Connect { .. })
    )
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

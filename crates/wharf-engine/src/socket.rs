//! Where the engine's API socket is: `DOCKER_HOST` (`unix://…`) when set, else
//! Docker's default socket, else Podman's Docker-compatible one, rootful then
//! rootless. The daemon and the CLI both ask here, so they always agree.

use std::path::PathBuf;

use crate::diagnosis::EngineProblem;

/// The sockets tried, in order, when `DOCKER_HOST` is not set.
pub fn candidates() -> Vec<PathBuf> {
    let rootless = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|dir| PathBuf::from(dir).join("podman/podman.sock"));
    [
        Some(PathBuf::from("/var/run/docker.sock")),
        Some(PathBuf::from("/run/podman/podman.sock")),
        rootless,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The engine's socket, or why there is none to try.
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
    candidates()
        .into_iter()
        .find(|socket| socket.exists())
        .ok_or(EngineProblem::NoSocket)
}

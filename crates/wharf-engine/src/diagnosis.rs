//! Why no Docker engine answers, in words that say what to do: `DOCKER_HOST` pointing
//! nowhere, no engine installed, a daemon that is not running, a socket this user may
//! not open. Each problem carries its fix.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineProblem {
    #[error("DOCKER_HOST is {0}, which wharf cannot use: it speaks to engines on a unix socket")]
    UnsupportedHost(String),
    #[error("DOCKER_HOST points at {}, which does not exist", .0.display())]
    HostMissing(PathBuf),
    #[error(
        "no Docker engine is installed or running: no socket at /var/run/docker.sock or Podman's"
    )]
    NoSocket,
    #[error("the Docker daemon is not running: {} refuses connections", .0.display())]
    NotRunning(PathBuf),
    #[error("this user may not use the Docker engine: permission denied on {}", .0.display())]
    Permission(PathBuf),
    #[error("the Docker engine at {} does not answer: {why}", socket.display())]
    NotAnswering { socket: PathBuf, why: String },
}

impl EngineProblem {
    /// What to do about it.
    pub fn fix(&self) -> String {
        match self {
            Self::UnsupportedHost(_) | Self::HostMissing(_) => {
                "unset DOCKER_HOST, or set it to the engine's socket (unix:///var/run/docker.sock)"
                    .to_owned()
            }
            Self::NoSocket => "install and start an engine (Debian: apt-get install docker.io; \
                 systemctl start docker), or run services natively (--backend process)"
                .to_owned(),
            Self::NotRunning(_) => {
                "start it: systemctl start docker (or run dockerd), then try again".to_owned()
            }
            Self::Permission(socket) => format!(
                "add yourself to the socket's group (usermod -aG docker $USER) and log in again, \
                 or ask who owns {} to let you use it",
                socket.display()
            ),
            Self::NotAnswering { .. } => "restart the engine (systemctl restart docker)".to_owned(),
        }
    }
}

/// What is wrong with a socket that does not answer, from the error of connecting.
pub fn classify(socket: PathBuf, err: &io::Error) -> EngineProblem {
    match err.kind() {
        io::ErrorKind::PermissionDenied => EngineProblem::Permission(socket),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
            EngineProblem::NotRunning(socket)
        }
        _ => EngineProblem::NotAnswering {
            socket,
            why: err.to_string(),
        },
    }
}

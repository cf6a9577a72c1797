//! wharf's one adapter to a container engine: where its socket is and what is wrong
//! when none answers (`socket`, `diagnosis`), the engine's API for the daemon
//! (`engine`), and a blocking front for the CLI's short questions (`blocking`).

mod attach;
mod blocking;
mod build_context;
mod compose_projects;
mod container_events;
mod container_image;
mod copy;
mod diagnosis;
mod dockerignore;
mod engine;
mod exit_wait;
mod images;
mod registry_auth;
mod socket;

pub use attach::{AttachRequest, ExecRequest, OneOff, ProjectResources, WindowSize};
pub use blocking::BlockingEngine;
pub use build_context::{BuildContext, Dockerfile};
pub use container_image::CommitRequest;
pub use copy::{archive, owned_by_root, rename_top, top_link};
pub use diagnosis::EngineProblem;
pub use engine::{
    COMPOSE_STOP_GRACE, ContainerProcesses, ContainerState, Engine, EngineError, LogTime,
    ProjectContainer, ProjectVolume, host_names,
};
pub use images::BuildRequest;
pub use socket::engine_socket;

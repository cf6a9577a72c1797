//! What wharf runs for a project, in which order, and what changed since last time.
//!
//! A [`ProjectSpec`] is the runnable form of a project: every service reduced to a
//! command, an environment, ports, probes and policies, whichever way it was defined
//! (an `x-wharf.process` section or a native recipe). Pure data and pure functions:
//! no IO, so the daemon, the CLI and tests share the same decisions.

mod container;
mod diff;
mod graph;
mod spec;

pub use container::{
    ContainerFile, ContainerPort, ContainerSpec, EngineHealthcheck, EngineResource, HostSettings,
    IpamPool, Mount, NetworkIpam,
};
pub use diff::{Change, ChangeReason, diff};
pub use graph::{GraphError, start_order, stop_levels, with_dependencies, with_restart_dependents};
pub use spec::{
    Condition, Dependency, HealthSpec, HookSpec, PortSpec, Probe, ProjectSpec, Protocol,
    RestartPolicy, RouteSpec, ServiceSpec,
};

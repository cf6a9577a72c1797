//! Request and response bodies of the control API (see `docs/api.md`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use wharf_plan::{PortSpec, ProjectSpec};

/// `GET /v1/status`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub version: String,
    /// Which build of wharf runs the daemon (see `build_id`); empty from a daemon
    /// older than the field.
    #[serde(default)]
    pub build: String,
    pub pid: u32,
    pub uptime_ms: u64,
    pub socket: PathBuf,
    pub projects: Vec<ProjectSummary>,
    /// Stopping every service before it exits (`daemon stop`).
    #[serde(default)]
    pub stopping: bool,
}

/// `GET /v1/projects`: one row of `wharf ls`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectSummary {
    pub name: String,
    /// `running(3)`, `running(2), exited(1)`, …
    pub status: String,
    pub config_files: Vec<PathBuf>,
}

/// `POST /v1/projects/{name}/up`
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpRequest {
    pub spec: ProjectSpec,
    /// Start only these (and, unless `no_deps`, what they depend on); empty means all.
    pub services: Vec<String>,
    pub no_deps: bool,
    pub force_recreate: bool,
    /// Services the file defines whose profiles are off: what runs of them is left as
    /// it is, as Compose leaves them (a service no longer in the file is removed).
    #[serde(default)]
    pub dormant: Vec<String>,
    /// Seconds before SIGKILL when recreating, instead of each service's
    /// `stop_grace_period`.
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// Leave what runs as it is, even where the file changed it (it is recreated by a
    /// later `up` without this).
    #[serde(default)]
    pub no_recreate: bool,
    /// Recreate what the named services depend on even where unchanged
    /// (`--always-recreate-deps`); `force_recreate` forces only the named ones.
    #[serde(default)]
    pub recreate_dependencies: bool,
    /// What becomes of the services the project ran and the file no longer has.
    #[serde(default)]
    pub orphans: Orphans,
}

/// The services a project ran that its file no longer has (another file's, with the
/// same project name, or ones removed or renamed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Orphans {
    /// Stopped and removed (`--remove-orphans`; what a client from before this field
    /// asked for).
    #[default]
    Remove,
    /// Left as they are, and named in a note, as Compose's `up` warns of them.
    Keep,
    /// Left as they are, unnamed (`COMPOSE_IGNORE_ORPHANS`).
    KeepQuietly,
}

impl Orphans {
    /// The note of a `command` (`up`, `run`) that leaves `services` as they are.
    pub fn left_note(services: &[&str], command: &str) -> String {
        let (verb, left, object) = if services.len() == 1 {
            ("is", "it is", "it")
        } else {
            ("are", "they are", "them")
        };
        format!(
            "{} {verb} in this project but not in the file: left as {left} \
             (`{command} --remove-orphans` removes {object})",
            services.join(", "),
        )
    }

    /// The note of a command that removed the containers of `services`.
    pub fn removed_note(services: &[&str]) -> String {
        format!(
            "removed the containers of {}, not in the file (--remove-orphans)",
            services.join(", ")
        )
    }
}

/// What a request of `up`'s shape asks for; each has its own endpoint, so a daemon
/// older than the mode answers 404 instead of starting what it was not asked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpMode {
    /// `up`: make and start.
    Start,
    /// `create`, `up --no-start`: make what is missing (containers), start nothing.
    Create,
    /// `--dry-run` of `up`: say what would change, change nothing.
    PlanStart,
    /// `--dry-run` of `create`.
    PlanCreate,
}

impl UpMode {
    pub const ALL: [Self; 4] = [Self::Start, Self::Create, Self::PlanStart, Self::PlanCreate];

    /// The action in `/v1/projects/{name}/{action}`.
    pub fn action(self) -> &'static str {
        match self {
            Self::Start => "up",
            Self::Create => "create",
            Self::PlanStart => "plan-up",
            Self::PlanCreate => "plan-create",
        }
    }

    pub fn starts(self) -> bool {
        matches!(self, Self::Start | Self::PlanStart)
    }

    pub fn is_plan(self) -> bool {
        matches!(self, Self::PlanStart | Self::PlanCreate)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpResponse {
    pub changes: Vec<ServiceChange>,
    /// What the user should know of what this `up` stopped (a container that ignored
    /// its stop signal), said by this command and no later one.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// What `up` did to one service, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChange {
    pub service: String,
    pub action: ChangeAction,
    pub reason: String,
    /// Recreated on the other backend (a container now a process, or the reverse):
    /// its named volumes are other places now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moved_backend: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Create,
    Recreate,
    Scale,
    Remove,
    Start,
    Keep,
}

/// `POST /v1/projects/{name}/{start,stop,restart,kill}`; empty `services` means all.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServicesRequest {
    pub services: Vec<String>,
    /// For `kill`: the signal name (default `SIGKILL`).
    pub signal: Option<String>,
    /// For `kill`: SIGKILL every process group now, even while another operation (a
    /// graceful stop) is under way — the second Ctrl-C.
    #[serde(default)]
    pub force: bool,
    /// For `stop` and `restart`: seconds before SIGKILL, instead of each service's
    /// `stop_grace_period`.
    #[serde(default)]
    pub timeout_s: Option<u64>,
    /// For `restart`: only the named services, not their dependents that ask to be
    /// restarted with them.
    #[serde(default)]
    pub no_deps: bool,
    /// For `rm`: also the anonymous volumes of the containers removed.
    #[serde(default)]
    pub volumes: bool,
}

/// `POST /v1/projects/{name}/down`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DownRequest {
    /// Also delete the project's named volumes (the CLI has asked the user).
    pub volumes: bool,
    /// Seconds before SIGKILL, instead of each service's `stop_grace_period`.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DownResponse {
    pub stopped: Vec<String>,
    /// Directories of native volumes, and names of engine volumes.
    pub deleted_volumes: Vec<String>,
    /// What the user should know, such as a service that had to be killed.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// `GET /v1/projects/{name}/ps`: one row per instance (service replica).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub service: String,
    pub replica: u32,
    /// `<project>-<service>-<replica>`, as Compose names containers.
    pub name: String,
    /// `process` or `docker`.
    #[serde(default)]
    pub backend: String,
    /// The engine's id of its container; empty for a native instance.
    #[serde(default)]
    pub container_id: String,
    pub state: InstanceState,
    pub health: Health,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub restarts: u32,
    pub ports: Vec<PortSpec>,
    /// Milliseconds since the Unix epoch when the current process started.
    pub started_at_ms: Option<u64>,
    /// When its last run ended, while it is not running: `Exited (0) 2 seconds ago`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<u64>,
    /// Where a native instance's process listens, as last looked (shortly after it
    /// starts, and again as it settles); empty for containers.
    #[serde(default)]
    pub listening: Vec<std::net::SocketAddr>,
    /// Why it is in this state, when that needs saying (a crash loop, a missing binary).
    pub message: String,
    /// Running, but paused (`wharf pause`): its processes stopped until `unpause`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// A `run` container, not one of its service's instances (`ps -a` lists them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_off: bool,
    /// What the engine lists of a container wharfd does not run (another tool's, or a
    /// `run` container); wharfd's own instances have their spec instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<Box<ListedContainer>>,
    /// A running container's ports as the engine lists them (`ps --format json` shows
    /// them so); `ports` has one entry a published port. Empty for a native instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engine_ports: Vec<EnginePort>,
}

/// A container's port as the engine lists it: one entry a binding (a port bound on
/// `0.0.0.0` and `::` is two), and one with no binding for a port only exposed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnginePort {
    /// The host address; empty for a port only exposed.
    pub ip: String,
    pub target: u16,
    /// The host port; 0 for a port only exposed.
    pub published: u16,
    pub protocol: String,
}

/// A container as `docker ps` shows it, for `ps --format json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedContainer {
    pub image: String,
    /// What runs, whole: the words joined, one with white space in single quotes.
    pub command: String,
    /// `key=value`.
    pub labels: Vec<String>,
    /// A volume by its name, a bind mount by its path.
    pub mounts: Vec<String>,
    /// How many of its mounts are volumes.
    pub local_volumes: usize,
    pub networks: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Made but never started (`create`, `up --no-start`): a container that exists,
    /// or a process that `start` will run.
    Created,
    /// Waiting for its dependencies.
    Waiting,
    Running,
    /// Asked to stop and finishing what it was doing: the proxy sends it nothing new.
    Stopping,
    /// Exited; waiting out a backoff before the next start.
    Restarting,
    /// Restarted too often too fast (five exits within a minute): still retried, the
    /// wait between tries doubling up to 30 s, until it runs or is stopped.
    CrashLoop,
    Exited,
    Stopped,
}

impl InstanceStatus {
    /// A new instance of `service`: waiting, with nothing run, published or said yet.
    pub fn new(service: &str, replica: u32, name: String, backend: &str) -> Self {
        Self {
            service: service.to_owned(),
            replica,
            name,
            backend: backend.to_owned(),
            container_id: String::new(),
            state: InstanceState::Waiting,
            health: Health::None,
            pid: None,
            exit_code: None,
            restarts: 0,
            ports: Vec::new(),
            started_at_ms: None,
            finished_at_ms: None,
            listening: Vec::new(),
            message: String::new(),
            paused: false,
            one_off: false,
            listed: None,
            engine_ports: Vec::new(),
        }
    }

    /// Whether its ports are published now: while it runs (a process that ended, or
    /// one not started yet, holds none; the engine lists none for such a container).
    pub fn publishes(&self) -> bool {
        matches!(self.state, InstanceState::Running | InstanceState::Stopping)
    }

    /// Ended without ever having run: its dependency failed, or its program, image or
    /// port was not there.
    pub fn never_ran(&self) -> bool {
        self.state == InstanceState::Exited && self.started_at_ms.is_none()
    }
}

impl InstanceState {
    /// Whether it runs or will run again by itself: a crash loop is still retried.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Self::Waiting | Self::Running | Self::Stopping | Self::Restarting | Self::CrashLoop
        )
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No healthcheck.
    #[default]
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// One line of `GET /v1/projects/{name}/logs` (newline-delimited JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub service: String,
    pub replica: u32,
    pub stream: LogStream,
    pub time_ms: u64,
    pub line: String,
}

/// How wharf's note of an instance's end begins (`exited with code 3`): the CLI shows
/// such a note as Compose shows an end, on a line of its own.
pub const EXIT_NOTE: &str = "exited with code";

/// wharf's note of an end with `code` (its text: `3`, `unknown`).
pub fn exit_note(code: impl std::fmt::Display) -> String {
    format!("{EXIT_NOTE} {code}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// What wharf itself says about the service (started, exited, restarting).
    Wharf,
}

/// The body of every error response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `GET /v1/projects/{name}/urls`: one row of `wharf urls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteInfo {
    pub url: String,
    pub service: String,
    /// The port inside the service.
    pub port: u16,
    /// Ready instances, as host addresses.
    pub backends: Vec<String>,
    /// Instances not ready yet.
    pub waiting: usize,
}

/// One line of `GET /v1/events` (newline-delimited JSON): something that changed in
/// wharfd. A stream opens with the current instances and a `live` line (`seq` 0),
/// then follows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Counts up from 1 over the daemon's life; 0 for the opening snapshot.
    pub seq: u64,
    /// When it happened, UTC (`2026-12-01T05:49:57.123Z`).
    pub time: String,
    pub project: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// An instance appeared, or its state, health, process, exit code, restart count,
    /// ports or message changed.
    Instance { instance: Box<InstanceStatus> },
    /// An instance is gone: scaled down, removed from the file, or the project went down.
    Removed {
        service: String,
        replica: u32,
        name: String,
    },
    /// What the project should run changed: `up`, `start`, `stop`, `kill`, `down`,
    /// for these services (all of the project's when empty).
    Project {
        action: String,
        #[serde(default)]
        services: Vec<String>,
    },
    /// The proxy's routes of the project changed; these are its URLs now.
    Routes { urls: Vec<String> },
    /// The opening snapshot is complete: what follows happens as it is sent.
    Live,
}

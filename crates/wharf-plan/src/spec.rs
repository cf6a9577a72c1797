//! The runnable form of a project, sent by the CLI to wharfd and persisted there as the
//! desired state. Every field is plain data so it round-trips through JSON exactly.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::container::{ContainerSpec, EngineResource};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    pub name: String,
    /// The project directory: relative paths in services were resolved against it.
    pub working_dir: PathBuf,
    pub config_files: Vec<PathBuf>,
    pub services: BTreeMap<String, ServiceSpec>,
    /// Engine networks and volumes, by their keys in the file (for containers only).
    #[serde(default)]
    pub networks: BTreeMap<String, EngineResource>,
    #[serde(default)]
    pub volumes: BTreeMap<String, EngineResource>,
    /// The project's domain in the proxy (`x-wharf.domain`, else `<project>.localhost`).
    #[serde(default)]
    pub domain: String,
    /// `x-wharf.proxy.routes`.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

/// A proxy route of the file: a host, a path prefix, or both, to a service's port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSpec {
    pub host: Option<String>,
    pub path: Option<String>,
    pub service: String,
    /// The service's port (inside it); its first one when not given.
    pub port: Option<u16>,
    /// Spread requests to the replica with the fewest in flight, not in turn.
    #[serde(default)]
    pub least_connections: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// argv; the program is looked up on `search_path`.
    pub command: Vec<String>,
    pub working_dir: PathBuf,
    pub environment: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub depends_on: BTreeMap<String, Dependency>,
    pub healthcheck: Option<HealthSpec>,
    pub restart: RestartPolicy,
    pub replicas: u32,
    /// A signal name such as `SIGTERM`; for a container, empty means its image's.
    pub stop_signal: String,
    /// As the file sets it; `stop_grace` says how long a stop waits.
    pub stop_grace_period: Option<Duration>,
    /// Where the service came from, for messages (`x-wharf.process`, `recipe postgres 15`).
    pub origin: String,
    /// Set when the service runs as a container of the Docker engine; the fields
    /// above that describe a process (`command`, `working_dir`) are then unused.
    #[serde(default)]
    pub container: Option<Box<ContainerSpec>>,
    /// Where its programs (and its healthcheck's) are found when its environment sets
    /// no `PATH`: the `PATH` of the shell that ran `up`, not that of whichever shell
    /// started the daemon. A new one is not a change that recreates the service.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub search_path: String,
    /// Its ports (targets) that speak something else than HTTP (PostgreSQL's, Redis's):
    /// the proxy gives them no route. Not a change that recreates the service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_http: Vec<u16>,
    /// Run after each start, in order, before the instance counts as started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<HookSpec>,
    /// Run before each stop that wharf asks for, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<HookSpec>,
    /// Its instances named as Compose v1 named containers (`project_service_1`,
    /// `--compatibility`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub v1_names: bool,
}

/// A lifecycle hook (`post_start`, `pre_stop`): a command run in the service's
/// container, or natively beside its process with its environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    pub command: Vec<String>,
    /// Another user to run it as (`user`, `user:group` or ids); the service's if empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// Where it runs; the service's working directory if empty (natively, a relative
    /// one is under it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Added to the service's environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
}

impl ServiceSpec {
    /// How long a stop waits before SIGKILL: Compose's 10 s unless the file says.
    #[must_use]
    pub fn stop_grace(&self) -> Duration {
        self.stop_grace_period.unwrap_or(Duration::from_secs(10))
    }

    /// Replica `replica`'s name: the file's `container_name` when it gives one, else
    /// `<project>-<service>-<n>` as Compose names containers.
    #[must_use]
    pub fn instance_name(&self, project: &str, service: &str, replica: u32) -> String {
        match &self.container {
            Some(container) if !container.container_name.is_empty() => {
                container.container_name.clone()
            }
            _ => {
                let sep = self.name_separator();
                format!("{project}{sep}{service}{sep}{replica}")
            }
        }
    }

    /// What joins the parts of the names wharf gives its instances and one-offs.
    #[must_use]
    pub fn name_separator(&self) -> char {
        if self.v1_names { '_' } else { '-' }
    }

    /// The environment its processes get: its own, with `PATH` from `search_path`
    /// unless it sets one.
    #[must_use]
    pub fn process_environment(&self) -> BTreeMap<String, String> {
        let mut environment = self.environment.clone();
        if !self.search_path.is_empty() {
            environment
                .entry("PATH".to_owned())
                .or_insert_with(|| self.search_path.clone());
        }
        environment
    }

    /// What replica `replica` (from 1) runs: `WHARF_REPLICA` set, and with several
    /// replicas each listening on its own host ports (the published ones shifted by
    /// `replica - 1`), the first of them given in `PORT`.
    #[must_use]
    pub fn for_replica(&self, replica: u32) -> ServiceSpec {
        let mut spec = self.clone();
        // Containers each have their own network: the engine maps their ports.
        if spec.container.is_some() {
            return spec;
        }
        spec.environment
            .insert("WHARF_REPLICA".to_owned(), replica.to_string());
        if self.replicas > 1 {
            let offset = u16::try_from(replica.saturating_sub(1)).unwrap_or(u16::MAX);
            for port in &mut spec.ports {
                port.published = port.published.saturating_add(offset);
            }
            if let Some(first) = spec.ports.first() {
                spec.environment
                    .insert("PORT".to_owned(), first.published.to_string());
            }
        }
        spec
    }
}

/// A port the service listens on (`target`) and the host port that reaches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortSpec {
    pub target: u16,
    pub published: u16,
    /// The host address the engine bound it to (`0.0.0.0`: every interface); `None`
    /// for loopback, where wharf publishes what it runs natively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<std::net::IpAddr>,
    /// Only a TCP port is waited on, routed and checked for a holder.
    #[serde(default, skip_serializing_if = "Protocol::is_tcp")]
    pub protocol: Protocol,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// `tcp`, `udp` or `sctp`, as Compose writes it; anything else is TCP.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "udp" => Self::Udp,
            "sctp" => Self::Sctp,
            _ => Self::Tcp,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }

    #[allow(clippy::trivially_copy_pass_by_ref)] // serde passes fields by reference
    #[must_use]
    pub fn is_tcp(&self) -> bool {
        *self == Self::Tcp
    }
}

impl PortSpec {
    /// `127.0.0.1:8080`, or where the engine bound it (`0.0.0.0:8080`).
    pub fn address(&self) -> String {
        match self.host {
            Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", self.published),
            Some(ip) => format!("{ip}:{}", self.published),
            None => format!("127.0.0.1:{}", self.published),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub condition: Condition,
    pub required: bool,
    /// Restart this service when the dependency is restarted.
    pub restart: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthSpec {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
    pub start_interval: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// `CMD`: run this argv.
    Exec(Vec<String>),
    /// `CMD-SHELL`: run this through `/bin/sh -c`, as Compose means it.
    Shell(String),
    /// `x-wharf.ready`, natively: this host port accepts a connection…
    Tcp(u16),
    /// …this path on this host port answers 2xx or 3xx…
    Http { port: u16, path: String },
    /// …or the service has printed a line holding this text since it started.
    Log(String),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    /// Restart after a non-zero exit, at most this many times when given.
    OnFailure(Option<u32>),
    UnlessStopped,
}

impl RestartPolicy {
    /// Parses Compose's `restart:` value (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "no" => Some(Self::No),
            "always" => Some(Self::Always),
            "unless-stopped" => Some(Self::UnlessStopped),
            "on-failure" => Some(Self::OnFailure(None)),
            other => other
                .strip_prefix("on-failure:")
                .and_then(|n| n.parse().ok())
                .map(|n| Self::OnFailure(Some(n))),
        }
    }

    /// Whether a process that exited with `code` after `restarts` restarts comes back.
    pub fn restarts_after(self, code: Option<i32>, restarts: u32) -> bool {
        match self {
            Self::No => false,
            Self::Always | Self::UnlessStopped => true,
            Self::OnFailure(limit) => code != Some(0) && limit.is_none_or(|n| restarts < n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_like_compose() {
        assert_eq!(RestartPolicy::parse("no"), Some(RestartPolicy::No));
        assert_eq!(
            RestartPolicy::parse("on-failure:3"),
            Some(RestartPolicy::OnFailure(Some(3)))
        );
        assert_eq!(
            RestartPolicy::parse("on-failure"),
            Some(RestartPolicy::OnFailure(None))
        );
        assert_eq!(RestartPolicy::parse("sometimes"), None);
    }

    #[test]
    fn on_failure_stops_after_its_limit_and_on_success() {
        let policy = RestartPolicy::OnFailure(Some(2));
        assert!(policy.restarts_after(Some(1), 0));
        assert!(policy.restarts_after(None, 1));
        assert!(!policy.restarts_after(Some(1), 2));
        assert!(!policy.restarts_after(Some(0), 0));
        assert!(RestartPolicy::Always.restarts_after(Some(0), 100));
        assert!(!RestartPolicy::No.restarts_after(Some(1), 0));
    }

    #[test]
    fn replicas_get_their_own_ports() {
        let spec = ServiceSpec {
            replicas: 2,
            ports: vec![PortSpec {
                target: 8000,
                published: 8000,
                host: None,
                ..Default::default()
            }],
            ..ServiceSpec::default()
        };
        let second = spec.for_replica(2);
        assert_eq!(second.ports[0].published, 8001);
        assert_eq!(second.environment["PORT"], "8001");
        assert_eq!(second.environment["WHARF_REPLICA"], "2");
        let single = ServiceSpec {
            replicas: 1,
            ..spec
        };
        assert!(!single.for_replica(1).environment.contains_key("PORT"));
    }

    #[test]
    fn specs_round_trip_through_json() {
        let mut spec = ProjectSpec {
            name: "p".into(),
            ..ProjectSpec::default()
        };
        spec.services.insert(
            "web".into(),
            ServiceSpec {
                command: vec!["python3".into()],
                healthcheck: Some(HealthSpec {
                    probe: Probe::Shell("true".into()),
                    interval: Duration::from_millis(1500),
                    timeout: Duration::from_secs(30),
                    retries: 3,
                    start_period: Duration::ZERO,
                    start_interval: Duration::from_secs(5),
                }),
                restart: RestartPolicy::OnFailure(Some(2)),
                ..ServiceSpec::default()
            },
        );
        let text = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<ProjectSpec>(&text).unwrap(), spec);
    }
}

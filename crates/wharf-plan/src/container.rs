//! The container form of a service: what the Docker engine is asked to create, named
//! and labelled as Docker Compose names and labels it, so either tool recognizes the
//! other's containers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub image: String,
    /// `None`: the image's own.
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    /// `KEY=value` pairs.
    pub environment: Vec<String>,
    /// Inside the container; empty means the image's.
    pub working_dir: String,
    pub user: String,
    pub init: Option<bool>,
    /// Keep standard input open for `attach` (`stdin_open`), and give it a terminal
    /// (`tty`).
    #[serde(default)]
    pub stdin_open: bool,
    #[serde(default)]
    pub tty: bool,
    pub hostname: String,
    /// Set when the file names the container; replicas are then impossible.
    pub container_name: String,
    pub mounts: Vec<Mount>,
    /// Engine network name → aliases (the service name first, as Compose adds it).
    pub networks: BTreeMap<String, Vec<String>>,
    pub ports: Vec<ContainerPort>,
    pub expose: Vec<String>,
    /// The service's own labels and Compose's `com.docker.compose.*` ones, except the
    /// per-container `container-number` and `image`, which the daemon adds.
    pub labels: BTreeMap<String, String>,
    /// `host:address` pairs.
    pub extra_hosts: Vec<String>,
    /// In a stack that mixes backends, the native services it reaches by name: each
    /// gets a host entry for the network's gateway when it is created, so a change in
    /// them recreates it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub native_hosts: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub tmpfs: Vec<String>,
    pub privileged: bool,
    pub read_only: bool,
    /// The engine's healthcheck: Compose's `test` and timings.
    pub healthcheck: Option<EngineHealthcheck>,
    /// `no`, `always`, `on-failure`, `unless-stopped`.
    pub restart: String,
    pub restart_max: u32,
    /// Compose's hash of the service's definition: a container whose label differs is
    /// recreated.
    pub config_hash: String,
    /// The id of its image when the daemon took this spec (empty when the engine had
    /// none yet): another one, rebuilt or pulled anew, recreates the container, as
    /// Compose does.
    #[serde(default)]
    pub image_id: String,
    /// The image's own `Entrypoint` and `Cmd` when the daemon took this spec, which the
    /// engine runs where the spec names none (so `ps` shows what runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_command: Vec<String>,
    /// Give a recreated container new anonymous volumes (`up -V`), instead of the
    /// previous container's, which Compose carries over.
    #[serde(default)]
    pub renew_anonymous_volumes: bool,
    /// Its place on the host beyond mounts, networks and ports.
    #[serde(default)]
    pub host: HostSettings,
    /// Files written into the container between its creation and its start: secrets
    /// and configs whose text comes from a variable or the file itself, as Compose
    /// writes them (those read from files are `mounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContainerFile>,
}

/// A file the container gets written into it before it starts.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerFile {
    /// Where, inside the container.
    pub path: String,
    /// The text, or why there is none (a variable not set): such a container is not
    /// created, as Compose refuses it.
    pub content: Result<String, String>,
    pub mode: u32,
    /// Owner and group, when the file names them; else root's.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Without the text: a secret's value is never written to a log.
impl std::fmt::Debug for ContainerFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerFile")
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .finish_non_exhaustive()
    }
}

/// What the engine is told of a container's place on the host beyond its mounts,
/// networks and ports, as Compose tells it: namespaces, name resolution, limits,
/// kernel settings, devices, logging. Empty and zero mean the engine's own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostSettings {
    /// `none`, `host`, `container:NAME` (another service's first container), `bridge`…;
    /// set, the container joins none of the project's networks.
    pub network_mode: String,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub domainname: String,
    /// Name, soft and hard limit.
    pub ulimits: Vec<(String, i64, i64)>,
    pub memory: i64,
    pub memory_reservation: i64,
    /// CPUs in billionths.
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpuset: String,
    pub pids_limit: i64,
    pub shm_size: i64,
    pub sysctls: BTreeMap<String, String>,
    pub security_opt: Vec<String>,
    pub memory_swappiness: Option<i64>,
    pub oom_score_adj: i64,
    pub pid_mode: String,
    pub ipc_mode: String,
    pub group_add: Vec<String>,
    /// Host path, path inside, cgroup permissions (`rwm`).
    pub devices: Vec<(String, String, String)>,
    pub log_driver: String,
    pub log_options: BTreeMap<String, String>,
    /// Engine network name → the fixed IPv4 and IPv6 addresses asked for on it.
    pub addresses: BTreeMap<String, (String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs`.
    pub kind: String,
    /// A host path, an engine volume name, or empty (tmpfs, anonymous volume).
    pub source: String,
    pub target: String,
    pub read_only: bool,
    /// A tmpfs mount's options (`size=1048576,mode=1777`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub options: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPort {
    pub host_ip: String,
    /// A port or range; empty lets the engine choose.
    pub published: String,
    pub target: u16,
    pub protocol: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineHealthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
    pub start_interval: Duration,
}

/// A network or volume the project's containers use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineResource {
    /// The engine's name (`shop_default`, `shop_data`).
    pub name: String,
    /// Created outside the project: used, never created or removed.
    pub external: bool,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    /// The driver's options (`driver_opts`: an NFS or tmpfs volume's, a bridge's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    /// A network's: no way out (`internal`), joinable by other containers
    /// (`attachable`), with IPv6, and its address plan.
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<NetworkIpam>,
}

/// A network's address plan (`ipam`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkIpam {
    pub driver: String,
    pub pools: Vec<IpamPool>,
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamPool {
    pub subnet: String,
    pub ip_range: String,
    pub gateway: String,
    pub aux_addresses: BTreeMap<String, String>,
}

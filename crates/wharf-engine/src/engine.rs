//! The Docker engine (or Podman's Docker-compatible API), for services that run as
//! containers. Containers, networks and volumes are created as Docker Compose creates
//! them; the specs come from the CLI with Compose's names and labels already set.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, HealthConfig, HealthStatusEnum,
    HostConfig, HostConfigLogConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig,
    PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, LogsOptions, RemoveContainerOptions,
    StopContainerOptions,
};
use futures_util::{Stream, StreamExt};
use wharf_api::Health;
use wharf_plan::{ContainerFile, ContainerSpec, EngineResource};

use crate::diagnosis::{EngineProblem, classify};
use crate::registry_auth::credentials_for_image;
use crate::socket::engine_socket;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}\nhint: {fix}", fix = .0.fix())]
    Unreachable(#[from] EngineProblem),
    #[error(
        "image {0} is not on this machine and could not be pulled; build or load it first (`docker build`, `docker load`)"
    )]
    ImageMissing(String),
    #[error(
        "healthcheck.start_interval needs Docker Engine v25 or later (API 1.44); this engine speaks {0}"
    )]
    StartIntervalUnsupported(String),
    /// A secret or config that cannot be written into the container, and why.
    #[error("{0}")]
    ContainerFile(String),
    #[error("external {kind} {name} does not exist; create it first")]
    ExternalMissing { kind: &'static str, name: String },
    /// The engine's own words, said once (not again as a cause).
    #[error("Docker engine: {0}")]
    Api(bollard::errors::Error),
    #[error("no such file or directory in the container: {0}")]
    PathMissing(String),
    /// The engine refused to wait for a container's end, or answered what is not one.
    #[error("waiting for the container to end: {0}")]
    Wait(String),
    #[error("the engine ran the command detached, not attached")]
    Detached,
    #[error("copying the command's output: {0}")]
    Output(#[from] std::io::Error),
    #[error("the build failed: {0}")]
    BuildFailed(String),
    #[error("reading the build context: {0}")]
    Context(std::io::Error),
    #[error("pushing {image}: {why}")]
    PushFailed { image: String, why: String },
    #[error("failed to resolve digest for {image}: {why}")]
    DigestUnknown { image: String, why: String },
}

impl From<bollard::errors::Error> for EngineError {
    fn from(err: bollard::errors::Error) -> Self {
        Self::Api(err)
    }
}

/// What the daemon needs to know of a container's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    pub restarting: bool,
    pub exit_code: Option<i32>,
    pub pid: Option<u32>,
    pub health: Health,
    pub restarts: u32,
    /// Published ports as the engine bound them (it picks the unpublished ones).
    pub ports: Vec<wharf_plan::PortSpec>,
    /// Every port as the engine lists it, exposed ones and each binding.
    pub engine_ports: Vec<wharf_api::EnginePort>,
    /// When it last stopped, if it has and is not running.
    pub finished_ms: Option<u64>,
    /// When it last started, while it runs (Docker's `Up 3 minutes` counts from then).
    pub started_ms: Option<u64>,
    /// What the engine's last failing probe said, while the container is unhealthy.
    pub health_said: Option<String>,
    /// The signal a stop sends it: its own, its image's, or the engine's SIGTERM.
    pub stop_signal: String,
}

/// A container's processes: the engine's column titles (`UID`, `PID`, …) and a row
/// of values under them for each process.
#[derive(Clone, Debug, Default)]
pub struct ContainerProcesses {
    pub titles: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// How long one request may take; image pulls and builds stream for longer.
const REQUEST_TIMEOUT_SECONDS: u64 = 120;

pub struct Engine {
    pub(crate) docker: Docker,
    socket: std::path::PathBuf,
}

/// A container as `existing` finds it.
#[derive(Clone, Debug)]
pub struct Existing {
    pub id: String,
    pub config_hash: String,
    /// The id of the image it was created from.
    pub image: String,
    /// Each volume it mounts: (the path inside, the volume's name).
    pub volumes: Vec<(String, String)>,
    /// The names its host entries (`extra_hosts`) give addresses to.
    pub host_names: BTreeSet<String>,
}

/// The names `host:address` (or `host=address`) entries give addresses to.
#[must_use]
pub fn host_names(entries: &[String]) -> BTreeSet<String> {
    entries
        .iter()
        .map(|entry| entry.split([':', '=']).next().unwrap_or(entry).to_owned())
        .collect()
}

/// A volume of the project as the engine lists it.
#[derive(Clone, Debug)]
pub struct ProjectVolume {
    /// The engine's name (`<project>_<volume>`, or the file's `name:`).
    pub name: String,
    /// The file's name for it.
    pub volume: String,
    pub driver: String,
    pub mountpoint: String,
    /// `local` or `global`.
    pub scope: String,
    /// Its labels, sorted by name.
    pub labels: Vec<(String, String)>,
}

/// How long Compose waits for a container it stops before the kill, when `-t` says
/// nothing: the grace given to containers wharf did not make.
pub const COMPOSE_STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A container of the project as the engine lists it.
#[derive(Clone, Debug)]
pub struct ProjectContainer {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    /// A `run` container (`com.docker.compose.oneoff=True`), not a service's instance.
    pub one_off: bool,
    pub running: bool,
    pub health: Health,
    /// The exit code the engine's status gives (`Exited (137) …`).
    pub exit_code: Option<i32>,
    /// When it last started, in milliseconds since the epoch, to the precision of the
    /// engine's status (`Up 5 minutes`: a restart counts from then, as Compose shows
    /// it); when it was created, for one that is not up.
    pub started_ms: Option<u64>,
    /// When it stopped, for one that ran and is not running.
    pub finished_ms: Option<u64>,
    pub ports: Vec<wharf_plan::PortSpec>,
    /// The rest of what the engine lists of it, as `ps --format json` shows it.
    pub listed: wharf_api::ListedContainer,
    /// Every port as the engine lists it.
    pub engine_ports: Vec<wharf_api::EnginePort>,
    /// The definition it was made from (`com.docker.compose.config-hash`).
    pub config_hash: String,
    /// The id of the image it runs.
    pub image_id: String,
}

impl ProjectContainer {
    /// Whether it is a service's container that `project` no longer has (a `run`
    /// container is not: it belongs to its one-off).
    pub fn is_orphan_of(&self, project: &wharf_plan::ProjectSpec) -> bool {
        !self.one_off && !project.services.contains_key(&self.service)
    }

    /// The volumes it mounts that no one named (`volumes: [/data]`): those the engine
    /// named itself, 64 hexadecimal digits.
    pub fn anonymous_volumes(&self) -> impl Iterator<Item = &str> {
        self.listed
            .mounts
            .iter()
            .map(String::as_str)
            .filter(|m| m.len() == 64 && m.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// The container as an instance's status, for a project wharfd does not run (or a
    /// `run` container beside its instances); `message` says whose it is.
    pub fn into_status(self, message: &str) -> wharf_api::InstanceStatus {
        wharf_api::InstanceStatus {
            container_id: self.id,
            state: if self.running {
                wharf_api::InstanceState::Running
            } else {
                wharf_api::InstanceState::Exited
            },
            health: self.health,
            exit_code: self.exit_code,
            ports: self.ports,
            started_at_ms: self.started_ms,
            finished_at_ms: self.finished_ms,
            message: message.to_owned(),
            one_off: self.one_off,
            listed: Some(Box::new(self.listed)),
            engine_ports: self.engine_ports,
            ..wharf_api::InstanceStatus::new(&self.service, self.number, self.name, "docker")
        }
    }
}

/// When the engine's status line (`Up 5 minutes (healthy)`, `Exited (0) 2 hours ago`)
/// dates it from, read after `prefix` (`Up `, `Exited (`): the list gives no times but
/// its creation's, and this is what Compose's `ps` shows.
fn status_ago_ms(status: &str, prefix: &str) -> Option<u64> {
    let rest = status.strip_prefix(prefix)?;
    let words = if prefix.ends_with('(') {
        // `0) 2 hours ago`
        rest.split_once(") ")?.1.strip_suffix(" ago")?
    } else {
        // `5 minutes (healthy)`, `2 hours (Paused)`
        rest.split(" (").next()?
    };
    let ago = wharf_api::duration_of_words(words)?;
    Some(wharf_api::now_ms().saturating_sub(ago))
}

/// A container as `docker ps` lists it, for `ps --format json`.
fn listed_container(c: &bollard::models::ContainerSummary) -> wharf_api::ListedContainer {
    let mounts = c.mounts.as_deref().unwrap_or_default();
    let mut networks: Vec<String> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    wharf_api::ListedContainer {
        image: c.image.clone().unwrap_or_default(),
        command: c.command.clone().unwrap_or_default(),
        labels: c
            .labels
            .iter()
            .flatten()
            .map(|(key, value)| format!("{key}={value}"))
            .collect(),
        mounts: mounts
            .iter()
            .map(|m| {
                m.name
                    .clone()
                    .filter(|name| !name.is_empty())
                    .or_else(|| m.source.clone())
                    .unwrap_or_default()
            })
            .collect(),
        local_volumes: mounts
            .iter()
            .filter(|m| m.driver.as_deref() == Some("local"))
            .count(),
        networks,
    }
}

/// Inspect's port map (`"8080/tcp": [bindings]`, or none for a port only exposed) as
/// the engine's list gives it: one entry a binding.
fn engine_ports(
    map: &HashMap<String, Option<Vec<bollard::models::PortBinding>>>,
) -> Vec<wharf_api::EnginePort> {
    map.iter()
        .flat_map(|(key, bindings)| {
            let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
            let target = port.parse().unwrap_or(0);
            let entry = move |ip: &str, published: u16| wharf_api::EnginePort {
                ip: ip.to_owned(),
                target,
                published,
                protocol: protocol.to_owned(),
            };
            match bindings.as_deref() {
                None | Some([]) => vec![entry("", 0)],
                Some(bindings) => bindings
                    .iter()
                    .map(|b| {
                        entry(
                            b.host_ip.as_deref().unwrap_or_default(),
                            b.host_port
                                .as_deref()
                                .and_then(|p| p.parse().ok())
                                .unwrap_or(0),
                        )
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The published ports among the engine's, one entry a port, its IPv4 binding kept (the
/// engine binds `0.0.0.0` and `::`, and may give the two another host port each when
/// it chooses them: the IPv6 one is not reached on 127.0.0.1, where ports are asked).
fn published_ports(engine_ports: &[wharf_api::EnginePort]) -> Vec<wharf_plan::PortSpec> {
    let mut ports: Vec<wharf_plan::PortSpec> = engine_ports
        .iter()
        .filter(|p| p.published != 0)
        .map(|p| wharf_plan::PortSpec {
            target: p.target,
            published: p.published,
            host: p.ip.parse().ok(),
            protocol: wharf_plan::Protocol::from_name(&p.protocol),
        })
        .collect();
    let ipv6 = |p: &wharf_plan::PortSpec| p.host.is_some_and(|h| h.is_ipv6());
    let bound_on_ipv4: Vec<(u16, wharf_plan::Protocol)> = ports
        .iter()
        .filter(|p| !ipv6(p))
        .map(|p| (p.target, p.protocol))
        .collect();
    ports.retain(|p| !ipv6(p) || !bound_on_ipv4.contains(&(p.target, p.protocol)));
    ports.sort_by_key(|p| (p.target, p.protocol.name(), p.published));
    ports.dedup_by_key(|p| (p.target, p.protocol, p.published));
    ports
}

fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_owned(),
        vec![format!("com.docker.compose.project={project}")],
    )])
}

/// An image reference as the engine's pull takes it: the name, and the tag apart
/// (`latest` when none is given; none with a digest, which the name keeps).
pub(crate) fn reference_and_tag(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let last_part = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[last_part..].rfind(':') {
        Some(colon) => (
            &image[..last_part + colon],
            Some(&image[last_part + colon + 1..]),
        ),
        None => (image, Some("latest")),
    }
}

/// A container's place on a network: known there by its name and the service's aliases.
fn endpoint(name: &str, aliases: &[String], fixed: Option<&(String, String)>) -> EndpointSettings {
    EndpointSettings {
        aliases: Some(
            std::iter::once(name.to_owned())
                .chain(aliases.iter().cloned())
                .collect(),
        ),
        ipam_config: fixed.map(|(ipv4, ipv6)| bollard::models::EndpointIpamConfig {
            ipv4_address: given(ipv4),
            ipv6_address: given(ipv6),
            ..Default::default()
        }),
        ..EndpointSettings::default()
    }
}

/// A setting the file gives, for the engine: empty means the engine's own.
fn given(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn given_list(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

fn given_number(value: i64) -> Option<i64> {
    (value != 0).then_some(value)
}

/// The engine is already removing it (a one-off run with `--rm` that just ended):
/// as good as removed.
fn being_removed(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        } if message.contains("already in progress")
    )
}

/// The engine's 404 for a path a copy names that the container lacks (rather than a
/// container that is gone).
pub(crate) fn path_missing(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } if message.contains("Could not find the file")
    )
}

fn not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl Engine {
    /// Connects to the engine's socket (`socket::engine_socket`), speaking the
    /// engine's API version; what is wrong, with its fix, when none answers.
    pub async fn connect() -> Result<Self, EngineProblem> {
        let socket = engine_socket()?;
        if let Err(err) = tokio::net::UnixStream::connect(&socket).await {
            return Err(classify(socket, &err));
        }
        let not_answering =
            |socket: &std::path::Path, err: bollard::errors::Error| EngineProblem::NotAnswering {
                socket: socket.to_owned(),
                why: err.to_string(),
            };
        let docker = Docker::connect_with_unix(
            &socket.to_string_lossy(),
            REQUEST_TIMEOUT_SECONDS,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| not_answering(&socket, e))?
        .negotiate_version()
        .await
        .map_err(|e| not_answering(&socket, e))?;
        Ok(Self { docker, socket })
    }

    /// The socket this engine answers on.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Pulls `image`, telling `progress` each layer's status as the engine reports it
    /// (`<layer>: Downloading`), once per change.
    pub async fn pull(
        &self,
        image: &str,
        mut progress: impl FnMut(&str),
    ) -> Result<(), EngineError> {
        let (from_image, tag) = reference_and_tag(image);
        let options = bollard::query_parameters::CreateImageOptions {
            from_image: Some(from_image.to_owned()),
            tag: tag.map(str::to_owned),
            ..Default::default()
        };
        // A private registry's image needs what `docker login` left for it.
        let credentials = credentials_for_image(image);
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        let mut last = String::new();
        while let Some(info) = stream.next().await {
            let info = info?;
            let Some(status) = info.status else { continue };
            let line = match info.id {
                Some(id) => format!("{id}: {status}"),
                None => status,
            };
            if line != last {
                progress(&line);
                last = line;
            }
        }
        Ok(())
    }

    /// What the engine knows of `image`; `None` when it has no such image.
    pub async fn inspect_image(
        &self,
        image: &str,
    ) -> Result<Option<bollard::models::ImageInspect>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(found) => Ok(Some(found)),
            Err(err) if not_found(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn ensure_network(&self, network: &EngineResource) -> Result<(), EngineError> {
        match self.docker.inspect_network(&network.name, None).await {
            Ok(_) => return Ok(()),
            Err(err) if !not_found(&err) => return Err(err.into()),
            Err(_) => {}
        }
        if network.external {
            return Err(EngineError::ExternalMissing {
                kind: "network",
                name: network.name.clone(),
            });
        }
        let request = NetworkCreateRequest {
            name: network.name.clone(),
            driver: Some(if network.driver.is_empty() {
                "bridge".to_owned()
            } else {
                network.driver.clone()
            }),
            labels: Some(network.labels.clone().into_iter().collect()),
            options: Some(network.driver_opts.clone().into_iter().collect()),
            internal: Some(network.internal),
            attachable: Some(network.attachable),
            enable_ipv6: Some(network.enable_ipv6),
            ipam: network.ipam.as_ref().map(|plan| bollard::models::Ipam {
                driver: given(&plan.driver),
                config: Some(
                    plan.pools
                        .iter()
                        .map(|pool| bollard::models::IpamConfig {
                            subnet: given(&pool.subnet),
                            ip_range: given(&pool.ip_range),
                            gateway: given(&pool.gateway),
                            auxiliary_addresses: (!pool.aux_addresses.is_empty())
                                .then(|| pool.aux_addresses.clone().into_iter().collect()),
                        })
                        .collect(),
                ),
                options: Some(plan.options.clone().into_iter().collect()),
            }),
            ..NetworkCreateRequest::default()
        };
        self.docker.create_network(request).await?;
        Ok(())
    }

    pub async fn ensure_volume(&self, volume: &EngineResource) -> Result<(), EngineError> {
        match self.docker.inspect_volume(&volume.name).await {
            Ok(_) => return Ok(()),
            Err(err) if !not_found(&err) => return Err(err.into()),
            Err(_) => {}
        }
        if volume.external {
            return Err(EngineError::ExternalMissing {
                kind: "volume",
                name: volume.name.clone(),
            });
        }
        let request = VolumeCreateRequest {
            name: Some(volume.name.clone()),
            driver: Some(if volume.driver.is_empty() {
                "local".to_owned()
            } else {
                volume.driver.clone()
            }),
            labels: Some(volume.labels.clone().into_iter().collect()),
            driver_opts: Some(volume.driver_opts.clone().into_iter().collect()),
            ..VolumeCreateRequest::default()
        };
        self.docker.create_volume(request).await?;
        Ok(())
    }

    /// The gateway of a network: the host, as its containers reach it.
    pub async fn network_gateway(&self, name: &str) -> Option<std::net::IpAddr> {
        let network = self.docker.inspect_network(name, None).await.ok()?;
        network
            .ipam?
            .config?
            .into_iter()
            .find_map(|c| c.gateway?.parse().ok())
    }

    /// Removes a network or volume the project created; one still in use, or already
    /// gone, is left as it is.
    pub async fn remove_network(&self, name: &str) {
        let _ = self.docker.remove_network(name).await;
    }

    pub async fn remove_volume(&self, name: &str) {
        let _ = self
            .docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await;
    }

    /// The image's id, pulling it when it is not here.
    pub async fn image_id(&self, image: &str) -> Result<String, EngineError> {
        if let Ok(found) = self.docker.inspect_image(image).await {
            return Ok(found.id.unwrap_or_default());
        }
        self.pull(image, |_| {})
            .await
            .map_err(|_| EngineError::ImageMissing(image.to_owned()))?;
        let found = self
            .docker
            .inspect_image(image)
            .await
            .map_err(|_| EngineError::ImageMissing(image.to_owned()))?;
        Ok(found.id.unwrap_or_default())
    }

    /// The container named `name`, if it exists: its id, config-hash label and image.
    pub async fn existing(&self, name: &str) -> Result<Option<Existing>, EngineError> {
        match self.docker.inspect_container(name, None).await {
            Ok(found) => Ok(Some(Existing {
                id: found.id.unwrap_or_default(),
                host_names: host_names(
                    &found
                        .host_config
                        .and_then(|h| h.extra_hosts)
                        .unwrap_or_default(),
                ),
                config_hash: found
                    .config
                    .and_then(|c| c.labels)
                    .and_then(|l| l.get("com.docker.compose.config-hash").cloned())
                    .unwrap_or_default(),
                image: found.image.unwrap_or_default(),
                volumes: found
                    .mounts
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|m| m.typ.as_deref() == Some("volume"))
                    .filter_map(|m| Some((m.destination?, m.name?)))
                    .collect(),
            })),
            Err(err) if not_found(&err) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Creates the container `name` (replica `number`), attached to its networks;
    /// returns its id.
    pub async fn create(
        &self,
        name: &str,
        spec: &ContainerSpec,
        number: u32,
        image_id: &str,
        stop_signal: &str,
        stop_grace: Option<Duration>,
    ) -> Result<String, EngineError> {
        let body = self.create_body(name, spec, number, image_id, stop_signal, stop_grace)?;
        self.create_from(name, spec, body).await
    }

    /// The engine's form of a container as Compose would create it.
    pub(crate) fn create_body(
        &self,
        name: &str,
        spec: &ContainerSpec,
        number: u32,
        image_id: &str,
        stop_signal: &str,
        stop_grace: Option<Duration>,
    ) -> Result<ContainerCreateBody, EngineError> {
        let version = self.docker.client_version();
        let old_engine = (version.major_version, version.minor_version) < (1, 44);
        if old_engine
            && spec
                .healthcheck
                .as_ref()
                .is_some_and(|h| !h.start_interval.is_zero())
        {
            return Err(EngineError::StartIntervalUnsupported(format!(
                "{}.{}",
                version.major_version, version.minor_version
            )));
        }
        if let Some(Err(why)) = spec
            .files
            .iter()
            .map(|f| f.content.as_ref())
            .find(Result::is_err)
        {
            return Err(EngineError::ContainerFile(why.clone()));
        }
        let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
        labels.insert(
            "com.docker.compose.container-number".to_owned(),
            number.to_string(),
        );
        labels.insert("com.docker.compose.image".to_owned(), image_id.to_owned());
        let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        let mut exposed: Vec<String> = spec.expose.iter().map(|p| format!("{p}/tcp")).collect();
        for port in &spec.ports {
            let key = format!("{}/{}", port.target, port.protocol);
            exposed.push(key.clone());
            port_bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: (!port.host_ip.is_empty()).then(|| port.host_ip.clone()),
                    host_port: Some(port.published.clone()),
                });
        }
        // An anonymous volume (no source) is declared, and the engine makes it.
        let anonymous: Vec<String> = spec
            .mounts
            .iter()
            .filter(|m| m.kind == "volume" && m.source.is_empty())
            .map(|m| m.target.clone())
            .collect();
        let binds: Vec<String> = spec
            .mounts
            .iter()
            .filter(|m| (m.kind == "bind" || m.kind == "volume") && !m.source.is_empty())
            .map(|m| {
                format!(
                    "{}:{}:{}",
                    m.source,
                    m.target,
                    if m.read_only { "ro" } else { "rw" }
                )
            })
            .collect();
        // `PATH[:OPTIONS]`, as Compose splits it (`/run:size=1m,mode=1777`).
        let mut tmpfs: HashMap<String, String> = spec
            .tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((path, options)) => (path.to_owned(), options.to_owned()),
                None => (t.clone(), String::new()),
            })
            .collect();
        tmpfs.extend(
            spec.mounts
                .iter()
                .filter(|m| m.kind == "tmpfs")
                .map(|m| (m.target.clone(), m.options.clone())),
        );
        let restart = match spec.restart.as_str() {
            "always" => RestartPolicyNameEnum::ALWAYS,
            "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
            "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
            _ => RestartPolicyNameEnum::NO,
        };
        let first = spec.networks.iter().next();
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        let host = &spec.host;
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.command.clone(),
            env: Some(spec.environment.clone()),
            working_dir: given(&spec.working_dir),
            user: given(&spec.user),
            hostname: given(&spec.hostname),
            domainname: given(&host.domainname),
            open_stdin: Some(spec.stdin_open),
            tty: Some(spec.tty),
            labels: Some(labels),
            volumes: (!anonymous.is_empty()).then_some(anonymous),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            // None leaves the image's own (postgres stops on SIGINT), as Compose does.
            stop_signal: given(stop_signal),
            stop_timeout: stop_grace.map(|g| i64::try_from(g.as_secs()).unwrap_or(i64::MAX)),
            healthcheck: spec.healthcheck.as_ref().map(|h| HealthConfig {
                test: Some(h.test.clone()),
                interval: Some(nanos(h.interval)),
                timeout: Some(nanos(h.timeout)),
                retries: Some(i64::from(h.retries)),
                start_period: Some(nanos(h.start_period)),
                start_interval: (!old_engine).then(|| nanos(h.start_interval)),
            }),
            host_config: Some(HostConfig {
                binds: Some(binds),
                port_bindings: Some(port_bindings),
                restart_policy: Some(RestartPolicy {
                    name: Some(restart),
                    maximum_retry_count: Some(i64::from(spec.restart_max)),
                }),
                init: spec.init,
                cap_add: given_list(&spec.cap_add),
                cap_drop: given_list(&spec.cap_drop),
                extra_hosts: given_list(&spec.extra_hosts),
                tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
                privileged: Some(spec.privileged),
                readonly_rootfs: Some(spec.read_only),
                network_mode: given(&host.network_mode)
                    .or_else(|| first.map(|(network, _)| network.clone())),
                dns: given_list(&host.dns),
                dns_search: given_list(&host.dns_search),
                dns_options: given_list(&host.dns_options),
                ulimits: (!host.ulimits.is_empty()).then(|| {
                    host.ulimits
                        .iter()
                        .map(|(name, soft, hard)| ResourcesUlimits {
                            name: Some(name.clone()),
                            soft: Some(*soft),
                            hard: Some(*hard),
                        })
                        .collect()
                }),
                memory: given_number(host.memory),
                memory_reservation: given_number(host.memory_reservation),
                nano_cpus: given_number(host.nano_cpus),
                cpu_shares: given_number(host.cpu_shares),
                cpuset_cpus: given(&host.cpuset),
                pids_limit: given_number(host.pids_limit),
                shm_size: given_number(host.shm_size),
                sysctls: (!host.sysctls.is_empty())
                    .then(|| host.sysctls.clone().into_iter().collect()),
                security_opt: given_list(&host.security_opt),
                memory_swappiness: host.memory_swappiness,
                oom_score_adj: given_number(host.oom_score_adj),
                pid_mode: given(&host.pid_mode),
                ipc_mode: given(&host.ipc_mode),
                group_add: given_list(&host.group_add),
                devices: (!host.devices.is_empty()).then(|| {
                    host.devices
                        .iter()
                        .map(|(outside, inside, permissions)| DeviceMapping {
                            path_on_host: Some(outside.clone()),
                            path_in_container: Some(inside.clone()),
                            cgroup_permissions: Some(permissions.clone()),
                        })
                        .collect()
                }),
                log_config: (!host.log_driver.is_empty() || !host.log_options.is_empty()).then(
                    || HostConfigLogConfig {
                        typ: given(&host.log_driver),
                        config: Some(host.log_options.clone().into_iter().collect()),
                    },
                ),
                ..HostConfig::default()
            }),
            networking_config: first.map(|(network, aliases)| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.clone(),
                    endpoint(name, aliases, host.addresses.get(network)),
                )])),
            }),
            ..ContainerCreateBody::default()
        };
        Ok(body)
    }

    /// Creates the container `name` from `body`, on every network of `spec`.
    pub(crate) async fn create_from(
        &self,
        name: &str,
        spec: &ContainerSpec,
        body: ContainerCreateBody,
    ) -> Result<String, EngineError> {
        let options = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        let created = self.docker.create_container(Some(options), body).await?;
        // Older engines take one network at creation; the others are joined after.
        for (network, aliases) in spec.networks.iter().skip(1) {
            let request = NetworkConnectRequest {
                container: name.to_owned(),
                endpoint_config: Some(endpoint(name, aliases, spec.host.addresses.get(network))),
            };
            self.docker.connect_network(network, request).await?;
        }
        if let Err(err) = self.write_files(&created.id, &spec.files).await {
            // A container without its secrets is not left behind to be started.
            let _ = self.remove_with(&created.id, true).await;
            return Err(err);
        }
        Ok(created.id)
    }

    /// Writes the secrets and configs the spec carries as text into the container,
    /// as Compose does before it starts one (owners kept when the file names them).
    async fn write_files(&self, id: &str, files: &[ContainerFile]) -> Result<(), EngineError> {
        if files.is_empty() {
            return Ok(());
        }
        let keep_owners = files.iter().any(|f| f.uid.is_some() || f.gid.is_some());
        let tar = crate::copy::files_archive(files)?;
        self.copy_in(id, "/", tar, keep_owners).await
    }

    /// The project's containers, whoever created them (wharf or Docker Compose).
    pub async fn project_containers(
        &self,
        project: &str,
    ) -> Result<Vec<ProjectContainer>, EngineError> {
        let options = bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(project_filter(project)),
            ..Default::default()
        };
        let found = self.docker.list_containers(Some(options)).await?;
        Ok(found
            .into_iter()
            .filter_map(|c| {
                let listed = listed_container(&c);
                let engine_ports: Vec<wharf_api::EnginePort> = c
                    .ports
                    .iter()
                    .flatten()
                    .map(|p| wharf_api::EnginePort {
                        ip: p.ip.clone().unwrap_or_default(),
                        target: p.private_port,
                        published: p.public_port.unwrap_or(0),
                        protocol: p
                            .typ
                            .map_or_else(|| "tcp".to_owned(), |t| t.as_ref().to_owned()),
                    })
                    .collect();
                let labels = c.labels.unwrap_or_default();
                let label = |key: &str| {
                    labels
                        .get(&format!("com.docker.compose.{key}"))
                        .cloned()
                        .unwrap_or_default()
                };
                let status = c.status.unwrap_or_default();
                Some(ProjectContainer {
                    id: c.id.unwrap_or_default(),
                    name: c.names?.first()?.trim_start_matches('/').to_owned(),
                    service: label("service"),
                    config_hash: label("config-hash"),
                    image_id: c.image_id.clone().unwrap_or_default(),
                    number: label("container-number").parse().unwrap_or(1),
                    one_off: label("oneoff") == "True",
                    running: c
                        .state
                        .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING),
                    health: if status.contains("(healthy)") {
                        Health::Healthy
                    } else if status.contains("(unhealthy)") {
                        Health::Unhealthy
                    } else if status.contains("(health: starting)") {
                        Health::Starting
                    } else {
                        Health::None
                    },
                    exit_code: status
                        .strip_prefix("Exited (")
                        .and_then(|rest| rest.split_once(')'))
                        .and_then(|(code, _)| code.parse().ok()),
                    started_ms: status_ago_ms(&status, "Up ").or_else(|| {
                        c.created
                            .and_then(|s| u64::try_from(s).ok())
                            .map(|s| s * 1000)
                    }),
                    finished_ms: status_ago_ms(&status, "Exited (")
                        .or_else(|| status_ago_ms(&status, "Restarting (")),
                    ports: published_ports(&engine_ports),
                    engine_ports,
                    listed,
                })
            })
            .collect())
    }

    /// The project's volumes, by the label Compose puts on them.
    pub async fn project_volumes(&self, project: &str) -> Result<Vec<ProjectVolume>, EngineError> {
        let options = bollard::query_parameters::ListVolumesOptions {
            filters: Some(project_filter(project)),
        };
        let found = self.docker.list_volumes(Some(options)).await?;
        Ok(found
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| ProjectVolume {
                volume: v
                    .labels
                    .get("com.docker.compose.volume")
                    .cloned()
                    .unwrap_or_default(),
                name: v.name,
                driver: v.driver,
                mountpoint: v.mountpoint,
                scope: v.scope.map(|s| s.to_string()).unwrap_or_default(),
                labels: {
                    let mut labels: Vec<(String, String)> = v.labels.into_iter().collect();
                    labels.sort();
                    labels
                },
            })
            .collect())
    }

    /// The project's networks, by the label Compose puts on them.
    pub async fn project_networks(&self, project: &str) -> Result<Vec<String>, EngineError> {
        let options = bollard::query_parameters::ListNetworksOptions {
            filters: Some(project_filter(project)),
        };
        let found = self.docker.list_networks(Some(options)).await?;
        Ok(found.into_iter().filter_map(|n| n.name).collect())
    }

    /// Runs a healthcheck `test` (`CMD …` or `CMD-SHELL …`) inside the container now,
    /// without waiting for the engine's interval; true when it exits 0 within `timeout`.
    pub async fn probe(&self, id: &str, test: &[String], timeout: Duration) -> bool {
        let cmd: Vec<String> = match test.split_first() {
            Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
            Some((kind, rest)) if kind == "CMD-SHELL" => {
                vec!["/bin/sh".to_owned(), "-c".to_owned(), rest.join(" ")]
            }
            _ => return false,
        };
        let options = bollard::exec::CreateExecOptions {
            cmd: Some(cmd),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            ..Default::default()
        };
        let Ok(exec) = self.docker.create_exec(id, options).await else {
            return false;
        };
        let start = bollard::exec::StartExecOptions {
            detach: true,
            ..Default::default()
        };
        if self.docker.start_exec(&exec.id, Some(start)).await.is_err() {
            return false;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut delay = Duration::from_millis(1);
        while tokio::time::Instant::now() < deadline {
            match self.docker.inspect_exec(&exec.id).await {
                Ok(found) if found.running == Some(false) => return found.exit_code == Some(0),
                Ok(_) => {}
                Err(_) => return false,
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(50));
        }
        false
    }

    pub async fn start(&self, name: &str) -> Result<(), EngineError> {
        self.docker.start_container(name, None).await?;
        Ok(())
    }

    /// Resolves once the started container `id` is not running (at once when it has
    /// already ended), or the engine cannot say.
    pub async fn stopped(&self, id: &str) {
        let options = bollard::query_parameters::WaitContainerOptions::default();
        let _ = self.docker.wait_container(id, Some(options)).next().await;
    }

    /// Stops with the container's stop signal, then SIGKILL after `grace`.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        let options = StopContainerOptions {
            t: Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)),
            signal: None,
        };
        // The engine answers once the container is gone: give it the grace and then
        // the usual time, not only the usual time.
        let docker = self
            .docker
            .clone()
            .with_timeout(grace.saturating_add(Duration::from_secs(REQUEST_TIMEOUT_SECONDS)));
        match docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(err) if not_found(&err) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn kill(&self, name: &str, signal: &str) -> Result<(), EngineError> {
        let options = KillContainerOptions {
            signal: signal.to_owned(),
        };
        self.docker.kill_container(name, Some(options)).await?;
        Ok(())
    }

    /// Freezes (or thaws) every process of the container, as `docker pause` does.
    pub async fn pause(&self, name: &str, paused: bool) -> Result<(), EngineError> {
        if paused {
            self.docker.pause_container(name).await?;
        } else {
            self.docker.unpause_container(name).await?;
        }
        Ok(())
    }

    /// The container's processes as the engine's `ps` lists them (what `docker top`
    /// shows): seen from the engine, so it holds for a container on another machine.
    pub async fn processes(&self, name: &str) -> Result<ContainerProcesses, EngineError> {
        let listed = self
            .docker
            .top_processes(name, None::<bollard::query_parameters::TopOptions>)
            .await?;
        Ok(ContainerProcesses {
            titles: listed.titles.unwrap_or_default(),
            rows: listed.processes.unwrap_or_default(),
        })
    }

    pub async fn remove(&self, name: &str) -> Result<(), EngineError> {
        self.remove_with(name, false).await
    }

    /// Removes the container, and with `anonymous_volumes` the volumes no one named
    /// that it mounts (`rm -v`).
    pub async fn remove_with(
        &self,
        name: &str,
        anonymous_volumes: bool,
    ) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            v: anonymous_volumes,
            ..Default::default()
        };
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(err) if not_found(&err) || being_removed(&err) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Whether the container `id` no longer exists (removed), as the engine says it;
    /// an error when the engine cannot be asked.
    pub async fn container_gone(&self, id: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_container(id, None).await {
            Ok(_) => Ok(false),
            Err(err) if not_found(&err) => Ok(true),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn state(&self, name: &str) -> Result<ContainerState, EngineError> {
        let found = self.docker.inspect_container(name, None).await?;
        let state = found.state.unwrap_or_default();
        let (health, health_said) = match state.health {
            Some(checks) => {
                let health = match checks.status {
                    Some(HealthStatusEnum::STARTING) => Health::Starting,
                    Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
                    Some(HealthStatusEnum::UNHEALTHY) => Health::Unhealthy,
                    _ => Health::None,
                };
                let said = checks
                    .log
                    .and_then(|log| log.into_iter().last())
                    .filter(|_| health == Health::Unhealthy)
                    .map(|last| {
                        wharf_api::probe_said(last.exit_code, &last.output.unwrap_or_default())
                    });
                (health, said)
            }
            None => (Health::None, None),
        };
        let running = state.running.unwrap_or(false);
        let engine_ports = engine_ports(
            &found
                .network_settings
                .and_then(|n| n.ports)
                .unwrap_or_default(),
        );
        Ok(ContainerState {
            stop_signal: found
                .config
                .and_then(|c| c.stop_signal)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "SIGTERM".to_owned()),
            ports: published_ports(&engine_ports),
            engine_ports,
            running,
            restarting: state.restarting.unwrap_or(false),
            // A restarting container's is its last run's (the engine says it runs).
            exit_code: (!running || state.restarting == Some(true))
                .then(|| state.exit_code.and_then(|c| i32::try_from(c).ok()))
                .flatten(),
            pid: state
                .pid
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0),
            health,
            restarts: found
                .restart_count
                .and_then(|c| u32::try_from(c).ok())
                .unwrap_or(0),
            health_said,
            // A container that never ran says year 1, before any time wharf counts.
            started_ms: running
                .then(|| state.started_at.as_deref().and_then(wharf_api::rfc3339_ms))
                .flatten(),
            finished_ms: (!running)
                .then(|| state.finished_at.as_deref().and_then(wharf_api::rfc3339_ms))
                .flatten()
                .filter(|ms| *ms > 0),
        })
    }

    /// The container's output from `since` (Unix seconds; all of it when `None`), line by
    /// line, as (is stderr, engine timestamp, line): the last `tail` lines only when
    /// given, and (with `follow`) what it writes next until it stops.
    pub fn logs(
        &self,
        name: &str,
        since: Option<i32>,
        tail: Option<usize>,
        follow: bool,
    ) -> impl Stream<Item = (bool, LogTime, String)> + use<> {
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            timestamps: true,
            since: since.unwrap_or(0),
            tail: tail.map_or_else(|| "all".to_owned(), |n| n.to_string()),
            ..Default::default()
        };
        self.docker
            .logs(name, Some(options))
            .filter_map(|item| async move {
                match item {
                    Ok(bollard::container::LogOutput::StdErr { message }) => Some((true, message)),
                    Ok(output) => Some((false, output.into_bytes())),
                    Err(_) => None,
                }
            })
            .flat_map(|(stderr, bytes)| {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let lines: Vec<(bool, LogTime, String)> = text
                    .lines()
                    .map(|line| {
                        let (stamp, rest) = line.split_once(' ').unwrap_or(("", line));
                        (
                            stderr,
                            LogTime::parse(stamp),
                            rest.trim_end_matches('\r').to_owned(),
                        )
                    })
                    .collect();
                futures_util::stream::iter(lines)
            })
    }
}

/// An engine log timestamp (RFC 3339 with nanoseconds, trailing zeros trimmed), kept
/// in a form that orders correctly: the fraction padded to nine digits.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogTime(String);

impl LogTime {
    fn parse(stamp: &str) -> Self {
        let stamp = stamp.trim_end_matches('Z');
        let (whole, fraction) = stamp.split_once('.').unwrap_or((stamp, ""));
        Self(format!("{whole}.{fraction:0<9}"))
    }

    /// The Unix second this falls in, for `since` (the date part read as UTC).
    pub fn unix_seconds(&self) -> Option<i32> {
        i32::try_from(self.ms()? / 1000).ok()
    }

    /// Milliseconds since the epoch.
    pub fn ms(&self) -> Option<u64> {
        wharf_api::rfc3339_ms(&format!("{}Z", self.0))
    }

    /// The last moment of the millisecond `ms` after the epoch: what came before it
    /// was this follower's already, and a line the log book holds at that millisecond
    /// (it keeps milliseconds, the engine nanoseconds) is not copied twice.
    pub fn at_ms(ms: u64) -> Self {
        let start = Self::parse(&wharf_api::utc_text(ms)).0;
        let millisecond = start.len().saturating_sub(6);
        Self(format!("{}999999", &start[..millisecond]))
    }
}

#[cfg(test)]
mod tests {
    use super::{LogTime, published_ports, reference_and_tag, status_ago_ms};

    #[test]
    fn the_engines_status_line_dates_a_start_and_an_end() {
        let ago = |status: &str, prefix: &str| {
            status_ago_ms(status, prefix).map(|t| wharf_api::now_ms().saturating_sub(t) / 1000)
        };
        assert_eq!(ago("Up 53 seconds", "Up "), Some(53));
        assert_eq!(ago("Up 5 minutes (healthy)", "Up "), Some(300));
        assert_eq!(ago("Up About an hour (Paused)", "Up "), Some(3600));
        assert_eq!(ago("Exited (137) 2 hours ago", "Exited ("), Some(7200));
        assert_eq!(ago("Restarting (1) 3 seconds ago", "Restarting ("), Some(3));
        assert_eq!(ago("Exited (0) 2 hours ago", "Up "), None);
        assert_eq!(ago("Created", "Up "), None);
    }

    /// The engine may bind a chosen port's IPv4 and IPv6 sides on two host ports.
    #[test]
    fn a_port_is_its_ipv4_binding_whatever_port_ipv6_got() {
        let port = |ip: &str, target: u16, published: u16| wharf_api::EnginePort {
            ip: ip.to_owned(),
            target,
            published,
            protocol: "tcp".to_owned(),
        };
        let published = published_ports(&[
            port("::", 80, 32836),
            port("0.0.0.0", 80, 32838),
            port("0.0.0.0", 80, 8081),
            port("::", 80, 8081),
            port("::1", 90, 9090),
            port("", 70, 0),
        ]);
        let seen: Vec<(u16, u16, String)> = published
            .iter()
            .map(|p| (p.target, p.published, p.host.unwrap().to_string()))
            .collect();
        assert_eq!(
            seen,
            [
                (80, 8081, "0.0.0.0".to_owned()),
                (80, 32838, "0.0.0.0".to_owned()),
                (90, 9090, "::1".to_owned())
            ]
        );
    }

    #[test]
    fn references_split_into_name_and_tag_as_the_engine_pulls_them() {
        assert_eq!(reference_and_tag("busybox"), ("busybox", Some("latest")));
        assert_eq!(reference_and_tag("redis:7"), ("redis", Some("7")));
        assert_eq!(
            reference_and_tag("localhost:5000/team/app:1.2"),
            ("localhost:5000/team/app", Some("1.2"))
        );
        assert_eq!(
            reference_and_tag("localhost:5000/team/app"),
            ("localhost:5000/team/app", Some("latest"))
        );
        assert_eq!(reference_and_tag("app@sha256:ab"), ("app@sha256:ab", None));
    }

    #[test]
    fn log_times_order_and_convert() {
        let a = LogTime::parse("2026-11-21T22:20:45.5Z");
        let b = LogTime::parse("2026-11-21T22:20:45.123456789Z");
        assert!(b < a, "fractions compare by value, not by length");
        assert_eq!(
            LogTime::parse("1970-01-01T00:00:10Z").unix_seconds(),
            Some(10)
        );
        assert_eq!(
            LogTime::parse("2026-11-21T22:20:45.5Z").unix_seconds(),
            Some(1_795_299_645)
        );
        // A moment in milliseconds sorts among the engine's nanosecond stamps, after
        // every stamp of its own millisecond.
        let now = LogTime::at_ms(1_795_299_645_400);
        assert!(b < now && now < a);
        assert!(LogTime::parse("2026-11-21T22:20:45.400999Z") < now);
        assert!(LogTime::parse("2026-11-21T22:20:45.401Z") > now);
        assert_eq!(now.ms(), Some(1_795_299_645_400));
    }
}

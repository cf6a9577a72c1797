//! Turns a service into the container Docker Compose would create for it: the same
//! names, mounts, networks and aliases, and the same `com.docker.compose.*` labels,
//! config hash included, so `docker compose` and wharf each recognize the other's
//! containers, networks and volumes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use wharf_manifest::Loaded;
use wharf_model::{Project, Service};
use wharf_plan::{ContainerPort, ContainerSpec, EngineHealthcheck, EngineResource, Mount};

use crate::config_hash::config_hash;
use crate::container_files::secrets_and_configs;

/// The Compose version whose labels and naming wharf reproduces.
pub const COMPOSE_VERSION: &str = "2.40.3";

const LABEL: &str = "com.docker.compose";

/// The labels every object of the project carries.
fn project_labels(project: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (format!("{LABEL}.project"), project.to_owned()),
        (format!("{LABEL}.version"), COMPOSE_VERSION.to_owned()),
    ])
}

/// `services.<name>` of the project in Compose's JSON form, the input of its hashes.
pub fn service_json(project_json: &Value, name: &str) -> Value {
    project_json
        .get("services")
        .and_then(|s| s.get(name))
        .cloned()
        .unwrap_or(Value::Null)
}

pub fn container_spec(
    loaded: &Loaded,
    name: &str,
    service: &Service,
    hashed: &Value,
) -> ContainerSpec {
    let project = &loaded.project;
    let mut labels: BTreeMap<String, String> = service
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    labels.extend(project_labels(&project.name));
    labels.insert(format!("{LABEL}.service"), name.to_owned());
    labels.insert(format!("{LABEL}.oneoff"), "False".to_owned());
    labels.insert(format!("{LABEL}.config-hash"), config_hash(hashed));
    labels.insert(
        format!("{LABEL}.project.working_dir"),
        loaded.project_dir.display().to_string(),
    );
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    labels.insert(format!("{LABEL}.project.config_files"), files.join(","));
    let dependencies: Vec<String> = service
        .depends_on
        .iter()
        .map(|(dependency, d)| format!("{dependency}:{}:{}", d.condition, d.restart))
        .collect();
    labels.insert(format!("{LABEL}.depends_on"), dependencies.join(","));

    let mut mounts: Vec<Mount> = service
        .volumes
        .iter()
        .map(|mount| Mount {
            kind: mount.kind.clone(),
            source: match mount.kind.as_str() {
                "volume" if !mount.source.is_empty() => project
                    .volumes
                    .get(&mount.source)
                    .map_or_else(|| mount.source.clone(), |v| v.name.clone()),
                _ => mount.source.clone(),
            },
            target: mount.target.clone(),
            read_only: mount.read_only,
            options: mount.tmpfs.as_ref().map_or_else(String::new, |t| {
                let mut options = Vec::new();
                if t.size.0 != 0 {
                    options.push(format!("size={}", t.size.0));
                }
                if t.mode != 0 {
                    options.push(format!("mode={:o}", t.mode));
                }
                options.join(",")
            }),
        })
        .collect();
    let (file_mounts, files) = secrets_and_configs(project, service, &loaded.environment);
    mounts.extend(file_mounts);
    let host = host_settings(project, service);
    let networks = service
        .networks
        .iter()
        // A network mode of its own (`none`, `host`, another service's) joins none.
        .filter(|_| host.network_mode.is_empty())
        .map(|(key, attachment)| {
            let engine_name = project
                .networks
                .get(key)
                .map_or_else(|| key.clone(), |n| n.name.clone());
            let mut aliases = vec![name.to_owned()];
            aliases.extend(attachment.iter().flat_map(|a| a.aliases.iter().cloned()));
            (engine_name, aliases)
        })
        .collect();
    let ports = service
        .ports
        .iter()
        .map(|p| ContainerPort {
            host_ip: p.host_ip.clone(),
            published: p.published.clone(),
            target: u16::try_from(p.target).unwrap_or_default(),
            protocol: if p.protocol.is_empty() {
                "tcp".to_owned()
            } else {
                p.protocol.clone()
            },
        })
        .collect();
    let healthcheck = service
        .healthcheck
        .as_ref()
        .filter(|h| !h.test.is_empty() || h.disable)
        .map(|h| {
            let or = |d: Option<wharf_model::Duration>| {
                d.map_or(Duration::ZERO, wharf_model::Duration::as_std)
            };
            EngineHealthcheck {
                test: if h.disable {
                    vec!["NONE".to_owned()]
                } else {
                    h.test.clone()
                },
                interval: or(h.interval),
                timeout: or(h.timeout),
                retries: h
                    .retries
                    .map_or(0, |r| u32::try_from(r).unwrap_or(u32::MAX)),
                start_period: or(h.start_period),
                start_interval: or(h.start_interval),
            }
        });
    let (restart, restart_max) = engine_restart(service);
    ContainerSpec {
        image: image_name(project, name, service),
        entrypoint: service.entrypoint.clone(),
        command: service.command.clone(),
        environment: service
            .environment
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect(),
        working_dir: service.working_dir.clone(),
        user: service.user.clone(),
        init: service.init,
        stdin_open: service.stdin_open,
        tty: service.tty,
        hostname: service.hostname.clone(),
        container_name: service.container_name.clone(),
        mounts,
        networks,
        ports,
        expose: service.expose.clone(),
        labels,
        // Named by the daemon, which knows where each service runs.
        native_hosts: Vec::new(),
        extra_hosts: service
            .extra_hosts
            .iter()
            .flat_map(|(host, addresses)| addresses.iter().map(move |a| format!("{host}:{a}")))
            .collect(),
        cap_add: service.cap_add.clone(),
        cap_drop: service.cap_drop.clone(),
        tmpfs: service.tmpfs.clone(),
        host,
        privileged: service.privileged,
        read_only: service.read_only,
        healthcheck,
        restart,
        restart_max,
        config_hash: config_hash(hashed),
        image_id: String::new(),
        image_entrypoint: Vec::new(),
        image_command: Vec::new(),
        renew_anonymous_volumes: false,
        files,
    }
}

/// The container's place on the host as Compose sets it from the service: its network
/// mode (another service's as that service's first container), name resolution,
/// limits (`deploy.resources` over the service's own), kernel settings, devices and
/// logging.
fn host_settings(project: &Project, service: &Service) -> wharf_plan::HostSettings {
    let network_mode = match service.network_mode().strip_prefix("service:") {
        Some(other) => {
            let separator = project.name_separator();
            format!("container:{}{separator}{other}{separator}1", project.name)
        }
        None => service.network_mode().to_owned(),
    };
    let limits = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.limits.clone())
        .unwrap_or_default();
    let reservations = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.reservations.clone())
        .unwrap_or_default();
    let either = |deployed: i64, own: i64| if deployed != 0 { deployed } else { own };
    let cpus = if limits.cpus.0 == 0.0 {
        service.cpus.0
    } else {
        limits.cpus.0
    };
    wharf_plan::HostSettings {
        network_mode,
        dns: service.dns.clone(),
        dns_search: service.dns_search.clone(),
        dns_options: service.dns_opt.clone(),
        domainname: service.domainname.clone(),
        ulimits: service
            .ulimits
            .iter()
            .map(|(limit, value)| match *value {
                wharf_model::Ulimit::Single(both) => (limit.clone(), both, both),
                wharf_model::Ulimit::Range { soft, hard } => (limit.clone(), soft, hard),
            })
            .collect(),
        memory: either(limits.memory.0, service.mem_limit.0),
        memory_reservation: either(reservations.memory.0, service.mem_reservation.0),
        nano_cpus: (f64::from(cpus) * 1e9).round() as i64,
        cpu_shares: service.cpu_shares,
        cpuset: service.cpuset.clone(),
        pids_limit: either(limits.pids, service.pids_limit),
        shm_size: service.shm_size.0,
        sysctls: service
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        security_opt: service.security_opt.clone(),
        memory_swappiness: (service.mem_swappiness.0 != 0).then_some(service.mem_swappiness.0),
        oom_score_adj: service.oom_score_adj,
        pid_mode: service.pid.clone(),
        ipc_mode: service.ipc.clone(),
        group_add: service.group_add.clone(),
        devices: service
            .devices
            .iter()
            .map(|d| {
                let inside = if d.target.is_empty() {
                    &d.source
                } else {
                    &d.target
                };
                let permissions = if d.permissions.is_empty() {
                    "rwm"
                } else {
                    &d.permissions
                };
                (d.source.clone(), inside.clone(), permissions.to_owned())
            })
            .collect(),
        log_driver: service
            .logging
            .as_ref()
            .map(|l| l.driver.clone())
            .unwrap_or_default(),
        log_options: service
            .logging
            .as_ref()
            .map(|l| l.options.clone())
            .unwrap_or_default(),
        addresses: service
            .networks
            .iter()
            .filter_map(|(key, attachment)| {
                let attachment = attachment.as_ref()?;
                let fixed = (
                    attachment.ipv4_address.clone(),
                    attachment.ipv6_address.clone(),
                );
                let engine_name = project
                    .networks
                    .get(key)
                    .map_or_else(|| key.clone(), |n| n.name.clone());
                (!fixed.0.is_empty() || !fixed.1.is_empty()).then_some((engine_name, fixed))
            })
            .collect(),
    }
}

/// The image a service runs: its `image`, else Compose's name for what it builds.
pub fn image_name(project: &Project, service_name: &str, service: &Service) -> String {
    if service.image.is_empty() {
        format!("{}{}{service_name}", project.name, project.name_separator())
    } else {
        service.image.clone()
    }
}

/// The engine's restart policy name and retry count from `restart:` or
/// `deploy.restart_policy`.
fn engine_restart(service: &Service) -> (String, u32) {
    if let Some(limit) = service.restart.strip_prefix("on-failure:") {
        return ("on-failure".to_owned(), limit.parse().unwrap_or(0));
    }
    if !service.restart.is_empty() {
        return (service.restart.clone(), 0);
    }
    match service
        .deploy
        .as_ref()
        .and_then(|d| d.restart_policy.as_ref())
    {
        Some(policy) => match policy.condition.as_str() {
            "none" => ("no".to_owned(), 0),
            "on-failure" => (
                "on-failure".to_owned(),
                policy
                    .max_attempts
                    .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            ),
            _ => ("always".to_owned(), 0),
        },
        None => ("no".to_owned(), 0),
    }
}

/// A map of strings in Compose's JSON form (`driver_opts`, `options`); numbers as
/// their text.
fn strings(map: Option<&Value>) -> BTreeMap<String, String> {
    map.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            (key.clone(), text)
        })
        .collect()
}

/// A network's `ipam` in Compose's JSON form.
fn ipam(definition: &Value) -> wharf_plan::NetworkIpam {
    let text = |value: &Value, field: &str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    wharf_plan::NetworkIpam {
        driver: text(definition, "driver"),
        pools: definition
            .get("config")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|pool| wharf_plan::IpamPool {
                subnet: text(pool, "subnet"),
                ip_range: text(pool, "ip_range"),
                gateway: text(pool, "gateway"),
                aux_addresses: strings(pool.get("aux_addresses")),
            })
            .collect(),
        options: strings(definition.get("options")),
    }
}

/// The project's networks and volumes as the engine knows them, labelled as Compose
/// labels them (with the config hash of each definition).
pub fn engine_resources(
    project_name: &str,
    project_json: &Value,
) -> (
    BTreeMap<String, EngineResource>,
    BTreeMap<String, EngineResource>,
) {
    let resources = |section: &str, kind: &str, default_driver: Option<&str>| {
        project_json
            .get(section)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(key, definition)| {
                let mut hashed = definition.clone();
                if let (Some(driver), Some(fields)) = (default_driver, hashed.as_object_mut()) {
                    fields
                        .entry("driver")
                        .or_insert_with(|| Value::String(driver.to_owned()));
                }
                let mut labels = project_labels(project_name);
                labels.insert(format!("{LABEL}.{kind}"), key.clone());
                labels.insert(format!("{LABEL}.config-hash"), config_hash(&hashed));
                if let Some(own) = definition.get("labels").and_then(Value::as_object) {
                    for (label, value) in own {
                        labels.insert(label.clone(), value.as_str().unwrap_or_default().to_owned());
                    }
                }
                let text = |field: &str| {
                    definition
                        .get(field)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let flag = |field: &str| {
                    definition
                        .get(field)
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                let resource = EngineResource {
                    name: text("name"),
                    external: flag("external"),
                    driver: text("driver"),
                    labels,
                    driver_opts: strings(definition.get("driver_opts")),
                    internal: flag("internal"),
                    attachable: flag("attachable"),
                    enable_ipv6: flag("enable_ipv6"),
                    ipam: definition.get("ipam").map(ipam),
                };
                (key.clone(), resource)
            })
            .collect()
    };
    // Volumes are hashed with the engine's default driver filled in, networks as written.
    (
        resources("networks", "network", None),
        resources("volumes", "volume", Some("local")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes Docker Compose v2.40.3 put on the network and volume it created for a
    /// project `dctest` (read back with `docker network|volume inspect`).
    #[test]
    fn networks_and_volumes_carry_composes_hashes() {
        let project = serde_json::json!({
            "networks": {"default": {"name": "dctest_default", "ipam": {}}},
            "volumes": {"data": {"name": "dctest_data"}}
        });
        let (networks, volumes) = engine_resources("dctest", &project);
        let hash = |r: &EngineResource| r.labels["com.docker.compose.config-hash"].clone();
        assert_eq!(
            hash(&networks["default"]),
            "72b094622ddd8ab7b9c2d68d9683808f69667e1ece4b9b7964cbc26598bf98dc"
        );
        assert_eq!(
            hash(&volumes["data"]),
            "84e1906544e99f6be453c6d996daefb14a49379bf0cf0a5a733a5c047268c820"
        );
        assert_eq!(
            networks["default"].labels["com.docker.compose.network"],
            "default"
        );
        assert_eq!(volumes["data"].labels["com.docker.compose.volume"], "data");
    }
}

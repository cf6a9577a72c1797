//! Whether each instance listens where wharf says it does, and only there. Natively
//! no engine maps a port or stands between a process and the network: a process that
//! listens on another port than its published one is unreachable where `ps`, the proxy
//! and its dependents look, and one that listens on every address is open to the
//! network. A container's published port leads to its network address inside: a
//! server listening on another port there, or on 127.0.0.1 only, is not reached. `ps`,
//! `check` and `up --wait` say so, from where wharfd saw each process listen
//! (`InstanceStatus::listening`) or from the container's own network tables.

use std::net::SocketAddr;

use wharf_api::{InstanceState, InstanceStatus};
use wharf_host::ports::listening_in_namespace_of;

/// How long a process may take to open its ports before a missing one is reported.
const SETTLE_MS: u64 = 2_000;

/// The same for a container, whose server may first listen on 127.0.0.1 alone while it
/// sets itself up (a database's first start).
pub const CONTAINER_SETTLE_MS: u64 = 10_000;

/// A native instance that listens where it should not, or not where it should.
pub struct Exposure {
    pub instance: String,
    pub problem: String,
    pub fix: String,
    /// It listens, but not on its published port: nobody reaches it there.
    pub unreachable: bool,
}

pub fn exposures(instances: &[InstanceStatus], now_ms: u64) -> Vec<Exposure> {
    let running_for = |i: &InstanceStatus| i.started_at_ms.map(|t| now_ms.saturating_sub(t));
    let running = instances
        .iter()
        .filter(|i| i.state == InstanceState::Running);
    let mut found = Vec::new();
    for instance in running.clone().filter(|i| !i.container_id.is_empty()) {
        let settled = running_for(instance).is_some_and(|t| t >= CONTAINER_SETTLE_MS);
        // One listening nowhere may open its port on demand (a debugger's): not said.
        if let (true, Some(pid)) = (settled, instance.pid)
            && let Some(listeners) = listening_in_namespace_of(pid)
            && !listeners.is_empty()
        {
            found.extend(misdirected(instance, &listeners));
        }
    }
    for instance in running.filter(|i| i.backend == "process") {
        let addresses = &instance.listening;
        if addresses.is_empty() {
            continue;
        }
        if let Some(address) = addresses.iter().find(|a| !a.ip().is_loopback()) {
            found.push(Exposure {
                instance: instance.name.clone(),
                problem: format!(
                    "listens on {address}, beyond loopback: natively nothing stands \
                     between it and the network"
                ),
                fix: format!("make {} listen on 127.0.0.1 only", instance.service),
                unreachable: false,
            });
        }
        let settled = running_for(instance).is_some_and(|t| t >= SETTLE_MS);
        let missing = instance
            .ports
            .iter()
            .find(|p| !addresses.iter().any(|a| a.port() == p.published));
        if let (true, Some(port), Some(elsewhere)) = (settled, missing, addresses.first()) {
            found.push(Exposure {
                instance: instance.name.clone(),
                problem: format!(
                    "listens on {elsewhere}, not on its published port {}, where `ps`, \
                     the proxy and its dependents reach it",
                    port.published
                ),
                fix: format!(
                    "make {} listen on {} (wharf gives it PORT={}), or publish \"{p}:{p}\"",
                    instance.service,
                    port.published,
                    port.published,
                    p = elsewhere.port()
                ),
                unreachable: true,
            });
        }
    }
    found
}

/// Each published TCP port of a container that `listeners`, its network's, do not
/// reach: one exposure per port, saying where it listens instead and what to change.
pub fn misdirected(instance: &InstanceStatus, listeners: &[SocketAddr]) -> Vec<Exposure> {
    let listening: Vec<String> = listeners.iter().map(ToString::to_string).collect();
    instance
        .ports
        .iter()
        .filter(|p| p.protocol.is_tcp() && !reaches(listeners, p.target))
        .map(|port| {
            let (where_, fix) = if listeners.is_empty() {
                (
                    "listens on no TCP port inside its container".to_owned(),
                    "a healthcheck makes `--wait` wait for it as long as it takes".to_owned(),
                )
            } else if listeners.iter().any(|a| a.port() == port.target) {
                (
                    format!("listens on {} inside its container", listening.join(", ")),
                    format!("make it listen on 0.0.0.0:{} inside", port.target),
                )
            } else {
                (
                    format!("listens on {} inside its container", listening.join(", ")),
                    format!(
                        "publish \"{}:{}\"",
                        port.published,
                        listeners.first().map_or(port.target, SocketAddr::port)
                    ),
                )
            };
            Exposure {
                instance: instance.name.clone(),
                problem: format!(
                    "{where_}, not where 127.0.0.1:{} leads (port {})",
                    port.published, port.target
                ),
                fix,
                unreachable: true,
            }
        })
        .collect()
}

/// Whether a listener among `listeners` is reached on `target` from the container's
/// network address (one on 127.0.0.1 inside is not).
pub fn reaches(listeners: &[SocketAddr], target: u16) -> bool {
    listeners
        .iter()
        .any(|a| a.port() == target && !a.ip().is_loopback())
}

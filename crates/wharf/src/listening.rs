//! Whether each native instance listens where wharf says it does, and only there.
//! Natively no engine maps a port or stands between a process and the network: a
//! process that listens on another port than its published one is unreachable where
//! `ps`, the proxy and its dependents look, and one that listens on every address is
//! open to the network. `ps` and `check` say so, from where wharfd saw each process
//! listen (`InstanceStatus::listening`).

use wharf_api::{InstanceState, InstanceStatus};

/// How long a process may take to open its ports before a missing one is reported.
const SETTLE_MS: u64 = 2_000;

/// A native instance that listens where it should not, or not where it should.
pub struct Exposure {
    pub instance: String,
    pub problem: String,
    pub fix: String,
    /// It listens, but not on its published port: nobody reaches it there.
    pub unreachable: bool,
}

pub fn exposures(instances: &[InstanceStatus], now_ms: u64) -> Vec<Exposure> {
    let native = instances
        .iter()
        .filter(|i| i.backend == "process" && i.state == InstanceState::Running);
    let mut found = Vec::new();
    for instance in native {
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
        let settled = instance
            .started_at_ms
            .is_some_and(|t| now_ms.saturating_sub(t) >= SETTLE_MS);
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

//! Processes that leave their service's process group (a `setsid`, a daemonizing
//! double fork) must not outlive it either. wharfd is a subreaper, so such orphans
//! become its children; every service process carries a marker in its environment,
//! inherited by everything it starts, so a stop finds them wherever they went; and
//! orphans that exit are reaped here, since the runtime only waits for its own.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use crate::process::{MARKER, ProcStat, all_pids};

/// The marker value of one instance: the daemon (its runtime directory, so daemons of
/// different homes never touch each other's processes), project, service and replica.
pub fn marker(daemon: &str, project: &str, service: &str, replica: u32) -> String {
    format!("{daemon}|{project}|{service}|{replica}|")
}

/// The prefix every marker of a daemon's instances starts with.
pub fn daemon_marker(daemon: &str) -> String {
    format!("{daemon}|")
}

/// SIGKILLs every process whose marker starts with `prefix`.
pub fn kill_marked(prefix: &str) {
    for pid in marked(prefix) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// The live processes whose marker starts with `prefix`.
pub fn marked(prefix: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|pid| carries_marker(*pid, prefix))
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

/// Whether `pid` carries a marker starting with `prefix` (a zombie's environment reads
/// empty, so it never does).
pub fn carries_marker(pid: u32, prefix: &str) -> bool {
    let wanted = format!("{MARKER}={prefix}");
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
        environ
            .split(|b| *b == 0)
            .any(|entry| entry.starts_with(wanted.as_bytes()))
    })
}

/// The processes wharfd started itself (service leaders, probes), which the runtime
/// waits for; any other child is an orphan it adopted as subreaper.
#[derive(Default)]
pub struct Children(Mutex<HashSet<u32>>);

impl Children {
    pub fn adopt(&self, pid: u32) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(pid);
    }

    pub fn release(&self, pid: u32) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&pid);
    }

    /// Collects adopted orphans that have exited. Only this process's children are
    /// looked at (`/proc/self/task/*/children`), not every process of the machine.
    pub fn reap_orphans(&self) {
        let me = std::process::id();
        for pid in own_children() {
            let Some(stat) = ProcStat::read(pid) else {
                continue;
            };
            let ours = self
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&pid);
            if stat.is_zombie() && stat.parent == me && !ours {
                let _ = waitpid(Pid::from_raw(pid.cast_signed()), Some(WaitPidFlag::WNOHANG));
            }
        }
    }
}

/// The children of every thread of this process; all processes when the kernel does
/// not list children, so orphans are still found.
fn own_children() -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return all_pids();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let Ok(text) = std::fs::read_to_string(task.path().join("children")) else {
            return all_pids();
        };
        children.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    children
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_of_one_daemon_share_its_prefix_only() {
        let web = marker("/run/a", "shop", "web", 1);
        assert!(web.starts_with(&daemon_marker("/run/a")));
        assert!(!web.starts_with(&daemon_marker("/run/b")));
        assert!(!marker("/run/ab", "shop", "web", 1).starts_with(&daemon_marker("/run/a")));
        assert!(!marker("/run/a", "shop", "web", 10).starts_with(&web));
    }
}

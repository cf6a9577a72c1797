//! Signalling and reading native processes. Each service process leads its own
//! process group (see `spawn`), so a signal reaches everything it started.

use std::str::FromStr;
use std::sync::OnceLock;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The environment variable that marks a service's processes (see `orphans`).
pub const MARKER: &str = "WHARF_INSTANCE";

/// The open-files limit the daemon started with, when it raised its own.
static INHERITED_FILES_LIMIT: OnceLock<(u64, u64)> = OnceLock::new();

/// The open-files limit services get: the one the daemon started with, when it
/// raised its own.
pub fn inherited_files_limit() -> Option<(u64, u64)> {
    INHERITED_FILES_LIMIT.get().copied()
}

/// Raises the daemon's soft open-files limit to the hard one, as the proxy holds a socket
/// per client; services get the limit they would have had back (a high soft limit
/// breaks programs that still use select()).
pub fn raise_open_files_limit() {
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok()
    {
        let _ = INHERITED_FILES_LIMIT.set((soft, hard));
    }
}

/// Sends `signal` to the process group led by `pid`; a group already gone is fine.
pub fn signal_group(pid: u32, signal: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), signal);
    }
}

/// Parses `SIGTERM`, `TERM`, `15`.
pub fn parse_signal(name: &str) -> Option<Signal> {
    if let Ok(number) = name.parse::<i32>() {
        return Signal::try_from(number).ok();
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full).ok()
}

/// The ids of every process this user may see.
pub fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What wharfd reads of a process in `/proc/<pid>/stat`.
pub struct ProcStat {
    /// `R`, `S`, `Z`…: a zombie has exited; only its parent has not collected it.
    pub state: String,
    pub parent: u32,
    pub group: u32,
    /// When it started, in clock ticks since boot (field 22). With the pid it
    /// identifies a process across a daemon restart, so a reused pid is never mistaken
    /// for a service.
    pub start_time: u64,
}

impl ProcStat {
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may hold spaces; fields after it follow the last ')'.
        let fields: Vec<&str> = stat
            .get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .collect();
        Some(Self {
            state: (*fields.first()?).to_owned(),
            parent: fields.get(1)?.parse().ok()?,
            group: fields.get(2)?.parse().ok()?,
            start_time: fields.get(19)?.parse().ok()?,
        })
    }

    pub fn is_zombie(&self) -> bool {
        self.state == "Z"
    }
}

pub fn start_time(pid: u32) -> Option<u64> {
    ProcStat::read(pid).map(|stat| stat.start_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_in_every_spelling() {
        assert_eq!(parse_signal("SIGTERM"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("int"), Some(Signal::SIGINT));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("SIGNOPE"), None);
    }

    #[test]
    fn start_time_identifies_this_process() {
        let me = std::process::id();
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        assert_eq!(start_time(u32::MAX), None);
    }
}

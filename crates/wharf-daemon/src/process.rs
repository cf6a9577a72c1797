//! Starting and signalling native processes. Each service process leads its own
//! process group, so a signal reaches everything it started; it also gets SIGKILL if
//! the daemon dies (the parent-death signal), so nothing outlives a crashed daemon.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::str::FromStr;
use std::sync::OnceLock;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::cgroup::Cgroup;

/// The environment variable that marks a service's processes (see `orphans`).
pub const MARKER: &str = "WHARF_INSTANCE";

/// What keeps every process of an instance together, so none outlives it: its
/// marker in the environment, and its cgroup where the machine gives one.
#[derive(Clone, Copy)]
pub struct Containment<'a> {
    pub marker: &'a str,
    pub cgroup: Option<&'a Cgroup>,
}

impl Containment<'_> {
    /// Makes `command` start in a new process group, carrying the marker, inside the
    /// cgroup, with the parent-death signal set and the inherited open-files limit.
    pub fn apply(&self, command: &mut Command) {
        command.env(MARKER, self.marker).process_group(0);
        let files_limit = INHERITED_FILES_LIMIT.get().copied();
        let cgroup = self.cgroup.cloned();
        // SAFETY: prctl, setrlimit and the cgroup's open and write are async-signal-safe
        // system calls on memory prepared before the fork; they are all that is done
        // between fork and exec. The daemon spawns from its single runtime thread, which
        // lives as long as the daemon, so the signal fires when it dies.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(move || {
                if let Some(cgroup) = &cgroup {
                    cgroup.join_from_child()?;
                }
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                if let Some((soft, hard)) = files_limit {
                    setrlimit(Resource::RLIMIT_NOFILE, soft, hard)?;
                }
                Ok(())
            });
        }
    }
}

/// Spawns `argv` in `dir` with the daemon's environment overlaid by `env`, contained,
/// stdin closed, stdout and stderr piped.
pub fn spawn(
    argv: &[String],
    dir: &Path,
    env: &BTreeMap<String, String>,
    containment: Containment<'_>,
) -> std::io::Result<Child> {
    let (program, arguments) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"))?;
    let mut command = Command::new(program);
    command
        .args(arguments)
        .current_dir(dir)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    containment.apply(&mut command);
    command.spawn()
}

/// The open-files limit the daemon started with, when it raised its own.
static INHERITED_FILES_LIMIT: OnceLock<(u64, u64)> = OnceLock::new();

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

//! A cgroup per instance, where the machine gives wharfd a cgroup v2 tree it may write.
//! A process group misses what calls `setsid`; the environment marker misses servers
//! that overwrite their environment with their process title (postgres, nginx); the
//! parent-death signal is cleared when a server switches to its own user. A cgroup
//! misses nothing: the kernel keeps every descendant in it, under any user, and
//! `cgroup.kill` ends them all at once. Without one, groups and markers remain.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use wharf_host::cgroups::{cgroup_of, cgroup2_mount};

/// wharfd's tree: one directory per project, one per instance below it.
#[derive(Clone, Debug)]
pub struct Tree {
    root: PathBuf,
}

/// One instance's cgroup.
#[derive(Clone, Debug)]
pub struct Cgroup {
    dir: PathBuf,
    /// `cgroup.procs`, ready for the child to write itself into between fork and exec,
    /// where nothing may allocate.
    procs: CString,
}

impl Tree {
    /// Creates the tree `name` inside the daemon's own cgroup, and checks that a
    /// process can be moved into it; `None` when the machine does not allow it (no
    /// cgroup v2, a cgroup this user may not write, controllers in the way).
    pub fn create(name: &str) -> Option<Self> {
        let mount = cgroup2_mount()?;
        let own = cgroup_of("self")?;
        let root = mount.join(own.trim_start_matches('/')).join(name);
        std::fs::create_dir_all(&root).ok()?;
        let tree = Self { root };
        let probe = tree.cgroup(&["probe"])?;
        let moved = std::process::Command::new("true")
            .stdin(std::process::Stdio::null())
            .pre_exec_join(&probe)
            .status()
            .is_ok_and(|s| s.success());
        probe.remove();
        moved.then_some(tree)
    }

    /// The tree at `root`, as a previous daemon recorded it.
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The trees in the daemon's own cgroup whose names start with `prefix`.
    pub fn existing(prefix: &str) -> Vec<Self> {
        let (Some(mount), Some(own)) = (cgroup2_mount(), cgroup_of("self")) else {
            return Vec::new();
        };
        subdirectories(&mount.join(own.trim_start_matches('/')))
            .into_iter()
            .filter(|dir| {
                dir.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .map(|root| Self { root })
            .collect()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cgroup of one project's instance, created if missing.
    pub fn instance(&self, project: &str, service: &str, replica: u32) -> Option<Cgroup> {
        // Prefixed, so no name can clash with the kernel's own files (`cgroup.procs`).
        self.cgroup(&[
            &format!("project-{project}"),
            &format!("instance-{service}-{replica}"),
        ])
    }

    fn cgroup(&self, parts: &[&str]) -> Option<Cgroup> {
        let dir = parts.iter().fold(self.root.clone(), |dir, p| dir.join(p));
        std::fs::create_dir_all(&dir).ok()?;
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()?;
        Some(Cgroup { dir, procs })
    }

    /// Every process in the tree.
    pub fn pids(&self) -> Vec<i32> {
        procs_below(&self.root)
    }

    /// Kills every process in the tree, waits until they are gone, and removes the
    /// cgroups. True when nothing is left.
    pub fn end_all(&self, timeout: Duration) -> bool {
        if !self.root.is_dir() {
            return true;
        }
        kill_cgroup(&self.root);
        let empty = wait_until(timeout, || !populated(&self.root));
        remove_below(&self.root);
        let _ = std::fs::remove_dir(&self.root);
        empty
    }
}

impl Cgroup {
    /// Freezes (or thaws) every process in the cgroup; false when the kernel cannot.
    pub fn freeze(&self, frozen: bool) -> bool {
        std::fs::write(
            self.dir.join("cgroup.freeze"),
            if frozen { "1" } else { "0" },
        )
        .is_ok()
    }

    /// Kills every process in the cgroup at once.
    pub fn kill(&self) {
        kill_cgroup(&self.dir);
    }

    /// Whether any process is still in it.
    pub fn populated(&self) -> bool {
        populated(&self.dir)
    }

    /// Removes the cgroup (it must be empty); a project's directory goes with its last.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(project) = self.dir.parent() {
            let _ = std::fs::remove_dir(project);
        }
    }

    /// Its `cgroup.procs`, open for a child to write itself into (see `spawn`).
    pub fn open_procs(&self) -> std::io::Result<std::os::fd::OwnedFd> {
        use nix::fcntl::{OFlag, open};
        Ok(open(
            self.procs.as_c_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?)
    }

    /// Called in the child between fork and exec: moves the calling process into the
    /// cgroup (`0` names the writer). Only system calls, no allocation.
    pub fn join_from_child(&self) -> std::io::Result<()> {
        use nix::fcntl::{OFlag, open};
        let fd = open(
            self.procs.as_c_str(),
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        nix::unistd::write(&fd, b"0")?;
        Ok(())
    }
}

/// Moving a `Command`'s child into a cgroup before it runs anything.
pub trait JoinCgroup {
    fn pre_exec_join(&mut self, cgroup: &Cgroup) -> &mut Self;
}

impl JoinCgroup for std::process::Command {
    fn pre_exec_join(&mut self, cgroup: &Cgroup) -> &mut Self {
        use std::os::unix::process::CommandExt as _;
        let cgroup = cgroup.clone();
        // SAFETY: `join_from_child` makes only async-signal-safe system calls (open,
        // write, close) on memory prepared before the fork.
        #[allow(unsafe_code)]
        unsafe {
            self.pre_exec(move || cgroup.join_from_child())
        }
    }
}

fn kill_cgroup(dir: &Path) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    // Kernels before 5.14 have no cgroup.kill: signal each process until none is left
    // (a process forking meanwhile is caught on the next round).
    let _ = wait_until(Duration::from_secs(2), || {
        let pids = procs_below(dir);
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        pids.is_empty()
    });
}

fn procs_below(dir: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    for child in subdirectories(dir) {
        pids.extend(procs_below(&child));
    }
    pids
}

fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .is_ok_and(|events| events.lines().any(|l| l == "populated 1"))
}

/// Removes every cgroup below `dir`, deepest first (a cgroup with children or
/// processes cannot be removed).
fn remove_below(dir: &Path) {
    for child in subdirectories(dir) {
        remove_below(&child);
        let _ = std::fs::remove_dir(&child);
    }
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `done` every few milliseconds until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_contains_and_kills_a_process_that_leaves_its_group() {
        let Some(tree) = Tree::create(&format!("wharf-test-{}", std::process::id())) else {
            // Not every machine gives a cgroup tree (wharfd falls back then); saying so
            // is the opt-out, never a silent skip.
            assert!(
                std::env::var_os("WHARF_NO_CGROUPS").is_some(),
                "no writable cgroup v2 tree here: run as root on a machine with cgroup v2, \
                 or set WHARF_NO_CGROUPS=1 to test without"
            );
            return;
        };
        let cgroup = tree.instance("shop", "web", 1).unwrap();
        let mut child = std::process::Command::new("setsid")
            .args(["sh", "-c", "sleep 60 & sleep 60"])
            .pre_exec_join(&cgroup)
            .spawn()
            .unwrap();
        assert!(wait_until(Duration::from_secs(2), || procs_below(
            tree.root()
        )
        .len()
            >= 2));
        assert!(cgroup.populated());
        cgroup.kill();
        let _ = child.wait();
        assert!(wait_until(Duration::from_secs(2), || !cgroup.populated()));
        assert!(tree.end_all(Duration::from_secs(2)));
        assert!(
            !tree.root().exists(),
            "the tree is removed with its processes"
        );
    }
}

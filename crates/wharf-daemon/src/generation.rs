//! A daemon's generation of service processes ends with it. The parent-death signal
//! does not survive a server's switch to its own user, so two more things stand
//! behind it: the guard, a small process forked when the daemon starts, which ends
//! every process of the generation the moment the daemon dies; and the successor,
//! which does the same before it starts anything, in case the guard died too.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{SigHandler, Signal, kill, signal};
use nix::unistd::{ForkResult, Pid};
use wharf_api::Paths;

use crate::cgroup::{Tree, wait_until};
use crate::orphans::{carries_marker, daemon_marker};
use crate::process::{ProcStat, all_pids, start_time};
use crate::store::Store;

/// How long ending a generation may take before the survivors are reported.
const END_TIMEOUT: Duration = Duration::from_secs(10);
/// How long ended processes may stay zombies before starting goes ahead anyway.
const REAP_TIMEOUT: Duration = Duration::from_secs(3);

/// What identifies a daemon's generation of processes: its cgroup tree (where the
/// machine gives one), the process groups it recorded, and its marker.
pub struct Generation {
    paths: Paths,
}

impl Generation {
    pub fn new(paths: &Paths) -> Self {
        Self {
            paths: paths.clone(),
        }
    }

    fn tree_record(&self) -> PathBuf {
        tree_record(&self.paths)
    }

    /// What the names of this home's cgroup trees start with: daemons of other homes
    /// (other `WHARF_HOME`s) may share the cgroup, and never touch each other's trees.
    fn tree_prefix(&self) -> String {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.paths.runtime.as_os_str().as_encoded_bytes());
        let mut short = [0u8; 8];
        short.copy_from_slice(&digest[..8]);
        format!("wharf-{:016x}-", u64::from_be_bytes(short))
    }

    /// Creates this generation's cgroup tree (named after the daemon's pid, so a daemon
    /// whose home was deleted under it never shares a tree with its successor) and
    /// records it; `None` when the machine gives none or `WHARF_CGROUPS=off` says not
    /// to (then process groups and markers contain the services).
    pub fn create_tree(&self) -> Option<Tree> {
        let _ = std::fs::remove_file(self.tree_record());
        if std::env::var_os("WHARF_CGROUPS").is_some_and(|v| v == "off") {
            return None;
        }
        let tree = Tree::create(&format!("{}{}", self.tree_prefix(), std::process::id()))?;
        wharf_api::write_private(
            &self.tree_record(),
            tree.root().as_os_str().as_encoded_bytes(),
        )
        .ok()?;
        Some(tree)
    }

    /// Ends every process of the previous generations and waits until they are gone.
    /// Returns what could not be ended.
    pub fn end(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // Killed processes are waited for until their parent (init, once the daemon is
        // gone) has reaped them: a server checking whether the pid in its lock file
        // lives sees a zombie as alive (postgres's postmaster.pid).
        let mut ended = Vec::new();
        let mut trees = Tree::existing(&self.tree_prefix());
        if let Ok(root) = std::fs::read(self.tree_record()) {
            let root = PathBuf::from(std::ffi::OsString::from(
                String::from_utf8_lossy(&root).into_owned(),
            ));
            if !trees.iter().any(|t| t.root() == root) {
                trees.push(Tree::at(root));
            }
        }
        for tree in trees {
            ended.extend(tree.pids());
            if !tree.end_all(END_TIMEOUT) {
                problems.push(format!("processes are left in {}", tree.root().display()));
            }
        }
        let store = Store::new(self.paths.state.join("projects"));
        let mut groups = BTreeSet::new();
        for project in store.project_names() {
            let records = store.load_processes(&project);
            if records.is_empty() {
                continue; // a clean stop left nothing: nothing to rewrite either
            }
            for record in records {
                if start_time(record.pid) == Some(record.start_time) {
                    groups.insert(record.pid);
                }
            }
            let _ = store.save_processes(&project, &[]);
        }
        let prefix = daemon_marker(&self.paths.runtime.display().to_string());
        let mut left = survivors(&groups, &prefix);
        let all_ended = wait_until(END_TIMEOUT, || {
            for pid in &left {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
            ended.extend(&left);
            left = survivors(&groups, &prefix);
            left.is_empty()
        });
        if !all_ended {
            problems.push(format!(
                "processes of the previous daemon could not be ended: {left:?}"
            ));
        }
        wait_until(REAP_TIMEOUT, || {
            ended
                .iter()
                .all(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        });
        problems
    }

    /// Forks the guard; the daemon keeps the returned end of a pipe open for as long
    /// as it lives. The guard holds the daemon's `lock` until it is done, so a
    /// successor waits for it. Call before any thread starts.
    pub fn start_guard(&self, tree: Option<&Tree>, lock: &File) -> std::io::Result<OwnedFd> {
        let lock_inode = lock.metadata()?.ino();
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // SAFETY: called while the daemon has a single thread, so the child may do
        // anything; it never returns to the caller.
        #[allow(unsafe_code)]
        match unsafe { nix::unistd::fork() }? {
            ForkResult::Parent { .. } => Ok(write),
            ForkResult::Child => {
                drop(write);
                let _ = nix::sys::prctl::set_name(c"wharfd-guard");
                // Signals meant for the daemon's process group are not for the guard.
                for ignored in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
                    // SAFETY: ignoring a signal installs no handler code.
                    #[allow(unsafe_code)]
                    let _ = unsafe { signal(ignored, SigHandler::SigIgn) };
                }
                let mut byte = [0u8; 1];
                // Nothing is ever written: the read returns when the daemon is gone.
                while let Ok(1) | Err(nix::errno::Errno::EINTR) =
                    nix::unistd::read(&read, &mut byte)
                {}
                // A home deleted under the daemon may hold a successor's state by now:
                // then only this generation's own tree is this guard's to end.
                let same_home =
                    std::fs::metadata(self.paths.lock()).is_ok_and(|m| m.ino() == lock_inode);
                let problems = if same_home {
                    self.end()
                } else {
                    tree.filter(|t| !t.end_all(END_TIMEOUT))
                        .map(|t| format!("processes are left in {}", t.root().display()))
                        .into_iter()
                        .collect()
                };
                for problem in problems {
                    eprintln!(
                        "{} guard: {problem}",
                        wharf_api::utc_text(wharf_api::now_ms())
                    );
                }
                std::process::exit(0);
            }
        }
    }
}

/// Where the cgroup tree of the running generation is recorded, so a successor
/// started from another cgroup still finds it.
pub fn tree_record(paths: &Paths) -> PathBuf {
    paths.runtime.join("cgroup")
}

/// Live processes of the generation: in one of its groups, or carrying its marker.
fn survivors(groups: &BTreeSet<u32>, prefix: &str) -> Vec<i32> {
    let me = std::process::id();
    all_pids()
        .into_iter()
        .filter(|pid| *pid != me)
        .filter(|pid| {
            ProcStat::read(*pid).is_some_and(|stat| {
                !stat.is_zombie() && (groups.contains(&stat.group) || carries_marker(*pid, prefix))
            })
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

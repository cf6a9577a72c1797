//! Where cgroups v2 are mounted, which cgroup a process is in, and who else is in it:
//! wharfd puts each native instance in a cgroup of its own (`…/instance-db-1`), which
//! holds every process the instance started, `setsid` or not.

use std::path::PathBuf;

/// Where the cgroup v2 hierarchy is mounted, from this process's mount table:
/// `/sys/fs/cgroup` on a unified system, `/sys/fs/cgroup/unified` on a hybrid one.
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|line| {
        // Fields: id parent major:minor root mount-point options... - fstype source ...
        let (before, after) = line.split_once(" - ")?;
        (after.split_whitespace().next()? == "cgroup2")
            .then(|| before.split_whitespace().nth(4).map(PathBuf::from))?
    })
}

/// The cgroup v2 path of `process` (a pid, or `self`): `0::/path` in its
/// `/proc/PROCESS/cgroup`.
pub fn cgroup_of(process: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{process}/cgroup"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("0::").map(str::to_owned))
}

/// Every process in the instance cgroup wharfd made for `leader`; `None` when the
/// leader is not in one of those (no cgroups here: its process group is all there is).
pub fn instance_members(leader: u32) -> Option<Vec<u32>> {
    let path = cgroup_of(&leader.to_string())?;
    let name = path.rsplit('/').next()?;
    if !name.starts_with("instance-") {
        return None;
    }
    let procs = cgroup2_mount()?
        .join(path.trim_start_matches('/'))
        .join("cgroup.procs");
    let listed = std::fs::read_to_string(procs).ok()?;
    Some(listed.lines().filter_map(|pid| pid.parse().ok()).collect())
}

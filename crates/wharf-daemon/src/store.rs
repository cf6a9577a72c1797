//! The daemon's persisted state, per project: the desired spec and which services
//! should be up (so a restarted daemon brings them back), the instances that ended by
//! themselves (so it does not run a finished job again), and the process groups it
//! started (so a restarted daemon can stop any that outlived the last one).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wharf_api::{DESIRED_FILE, InstanceStatus};
use wharf_plan::ProjectSpec;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Desired {
    pub spec: ProjectSpec,
    /// Services that should be running.
    pub up: BTreeSet<String>,
}

/// A process group the daemon started, with its leader's start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: u32,
    pub start_time: u64,
}

pub struct Store {
    projects: PathBuf,
}

impl Store {
    pub fn new(projects: PathBuf) -> Self {
        Self { projects }
    }

    pub fn project_dir(&self, name: &str) -> PathBuf {
        self.projects.join(name)
    }

    pub fn save_desired(&self, desired: &Desired) -> std::io::Result<()> {
        let text = serde_json::to_vec_pretty(desired)?;
        write_atomic(
            &self.project_dir(&desired.spec.name).join(DESIRED_FILE),
            &text,
        )
    }

    pub fn has_desired(&self, name: &str) -> bool {
        self.project_dir(name).join(DESIRED_FILE).exists()
    }

    /// Moves a project's logs aside, to `logs.previous` (replacing what is there), so
    /// its next run starts them afresh.
    pub fn set_logs_aside(&self, name: &str) -> std::io::Result<()> {
        let dir = self.project_dir(name);
        let previous = dir.join("logs.previous");
        match std::fs::remove_dir_all(&previous) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        match std::fs::rename(dir.join("logs"), previous) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    pub fn forget(&self, name: &str) -> std::io::Result<()> {
        for file in [DESIRED_FILE, "ended.json"] {
            match std::fs::remove_file(self.project_dir(name).join(file)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }

    /// Every project with a desired state; unreadable files are skipped and reported.
    pub fn load_all(&self) -> (Vec<Desired>, Vec<String>) {
        let mut found = Vec::new();
        let mut problems = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.projects) else {
            return (found, problems);
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path().join(DESIRED_FILE);
            match std::fs::read(&path) {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(desired) => found.push(desired),
                    Err(err) => problems.push(format!("{}: {err}", path.display())),
                },
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => problems.push(format!("{}: {err}", path.display())),
            }
        }
        found.sort_by(|a: &Desired, b| a.spec.name.cmp(&b.spec.name));
        (found, problems)
    }

    /// Every project directory, with or without a desired state (for leftover processes).
    pub fn project_names(&self) -> Vec<String> {
        std::fs::read_dir(&self.projects)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn save_processes(&self, name: &str, records: &[ProcessRecord]) -> std::io::Result<()> {
        let text = serde_json::to_vec(records)?;
        write_atomic(&self.project_dir(name).join("processes.json"), &text)
    }

    pub fn save_ended(&self, name: &str, ended: &[InstanceStatus]) -> std::io::Result<()> {
        let text = serde_json::to_vec(ended)?;
        write_atomic(&self.project_dir(name).join("ended.json"), &text)
    }

    /// The instances that had ended by themselves; none when unreadable (they run again).
    pub fn load_ended(&self, name: &str) -> Vec<InstanceStatus> {
        std::fs::read(self.project_dir(name).join("ended.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn load_processes(&self, name: &str) -> Vec<ProcessRecord> {
        std::fs::read(self.project_dir(name).join("processes.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file;
/// private to the user, as the state holds the project's secrets.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let write = || {
        if let Some(dir) = path.parent() {
            wharf_api::create_private_dir(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&temporary, path)
    };
    // Said with the file, so a full disk or a read-only directory is found at once.
    write().map_err(|err| {
        let _ = std::fs::remove_file(&temporary);
        std::io::Error::new(err.kind(), format!("{}: {err}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_state_and_ended_instances_round_trip_and_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_owned());
        let desired = Desired {
            spec: ProjectSpec {
                name: "shop".into(),
                ..ProjectSpec::default()
            },
            up: BTreeSet::from(["web".to_owned()]),
        };
        store.save_desired(&desired).unwrap();
        let (found, problems) = store.load_all();
        assert!(problems.is_empty());
        assert_eq!(found[0].up, desired.up);
        let seed = InstanceStatus::new("seed", 1, "shop-seed-1".into(), "process");
        store
            .save_ended("shop", std::slice::from_ref(&seed))
            .unwrap();
        assert_eq!(store.load_ended("shop"), [seed]);
        store.forget("shop").unwrap();
        assert!(store.load_all().0.is_empty());
        assert!(
            store.load_ended("shop").is_empty(),
            "forgotten with the project"
        );
    }

    #[test]
    fn a_corrupt_file_is_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bad")).unwrap();
        std::fs::write(dir.path().join("bad/desired.json"), "{").unwrap();
        let (found, problems) = Store::new(dir.path().to_owned()).load_all();
        assert!(found.is_empty());
        assert_eq!(problems.len(), 1);
    }
}

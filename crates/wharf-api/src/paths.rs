//! Where wharf keeps its files: everything under `WHARF_HOME` when set (tests use it
//! for isolation), else the XDG directories.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config: PathBuf,
    pub data: PathBuf,
    pub state: PathBuf,
    pub runtime: PathBuf,
}

impl Paths {
    /// Reads `WHARF_HOME`, `XDG_*_HOME`, `XDG_RUNTIME_DIR` and `HOME`.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(home) = var("WHARF_HOME") {
            return Self::under(&home);
        }
        let user_home = var("HOME").unwrap_or_else(|| PathBuf::from("/"));
        let xdg = |name: &str, fallback: &str| {
            var(name)
                .unwrap_or_else(|| user_home.join(fallback))
                .join("wharf")
        };
        let runtime = var("XDG_RUNTIME_DIR").map_or_else(
            || std::env::temp_dir().join(format!("wharf-{}", current_uid())),
            |dir| dir.join("wharf"),
        );
        // Root's home is private, but native services that drop root (PostgreSQL runs
        // as `postgres`) need to reach their data: root keeps it where system data lives.
        let data = if var("XDG_DATA_HOME").is_none() && current_uid() == 0 {
            PathBuf::from("/var/lib/wharf")
        } else {
            xdg("XDG_DATA_HOME", ".local/share")
        };
        Self {
            config: xdg("XDG_CONFIG_HOME", ".config"),
            data,
            state: xdg("XDG_STATE_HOME", ".local/state"),
            runtime,
        }
    }

    pub fn under(home: &Path) -> Self {
        Self {
            config: home.join("config"),
            data: home.join("data"),
            state: home.join("state"),
            runtime: home.join("run"),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime.join("wharfd.sock")
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.state.join("wharfd.log")
    }

    pub fn lock(&self) -> PathBuf {
        self.runtime.join("wharfd.lock")
    }

    pub fn project_state(&self, project: &str) -> PathBuf {
        self.state.join("projects").join(project)
    }

    /// What wharfd keeps of a project it runs (its spec, the services meant to be up):
    /// there from its `up` until its `down`.
    pub fn desired_state(&self, project: &str) -> PathBuf {
        self.project_state(project).join(DESIRED_FILE)
    }

    pub fn project_data(&self, project: &str) -> PathBuf {
        self.data.join("projects").join(project)
    }
}

/// The owner of this process's `/proc` entry: its user id, without a libc call.
fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// Writes a small file readable by the user only (0600), replacing what was there.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

/// Creates `dir` readable by the user only (0700). Missing parents may be passed
/// through but not listed (0711): wharf's home also holds the data tree, which servers
/// running as their own users must reach.
/// The name of [`Paths::desired_state`] in a project's state directory.
pub const DESIRED_FILE: &str = "desired.json";

pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    // A file where a directory goes (`WHARF_HOME` naming one) is said as such, not as
    // the "File exists" creating under it would give.
    if let Some(file) = dir.ancestors().find(|a| a.exists() && !a.is_dir()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is a file, not a directory", file.display()),
        ));
    }
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_lives_under_wharf_home() {
        let paths = Paths::under(Path::new("/w"));
        assert_eq!(paths.socket(), Path::new("/w/run/wharfd.sock"));
        assert_eq!(
            paths.project_state("shop"),
            Path::new("/w/state/projects/shop")
        );
        assert_eq!(
            paths.project_data("shop"),
            Path::new("/w/data/projects/shop")
        );
    }

    #[test]
    fn a_file_where_a_directory_goes_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("home");
        std::fs::write(&file, "").unwrap();
        let err = create_private_dir(&file.join("state")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{} is a file, not a directory", file.display())
        );
    }
}

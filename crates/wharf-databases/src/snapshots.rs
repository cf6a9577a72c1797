//! What wharf knows of each snapshot — where the server keeps it, when it was taken,
//! of which database, on which engine and version, at which revisions of the
//! project's repos — one private file each in the project's data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DbError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub tag: String,
    /// The server's service.
    pub service: String,
    pub database: String,
    /// `postgres` or `mariadb`.
    pub engine: String,
    /// The server's version when it was taken.
    pub version: String,
    pub created_ms: u64,
    pub size: u64,
    /// The sealed database the server keeps it in.
    pub stored_as: String,
    /// Why wharf took it by itself (`before restore`); `None` when it was asked for.
    pub automatic: Option<String>,
    /// Restored by `restore --undo`: the next undo goes further back.
    #[serde(default)]
    pub undone: bool,
    /// Each checked-out repo's commit when it was taken.
    pub revisions: BTreeMap<String, String>,
    /// Where the server ran (`process`, `container`): the copy is in that server's
    /// data, which the service run the other way does not see. Empty in a snapshot
    /// taken before wharf noted it.
    #[serde(default)]
    pub ran_as: String,
}

impl Snapshot {
    /// Whether it is in the data of a server that runs as `ran_as` (`process`,
    /// `container`); one taken before wharf noted it may be in either.
    pub fn taken_as(&self, ran_as: &str) -> bool {
        self.ran_as.is_empty() || self.ran_as == ran_as
    }

    /// An automatic snapshot an undo has no more use for: taken by an undo (the state
    /// it replaced), or restored by one already.
    pub fn is_spent(&self) -> bool {
        self.undone || self.automatic.as_deref() == Some(crate::operations::UNDO)
    }
}

/// The snapshots of one project.
pub struct SnapshotStore {
    dir: PathBuf,
}

impl SnapshotStore {
    /// The store under the project's data directory.
    pub fn new(project_data: &Path) -> Self {
        Self {
            dir: project_data.join("snapshots"),
        }
    }

    /// Where the store keeps its files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, tag: &str) -> PathBuf {
        self.dir.join(format!("{tag}.json"))
    }

    /// Every snapshot, oldest first.
    pub fn list(&self) -> Result<Vec<Snapshot>, DbError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(DbError::io(&self.dir)(err)),
        };
        let mut snapshots = Vec::new();
        for entry in entries {
            let path = entry.map_err(DbError::io(&self.dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                snapshots.push(read(&path)?);
            }
        }
        snapshots.sort_by(|a, b| (a.created_ms, &a.tag).cmp(&(b.created_ms, &b.tag)));
        Ok(snapshots)
    }

    pub fn get(&self, tag: &str) -> Result<Snapshot, DbError> {
        if !valid_tag(tag) || !self.file(tag).exists() {
            return Err(DbError::NoSnapshot(tag.to_owned()));
        }
        read(&self.file(tag))
    }

    /// What `restore --undo` restores: the newest automatic snapshot (of `service`'s
    /// databases when given) that an undo neither took nor restored already, so undo
    /// after undo steps back through the drops, loads, resets and restores.
    pub fn last_automatic(&self, service: Option<&str>) -> Result<Option<Snapshot>, DbError> {
        Ok(self.list()?.into_iter().rfind(|s| {
            s.automatic.is_some() && !s.is_spent() && service.is_none_or(|name| s.service == name)
        }))
    }

    pub fn contains(&self, tag: &str) -> bool {
        self.file(tag).exists()
    }

    /// Writes the snapshot's file (0600, in a 0700 directory), whole or not at all.
    pub fn save(&self, snapshot: &Snapshot) -> Result<(), DbError> {
        wharf_api::create_private_dir(&self.dir).map_err(DbError::io(&self.dir))?;
        let file = self.file(&snapshot.tag);
        let partial = self.dir.join(format!(".{}.partial", snapshot.tag));
        let text = serde_json::to_vec_pretty(snapshot).expect("a snapshot serializes");
        wharf_api::write_private(&partial, &text).map_err(DbError::io(&partial))?;
        std::fs::rename(&partial, &file).map_err(DbError::io(&file))
    }

    pub fn remove(&self, tag: &str) -> Result<(), DbError> {
        let file = self.file(tag);
        std::fs::remove_file(&file).map_err(DbError::io(file))
    }
}

fn read(path: &Path) -> Result<Snapshot, DbError> {
    let text = std::fs::read(path).map_err(DbError::io(path))?;
    serde_json::from_slice(&text).map_err(|err| DbError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, err),
    })
}

/// A tag names a file: letters, digits, `.`, `_` and `-`, not starting with a dot.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 100
        && !tag.starts_with('.')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn snapshot(tag: &str, created_ms: u64) -> Snapshot {
        Snapshot {
            tag: tag.to_owned(),
            service: "db".to_owned(),
            database: "app".to_owned(),
            engine: "postgres".to_owned(),
            version: "15.18".to_owned(),
            created_ms,
            size: 7_000_000,
            stored_as: format!("wharf_snapshot_{created_ms}"),
            automatic: None,
            undone: false,
            revisions: BTreeMap::from([("api".to_owned(), "abc123".to_owned())]),
            ran_as: "process".to_owned(),
        }
    }

    #[test]
    fn snapshots_are_kept_privately_and_listed_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        assert_eq!(store.list().unwrap(), vec![]);
        store.save(&snapshot("later", 20)).unwrap();
        store.save(&snapshot("first", 10)).unwrap();
        let tags: Vec<String> = store.list().unwrap().into_iter().map(|s| s.tag).collect();
        assert_eq!(tags, ["first", "later"]);
        assert_eq!(store.get("later").unwrap(), snapshot("later", 20));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("snapshots")), 0o700);
        assert_eq!(mode(&dir.path().join("snapshots/first.json")), 0o600);
        store.remove("first").unwrap();
        assert!(matches!(store.get("first"), Err(DbError::NoSnapshot(_))));
        assert!(matches!(store.get("../x"), Err(DbError::NoSnapshot(_))));
    }

    #[test]
    fn tags_are_plain_file_names() {
        assert!(valid_tag("app-20261201-170000"));
        assert!(valid_tag("before.migration_2"));
        for bad in ["", ".hidden", "a/b", "a b", "ü"] {
            assert!(!valid_tag(bad), "{bad:?}");
        }
    }
}

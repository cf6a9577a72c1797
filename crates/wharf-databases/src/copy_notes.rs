//! Notes of the copies under way. A copy seals its source (PostgreSQL lets no client
//! in while it copies one database into another) and makes its target piece by piece:
//! killed half way (SIGKILL, a crash), it would leave the source refusing every
//! connection and a part-made copy that nothing lists. The note, written before the
//! copy and removed after, tells the next `wharf db` command what to undo.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DbError;
use crate::snapshots::SnapshotStore;

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyNote {
    /// The process copying: while it lives, the copy is its own.
    pub pid: u32,
    pub service: String,
    pub from: String,
    pub to: String,
}

/// A note's file, while its copy runs or until it is undone.
pub(crate) struct Noted(pub(crate) PathBuf);

impl Noted {
    /// The copy is over, done or undone.
    pub(crate) fn end(self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl SnapshotStore {
    fn notes_dir(&self) -> PathBuf {
        self.dir().join("copying")
    }

    /// Notes the copy of `from` into `to` on `service`, by this process.
    pub(crate) fn note_copy(&self, service: &str, from: &str, to: &str) -> Result<Noted, DbError> {
        let dir = self.notes_dir();
        wharf_api::create_private_dir(&dir).map_err(DbError::io(&dir))?;
        let note = CopyNote {
            pid: std::process::id(),
            service: service.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
        };
        let file = dir.join(format!("{to}.json"));
        let text = serde_json::to_vec(&note).expect("a note serializes");
        wharf_api::write_private(&file, &text).map_err(DbError::io(&file))?;
        Ok(Noted(file))
    }

    /// The notes of `service`'s copies whose process is gone, with their files.
    pub(crate) fn abandoned_copies(&self, service: &str) -> Vec<(Noted, CopyNote)> {
        let Ok(entries) = std::fs::read_dir(self.notes_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let text = std::fs::read(entry.path()).ok()?;
                let note: CopyNote = serde_json::from_slice(&text).ok()?;
                (process_gone(note.pid) && note.service == service)
                    .then(|| (Noted(entry.path()), note))
            })
            .collect()
    }
}

/// Whether process `pid` has ended (a `wharf db` whose work it was, killed).
pub(crate) fn process_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_abandoned_once_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let mine = store.note_copy("db", "app", "wharf_incoming_1").unwrap();
        assert!(
            store.abandoned_copies("db").is_empty(),
            "this process lives"
        );
        // A process that has ended: the shell's child, waited for.
        let ended = std::process::Command::new("true").spawn().unwrap();
        let pid = ended.id();
        ended.wait_with_output().unwrap();
        let note = CopyNote {
            pid,
            service: "db".to_owned(),
            from: "app".to_owned(),
            to: "wharf_snapshot_2".to_owned(),
        };
        std::fs::write(
            store.notes_dir().join("wharf_snapshot_2.json"),
            serde_json::to_vec(&note).unwrap(),
        )
        .unwrap();
        let abandoned = store.abandoned_copies("db");
        assert_eq!(abandoned.len(), 1);
        assert_eq!(abandoned[0].1, note);
        assert!(store.abandoned_copies("other").is_empty());
        let file = mine.0.clone();
        mine.end();
        assert!(!file.exists());
    }
}

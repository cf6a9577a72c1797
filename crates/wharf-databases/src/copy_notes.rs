//! Notes of the copies and swaps under way. A copy seals its source (PostgreSQL lets
//! no client in while it copies one database into another) and makes its target piece
//! by piece: killed half way (SIGKILL, a crash), it would leave the source refusing
//! every connection and a part-made copy that nothing lists. A swap renames a database
//! aside, records it as a snapshot and puts another in its place: killed half way, it
//! would leave the name empty and the old database under a name nothing lists. The
//! note, written before and removed after, tells the next `wharf db` command what to
//! undo.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::DbError;
use crate::snapshots::{Snapshot, SnapshotStore};

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyNote {
    /// The process copying: while it lives, the copy is its own.
    pub pid: u32,
    pub service: String,
    pub from: String,
    pub to: String,
}

/// A database set aside as the automatic snapshot `aside` (under
/// `aside.stored_as`), and the database, if any, put in its place, `incoming`.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapNote {
    pub pid: u32,
    pub aside: Snapshot,
    pub incoming: Option<String>,
    /// The database in its place is a reset's, still being filled: cut off, it goes.
    #[serde(default)]
    pub filling: bool,
    /// Whether the database is wholly set aside: a cut before was in that rename, a
    /// cut after in what takes its name (a rename in several steps, as MariaDB's, half
    /// made either way). `None` in a note of an earlier wharf, which did not say.
    #[serde(default)]
    pub aside_done: Option<bool>,
    /// What the rename setting the database aside holds only while it runs
    /// (`Server::rename_journal`).
    #[serde(default)]
    pub journal: String,
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
        let note = CopyNote {
            pid: std::process::id(),
            service: service.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
        };
        write_note(&self.notes_dir(), to, &note)
    }

    /// Notes, by this process, that `aside` is being set aside and `incoming` put in
    /// its place.
    pub(crate) fn note_swap(
        &self,
        aside: &Snapshot,
        incoming: Option<&str>,
        filling: bool,
        aside_done: bool,
        journal: &str,
    ) -> Result<Noted, DbError> {
        let note = SwapNote {
            pid: std::process::id(),
            aside: aside.clone(),
            incoming: incoming.map(str::to_owned),
            filling,
            aside_done: Some(aside_done),
            journal: journal.to_owned(),
        };
        write_note(&self.swaps_dir(), &aside.stored_as, &note)
    }

    fn swaps_dir(&self) -> PathBuf {
        self.dir().join("swapping")
    }

    /// The notes of `service`'s copies whose process is gone, with their files.
    pub(crate) fn abandoned_copies(&self, service: &str) -> Vec<(Noted, CopyNote)> {
        abandoned(&self.notes_dir(), |note: &CopyNote| {
            (note.pid, note.service == service)
        })
    }

    /// The notes of `service`'s swaps whose process is gone, with their files.
    pub(crate) fn abandoned_swaps(&self, service: &str) -> Vec<(Noted, SwapNote)> {
        abandoned(&self.swaps_dir(), |note: &SwapNote| {
            (note.pid, note.aside.service == service)
        })
    }
}

/// Writes `note` as `<name>.json` in `dir` (private), a folder of the store's, which
/// is made private too when the note comes first.
fn write_note(dir: &Path, name: &str, note: &impl Serialize) -> Result<Noted, DbError> {
    for private in dir.parent().into_iter().chain([dir]) {
        wharf_api::create_private_dir(private).map_err(DbError::io(private))?;
    }
    let file = dir.join(format!("{name}.json"));
    let text = serde_json::to_vec(note).expect("a note serializes");
    wharf_api::write_private(&file, &text).map_err(DbError::io(&file))?;
    Ok(Noted(file))
}

/// The notes in `dir` whose process is gone and that `mine` says are ours.
fn abandoned<T: serde::de::DeserializeOwned>(
    dir: &Path,
    mine: impl Fn(&T) -> (u32, bool),
) -> Vec<(Noted, T)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let text = std::fs::read(entry.path()).ok()?;
            let note: T = serde_json::from_slice(&text).ok()?;
            let (pid, ours) = mine(&note);
            (ours && process_gone(pid)).then(|| (Noted(entry.path()), note))
        })
        .collect()
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

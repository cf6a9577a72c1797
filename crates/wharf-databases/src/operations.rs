//! Every change to a server's databases, written once over `Server`: snapshots as
//! sealed copies, and replacements (restore, load, reset, drop) that build the new
//! database beside the old one and swap names, keeping the old one as an automatic
//! snapshot, so a failure anywhere leaves the database as it was.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use wharf_runtime::recipes::DatabaseEngine;

use crate::copy_notes::{Noted, process_gone};
use crate::error::DbError;
use crate::server::{Loader, Server};
use crate::snapshots::{Snapshot, SnapshotStore, valid_tag};

/// Names of wharf's own databases, which `db ls` hides and users may not take.
const SNAPSHOT_PREFIX: &str = "wharf_snapshot_";
const INCOMING_PREFIX: &str = "wharf_incoming_";

/// Why wharf took an automatic snapshot when `restore --undo` replaced a database.
pub const UNDO: &str = "undo";

/// Automatic snapshots kept per database; older ones are removed.
pub const AUTOMATIC_KEPT: usize = 3;

/// A database as `db ls` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub snapshots: usize,
}

/// Each checked-out repo's commit now, recorded with every snapshot: asked only when
/// one is recorded, since reading them runs git in every repo.
pub trait RepoRevisions {
    fn revisions(&self) -> BTreeMap<String, String>;
}

impl RepoRevisions for BTreeMap<String, String> {
    fn revisions(&self) -> BTreeMap<String, String> {
        self.clone()
    }
}

/// One server's databases and the project's snapshots of them.
pub struct Databases<'a> {
    pub server: &'a dyn Server,
    pub store: &'a SnapshotStore,
    pub revisions: &'a dyn RepoRevisions,
    /// The time, in milliseconds since the epoch, snapshots are taken at.
    pub now_ms: u64,
}

impl Databases<'_> {
    fn service(&self) -> &str {
        &self.server.access().service
    }

    /// The server's databases with their sizes and how many snapshots each has.
    pub fn list(&self) -> Result<Vec<Listed>, DbError> {
        let databases = self.sweep_abandoned()?;
        let snapshots = self.snapshots()?;
        Ok(databases
            .into_iter()
            .filter(|(name, _)| !is_wharfs(name))
            .map(|(name, size)| Listed {
                snapshots: snapshots.iter().filter(|s| s.database == name).count(),
                name,
                size,
            })
            .collect())
    }

    /// This server's snapshots, oldest first.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, DbError> {
        self.forget_lost()
    }

    /// This server's snapshots, forgetting those whose copy the server no longer has
    /// (its data was deleted, as `down -v` does). Those taken while the service ran the
    /// other way (a process, a container) are in that server's data: kept, not listed.
    fn forget_lost(&self) -> Result<Vec<Snapshot>, DbError> {
        let present: Vec<String> = self.server.databases()?.into_iter().map(|d| d.0).collect();
        let ran_as = self.server.access().ran_as();
        let mut kept = Vec::new();
        for snapshot in self.store.list()? {
            if snapshot.service != self.service() || !snapshot.taken_as(ran_as) {
                continue;
            }
            if present.contains(&snapshot.stored_as) {
                kept.push(snapshot);
            } else {
                self.store.remove(&snapshot.tag)?;
            }
        }
        Ok(kept)
    }

    /// The size of `name`, or the error saying there is no such database (or that it
    /// is one of the server's own, which wharf leaves alone).
    pub fn size_of(&self, name: &str) -> Result<u64, DbError> {
        self.not_system(name)?;
        self.find(name)?.ok_or_else(|| DbError::NoDatabase {
            name: name.to_owned(),
            service: self.service().to_owned(),
        })
    }

    fn find(&self, name: &str) -> Result<Option<u64>, DbError> {
        Ok(self
            .server
            .databases()?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, size)| size))
    }

    pub fn create(&self, name: &str) -> Result<(), DbError> {
        self.check_new(name)?;
        self.server.create(name)
    }

    /// A copy of `name` as the new database `new`.
    pub fn clone_to(&self, name: &str, new: &str) -> Result<(), DbError> {
        self.size_of(name)?;
        self.check_new(new)?;
        self.sweep_abandoned()?;
        // Made beside and named once whole: a clone killed half way leaves nothing
        // under the new name.
        let incoming = self.free_name(INCOMING_PREFIX);
        let copied = self.copy(name, &incoming)?;
        self.unless_interrupted(&incoming)?;
        if let Err(err) = self.server.rename(&incoming, new) {
            let _ = self.server.drop(&incoming);
            return Err(err);
        }
        copied.end();
        Ok(())
    }

    /// Copies `from` into the new database `to`, noted in the store while it runs and
    /// until the caller ends the note (once `to` is recorded, or named): a copy killed
    /// before then is undone by the next command (`sweep_abandoned`).
    fn copy(&self, from: &str, to: &str) -> Result<Noted, DbError> {
        let note = self.store.note_copy(self.service(), from, to)?;
        // A copy that failed may not have undone itself (the server went away half
        // way): its note stays for the next command, once this process is gone.
        self.server.copy(from, to)?;
        Ok(note)
    }

    /// After a step that made database `made`: an interruption meanwhile undoes it and
    /// ends the command, before anything else changes.
    fn unless_interrupted(&self, made: &str) -> Result<(), DbError> {
        if crate::interrupt::interrupted() {
            let _ = self.server.drop(made);
            return Err(DbError::Interrupted);
        }
        Ok(())
    }

    /// Refuses the server's system databases, which no command of wharf's changes.
    fn not_system(&self, name: &str) -> Result<(), DbError> {
        if self.server.system().contains(&name) {
            return Err(DbError::Dump(format!(
                "`{name}` is one of {}'s system databases, which wharf leaves as they are",
                self.service()
            )));
        }
        Ok(())
    }

    /// A name users may give a new database that does not exist yet.
    fn check_new(&self, name: &str) -> Result<(), DbError> {
        self.not_system(name)?;
        if is_wharfs(name) {
            return Err(DbError::Dump(format!(
                "`{name}`: names starting with wharf_snapshot_ or wharf_incoming_ are wharf's own"
            )));
        }
        if !valid_name(name) {
            return Err(DbError::BadName(name.to_owned()));
        }
        if self.find(name)?.is_some() {
            return Err(DbError::Exists {
                name: name.to_owned(),
                service: self.service().to_owned(),
            });
        }
        Ok(())
    }

    /// A sealed copy of `name`, recorded under `tag` (default: the database and the
    /// time).
    pub fn snapshot(&self, name: &str, tag: Option<&str>) -> Result<Snapshot, DbError> {
        let size = self.size_of(name)?;
        self.forget_lost()?;
        let tag = match tag {
            Some(tag) if !valid_tag(tag) => {
                return Err(DbError::Dump(format!(
                    "`{tag}` is no tag: use letters, digits, `.`, `_` and `-`"
                )));
            }
            Some(tag) if self.store.contains(tag) => {
                return Err(DbError::SnapshotExists(tag.to_owned()));
            }
            Some(tag) => tag.to_owned(),
            None => self.free_tag(name, ""),
        };
        self.sweep_abandoned()?;
        let stored_as = self.free_name(SNAPSHOT_PREFIX);
        let copied = self.copy(name, &stored_as)?;
        self.unless_interrupted(&stored_as)?;
        let recorded = self
            .server
            .seal(&stored_as, true)
            .and_then(|()| self.record(name, tag, size, stored_as.clone(), None))
            .and_then(|snapshot| self.store.save(&snapshot).map(|()| snapshot));
        if recorded.is_err() {
            let _ = self.server.drop(&stored_as);
        }
        copied.end();
        recorded
    }

    /// Replaces the snapshot's database with a copy of it; the database it replaces is
    /// kept as an automatic snapshot, returned. An `undo` marks the snapshot undone, so
    /// the next undo goes further back rather than forth again.
    pub fn restore(&self, snapshot: &Snapshot, undo: bool) -> Result<Option<Snapshot>, DbError> {
        if self.find(&snapshot.stored_as)?.is_none() {
            return Err(DbError::Dump(format!(
                "snapshot `{}` is gone from {} (its volume was removed?); `wharf db snapshot rm {}` forgets it",
                snapshot.tag,
                self.service(),
                snapshot.tag
            )));
        }
        self.sweep_abandoned()?;
        let incoming = self.free_name(INCOMING_PREFIX);
        self.copy(&snapshot.stored_as, &incoming)?.end();
        self.unless_interrupted(&incoming)?;
        let reason = if undo { UNDO } else { "restore" };
        let kept = self.replace(&snapshot.database, &incoming, reason)?;
        if undo {
            self.store.save(&Snapshot {
                undone: true,
                ..snapshot.clone()
            })?;
            self.prune(&snapshot.database)?;
        }
        Ok(kept)
    }

    /// Loads a dump into a new database beside `name`, then puts it in `name`'s
    /// place; `feed` runs the dump into the command it is given. Returns the automatic
    /// snapshot of what `name` held, if it existed.
    pub fn load(
        &self,
        name: &str,
        feed: impl FnOnce(Loader) -> Result<(), DbError>,
    ) -> Result<Option<Snapshot>, DbError> {
        if !valid_name(name) {
            return Err(DbError::BadName(name.to_owned()));
        }
        self.not_system(name)?;
        self.sweep_abandoned()?;
        // Loaded beside, even as a new database: one killed half way through leaves
        // only wharf's hidden copy, never a database that looks whole under the name.
        // Noted as a copy into it, so the next command of any kind drops it.
        let incoming = self.free_name(INCOMING_PREFIX);
        let note = self.store.note_copy(self.service(), name, &incoming)?;
        self.server.create(&incoming)?;
        let loaded = self
            .server
            .copy_grants(name, &incoming)
            .and_then(|()| self.server.load(&incoming))
            .and_then(feed);
        if let Err(err) = loaded {
            let _ = self.server.drop(&incoming);
            return Err(err);
        }
        self.unless_interrupted(&incoming)?;
        note.end();
        self.replace(name, &incoming, "load")
    }

    /// Drops `name`, keeping it as an automatic snapshot (returned): the undo.
    pub fn drop(&self, name: &str) -> Result<Snapshot, DbError> {
        if self.server.servers_own().contains(&name) {
            return Err(DbError::Dump(format!(
                "`{name}` is the server's own database, which its tools connect to; `wharf db reset {name}` empties it instead"
            )));
        }
        let size = self.size_of(name)?;
        let (kept, swap) = self.set_aside(name, size, "drop", None, false)?;
        self.swapped(name, swap);
        Ok(kept)
    }

    /// Sets `name` aside if it exists (kept as an automatic snapshot) and creates it
    /// empty, to be filled by the caller (its migrate task, its seed), which ends with
    /// `Reset::filled` or `unfilled`; cut off before, the next command puts the previous
    /// database back.
    pub fn reset(&self, name: &str) -> Result<Reset, DbError> {
        if !valid_name(name) {
            return Err(DbError::BadName(name.to_owned()));
        }
        self.not_system(name)?;
        let Some(size) = self.find(name)? else {
            self.server.create(name)?;
            return Ok(Reset {
                name: name.to_owned(),
                kept: None,
                filling: None,
            });
        };
        let (kept, swap) = self.set_aside(name, size, "reset", None, true)?;
        if let Err(err) = self.server.create(name) {
            let _ = self.put_back(&kept);
            swap.end();
            return Err(err);
        }
        Ok(Reset {
            name: name.to_owned(),
            kept: Some(kept),
            filling: Some(swap),
        })
    }

    /// Filling the reset database failed: it goes, and the previous one, if any,
    /// takes its name back.
    pub fn unfilled(&self, reset: Reset) -> Result<(), DbError> {
        self.server.drop(&reset.name)?;
        if let Some(kept) = &reset.kept {
            self.put_back(kept)?;
        }
        reset.end();
        Ok(())
    }

    /// The reset database is filled: it stays.
    pub fn filled(&self, reset: Reset) {
        let name = reset.name.clone();
        if let Some(note) = reset.filling {
            self.swapped(&name, note);
        }
    }

    /// Removes a snapshot: its database and its record.
    pub fn remove_snapshot(&self, snapshot: &Snapshot) -> Result<(), DbError> {
        if self.find(&snapshot.stored_as)?.is_some() {
            self.server.drop(&snapshot.stored_as)?;
        }
        self.store.remove(&snapshot.tag)
    }

    /// Puts `incoming` in `target`'s place, `target` set aside as an automatic
    /// snapshot first; if the swap fails, `target` is put back.
    fn replace(
        &self,
        target: &str,
        incoming: &str,
        reason: &str,
    ) -> Result<Option<Snapshot>, DbError> {
        let kept = match self.find(target) {
            Ok(Some(size)) => match self.set_aside(target, size, reason, Some(incoming), false) {
                Ok(kept) => Some(kept),
                Err(err) => {
                    let _ = self.server.drop(incoming);
                    return Err(err);
                }
            },
            Ok(None) => None,
            Err(err) => {
                let _ = self.server.drop(incoming);
                return Err(err);
            }
        };
        if let Err(err) = self.server.rename(incoming, target) {
            if let Some((kept, _)) = &kept {
                let _ = self.put_back(kept);
            }
            let _ = self.server.drop(incoming);
            if let Some((_, swap)) = kept {
                swap.end();
            }
            return Err(err);
        }
        Ok(kept.map(|(kept, swap)| {
            self.swapped(target, swap);
            kept
        }))
    }

    /// A swap of `name` is done: its note ends, and only then do the oldest automatic
    /// snapshots of `name` go, so a swap cut off and undone removes no undo step. One
    /// that cannot be removed now is removed after a later swap.
    fn swapped(&self, name: &str, swap: Noted) {
        swap.end();
        let _ = self.prune(name);
    }

    /// Renames `name` (of `size`) into a sealed automatic snapshot: no copy, no time.
    /// Noted first, with what is to take its place (`incoming`): the caller ends the
    /// note once the name is taken again, and until then the next command puts the
    /// database back if this one is cut off (`undo_abandoned_copies`).
    /// `filling`: what takes the name is a reset's, still to be filled.
    fn set_aside(
        &self,
        name: &str,
        size: u64,
        reason: &str,
        incoming: Option<&str>,
        filling: bool,
    ) -> Result<(Snapshot, Noted), DbError> {
        let stored_as = self.free_name(SNAPSHOT_PREFIX);
        let tag = self.free_tag(name, "auto-");
        let snapshot = self.record(name, tag, size, stored_as.clone(), Some(reason))?;
        let journal = self.server.rename_journal(name)?;
        let swap = self
            .store
            .note_swap(&snapshot, incoming, filling, false, &journal)?;
        if let Err(err) = self.server.rename(name, &stored_as) {
            swap.end();
            return Err(err);
        }
        let saved = self
            .server
            .seal(&stored_as, true)
            .and_then(|()| self.store.save(&snapshot))
            .and_then(|()| {
                self.store
                    .note_swap(&snapshot, incoming, filling, true, &journal)
            });
        match saved {
            Ok(whole) => Ok((snapshot, whole)),
            Err(err) => {
                let _ = self.put_back(&snapshot);
                swap.end();
                Err(err)
            }
        }
    }

    /// Undoes `set_aside`.
    fn put_back(&self, snapshot: &Snapshot) -> Result<(), DbError> {
        self.server.seal(&snapshot.stored_as, false)?;
        self.server
            .rename(&snapshot.stored_as, &snapshot.database)?;
        if self.store.contains(&snapshot.tag) {
            self.store.remove(&snapshot.tag)?;
        }
        Ok(())
    }

    /// Removes automatic snapshots of `name` beyond the newest `AUTOMATIC_KEPT` that
    /// an undo can still go back to, and the spent ones (taken by an undo, or undone
    /// already) but the newest: undoing must not use up the steps it goes back through.
    fn prune(&self, name: &str) -> Result<(), DbError> {
        let (spent, undoable): (Vec<Snapshot>, Vec<Snapshot>) = self
            .snapshots()?
            .into_iter()
            .filter(|s| s.automatic.is_some() && s.database == name)
            .partition(Snapshot::is_spent);
        for (kind, kept) in [(spent, 1), (undoable, AUTOMATIC_KEPT)] {
            let excess = kind.len().saturating_sub(kept);
            for old in &kind[..excess] {
                self.remove_snapshot(old)?;
            }
        }
        Ok(())
    }

    fn record(
        &self,
        name: &str,
        tag: String,
        size: u64,
        stored_as: String,
        automatic: Option<&str>,
    ) -> Result<Snapshot, DbError> {
        let access = self.server.access();
        Ok(Snapshot {
            tag,
            service: access.service.clone(),
            database: name.to_owned(),
            engine: match access.facts.engine {
                DatabaseEngine::Postgres => "postgres",
                DatabaseEngine::Mariadb => "mariadb",
            }
            .to_owned(),
            version: self.server.version()?,
            created_ms: self.now_ms,
            size,
            stored_as,
            automatic: automatic.map(str::to_owned),
            undone: false,
            revisions: self.revisions.revisions(),
            ran_as: access.ran_as().to_owned(),
        })
    }

    /// `<prefix><database>-<yyyymmdd-hhmmss>`, with `-2`… when taken; a character a
    /// tag cannot hold (in a database's odd name) becomes `_`.
    fn free_tag(&self, name: &str, prefix: &str) -> String {
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = format!("{prefix}{name}-{}", wharf_api::utc_stamp(self.now_ms));
        let mut tag = base.clone();
        let mut n = 1;
        while self.store.contains(&tag) {
            n += 1;
            tag = format!("{base}-{n}");
        }
        tag
    }

    /// A name for one of wharf's own databases, unique without asking the server: it
    /// holds the time, this process's id (so what a killed `wharf db` left half made
    /// can be told from what another one is making, `sweep_abandoned`) and a count.
    fn free_name(&self, prefix: &str) -> String {
        static MADE: AtomicU32 = AtomicU32::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{}_{}_{n}", self.now_ms, std::process::id())
    }

    /// Undoes the copies a `wharf db` left half made when it was killed or its server
    /// went away: the source reopened, the part-made target dropped. Every command
    /// that reaches the server does it first (`db shell` too), so no database stays
    /// closed to its clients; without such a note it asks the server nothing.
    pub fn undo_abandoned_copies(&self) -> Result<(), DbError> {
        self.undo_abandoned_swaps()?;
        let abandoned = self.store.abandoned_copies(self.service());
        if abandoned.is_empty() {
            return Ok(());
        }
        for (_, copy) in &abandoned {
            self.server.end_work_on(&copy.to)?;
        }
        let snapshots = self.snapshots()?;
        let present = self.server.databases()?;
        let exists = |name: &str| present.iter().any(|(n, _)| n == name);
        for (note, copy) in abandoned {
            let recorded = snapshots.iter().any(|s| s.stored_as == copy.to);
            if !recorded && is_wharfs(&copy.to) && exists(&copy.to) {
                self.server.drop(&copy.to)?;
            }
            // A snapshot stays sealed; a database of the user's takes clients again.
            if !is_wharfs(&copy.from) && exists(&copy.from) {
                self.server.seal(&copy.from, false)?;
            }
            note.end();
        }
        Ok(())
    }

    /// Finishes or undoes the swaps a killed `wharf db` left half made: once the name
    /// is taken again, and what was to take it is gone, the swap was done, and what was
    /// set aside stays, sealed and recorded, as its undo; else the database set aside
    /// takes its name back, as if the command had not run. What was to take its place
    /// is dropped, the part of it under the name too (a rename in several steps, as
    /// MariaDB's, cut off half way).
    fn undo_abandoned_swaps(&self) -> Result<(), DbError> {
        let abandoned = self.store.abandoned_swaps(self.service());
        if abandoned.is_empty() {
            return Ok(());
        }
        for (note, swap) in abandoned {
            let aside = &swap.aside;
            let mut present = self.server.databases()?;
            let exists =
                |present: &[(String, u64)], name: &str| present.iter().any(|(n, _)| n == name);
            // Setting aside cut off half way: finished first, so what is set aside
            // is whole before it is put back.
            if swap.aside_done == Some(false)
                && exists(&present, &aside.stored_as)
                && exists(&present, &aside.database)
            {
                self.server
                    .finish_rename(&aside.database, &aside.stored_as, &swap.journal)?;
                present = self.server.databases()?;
            }
            let exists = |name: &str| exists(&present, name);
            if exists(&aside.stored_as) {
                let incoming_left = swap.incoming.as_deref().is_some_and(exists);
                // A reset's half-filled database goes, and so does the part of a copy
                // a cut rename put under the name; the previous one comes back.
                let half_made = swap.aside_done == Some(true) && incoming_left;
                if (swap.filling || half_made) && exists(&aside.database) {
                    self.server.drop(&aside.database)?;
                }
                if exists(&aside.database) && !swap.filling && !half_made {
                    self.server.seal(&aside.stored_as, true)?;
                    if !self.store.contains(&aside.tag) {
                        self.store.save(aside)?;
                    }
                } else {
                    self.put_back(aside)?;
                }
            }
            if let Some(incoming) = swap.incoming.as_deref().filter(|name| exists(name)) {
                self.server.drop(incoming)?;
            }
            note.end();
        }
        Ok(())
    }

    /// Undoes what a `wharf db` killed half way (SIGKILL, a crash) left: a copy's
    /// source reopened and its part-made target dropped, and the databases a load or
    /// restore was building beside the real ones, and snapshots no record names: those
    /// whose process is gone.
    /// The server's databases, as they are once swept.
    fn sweep_abandoned(&self) -> Result<Vec<(String, u64)>, DbError> {
        self.undo_abandoned_copies()?;
        // A snapshot no record names, whose process is gone, was cut off before its
        // record was written; a server still making it when its note was undone
        // finished it after (a killed `CREATE DATABASE` runs on to its end).
        let recorded: Vec<String> = self
            .store
            .list()?
            .into_iter()
            .map(|s| s.stored_as)
            .collect();
        let mut kept = Vec::new();
        for (name, size) in self.server.databases()? {
            let pid = name
                .strip_prefix(INCOMING_PREFIX)
                .or_else(|| {
                    name.strip_prefix(SNAPSHOT_PREFIX)
                        .filter(|_| !recorded.contains(&name))
                })
                .and_then(|rest| rest.split('_').nth(1))
                .and_then(|pid| pid.parse::<u32>().ok());
            if pid.is_some_and(process_gone) {
                self.server.drop(&name)?;
            } else {
                kept.push((name, size));
            }
        }
        Ok(kept)
    }
}

/// A database reset and being filled (see `Databases::reset`).
pub struct Reset {
    name: String,
    /// What it held before, as an automatic snapshot.
    pub kept: Option<Snapshot>,
    filling: Option<Noted>,
}

impl Reset {
    /// The reset is over, whichever way.
    fn end(self) {
        if let Some(note) = self.filling {
            note.end();
        }
    }
}

/// Whether `name` is one of wharf's own databases (snapshots, loads in progress).
pub fn is_wharfs(name: &str) -> bool {
    name.starts_with(SNAPSHOT_PREFIX) || name.starts_with(INCOMING_PREFIX)
}

/// A name users may give a database: letters, digits, `_`, `-`; at most 63 bytes
/// (PostgreSQL's limit; MariaDB's is 64); none of wharf's own.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && !is_wharfs(name)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::path::PathBuf;
    use std::process::Command;
    use std::time::Duration;

    use super::*;
    use crate::server::ServerAccess;

    /// A server in memory: each database is its contents; `fail_rename_to` makes
    /// the next rename onto that name fail, as a busy server would.
    struct FakeServer {
        access: ServerAccess,
        databases: RefCell<BTreeMap<String, (String, bool)>>,
        fail_rename_to: RefCell<Option<String>>,
        /// The next copy stops half way, as when the server goes away: its source
        /// sealed, its target part-made.
        fail_copy: RefCell<bool>,
        /// Changes left before the process is cut off (a SIGKILL): the one after
        /// panics, leaving the notes as a killed `wharf db` leaves them.
        changes_left: std::cell::Cell<Option<usize>>,
        /// Renames in three changes, as MariaDB's (which has no rename of a whole
        /// database): the new name made empty, the contents moved, the old name dropped.
        split_renames: std::cell::Cell<bool>,
        /// A copy whose client was killed, still running in the server: its database
        /// appears at the next change, unless `end_work_on` ended it.
        running_copy: RefCell<Option<String>>,
    }

    impl FakeServer {
        fn with(databases: &[(&str, &str)]) -> Self {
            Self {
                access: crate::server::tests::on_this_machine(),
                databases: RefCell::new(
                    databases
                        .iter()
                        .map(|(n, c)| ((*n).to_owned(), ((*c).to_owned(), false)))
                        .collect(),
                ),
                fail_rename_to: RefCell::new(None),
                fail_copy: RefCell::new(false),
                changes_left: std::cell::Cell::new(None),
                split_renames: std::cell::Cell::new(false),
                running_copy: RefCell::new(None),
            }
        }

        /// Counts a change, cutting the process off when none is left.
        fn change(&self) {
            if let Some(made) = self.running_copy.take() {
                self.databases
                    .borrow_mut()
                    .insert(made, ("copied".to_owned(), false));
            }
            match self.changes_left.get() {
                Some(0) => panic!("cut off"),
                Some(n) => self.changes_left.set(Some(n - 1)),
                None => {}
            }
        }

        fn contents(&self, name: &str) -> Option<String> {
            self.databases.borrow().get(name).map(|d| d.0.clone())
        }

        fn user_visible(&self) -> Vec<String> {
            self.databases
                .borrow()
                .keys()
                .filter(|n| !is_wharfs(n))
                .cloned()
                .collect()
        }

        fn failed(what: &str) -> DbError {
            DbError::Failed {
                what: what.to_owned(),
                message: "refused".to_owned(),
            }
        }
    }

    impl Server for FakeServer {
        fn access(&self) -> &ServerAccess {
            &self.access
        }
        fn system(&self) -> &'static [&'static str] {
            &["template1"]
        }
        fn end_work_on(&self, name: &str) -> Result<(), DbError> {
            self.running_copy.borrow_mut().take_if(|made| made == name);
            Ok(())
        }
        fn wait_until_accepting(&self, _: Duration) -> Result<(), DbError> {
            Ok(())
        }
        fn version(&self) -> Result<String, DbError> {
            Ok("15.18".to_owned())
        }
        fn databases(&self) -> Result<Vec<(String, u64)>, DbError> {
            Ok(self
                .databases
                .borrow()
                .iter()
                .map(|(n, (c, _))| (n.clone(), c.len() as u64))
                .collect())
        }
        fn create(&self, name: &str) -> Result<(), DbError> {
            self.change();
            let mut databases = self.databases.borrow_mut();
            if databases.contains_key(name) {
                return Err(Self::failed("create"));
            }
            databases.insert(name.to_owned(), (String::new(), false));
            Ok(())
        }
        fn drop(&self, name: &str) -> Result<(), DbError> {
            self.change();
            self.databases
                .borrow_mut()
                .remove(name)
                .map(drop)
                .ok_or_else(|| Self::failed("drop"))
        }
        fn copy(&self, from: &str, to: &str) -> Result<(), DbError> {
            self.change();
            let contents = self.contents(from).ok_or_else(|| Self::failed("copy"))?;
            self.databases
                .borrow_mut()
                .insert(to.to_owned(), (contents, false));
            if self.fail_copy.take() {
                self.seal(from, true)?;
                return Err(Self::failed("copy"));
            }
            Ok(())
        }
        fn rename(&self, from: &str, to: &str) -> Result<(), DbError> {
            self.change();
            if self.fail_rename_to.borrow().as_deref() == Some(to) {
                self.fail_rename_to.take();
                return Err(Self::failed("rename"));
            }
            if self.split_renames.get() {
                if self.contents(from).is_none() {
                    return Err(Self::failed("rename"));
                }
                self.create(to)?;
                self.change();
                let contents =
                    std::mem::take(&mut self.databases.borrow_mut().get_mut(from).unwrap().0);
                self.databases.borrow_mut().get_mut(to).unwrap().0 = contents;
                return self.drop(from);
            }
            let mut databases = self.databases.borrow_mut();
            let database = databases
                .remove(from)
                .ok_or_else(|| Self::failed("rename"))?;
            databases.insert(to.to_owned(), database);
            Ok(())
        }
        fn finish_rename(&self, from: &str, to: &str, _: &str) -> Result<(), DbError> {
            self.change();
            let left = self.contents(from).ok_or_else(|| Self::failed("finish"))?;
            if !left.is_empty() {
                self.databases
                    .borrow_mut()
                    .get_mut(to)
                    .ok_or_else(|| Self::failed("finish"))?
                    .0 = left;
            }
            self.drop(from)
        }
        fn seal(&self, name: &str, sealed: bool) -> Result<(), DbError> {
            self.change();
            let mut databases = self.databases.borrow_mut();
            databases
                .get_mut(name)
                .ok_or_else(|| Self::failed("seal"))?
                .1 = sealed;
            Ok(())
        }
        fn shell(&self, _: &str, _: &[String], _: bool) -> Command {
            Command::new("true")
        }
        fn dump(&self, _: &str) -> Command {
            Command::new("true")
        }
        fn load(&self, name: &str) -> Result<Loader, DbError> {
            let mut command = Command::new("load");
            command.arg(name);
            Ok(command.into())
        }
    }

    fn databases<'a>(
        server: &'a FakeServer,
        store: &'a SnapshotStore,
        now_ms: u64,
    ) -> Databases<'a> {
        static REVISIONS: std::sync::LazyLock<BTreeMap<String, String>> =
            std::sync::LazyLock::new(|| BTreeMap::from([("api".to_owned(), "c0ffee".to_owned())]));
        Databases {
            server,
            store,
            revisions: &*REVISIONS,
            now_ms,
        }
    }

    /// `feed` for `load`: writes `contents` into the database the command names.
    fn writing<'a>(
        server: &'a FakeServer,
        contents: &'a str,
    ) -> impl FnOnce(Loader) -> Result<(), DbError> + 'a {
        move |loader| {
            let name = loader
                .command
                .get_args()
                .next()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            server.databases.borrow_mut().get_mut(&name).unwrap().0 = contents.to_owned();
            Ok(())
        }
    }

    #[test]
    fn a_snapshot_is_a_sealed_copy_restored_beside_and_swapped_in() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1"), ("postgres", "")]);
        let at = |ms| databases(&server, &store, ms);

        let snapshot = at(1_796_102_701_000).snapshot("app", None).unwrap();
        assert_eq!(snapshot.tag, "app-20261201-052501");
        assert_eq!(snapshot.revisions["api"], "c0ffee");
        assert_eq!(snapshot.version, "15.18");
        assert!(server.databases.borrow()[&snapshot.stored_as].1, "sealed");
        server.databases.borrow_mut().get_mut("app").unwrap().0 = "v2".to_owned();

        let undo = at(1_796_102_702_000)
            .restore(&snapshot, false)
            .unwrap()
            .unwrap();
        assert_eq!(server.contents("app").as_deref(), Some("v1"));
        assert_eq!(undo.automatic.as_deref(), Some("restore"));
        assert_eq!(undo.tag, "auto-app-20261201-052502");
        assert_eq!(server.contents(&undo.stored_as).as_deref(), Some("v2"));
        // The snapshot stays, to be restored again.
        assert_eq!(server.contents(&snapshot.stored_as).as_deref(), Some("v1"));

        // Undo: the automatic snapshot brings v2 back…
        let last = store.last_automatic(None).unwrap().unwrap();
        assert_eq!(last, undo);
        at(1_796_102_703_000).restore(&last, true).unwrap();
        assert_eq!(server.contents("app").as_deref(), Some("v2"));
        assert_eq!(server.user_visible(), ["app", "postgres"]);
        let listed = at(0).list().unwrap();
        assert_eq!(listed[0].name, "app");
        // The one taken, and the undo's own (the restored v1); the undone one held
        // what `app` now is, and went.
        assert_eq!(listed[0].snapshots, 2);
        // …and the next undo steps further back, not forth again: nothing came
        // before the restore here.
        assert_eq!(store.last_automatic(None).unwrap(), None);
    }

    #[test]
    fn undo_after_undo_steps_back_through_the_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let at = |ms| databases(&server, &store, ms);
        at(1000).load("app", writing(&server, "v2")).unwrap();
        at(2000).load("app", writing(&server, "v3")).unwrap();
        for (ms, expected) in [(3000, "v2"), (4000, "v1")] {
            let last = store.last_automatic(None).unwrap().unwrap();
            at(ms).restore(&last, true).unwrap();
            assert_eq!(server.contents("app").as_deref(), Some(expected));
        }
        assert_eq!(
            store.last_automatic(None).unwrap(),
            None,
            "nothing before v1"
        );
    }

    #[test]
    fn a_new_database_is_loaded_beside_and_takes_its_name_once_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("postgres", "")]);
        let kept = databases(&server, &store, 1)
            .load("fresh", |command| {
                assert!(server.contents("fresh").is_none(), "not under its name yet");
                writing(&server, "loaded")(command)
            })
            .unwrap();
        assert!(kept.is_none(), "nothing was replaced");
        assert_eq!(server.contents("fresh").as_deref(), Some("loaded"));
        assert_eq!(server.user_visible(), ["fresh", "postgres"]);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_copy_killed_half_way_is_undone_by_the_next_command() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1"), ("postgres", "")]);
        // As a `db snapshot` SIGKILLed mid-copy leaves it: the source sealed, the
        // copy part-made, the note of a process that is gone.
        server.seal("app", true).unwrap();
        server
            .databases
            .borrow_mut()
            .insert("wharf_snapshot_1_1_0".to_owned(), ("v".to_owned(), false));
        let note = store
            .note_copy("db", "app", "wharf_snapshot_1_1_0")
            .unwrap();
        abandon(&note.0);

        let listed = databases(&server, &store, 1).list().unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(
            !server.databases.borrow()["app"].1,
            "app takes clients again"
        );
        assert!(
            server.contents("wharf_snapshot_1_1_0").is_none(),
            "part-made copy dropped"
        );
        assert!(!note.0.exists());
    }

    /// A restore, load, reset, drop or snapshot cut off after each number of changes it makes:
    /// the next command leaves `app` as it was or as asked, takes clients into it,
    /// and leaves no database of wharf's that no snapshot records.
    #[test]
    fn a_swap_cut_off_anywhere_is_finished_or_undone_by_the_next_command() {
        type Step = fn(&Databases, &FakeServer);
        let steps: [(&str, Step, &[&str]); 6] = [
            (
                "restore",
                |at, _| {
                    let taken = at.store.get("taken").unwrap();
                    at.restore(&taken, false).unwrap();
                },
                &["v1", "v0"],
            ),
            (
                "load",
                |at, server| {
                    at.load("app", writing(server, "loaded")).unwrap();
                },
                &["v1", "loaded"],
            ),
            (
                "reset",
                |at, _| {
                    let reset = at.reset("app").unwrap();
                    at.filled(reset);
                },
                &["v1", ""],
            ),
            (
                "reset and fill",
                |at, server| {
                    let reset = at.reset("app").unwrap();
                    server.change();
                    server.databases.borrow_mut().get_mut("app").unwrap().0 = "half".to_owned();
                    server.change();
                    server.databases.borrow_mut().get_mut("app").unwrap().0 = "seeded".to_owned();
                    at.filled(reset);
                },
                &["v1", "seeded"],
            ),
            (
                "drop",
                |at, _| {
                    at.drop("app").unwrap();
                },
                &["v1"],
            ),
            (
                "snapshot",
                |at, _| {
                    at.snapshot("app", Some("second")).unwrap();
                },
                &["v1"],
            ),
        ];
        for ((what, step, outcomes), split) in
            steps.iter().flat_map(|step| [(step, false), (step, true)])
        {
            for changes in 0.. {
                let dir = tempfile::tempdir().unwrap();
                let store = SnapshotStore::new(dir.path());
                let server = FakeServer::with(&[("app", "v0"), ("postgres", "")]);
                server.split_renames.set(split);
                let at = databases(&server, &store, 1_000);
                let taken = at.snapshot("app", Some("taken")).unwrap();
                server.databases.borrow_mut().get_mut("app").unwrap().0 = "v1".to_owned();
                // As many earlier undo steps as are kept: a step that makes one more
                // removes the oldest, but only once it is done.
                for n in 0..AUTOMATIC_KEPT as u64 {
                    databases(&server, &store, 1_100 + n)
                        .load("app", writing(&server, "v1"))
                        .unwrap();
                }
                let earlier: Vec<String> = store
                    .list()
                    .unwrap()
                    .into_iter()
                    .filter(|s| s.automatic.is_some())
                    .map(|s| s.tag)
                    .collect();
                server.changes_left.set(Some(changes));
                let cut_off =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&at, &server)))
                        .is_err();
                server.changes_left.set(None);
                for notes in ["copying", "swapping"] {
                    for note in std::fs::read_dir(dir.path().join("snapshots").join(notes))
                        .into_iter()
                        .flatten()
                    {
                        abandon(&note.unwrap().path());
                    }
                }
                let next = databases(&server, &store, 2_000);
                next.list().unwrap();
                let app = server.databases.borrow().get("app").cloned();
                let renames = if split { "split" } else { "atomic" };
                let at_cut = format!("{what} cut off after {changes} changes ({renames} renames)");
                match app {
                    Some((contents, sealed)) => {
                        assert!(
                            outcomes.contains(&contents.as_str()),
                            "{at_cut}: {contents}"
                        );
                        assert!(!sealed, "{at_cut}: app takes clients");
                    }
                    // Done, or cut off only in removing the oldest undo step after.
                    None => assert!(*what == "drop", "{at_cut}: app is gone"),
                }
                let recorded: Vec<String> = store
                    .list()
                    .unwrap()
                    .into_iter()
                    .map(|s| s.stored_as)
                    .collect();
                for name in server.databases.borrow().keys().filter(|n| is_wharfs(n)) {
                    assert!(
                        recorded.contains(name),
                        "{at_cut}: {name} is recorded by no snapshot"
                    );
                }
                for recorded in &recorded {
                    assert!(
                        server.contents(recorded).is_some(),
                        "{at_cut}: {recorded} is gone"
                    );
                }
                assert!(server.contents(&taken.stored_as).is_some(), "{at_cut}");
                if cut_off && server.contents("app").as_deref() == Some("v1") {
                    for tag in &earlier {
                        assert!(store.contains(tag), "{at_cut}: undo step {tag} is gone");
                    }
                }
                if !cut_off {
                    break;
                }
            }
        }
    }

    /// A reset whose filling fails puts the previous database back, and a new one
    /// that failed goes.
    #[test]
    fn a_reset_whose_filling_failed_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let at = databases(&server, &store, 1);
        let reset = at.reset("app").unwrap();
        server.databases.borrow_mut().get_mut("app").unwrap().0 = "half".to_owned();
        at.unfilled(reset).unwrap();
        assert_eq!(server.contents("app").as_deref(), Some("v1"));
        assert!(!server.databases.borrow()["app"].1, "app takes clients");
        assert!(store.list().unwrap().is_empty());
        let fresh = at.reset("fresh").unwrap();
        at.unfilled(fresh).unwrap();
        assert!(server.contents("fresh").is_none());
    }

    /// A snapshot its killed process never recorded (the server finished making it
    /// after the command's note was undone) is dropped; one still being made is not.
    #[test]
    fn an_unrecorded_snapshot_of_a_gone_process_is_swept() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let ended = Command::new("true").spawn().unwrap();
        let gone = ended.id();
        ended.wait_with_output().unwrap();
        let (left, making) = (
            format!("wharf_snapshot_1_{gone}_0"),
            format!("wharf_snapshot_1_{}_0", std::process::id()),
        );
        let server = FakeServer::with(&[("app", "v1"), (&left, "v0"), (&making, "v1")]);
        databases(&server, &store, 1).list().unwrap();
        assert!(server.contents(&left).is_none());
        assert!(server.contents(&making).is_some());
    }

    /// A load killed while its dump streams in leaves its database beside the real
    /// one; the next command of any kind (a `db shell` too) drops it.
    #[test]
    fn a_load_killed_half_way_leaves_nothing_after_the_next_command() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1"), ("postgres", "")]);
        let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            databases(&server, &store, 1).load("app", |command| {
                writing(&server, "half")(command)?;
                // Killed here: its note stays, of a process that is gone.
                let notes = std::fs::read_dir(store.dir().join("copying")).unwrap();
                for note in notes {
                    abandon(&note.unwrap().path());
                }
                panic!("killed");
            })
        }));
        assert!(killed.is_err());
        assert_eq!(server.databases.borrow().len(), 3, "the half-loaded copy");

        databases(&server, &store, 2)
            .undo_abandoned_copies()
            .unwrap();
        assert_eq!(server.user_visible(), ["app", "postgres"]);
        assert_eq!(server.databases.borrow().len(), 2, "nothing beside");
        assert_eq!(server.contents("app").as_deref(), Some("v1"));
    }

    /// A copy killed while the server still makes it (PostgreSQL's `CREATE DATABASE`
    /// runs on without its client): the next command ends that work before it looks,
    /// so the copy does not appear after it was undone.
    #[test]
    fn a_copy_still_running_in_the_server_is_ended_before_it_is_undone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1"), ("postgres", "")]);
        server.seal("app", true).unwrap();
        let copy = "wharf_snapshot_1_1_0";
        let note = store.note_copy("db", "app", copy).unwrap();
        abandon(&note.0);
        *server.running_copy.borrow_mut() = Some(copy.to_owned());

        databases(&server, &store, 1)
            .undo_abandoned_copies()
            .unwrap();
        server.change();
        assert!(server.contents(copy).is_none(), "the copy appeared after");
        assert!(
            !server.databases.borrow()["app"].1,
            "app takes clients again"
        );
    }

    /// The note a copy keeps as if a process now gone had made it.
    fn abandon(note: &std::path::Path) {
        let ended = Command::new("true").spawn().unwrap();
        let gone = ended.id();
        ended.wait_with_output().unwrap();
        let text = std::fs::read_to_string(note).unwrap();
        let text = text.replace(&format!(":{},", std::process::id()), &format!(":{gone},"));
        std::fs::write(note, text).unwrap();
    }

    /// A copy whose server went away half way keeps its note, so the next command
    /// (whichever it is) lets clients into the source again and drops the part-made
    /// copy.
    #[test]
    fn a_copy_that_failed_half_way_is_undone_by_the_next_command() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1"), ("postgres", "")]);
        server.fail_copy.replace(true);
        databases(&server, &store, 1)
            .snapshot("app", None)
            .unwrap_err();
        assert!(server.databases.borrow()["app"].1, "left sealed");
        let notes: Vec<_> = std::fs::read_dir(store.dir().join("copying"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(notes.len(), 1, "the failed copy's note stays");
        abandon(&notes[0]);

        databases(&server, &store, 2)
            .undo_abandoned_copies()
            .unwrap();
        assert!(
            !server.databases.borrow()["app"].1,
            "app takes clients again"
        );
        assert_eq!(server.user_visible(), ["app", "postgres"]);
        assert_eq!(server.databases.borrow().len(), 2, "part-made copy dropped");
        assert!(!notes[0].exists());
    }

    /// A service run the other way (a container, a process) has a server with data of
    /// its own: the snapshots taken on the first wait for it, neither listed nor lost.
    #[test]
    fn snapshots_taken_as_a_process_wait_while_the_server_runs_in_a_container() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let native = FakeServer::with(&[("app", "v1")]);
        let taken = databases(&native, &store, 1).snapshot("app", None).unwrap();
        assert_eq!(taken.ran_as, "process");
        let mut contained = FakeServer::with(&[("app", "v0")]);
        contained.access.place = crate::server::Place::Container {
            wharf: PathBuf::from("wharf"),
            project: "p".to_owned(),
        };
        assert!(
            databases(&contained, &store, 2)
                .snapshots()
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.list().unwrap(), std::slice::from_ref(&taken), "kept");
        assert_eq!(databases(&native, &store, 3).snapshots().unwrap(), [taken]);
    }

    #[test]
    fn undoing_does_not_use_up_the_steps_it_goes_back_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v0"), ("other", "o1")]);
        let at = |ms| databases(&server, &store, ms);
        at(500).load("other", writing(&server, "o2")).unwrap();
        for (ms, version) in [(1000, "v1"), (2000, "v2"), (3000, "v3")] {
            at(ms).load("app", writing(&server, version)).unwrap();
        }
        // Each undo takes a snapshot of its own; the three loads stay undoable.
        for (ms, expected) in [(4000, "v2"), (5000, "v1"), (6000, "v0")] {
            let last = store.last_automatic(None).unwrap().unwrap();
            assert_eq!(last.database, "app");
            at(ms).restore(&last, true).unwrap();
            assert_eq!(server.contents("app").as_deref(), Some(expected));
        }
        // Only then the other database's older change.
        let last = store.last_automatic(None).unwrap().unwrap();
        assert_eq!(last.database, "other");
        let spent = store.list().unwrap();
        let spent: Vec<&Snapshot> = spent
            .iter()
            .filter(|s| s.database == "app" && s.is_spent())
            .collect();
        assert_eq!(spent.len(), 1, "one spent snapshot kept: {spent:?}");
    }

    #[test]
    fn snapshots_whose_copy_is_gone_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let taken = databases(&server, &store, 1)
            .snapshot("app", Some("t"))
            .unwrap();
        server.databases.borrow_mut().remove(&taken.stored_as);
        assert_eq!(databases(&server, &store, 2).snapshots().unwrap(), vec![]);
        // The tag is free again.
        databases(&server, &store, 3)
            .snapshot("app", Some("t"))
            .unwrap();
    }

    #[test]
    fn a_failed_swap_puts_the_database_back_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let snapshot = databases(&server, &store, 1)
            .snapshot("app", Some("s"))
            .unwrap();
        server.databases.borrow_mut().get_mut("app").unwrap().0 = "v2".to_owned();
        server.fail_rename_to.replace(Some("app".to_owned()));
        // The incoming copy cannot take app's name, so app comes back, as it was…
        let err = databases(&server, &store, 2).restore(&snapshot, false);
        assert!(err.is_err());
        assert_eq!(server.contents("app").as_deref(), Some("v2"));
        assert!(!server.databases.borrow()["app"].1, "not sealed");
        // …and nothing but the asked-for snapshot is left over.
        assert_eq!(store.list().unwrap().len(), 1);
        assert_eq!(server.databases.borrow().len(), 2);
    }

    #[test]
    fn a_failed_load_leaves_the_database_and_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let failing = |_| Err(DbError::Dump("bad dump".to_owned()));
        assert!(databases(&server, &store, 1).load("app", failing).is_err());
        assert_eq!(server.databases.borrow().len(), 1);
        assert_eq!(server.contents("app").as_deref(), Some("v1"));

        let kept = databases(&server, &store, 2)
            .load("app", writing(&server, "dumped"))
            .unwrap()
            .unwrap();
        assert_eq!(server.contents("app").as_deref(), Some("dumped"));
        assert_eq!(server.contents(&kept.stored_as).as_deref(), Some("v1"));
        // A database that did not exist is created, with nothing to keep.
        let none = databases(&server, &store, 3)
            .load("fresh", writing(&server, "new"))
            .unwrap();
        assert_eq!(none, None);
        assert_eq!(server.contents("fresh").as_deref(), Some("new"));
    }

    #[test]
    fn what_a_killed_load_left_beside_is_swept_and_a_running_ones_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let mine = format!("wharf_incoming_5_{}_0", std::process::id());
        let server = FakeServer::with(&[
            ("app", "v1"),
            ("wharf_incoming_5_999999999_0", "half"),
            (&mine, "half"),
        ]);
        databases(&server, &store, 9)
            .load("app", writing(&server, "v2"))
            .unwrap();
        assert!(server.contents("wharf_incoming_5_999999999_0").is_none());
        assert!(
            server.contents(&mine).is_some(),
            "a live process's load is its own"
        );
        assert_eq!(server.contents("app").as_deref(), Some("v2"));
    }

    #[test]
    fn drop_and_reset_keep_what_they_remove_and_only_the_newest_automatic_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let kept = databases(&server, &store, 1).drop("app").unwrap();
        assert_eq!(server.user_visible(), Vec::<String>::new());
        assert_eq!(server.contents(&kept.stored_as).as_deref(), Some("v1"));
        for n in 2..=6 {
            let at = databases(&server, &store, n * 1000);
            let reset = at.reset("app").unwrap();
            at.filled(reset);
        }
        assert_eq!(server.contents("app").as_deref(), Some(""));
        let automatic = store.list().unwrap();
        assert_eq!(automatic.len(), AUTOMATIC_KEPT);
        assert_eq!(automatic[0].created_ms, 4000, "the oldest went first");
        assert_eq!(server.databases.borrow().len(), AUTOMATIC_KEPT + 1);
    }

    #[test]
    fn names_are_checked_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(dir.path());
        let server = FakeServer::with(&[("app", "v1")]);
        let ops = databases(&server, &store, 1);
        assert!(matches!(ops.create("app"), Err(DbError::Exists { .. })));
        assert!(matches!(ops.create("a;drop"), Err(DbError::BadName(_))));
        let reserved = ops.create("wharf_snapshot_1").unwrap_err();
        assert!(reserved.to_string().contains("wharf's own"), "{reserved}");
        assert!(matches!(
            ops.clone_to("nope", "x"),
            Err(DbError::NoDatabase { .. })
        ));
        assert!(matches!(ops.drop("nope"), Err(DbError::NoDatabase { .. })));
        ops.snapshot("app", Some("t")).unwrap();
        assert!(matches!(
            ops.snapshot("app", Some("t")),
            Err(DbError::SnapshotExists(_))
        ));
        ops.clone_to("app", "app_copy").unwrap();
        assert_eq!(server.contents("app_copy").as_deref(), Some("v1"));
    }
}

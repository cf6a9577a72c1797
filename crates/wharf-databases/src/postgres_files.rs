//! PostgreSQL databases copied file by file, as `CREATE DATABASE … STRATEGY FILE_COPY`
//! copies them, but with `cp --reflink=auto`: on a filesystem with reflinks (XFS,
//! btrfs) a copy of any size takes milliseconds, elsewhere the kernel copies
//! (`copy_file_range`) without passing the data through a process. The steps are the
//! server's own: the new database is registered empty (template0, sealed), the source
//! is sealed and emptied of clients, a checkpoint puts its pages on disk, its
//! directory is copied over the new one and synced, the new database gets the
//! source's transaction horizons, and a second checkpoint makes sure recovery never
//! replays the empty creation over the copy. Anything this cannot copy exactly
//! (other tablespaces, unlogged tables, prepared transactions) goes the server's way.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::error::DbError;
use crate::postgres::{Postgres, identifier, literal};

/// The source database as the copy needs it.
struct Source {
    oid: String,
    allows_connections: bool,
    frozen_xid: String,
    min_multixact: String,
    /// `ENCODING … LOCALE_PROVIDER …`: the new database's options, as the source's.
    options: String,
}

/// Replaces what directory `$2` holds with a copy of what `$1` holds. `$2` itself is
/// kept, the server's own from its `CREATE DATABASE`: one this process made would be
/// root's until the copy ends, and a copy cut off half way would leave the server a
/// directory it cannot open, nor drop, nor recover past after a crash.
const COPY_INTO: &str = "set -e; rm -rf \"$2\"/*; exec cp -a --reflink=auto \"$1\"/. \"$2\"/";

impl Postgres {
    /// Copies `from` to the new database `to` by its files; `Ok(false)` when it cannot
    /// (the caller then lets the server copy).
    pub(crate) fn copy_files(&self, from: &str, to: &str) -> Result<bool, DbError> {
        if self.major() < 15 || !self.files_reachable() {
            return Ok(false);
        }
        let Some(source) = self.source(from)? else {
            return Ok(false);
        };
        self.sql(
            &[from, to],
            &format!(
                "CREATE DATABASE {} TEMPLATE template0 {} ALLOW_CONNECTIONS false STRATEGY FILE_COPY",
                identifier(to),
                source.options
            ),
            &format!("creating {to}"),
        )?;
        let to_oid = self.sql(
            &[from, to],
            &format!(
                "SELECT oid FROM pg_database WHERE datname = {}",
                literal(to)
            ),
            "finding the copy",
        )?;
        let copied = self.copy_sealed(from, &source, to_oid.trim());
        if source.allows_connections {
            let _ = self.sql(
                &[from, to],
                &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", identifier(from)),
                &format!("reopening {from}"),
            );
        }
        match copied {
            Ok(()) => {
                self.sql(
                    &[from, to],
                    &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", identifier(to)),
                    &format!("opening {to}"),
                )?;
                Ok(true)
            }
            Err(err) => {
                let _ = self.sql(
                    &[from, to],
                    &format!("DROP DATABASE {}", identifier(to)),
                    "",
                );
                Err(err)
            }
        }
    }

    /// What the copy needs of `from`, or `None` when a copy of its directory would not
    /// be the whole database.
    fn source(&self, from: &str) -> Result<Option<Source>, DbError> {
        let row = self.sql(
            &[from],
            &format!(
                "SELECT d.oid, d.datallowconn, d.datfrozenxid, d.datminmxid, pg_encoding_to_char(d.encoding), \
                 d.datcollate, d.datctype, d.datlocprovider, coalesce(d.daticulocale, ''), \
                 (SELECT count(*) FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')) \
                 + (SELECT count(*) FROM pg_prepared_xacts p WHERE p.database = d.datname) \
                 + CASE WHEN t.spcname = 'pg_default' THEN 0 ELSE 1 END \
                 FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace WHERE d.datname = {}",
                literal(from)
            ),
            &format!("looking at {from}"),
        )?;
        let fields: Vec<&str> = row.trim_end_matches('\n').split('\x1f').collect();
        let [
            oid,
            allows,
            frozen,
            multixact,
            encoding,
            collate,
            ctype,
            provider,
            icu,
            obstacles,
        ] = fields.as_slice()
        else {
            return Err(DbError::NoDatabase {
                name: from.to_owned(),
                service: self.access.service.clone(),
            });
        };
        // A sealed database (a snapshot) takes no clients, so it has no pages in
        // memory that a checkpoint would leave out; an open one may, of unlogged tables.
        let allows_connections = *allows == "t";
        if *obstacles != "0" || (allows_connections && self.has_unlogged_tables(from)?) {
            return Ok(None);
        }
        let mut options = format!(
            "ENCODING {} LC_COLLATE {} LC_CTYPE {}",
            literal(encoding),
            literal(collate),
            literal(ctype)
        );
        if *provider == "i" {
            let _ = write!(options, " LOCALE_PROVIDER icu ICU_LOCALE {}", literal(icu));
        }
        Ok(Some(Source {
            oid: (*oid).to_owned(),
            allows_connections,
            frozen_xid: (*frozen).to_owned(),
            min_multixact: (*multixact).to_owned(),
            options,
        }))
    }

    /// A checkpoint does not write unlogged tables' pages: those need the server's copy.
    fn has_unlogged_tables(&self, name: &str) -> Result<bool, DbError> {
        let mut psql = self.program("psql");
        psql.args(["-X", "-q", "-A", "-t", "-d", name, "-c"])
            .arg("SELECT count(*) FROM pg_class WHERE relpersistence = 'u'");
        let count = crate::server::output_of(psql, &format!("looking into {name}"))?;
        Ok(count.trim() != "0")
    }

    /// Seals `from`, waits until no client is left in it, and copies its directory
    /// over the directory of the new database `to_oid`.
    fn copy_sealed(&self, from: &str, source: &Source, to_oid: &str) -> Result<(), DbError> {
        self.sql(
            &[from],
            &format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS false",
                identifier(from)
            ),
            &format!("sealing {from}"),
        )?;
        self.wait_until_empty(from)?;
        self.sql(&[from], "CHECKPOINT", "a checkpoint")?;
        let base = self.access.facts.data_dir.join("base");
        let (from_dir, to_dir) = (base.join(&source.oid), base.join(to_oid));
        // Each step's program is the shell's last (`exec`): on this machine it ends with
        // this process, so a `wharf db` killed half way leaves no copy writing into a
        // directory the next command drops.
        for (script, what) in [
            (COPY_INTO, format!("copying the files of {from}")),
            (
                "exec sync \"$2\" \"$2\"/*",
                format!("writing the copy of {from} to disk"),
            ),
        ] {
            let mut step = self.access.client("sh", &[], false, None);
            step.args(["-c", script, "sh"]).arg(&from_dir).arg(&to_dir);
            self.access.ends_with_this_process(&mut step);
            crate::server::output_of(step, &what)?;
        }
        self.sql(
            &[from],
            &format!(
                "UPDATE pg_database SET datfrozenxid = {}::xid, datminmxid = {}::xid WHERE oid = {}",
                literal(&source.frozen_xid),
                literal(&source.min_multixact),
                to_oid
            ),
            "registering the copy",
        )?;
        self.sql(&[from], "CHECKPOINT", "a checkpoint").map(drop)
    }

    /// Disconnects `name`'s clients (autovacuum's workers too) and waits until they
    /// are gone.
    fn wait_until_empty(&self, name: &str) -> Result<(), DbError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.disconnect(name)?;
            if left == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DbError::Failed {
                    what: format!("copying {name}"),
                    message: format!("{left} clients would not leave it"),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether this process can read the server's files where they are.
    fn files_reachable(&self) -> bool {
        match &self.access.place {
            crate::server::Place::Host => self.access.facts.data_dir.join("PG_VERSION").exists(),
            crate::server::Place::Container { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;
    use std::process::Command;

    /// The server's directory stays the server's whether the copy ends or is cut off.
    #[test]
    fn the_copy_keeps_the_servers_directory_whether_it_ends_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("16384"), dir.path().join("16390"));
        for made in [&from, &to] {
            std::fs::create_dir(made).unwrap();
            std::fs::set_permissions(made, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .unwrap();
        }
        std::fs::write(from.join("1259"), "pages").unwrap();
        std::fs::write(to.join("stale"), "template0").unwrap();
        // Owned by another user, as the server's files are, when this runs as root.
        let root = nix::unistd::geteuid().is_root();
        let server = nix::unistd::Uid::from_raw(if root {
            4321
        } else {
            nix::unistd::getuid().as_raw()
        });
        for path in [&from, &to, &from.join("1259")] {
            nix::unistd::chown(path.as_path(), Some(server), None).unwrap();
        }
        let copy = |path: &str| {
            Command::new("sh")
                .args(["-c", COPY_INTO, "sh"])
                .arg(&from)
                .arg(&to)
                .env("PATH", path)
                .status()
                .unwrap()
        };
        // A `cp` that is cut off before it writes anything.
        let cut_off = dir.path().join("cut-off");
        std::fs::create_dir(&cut_off).unwrap();
        std::fs::write(cut_off.join("cp"), "#!/bin/sh\nkill -9 $$\n").unwrap();
        std::fs::set_permissions(
            cut_off.join("cp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let path = std::env::var("PATH").unwrap();
        assert!(!copy(&format!("{}:{path}", cut_off.display())).success());
        let kept = std::fs::metadata(&to).unwrap();
        assert_eq!(kept.uid(), server.as_raw(), "still the server's");
        assert!(!to.join("stale").exists(), "emptied");
        assert!(copy(&path).success());
        assert_eq!(std::fs::read_to_string(to.join("1259")).unwrap(), "pages");
        assert_eq!(
            std::fs::metadata(to.join("1259")).unwrap().uid(),
            server.as_raw()
        );
        assert_eq!(std::fs::metadata(&to).unwrap().uid(), server.as_raw());
    }
}

//! MariaDB databases copied by their InnoDB files (transportable tablespaces): each
//! table is created alike in the new database and its empty tablespace discarded;
//! the source's tables are flushed for export (their pages on disk, writes held)
//! while their `.ibd` and `.cfg` files are copied with `cp --reflink=auto`; then each
//! copy is imported. No row passes through SQL. Tables this cannot move (other
//! engines, partitions, full-text indexes, names the server would encode on disk) go
//! row by row.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::Stdio;

use crate::error::DbError;
use crate::mariadb::{Mariadb, identifier, literal};

impl Mariadb {
    /// Copies the tables of `from` into the new database `to` by their files;
    /// `Ok(false)` when they cannot all go that way (nothing is created then).
    pub(crate) fn copy_files(
        &self,
        from: &str,
        to: &str,
        tables: &[String],
    ) -> Result<bool, DbError> {
        if tables.is_empty() || !self.files_movable(from, tables)? {
            return Ok(false);
        }
        let mut script = format!("{}\n", self.create_like(from, to)?);
        for table in tables {
            let (source, target) = (qualified(from, table), qualified(to, table));
            let _ = writeln!(
                script,
                "CREATE TABLE {target} LIKE {source};\nALTER TABLE {target} DISCARD TABLESPACE;"
            );
        }
        self.sql(&script, &format!("preparing the copy of {from}"))?;
        let copied = self
            .export_and_copy(from, to, tables)
            .and_then(|()| self.import(to, tables));
        if copied.is_err() {
            let _ = self.sql(&crate::mariadb_grants::drop_statement(to, true), "");
        }
        copied.map(|()| true)
    }

    /// Whether every table is InnoDB in a file of its own, unpartitioned, without a
    /// full-text index, and named as it is on disk.
    fn files_movable(&self, from: &str, tables: &[String]) -> Result<bool, DbError> {
        let plain = |name: &str| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain(from) || !tables.iter().all(|t| plain(t)) {
            return Ok(false);
        }
        let schema = literal(from);
        let obstacles = self.column(
            &format!(
                "SELECT (SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {schema} \
                 AND (engine <> 'InnoDB' OR create_options LIKE '%partitioned%')) \
                 + (SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = {schema} \
                 AND index_type = 'FULLTEXT') \
                 + (@@innodb_file_per_table = 0);"
            ),
            &format!("looking into {from}"),
        )?;
        Ok(obstacles == ["0"])
    }

    /// Flushes `from`'s tables for export in a session held open while their files are
    /// copied into `to`'s directory.
    fn export_and_copy(&self, from: &str, to: &str, tables: &[String]) -> Result<(), DbError> {
        let list: Vec<String> = tables.iter().map(|t| qualified(from, t)).collect();
        let mut session = self.program("mariadb");
        session
            .args(["--batch", "--skip-column-names", "--unbuffered"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = session.spawn().map_err(|source| DbError::Spawn {
            program: "mariadb".to_owned(),
            source,
        })?;
        let mut input = child.stdin.take().expect("piped");
        let mut output = BufReader::new(child.stdout.take().expect("piped"));
        let held = writeln!(
            input,
            "FLUSH TABLES {} FOR EXPORT;\nSELECT 'exported';",
            list.join(", ")
        )
        .and_then(|()| input.flush());
        let mut line = String::new();
        let exported =
            held.is_ok() && output.read_line(&mut line).is_ok() && line.trim() == "exported";
        let copied = if exported {
            self.copy_table_files(from, to, tables)
        } else {
            Err(DbError::Failed {
                what: format!("flushing the tables of {from} for export"),
                message: String::new(),
            })
        };
        let _ = writeln!(input, "UNLOCK TABLES;");
        drop(input);
        let finished = child.wait_with_output().map_err(DbError::io("mariadb"))?;
        match copied {
            Err(DbError::Failed { what, message }) if message.is_empty() => Err(DbError::Failed {
                what,
                message: crate::server::last_words(&String::from_utf8_lossy(&finished.stderr)),
            }),
            other => other,
        }
    }

    /// `cp --reflink=auto` of each table's `.ibd` and `.cfg`, owner kept, synced: one
    /// program a step, which on this machine ends with this process, so a `wharf db`
    /// killed half way leaves nothing writing into the database it half made.
    fn copy_table_files(&self, from: &str, to: &str, tables: &[String]) -> Result<(), DbError> {
        if tables.is_empty() {
            return Ok(());
        }
        let data = &self.access.facts.data_dir;
        let (from_dir, to_dir) = (data.join(from), data.join(to));
        let mut copy = self.access.client("cp", &[], false, None);
        copy.args(["-a", "--reflink=auto"]);
        for table in tables {
            copy.arg(from_dir.join(format!("{table}.ibd")))
                .arg(from_dir.join(format!("{table}.cfg")));
        }
        copy.arg(&to_dir);
        self.access.ends_with_this_process(&mut copy);
        crate::server::output_of(copy, &format!("copying the files of {from}"))?;
        let mut sync = self.access.client("sync", &[], false, None);
        sync.args(
            tables
                .iter()
                .map(|table| to_dir.join(format!("{table}.ibd"))),
        );
        self.access.ends_with_this_process(&mut sync);
        crate::server::output_of(sync, &format!("writing the copy of {from} to disk")).map(drop)
    }

    /// Imports each copied tablespace, then removes the export's metadata files.
    fn import(&self, to: &str, tables: &[String]) -> Result<(), DbError> {
        let mut script = "SET SESSION foreign_key_checks = 0;\n".to_owned();
        for table in tables {
            let _ = writeln!(
                script,
                "ALTER TABLE {} IMPORT TABLESPACE;",
                qualified(to, table)
            );
        }
        self.sql(&script, &format!("importing into {to}"))?;
        let mut tidy = self.access.client("sh", &[], false, None);
        tidy.args(["-c", "rm -f \"$1\"/*.cfg", "sh"])
            .arg(self.access.facts.data_dir.join(to));
        crate::server::output_of(tidy, "removing the export's files").map(drop)
    }
}

fn qualified(database: &str, table: &str) -> String {
    format!("{}.{}", identifier(database), identifier(table))
}

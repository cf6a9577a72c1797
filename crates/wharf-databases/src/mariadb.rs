//! MariaDB (and MySQL images run on it): statements through the `mariadb` client on
//! the server's unix socket, dumps with `mariadb-dump`. MariaDB cannot copy or rename
//! a database as a whole: a copy is each table's files moved (`mariadb_files.rs`), or
//! where they cannot be, each table created alike and filled by `INSERT … SELECT`
//! inside the server; a rename is one atomic `RENAME TABLE` of every table. Routines,
//! views, triggers and events are made again beside them (`mariadb_objects.rs`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) use wharf_runtime::sql_quote::mariadb::{identifier, literal};

use crate::error::DbError;
use crate::mariadb_grants::{copy_grants_statement, drop_statement};
use crate::mariadb_objects::Object;
use crate::server::{Loader, Place, Server, ServerAccess, remembered_version, wait_for};

/// Schemas of the server itself, never the project's.
const SYSTEM: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

pub struct Mariadb {
    pub(crate) access: ServerAccess,
    pub(crate) version: std::sync::OnceLock<String>,
}

impl Mariadb {
    /// A client program as root: on this machine over the server's unix socket,
    /// the password in its environment; in a container, where the image's settings
    /// find the socket, the password taken from the container's own environment.
    pub(crate) fn program(&self, name: &str) -> Command {
        self.program_on(name, false)
    }

    /// `program`, given the user's terminal when `terminal`.
    fn program_on(&self, name: &str, terminal: bool) -> Command {
        let facts = &self.access.facts;
        let mut command = self.access.client(name, &[], terminal, Some("MYSQL_PWD"));
        // Here, the server's own socket; in a container, where the image's settings
        // say.
        if self.access.place == Place::Host {
            command
                .arg("--no-defaults")
                .arg(format!("--socket={}", facts.socket.display()));
        }
        command.arg(format!("--user={}", facts.superuser));
        // Text as it is: the client's own default (from the locale, `latin1` or
        // `utf8mb3` where there is none) would re-encode or drop what utf8mb4 holds.
        command.arg("--default-character-set=utf8mb4");
        command
    }

    /// Runs `script` (statements separated by `;`) in one session; its rows, each a
    /// list of fields as the server has them.
    pub(crate) fn sql(&self, script: &str, what: &str) -> Result<Vec<Vec<String>>, DbError> {
        let mut client = self.program("mariadb");
        // Batch output escapes tabs, newlines and backslashes in values, so a row is a
        // line and a field is what lies between tabs, whatever the values hold.
        client
            .args(["--batch", "--skip-column-names"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = "mariadb".to_owned();
        let mut child = client
            .spawn()
            .map_err(|source| DbError::Spawn { program, source })?;
        let written = child
            .stdin
            .take()
            .expect("piped")
            .write_all(script.as_bytes());
        let output = child.wait_with_output().map_err(DbError::io("mariadb"))?;
        if output.status.success() && written.is_ok() {
            return Ok(String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(|row| row.split('\t').map(unescape).collect())
                .collect());
        }
        let message = crate::server::last_words(&String::from_utf8_lossy(&output.stderr));
        if message.contains("Can't connect to local server through socket") {
            return Err(self.access.not_accepting(Some(message)));
        }
        Err(DbError::Failed {
            what: what.to_owned(),
            message,
        })
    }

    /// The first field of each row `script` answers (names, ids, a count).
    pub(crate) fn column(&self, script: &str, what: &str) -> Result<Vec<String>, DbError> {
        Ok(self
            .sql(script, what)?
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .collect())
    }

    /// The base tables of `name` (its views are among its other objects).
    fn tables(&self, name: &str) -> Result<Vec<String>, DbError> {
        self.column(
            &format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = {} \
                 AND table_type = 'BASE TABLE' ORDER BY table_name;",
                literal(name)
            ),
            &format!("listing the tables of {name}"),
        )
    }

    /// `CREATE DATABASE to` with `from`'s default character set and collation: what
    /// the tables a migration makes in it later get, as they would have in `from`.
    pub(crate) fn create_like(&self, from: &str, to: &str) -> Result<String, DbError> {
        let rows = self.sql(
            &format!(
                "SELECT default_character_set_name, default_collation_name \
                 FROM information_schema.schemata WHERE schema_name = {};",
                literal(from)
            ),
            &format!("looking at {from}"),
        )?;
        let options = match rows.first().map(Vec::as_slice) {
            Some([charset, collation]) => format!(
                " CHARACTER SET {} COLLATE {}",
                literal(charset),
                literal(collation)
            ),
            _ => String::new(),
        };
        Ok(format!("CREATE DATABASE {}{options};", identifier(to)))
    }

    /// Moves `tables` and `objects` of `from` into `to`: a table with triggers cannot
    /// be renamed into another database, so its triggers are dropped first and made
    /// again after, with the rest of the objects.
    fn move_into(
        &self,
        tables: &[String],
        objects: &[Object],
        from: &str,
        to: &str,
    ) -> Result<(), DbError> {
        self.drop_triggers(objects, from)
            .and_then(|()| self.move_tables(tables, from, to))
            .and_then(|()| self.make_objects(objects, from, to))
    }

    /// Makes `objects` of `from` in `to`, with `from`'s grants (`mariadb_grants`).
    fn make_objects(&self, objects: &[Object], from: &str, to: &str) -> Result<(), DbError> {
        self.copy_grants(from, to)?;
        self.recreate(objects, from, to)
    }

    /// The last step of a rename: `from`, whose tables and objects have moved, goes.
    fn drop_emptied(&self, from: &str) -> Result<(), DbError> {
        self.sql(&drop_statement(from, false), &format!("renaming {from}"))
            .map(drop)
    }

    /// Each table of `from` created alike in the new database `to` and filled by
    /// `INSERT … SELECT` inside the server (no SQL text to parse).
    fn copy_rows(&self, from: &str, to: &str, tables: &[String]) -> Result<(), DbError> {
        let mut script = format!(
            "SET SESSION foreign_key_checks = 0, unique_checks = 0, sql_mode = 'NO_AUTO_VALUE_ON_ZERO';\n{}\n",
            self.create_like(from, to)?
        );
        for table in tables {
            let columns = self.stored_columns(from, table)?.join(", ");
            let (source, target) = (
                format!("{}.{}", identifier(from), identifier(table)),
                format!("{}.{}", identifier(to), identifier(table)),
            );
            let _ = writeln!(
                script,
                "CREATE TABLE {target} LIKE {source};\nINSERT INTO {target} ({columns}) SELECT {columns} FROM {source};"
            );
        }
        let copied = self.sql(&script, &format!("copying {from}"));
        if copied.is_err() {
            let _ = self.sql(&drop_statement(to, true), "");
        }
        copied.map(drop)
    }

    /// Every table of `from` into `to` in one atomic `RENAME TABLE`.
    fn move_tables(&self, tables: &[String], from: &str, to: &str) -> Result<(), DbError> {
        if tables.is_empty() {
            return Ok(());
        }
        let moves: Vec<String> = tables
            .iter()
            .map(|t| {
                format!(
                    "{}.{} TO {}.{}",
                    identifier(from),
                    identifier(t),
                    identifier(to),
                    identifier(t)
                )
            })
            .collect();
        self.sql(
            &format!("RENAME TABLE {};", moves.join(", ")),
            &format!("moving the tables of {from}"),
        )
        .map(drop)
    }

    /// Whether this process can reach the server's files where they are.
    fn files_reachable(&self) -> bool {
        match &self.access.place {
            Place::Host => self.access.facts.data_dir.join("mysql").is_dir(),
            Place::Container { .. } => true,
        }
    }

    /// Ends the sessions using `name` but this one, as PostgreSQL's copy needs.
    fn disconnect(&self, name: &str) -> Result<(), DbError> {
        // Those in it, and those whose statement names it: a copy's `INSERT … SELECT`
        // runs on in the server when the `wharf db` that started it was killed.
        let ids = self.column(
            &format!(
                "SELECT id FROM information_schema.processlist WHERE (db = {} OR LOCATE({}, info) > 0) \
                 AND id <> CONNECTION_ID();",
                literal(name),
                literal(&identifier(name))
            ),
            "listing clients",
        )?;
        // A client may have left on its own meanwhile: KILL of a gone id is no failure.
        for id in ids {
            let _ = self.sql(&format!("KILL CONNECTION {id};"), "disconnecting a client");
        }
        Ok(())
    }

    /// The columns `INSERT … SELECT` may write: generated ones compute themselves.
    fn stored_columns(&self, name: &str, table: &str) -> Result<Vec<String>, DbError> {
        Ok(self
            .column(
                &format!(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = {} AND table_name = {} \
                     AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position;",
                    literal(name),
                    literal(table)
                ),
                &format!("listing the columns of {table}"),
            )?
            .iter()
            .map(|column| identifier(column))
            .collect())
    }
}

impl Server for Mariadb {
    fn access(&self) -> &ServerAccess {
        &self.access
    }

    fn system(&self) -> &'static [&'static str] {
        &SYSTEM
    }

    fn copy_grants(&self, from: &str, to: &str) -> Result<(), DbError> {
        self.sql(
            &copy_grants_statement(from, to),
            &format!("giving {to} the grants of {from}"),
        )
        .map(drop)
    }

    fn wait_until_accepting(&self, timeout: Duration) -> Result<(), DbError> {
        wait_for(&self.access, timeout, || {
            self.sql("SELECT 1;", "connecting").map(drop)
        })
    }

    fn version(&self) -> Result<String, DbError> {
        remembered_version(&self.version, || {
            let version = self.column("SELECT VERSION();", "asking the version")?;
            let version = version.first().map_or("", String::as_str);
            Ok(version.split('-').next().unwrap_or_default().to_owned())
        })
    }

    fn databases(&self) -> Result<Vec<(String, u64)>, DbError> {
        // A table's statistics lag behind its rows (InnoDB counts again after a tenth
        // of them changed): its file's size, where the server shows it, does not.
        // MySQL has no such view; there the statistics are all there is. Names compare
        // as bytes: the views' collation takes `Mixed` and `mixed` for one database.
        let query = |file_sizes: bool| {
            let (size, join) = if file_sizes {
                (
                    "COALESCE(f.allocated_size, t.data_length + t.index_length)",
                    "LEFT JOIN information_schema.innodb_sys_tablespaces f \
                     ON BINARY f.name = CONCAT(t.table_schema, '/', t.table_name)",
                )
            } else {
                ("t.data_length + t.index_length", "")
            };
            format!(
                "SELECT MIN(s.schema_name), COALESCE(SUM({size}), 0) \
                 FROM information_schema.schemata s \
                 LEFT JOIN information_schema.tables t ON BINARY t.table_schema = s.schema_name {join} \
                 WHERE s.schema_name NOT IN ({}) GROUP BY BINARY s.schema_name ORDER BY 1;",
                SYSTEM.map(literal).join(", ")
            )
        };
        let rows = self
            .sql(&query(true), "listing databases")
            .or_else(|_| self.sql(&query(false), "listing databases"))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match <[String; 2]>::try_from(row) {
                Ok([name, size]) => Some((name, size.parse().unwrap_or(0))),
                Err(_) => None,
            })
            .collect())
    }

    fn create(&self, name: &str) -> Result<(), DbError> {
        self.sql(
            &format!("CREATE DATABASE {};", identifier(name)),
            &format!("creating {name}"),
        )
        .map(drop)
    }

    fn drop(&self, name: &str) -> Result<(), DbError> {
        self.disconnect(name)?;
        self.sql(&drop_statement(name, false), &format!("dropping {name}"))
            .map(drop)
    }

    fn copy(&self, from: &str, to: &str) -> Result<(), DbError> {
        let tables = self.tables(from)?;
        let objects = self.objects(from)?;
        self.check_views(&objects, from)?;
        self.disconnect(from)?;
        let copied = if self.files_reachable() && self.copy_files(from, to, &tables)? {
            Ok(())
        } else {
            self.copy_rows(from, to, &tables)
        };
        copied?;
        let made = self.make_objects(&objects, from, to);
        if made.is_err() {
            let _ = self.sql(&drop_statement(to, true), "");
        }
        made
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), DbError> {
        let tables = self.tables(from)?;
        let objects = self.objects(from)?;
        self.check_views(&objects, from)?;
        self.disconnect(from)?;
        self.sql(&self.create_like(from, to)?, &format!("creating {to}"))?;
        if let Err(err) = self.move_into(&tables, &objects, from, to) {
            // Back as it was: the tables where they were, their triggers again.
            let _ = self.drop_triggers(&objects, to);
            let _ = self.move_tables(&tables, to, from);
            let _ = self.sql(&drop_statement(to, true), "");
            let triggers: Vec<_> = objects.into_iter().filter(Object::is_trigger).collect();
            let _ = self.recreate(&triggers, from, from);
            return Err(err);
        }
        self.drop_emptied(from)
    }

    /// The triggers of `name`, which `rename` drops before it moves their tables.
    fn rename_journal(&self, name: &str) -> Result<String, DbError> {
        let triggers: Vec<Object> = self
            .objects(name)?
            .into_iter()
            .filter(Object::is_trigger)
            .collect();
        Ok(serde_json::to_string(&triggers).expect("objects serialize"))
    }

    /// What `rename` had not moved yet when it was cut off: the tables left in `from`
    /// (one `RENAME TABLE` moves them all or none), the objects `to` lacks, and the
    /// triggers it had dropped and not made again yet.
    fn finish_rename(&self, from: &str, to: &str, journal: &str) -> Result<(), DbError> {
        let tables = self.tables(from)?;
        let made = self.objects(to)?;
        let mut left: Vec<Object> = self
            .objects(from)?
            .into_iter()
            .filter(|object| !made.iter().any(|m| m.same_as(object)))
            .collect();
        let dropped: Vec<Object> = serde_json::from_str(journal).unwrap_or_default();
        for trigger in dropped {
            if !made.iter().chain(&left).any(|m| m.same_as(&trigger)) {
                left.push(trigger);
            }
        }
        self.disconnect(from)?;
        self.move_into(&tables, &left, from, to)?;
        self.drop_emptied(from)
    }

    /// MariaDB has no per-database gate; wharf's own names keep clients away.
    fn seal(&self, _: &str, _: bool) -> Result<(), DbError> {
        Ok(())
    }

    fn shell(&self, name: &str, args: &[String], batch: bool) -> Command {
        // The client stops at the first error of piped SQL by itself.
        let mut client = self.program_on("mariadb", !batch);
        client.arg(format!("--database={name}")).args(args);
        client
    }

    fn dump(&self, name: &str) -> Command {
        let mut dump = self.program("mariadb-dump");
        // One consistent read; no date in the trailer, so equal databases dump equal.
        dump.args([
            "--single-transaction",
            "--routines",
            "--triggers",
            "--events",
            "--skip-dump-date",
            name,
        ]);
        self.access.ends_with_this_process(&mut dump);
        dump
    }

    fn load(&self, name: &str) -> Result<Loader, DbError> {
        let mut client = self.program("mariadb");
        client.arg(format!("--database={name}"));
        // No `system`, `source` or `tee`, anywhere in a line; the server's own client
        // (natively, or in its container) is of its version.
        if has_sandbox(&self.version()?) {
            client.arg("--sandbox");
        }
        // Killed with this process, a load commits nothing more (psql would end its
        // transaction at the end of its cut-off input, and commit what it had).
        self.access.ends_with_this_process(&mut client);
        Ok(client.into())
    }
}

/// Whether the client of `version` (`10.11.19`) has `--sandbox`: from 10.5.25,
/// 10.6.18, 10.11.8, 11.0.6, 11.1.5, 11.2.4 and 11.4.2.
fn has_sandbox(version: &str) -> bool {
    let parts: Vec<u32> = version.split('.').map_while(|p| p.parse().ok()).collect();
    let [major, minor, patch] = parts[..] else {
        return false;
    };
    let first = match (major, minor) {
        (10, 5) => 25,
        (10, 6) => 18,
        (10, 11) => 8,
        (11, 0) => 6,
        (11, 1) => 5,
        (11, 2) => 4,
        (11, 4) => 2,
        _ => return (major, minor) > (11, 4),
    };
    patch >= first
}

/// A field of the client's batch output, its escapes undone (`\t`, `\n`, `\\`, `\0`).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{has_sandbox, unescape};

    #[test]
    fn the_sandbox_is_asked_of_the_client_versions_that_have_it() {
        for (version, has) in [
            ("10.11.19", true),
            ("10.11.7", false),
            ("10.6.18", true),
            ("10.4.34", false),
            ("11.3.2", false),
            ("11.8.1", true),
            ("10.11", false),
        ] {
            assert_eq!(has_sandbox(version), has, "{version}");
        }
    }

    #[test]
    fn batch_output_is_read_back_as_written() {
        assert_eq!(
            unescape("BEGIN\\n\\tSET x = 'a\\\\b';\\nEND"),
            "BEGIN\n\tSET x = 'a\\b';\nEND"
        );
    }
}

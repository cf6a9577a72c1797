//! PostgreSQL: statements through `psql` on the server's unix socket, dumps with
//! `pg_dump`, copies with `CREATE DATABASE … TEMPLATE` (a copy of the database's files
//! inside the server).

use std::process::Command;
use std::time::Duration;

pub(crate) use wharf_runtime::sql_quote::postgres::{identifier, literal};

use crate::error::DbError;
use crate::server::{Loader, Place, Server, ServerAccess, output_of, remembered_version, wait_for};

/// The database statements run in: it exists in every cluster `initdb` made. A
/// statement about `postgres` itself runs in `template1`.
const MAINTENANCE: &str = "postgres";

/// Where a statement about the databases `about` runs: never in one of them.
fn maintenance_for(about: &[&str]) -> &'static str {
    if about.contains(&MAINTENANCE) {
        "template1"
    } else {
        MAINTENANCE
    }
}

/// Whether the maintenance database refused the client as closed to connections.
fn closed_to_clients(err: &DbError) -> bool {
    let said = match err {
        DbError::Failed { message, .. } => message.as_str(),
        DbError::NotAccepting {
            cause: Some(cause), ..
        } => cause.as_str(),
        _ => return false,
    };
    said.contains(&format!(
        "database \"{MAINTENANCE}\" is not currently accepting connections"
    ))
}

/// How long a server between two lives (stopping, starting) is waited for.
const BETWEEN_LIVES: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a terminated statement may take to end (a copy removing its files).
const WORK_ENDS_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Postgres {
    pub(crate) access: ServerAccess,
    pub(crate) version: std::sync::OnceLock<String>,
}

impl Postgres {
    /// One of the server's client programs, as the superuser with the password: on
    /// this machine over the server's unix socket, in a container over the image's.
    pub(crate) fn program(&self, name: &str) -> Command {
        self.program_on(name, false)
    }

    /// `program`, given the user's terminal when `terminal`.
    fn program_on(&self, name: &str, terminal: bool) -> Command {
        let facts = &self.access.facts;
        let mut env = vec![("PGUSER", facts.superuser.clone())];
        if self.access.place == Place::Host {
            env.push((
                "PGHOST",
                facts
                    .socket
                    .parent()
                    .unwrap_or(&facts.socket)
                    .display()
                    .to_string(),
            ));
            env.push(("PGPORT", facts.port.to_string()));
        }
        let mut command = self.access.client(name, &env, terminal, Some("PGPASSWORD"));
        command.env_remove("PGDATABASE").env_remove("PGSERVICE");
        command
    }

    /// Runs one statement about the databases `about` in a maintenance database; its
    /// rows, fields split by US.
    pub(crate) fn sql(
        &self,
        about: &[&str],
        statement: &str,
        what: &str,
    ) -> Result<String, DbError> {
        let deadline = std::time::Instant::now() + BETWEEN_LIVES;
        loop {
            let mut psql = self.program("psql");
            psql.args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\x1f",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-d", maintenance_for(about), "-c", statement]);
            match output_of(psql, what).map_err(|err| self.plain(err)) {
                // A server between two lives (the image's first start runs one for its
                // init scripts, stops it, then starts the real one): asked again soon.
                Err(DbError::Failed { message, .. })
                    if message.contains("the database system is shutting down")
                        || message.contains("the database system is starting up")
                        || message.contains("server closed the connection unexpectedly") =>
                {
                    if std::time::Instant::now() > deadline {
                        return Err(self.access.not_accepting(Some(message)));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                // `postgres` itself closed to clients (a copy of it killed half way):
                // template1 answers, so the copy can be undone.
                Err(err) if maintenance_for(about) == MAINTENANCE && closed_to_clients(&err) => {
                    return self.sql(&[MAINTENANCE], statement, what);
                }
                // Between the two lives no server at all: its socket is gone a moment.
                Err(DbError::NotAccepting { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                // Mid-swap of `postgres` itself (a reset or restore of it), template1
                // answers.
                Err(DbError::Failed { message, .. })
                    if message.contains("database \"postgres\" does not exist")
                        && maintenance_for(about) == MAINTENANCE =>
                {
                    return self.sql(&[MAINTENANCE], statement, what);
                }
                other => return other,
            }
        }
    }

    /// psql's `ERROR:  database "x" does not exist` as the error it means.
    fn plain(&self, err: DbError) -> DbError {
        let DbError::Failed { what, message } = err else {
            return err;
        };
        let message = message
            .split_once("ERROR:")
            .map_or(message.as_str(), |(_, rest)| rest)
            .trim()
            .to_owned();
        if message.contains("No such file or directory") && message.contains("socket") {
            return self.access.not_accepting(None);
        }
        DbError::Failed { what, message }
    }

    /// Disconnects every client of `name` but this session; how many there were.
    pub(crate) fn disconnect(&self, name: &str) -> Result<usize, DbError> {
        // In the select list, not the WHERE clause: the filter comes first, whatever
        // order the planner gives the conditions.
        let count = self.sql(
            &[name],
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()",
                literal(name)
            ),
            "disconnecting clients",
        )?;
        Ok(count.trim().parse().unwrap_or(0))
    }

    /// The server's major version, as far as the facts say (`15`).
    pub(crate) fn major(&self) -> u32 {
        self.access
            .facts
            .version
            .split('.')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// `CREATE DATABASE` copies files directly (no WAL of every page) from 15 on.
    fn file_copy(&self) -> &'static str {
        if self.major() >= 15 {
            " STRATEGY FILE_COPY"
        } else {
            ""
        }
    }
}

/// Tries `attempt` a few times while the server says the database is busy (a client
/// connected between our disconnecting it and the statement).
fn while_busy<T>(mut attempt: impl FnMut() -> Result<T, DbError>) -> Result<T, DbError> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(DbError::Failed { ref message, .. })
                if message.contains("being accessed by other users") && tries < 20 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl Server for Postgres {
    fn access(&self) -> &ServerAccess {
        &self.access
    }

    fn wait_until_accepting(&self, timeout: Duration) -> Result<(), DbError> {
        wait_for(&self.access, timeout, || {
            // The image's first start runs a server for its init scripts on its socket
            // alone (no TCP), then stops it: not yet the server to talk to.
            let listens = self.sql(
                &[],
                "SELECT current_setting('listen_addresses') <> ''",
                "connecting",
            )?;
            if listens.trim() == "t" {
                Ok(())
            } else {
                Err(self.access.not_accepting(Some(
                    "it is still being set up (the server of its first start, which listens on no network address)".to_owned(),
                )))
            }
        })
    }

    fn version(&self) -> Result<String, DbError> {
        remembered_version(&self.version, || {
            Ok(self
                .sql(&[], "SHOW server_version", "asking the version")?
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned())
        })
    }

    fn databases(&self) -> Result<Vec<(String, u64)>, DbError> {
        let rows = self.sql(
            &[],
            "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname NOT IN ('template0', 'template1') ORDER BY datname",
            "listing databases",
        )?;
        Ok(rows
            .lines()
            .filter_map(|row| {
                let (name, size) = row.split_once('\x1f')?;
                Some((name.to_owned(), size.parse().unwrap_or(0)))
            })
            .collect())
    }

    fn create(&self, name: &str) -> Result<(), DbError> {
        // From template1, as the image creates POSTGRES_DB; `postgres` itself from
        // template0, since its statement runs in template1.
        let template = if maintenance_for(&[name]) == "template1" {
            " TEMPLATE template0"
        } else {
            ""
        };
        self.sql(
            &[name],
            &format!("CREATE DATABASE {}{template}", identifier(name)),
            &format!("creating {name}"),
        )
        .map(drop)
    }

    fn drop(&self, name: &str) -> Result<(), DbError> {
        self.sql(
            &[name],
            &format!("DROP DATABASE {} WITH (FORCE)", identifier(name)),
            &format!("dropping {name}"),
        )
        .map(drop)
    }

    fn copy(&self, from: &str, to: &str) -> Result<(), DbError> {
        if self.copy_files(from, to)? {
            return Ok(());
        }
        let statement = format!(
            "CREATE DATABASE {} TEMPLATE {}{}",
            identifier(to),
            identifier(from),
            self.file_copy()
        );
        while_busy(|| {
            self.disconnect(from)?;
            self.sql(&[from, to], &statement, &format!("copying {from}"))
                .map(drop)
        })
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), DbError> {
        let statement = format!(
            "ALTER DATABASE {} RENAME TO {}",
            identifier(from),
            identifier(to)
        );
        while_busy(|| {
            self.disconnect(from)?;
            self.sql(&[from, to], &statement, &format!("renaming {from}"))
                .map(drop)
        })
    }

    fn seal(&self, name: &str, sealed: bool) -> Result<(), DbError> {
        self.sql(
            &[name],
            &format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS {}",
                identifier(name),
                !sealed
            ),
            &format!("sealing {name}"),
        )?;
        if sealed {
            self.disconnect(name)?;
        }
        Ok(())
    }

    fn shell(&self, name: &str, args: &[String], batch: bool) -> Command {
        let mut psql = self.program_on("psql", !batch);
        psql.args(["-d", name]);
        if batch {
            psql.args(["-v", "ON_ERROR_STOP=1"]);
        }
        psql.args(args);
        psql
    }

    fn dump(&self, name: &str) -> Command {
        let mut pg_dump = self.program("pg_dump");
        // Without owners and grants: the dump loads as any user on any server.
        pg_dump.args(["--no-owner", "--no-privileges", "-d", name]);
        // A dump whose `wharf db` is killed stops too: it writes into a file of that
        // command's, which then no one removes.
        self.access.ends_with_this_process(&mut pg_dump);
        pg_dump
    }

    fn servers_own(&self) -> &'static [&'static str] {
        &[MAINTENANCE]
    }

    fn system(&self) -> &'static [&'static str] {
        &["template0", "template1"]
    }

    fn end_work_on(&self, name: &str) -> Result<(), DbError> {
        // A `CREATE DATABASE` whose client was killed runs to its end; ended, it
        // removes what it had copied. wharf's names are unique, so a statement naming
        // one is that command's.
        let statement = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND state <> 'idle' AND position({} in query) > 0",
            literal(name)
        );
        let deadline = std::time::Instant::now() + WORK_ENDS_WITHIN;
        while self
            .sql(&[name], &statement, &format!("ending the work on {name}"))?
            .trim()
            != "0"
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    fn load(&self, name: &str) -> Result<Loader, DbError> {
        let mut psql = self.program("psql");
        psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"])
            .args(["-d", name]);
        // Killed with this process, a load commits nothing more (psql would end its
        // transaction at the end of its cut-off input, and commit what it had).
        self.access.ends_with_this_process(&mut psql);
        // The server's own psql (natively, or in its container) is of its version.
        let restriction = has_restrict(&self.version()?)
            .then(|| random_key().map(|key| format!("\\restrict {key}\n")))
            .transpose()?;
        Ok(Loader {
            command: psql,
            restriction,
        })
    }
}

/// Whether psql of `version` (`15.18`) has `\restrict`, which refuses every psql
/// command up to the matching `\unrestrict`: from 17.6, 16.10, 15.14, 14.19, 13.22.
fn has_restrict(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), _) if major >= 18 => true,
        (Some(major), Some(minor)) => match major {
            17 => minor >= 6,
            16 => minor >= 10,
            15 => minor >= 14,
            14 => minor >= 19,
            13 => minor >= 22,
            _ => false,
        },
        _ => false,
    }
}

/// A key no dump can know, so none can lift the restriction wharf puts on psql.
fn random_key() -> Result<String, DbError> {
    let mut bytes = [0u8; 16];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(DbError::io("/dev/urandom"))?,
        &mut bytes,
    )
    .map_err(DbError::io("/dev/urandom"))?;
    Ok(format!("{:032x}", u128::from_le_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::has_restrict;

    #[test]
    fn restricted_mode_is_asked_of_the_psql_versions_that_have_it() {
        for (version, has) in [
            ("15.18", true),
            ("15.13", false),
            ("16.10", true),
            ("17.5", false),
            ("18.1", true),
            ("12.22", false),
            ("18devel", false),
        ] {
            assert_eq!(has_restrict(version), has, "{version}");
        }
    }
}

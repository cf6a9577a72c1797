//! A database server as the `db` commands reach it, and what each engine does its own
//! way: list, create, drop, copy, rename, seal, and the commands of its client
//! programs. Everything above this (snapshots, swaps, undo) is written once, in
//! `operations.rs`.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use wharf_runtime::recipes::{Credentials, DatabaseEngine, DatabaseFacts};

use crate::error::DbError;
use crate::postgres::Postgres;

/// A server of the project and how to act on it as its superuser.
#[derive(Clone, Debug)]
pub struct ServerAccess {
    pub service: String,
    pub facts: DatabaseFacts,
    /// The superuser's password, from the service's environment: client programs get
    /// it in their environment, never on their command line.
    pub password: Option<String>,
    pub place: Place,
}

/// Where the server runs, and so where its client programs run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// On this machine (a recipe's server): the clients reach its unix socket.
    Host,
    /// In the service's container: the clients run there, through `wharf exec`, so
    /// this machine needs none of them.
    Container { wharf: PathBuf, project: String },
}

impl ServerAccess {
    /// How the server runs, as snapshots note it: its data differs between the two.
    pub fn ran_as(&self) -> &'static str {
        match self.place {
            Place::Host => "process",
            Place::Container { .. } => "container",
        }
    }

    /// Makes `command`, when it runs on this machine, end as this process ends (its
    /// parent-death signal, kept through `exec`); a client in a container is the
    /// engine's to end.
    pub(crate) fn ends_with_this_process(&self, command: &mut Command) {
        if matches!(self.place, Place::Host) {
            dies_with_this_process(command);
        }
    }

    /// Where clients reach the server, as messages say it.
    pub(crate) fn location(&self) -> String {
        match self.place {
            Place::Host => format!("at {}", self.facts.socket.display()),
            Place::Container { .. } => "in its container".to_owned(),
        }
    }

    pub(crate) fn not_accepting(&self, cause: Option<String>) -> DbError {
        DbError::NotAccepting {
            service: self.service.clone(),
            place: self.location(),
            cause,
        }
    }

    /// `program` where the server is, with `env` set for it: on this machine (from the
    /// server's client directory, else the PATH), or in the container (given the
    /// user's terminal when `terminal`). `secret` names the variable the client reads
    /// the superuser's password from (`PGPASSWORD`): here it is set from the service's
    /// environment; in a container, from the container's own, by a shell in there, so
    /// the password is never on a command line.
    pub(crate) fn client(
        &self,
        program: &str,
        env: &[(&str, String)],
        terminal: bool,
        secret: Option<&str>,
    ) -> Command {
        match &self.place {
            Place::Host => {
                let path = self
                    .facts
                    .client_dir
                    .as_ref()
                    .map(|dir| dir.join(program))
                    .filter(|path| path.is_file())
                    .unwrap_or_else(|| PathBuf::from(program));
                let mut command = Command::new(path);
                command.envs(env.iter().map(|(k, v)| (k, v)));
                if let Some(secret) = secret {
                    match &self.password {
                        Some(password) => command.env(secret, password),
                        None => command.env_remove(secret),
                    };
                }
                command
            }
            Place::Container { wharf, project } => {
                let mut command = Command::new(wharf);
                command.args(["-p", project, "exec"]);
                if !terminal {
                    command.arg("-T");
                }
                for (name, value) in env {
                    command.arg("-e").arg(format!("{name}={value}"));
                }
                command.arg(&self.service);
                match (secret, &self.facts.credentials) {
                    // The variable's name is the image's own (POSTGRES_PASSWORD…).
                    (Some(secret), Credentials::Variable(variable)) => {
                        command.args([
                            "sh",
                            "-c",
                            &format!("{secret}=\"${variable}\" exec \"$@\""),
                            "sh",
                            program,
                        ]);
                    }
                    _ => {
                        command.arg(program);
                    }
                }
                command
            }
        }
    }
}

pub trait Server {
    fn access(&self) -> &ServerAccess;
    /// Returns once the server answers, or fails after `timeout`.
    fn wait_until_accepting(&self, timeout: Duration) -> Result<(), DbError>;
    /// The server's version as it reports it (`15.18`).
    fn version(&self) -> Result<String, DbError>;
    /// Every database with its size in bytes, wharf's own included.
    fn databases(&self) -> Result<Vec<(String, u64)>, DbError>;
    fn create(&self, name: &str) -> Result<(), DbError>;
    fn drop(&self, name: &str) -> Result<(), DbError>;
    /// Copies database `from` to a new database `to` with the engine's fastest
    /// safe copy; clients connected to `from` are disconnected first.
    fn copy(&self, from: &str, to: &str) -> Result<(), DbError>;
    /// Renames a database; its clients are disconnected first.
    fn rename(&self, from: &str, to: &str) -> Result<(), DbError>;
    /// What a rename of `name` holds only in its process while it runs, written down
    /// before it starts so that `finish_rename` can make it again (MariaDB's
    /// triggers, dropped before their tables move); empty where renames are atomic.
    fn rename_journal(&self, _name: &str) -> Result<String, DbError> {
        Ok(String::new())
    }
    /// Finishes a rename a killed process cut off half way, which left both names:
    /// what is still under `from` goes to `to`, and what `journal` holds that neither
    /// has any more is made again in `to`; then `from` goes. A server whose renames
    /// are atomic never leaves both; for it this is a rename.
    fn finish_rename(&self, from: &str, to: &str, _journal: &str) -> Result<(), DbError> {
        self.rename(from, to)
    }
    /// Keeps clients out of a database wharf holds as a snapshot (or lets them in).
    fn seal(&self, name: &str, sealed: bool) -> Result<(), DbError>;
    /// The interactive client on `name`; `batch` when SQL comes from a pipe, so the
    /// first error stops it and sets its exit code.
    fn shell(&self, name: &str, args: &[String], batch: bool) -> Command;
    /// Writes a portable logical dump of `name` on its standard output.
    fn dump(&self, name: &str) -> Command;
    /// Runs the SQL on its standard input in `name`, stopping at the first error, in
    /// the client's restricted mode where it has one.
    fn load(&self, name: &str) -> Result<Loader, DbError>;
    /// The databases the server needs for itself, which may be emptied but not dropped.
    fn servers_own(&self) -> &'static [&'static str] {
        &[]
    }
    /// The server's system databases, which `databases` leaves out and wharf never
    /// changes (PostgreSQL's templates, MariaDB's `mysql`).
    fn system(&self) -> &'static [&'static str];
    /// Ends, and waits out, what the server still does for a killed command about
    /// `name` (a copy into it that runs on without its client), so that what is
    /// undone next is not made again after.
    fn end_work_on(&self, _name: &str) -> Result<(), DbError> {
        Ok(())
    }
    /// Gives database `to` the grants `from` has, where objects need their definers'
    /// grants to be made (MariaDB's views): a dump loaded beside `from`, to take its
    /// name, is made with them.
    fn copy_grants(&self, _from: &str, _to: &str) -> Result<(), DbError> {
        Ok(())
    }
}

/// The server `access` describes, spoken to in its engine's way.
pub fn connect(access: ServerAccess) -> Box<dyn Server> {
    match access.facts.engine {
        DatabaseEngine::Postgres => Box::new(Postgres {
            access,
            version: OnceLock::new(),
        }),
        DatabaseEngine::Mariadb => Box::new(crate::mariadb::Mariadb {
            access,
            version: OnceLock::new(),
        }),
    }
}

/// The server's version, asked once a command (a load asks it for its client, the
/// snapshot it keeps for its record).
pub(crate) fn remembered_version(
    version: &OnceLock<String>,
    ask: impl FnOnce() -> Result<String, DbError>,
) -> Result<String, DbError> {
    if let Some(known) = version.get() {
        return Ok(known.clone());
    }
    let asked = ask()?;
    Ok(version.get_or_init(|| asked).clone())
}

/// Runs `command` to the end; its standard output on success, else its error output
/// as the message of `what` failing.
pub(crate) fn output_of(mut command: Command, what: &str) -> Result<String, DbError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| DbError::Spawn { program, source })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(DbError::Failed {
        what: what.to_owned(),
        message: last_words(&String::from_utf8_lossy(&output.stderr)),
    })
}

/// The end of a client's error output: from its last `ERROR`/`FATAL` line (the
/// `DETAIL`, `CONTEXT` after it), else its last three lines.
pub(crate) fn last_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines
        .iter()
        .rposition(|l| l.contains("ERROR") || l.contains("FATAL"))
        .unwrap_or_else(|| lines.len().saturating_sub(3));
    lines[start..]
        .iter()
        .take(4)
        .copied()
        .collect::<Vec<_>>()
        .join("; ")
}

/// Probes until the server answers: a server still starting (no socket yet, not yet
/// accepting) gets until `timeout`; one that refuses wharf's credentials fails at once,
/// saying why.
pub(crate) fn wait_for(
    access: &ServerAccess,
    timeout: Duration,
    probe: impl Fn() -> Result<(), DbError>,
) -> Result<(), DbError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let cause = match probe() {
            Ok(()) => return Ok(()),
            Err(DbError::Failed { message, .. }) if refused(&message) => {
                return Err(DbError::Refused {
                    service: access.service.clone(),
                    message,
                });
            }
            Err(DbError::Failed { message, .. }) => Some(message),
            Err(DbError::NotAccepting { cause, .. }) => cause,
            Err(other) => return Err(other),
        };
        if std::time::Instant::now() >= deadline {
            return Err(access.not_accepting(cause));
        }
        if crate::interrupt::interrupted() {
            return Err(DbError::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server's answer that waiting will not change: wrong credentials, a missing role.
fn refused(message: &str) -> bool {
    [
        "password authentication failed",
        "no password supplied",
        "role \"",
        "no pg_hba.conf entry",
        "Access denied",
        "permission denied",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// Has the kernel kill `command`'s program when this process ends (a `kill -9` of
/// `wharf db` too), so nothing it started writes on after it.
pub(crate) fn dies_with_this_process(command: &mut Command) {
    // SAFETY: the closure only makes one system call, which is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
}

/// A client that runs the SQL on its standard input, and the line that turns on its
/// restricted mode, written before the SQL (psql's `\restrict KEY`), if it has one.
pub struct Loader {
    pub command: Command,
    pub restriction: Option<String>,
}

impl From<Command> for Loader {
    fn from(command: Command) -> Self {
        Self {
            command,
            restriction: None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::os::unix::process::ExitStatusExt as _;
    use std::path::PathBuf;
    use std::process::Command;

    use wharf_runtime::recipes::{Credentials, DatabaseEngine, DatabaseFacts};

    use super::{Place, ServerAccess, last_words};

    /// A PostgreSQL server's access on this machine, for tests of what runs its
    /// clients; nothing is there to reach.
    pub(crate) fn on_this_machine() -> ServerAccess {
        ServerAccess {
            service: "db".to_owned(),
            facts: DatabaseFacts {
                engine: DatabaseEngine::Postgres,
                version: "15".to_owned(),
                superuser: "app".to_owned(),
                credentials: Credentials::NotNeeded,
                database: "app".to_owned(),
                socket: PathBuf::from("/nowhere"),
                port: 5432,
                data_dir: PathBuf::from("/nowhere"),
                client_dir: None,
            },
            password: None,
            place: Place::Host,
        }
    }

    /// A step of a copy on this machine ends when what started it ends (here a thread,
    /// as the parent-death signal goes by thread), so a killed `wharf db` leaves no
    /// copy writing on.
    #[test]
    fn a_step_on_this_machine_ends_with_what_started_it() {
        let access = on_this_machine();
        let mut child = std::thread::spawn(move || {
            let mut step = Command::new("sh");
            step.args(["-c", "exec sleep 30"]);
            access.ends_with_this_process(&mut step);
            step.spawn().unwrap()
        })
        .join()
        .unwrap();
        let ended = child.wait().unwrap();
        assert_eq!(ended.signal(), Some(9), "{ended:?}");
    }

    #[test]
    fn last_words_start_at_the_error_and_keep_what_explains_it() {
        let psql = "SET\nSET\npsql:dump.sql:40: ERROR:  invalid input syntax for type integer\n\
                    DETAIL:  The input string ended unexpectedly.\nCONTEXT:  COPY t, line 3\n";
        assert_eq!(
            last_words(psql),
            "psql:dump.sql:40: ERROR:  invalid input syntax for type integer; \
             DETAIL:  The input string ended unexpectedly.; CONTEXT:  COPY t, line 3"
        );
        assert_eq!(last_words("one\ntwo\nthree\nfour\n"), "two; three; four");
        assert_eq!(last_words(""), "");
    }
}

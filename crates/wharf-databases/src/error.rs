//! What can go wrong reaching a server or changing its databases.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot run {program}: {source}{}", hint_for(.source))]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{what} failed: {message}")]
    Failed { what: String, message: String },
    #[error("{service} does not accept connections {place}{}; is it up? (wharf up -d {service})", .cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    NotAccepting {
        service: String,
        /// `at <socket>`, `in its container`.
        place: String,
        /// What the last try said.
        cause: Option<String>,
    },
    #[error("{service} refuses wharf's connection: {message}")]
    Refused { service: String, message: String },
    #[error("no database `{name}` on {service}")]
    NoDatabase { name: String, service: String },
    #[error("database `{name}` already exists on {service}")]
    Exists { name: String, service: String },
    #[error("no snapshot `{0}` (wharf db snapshots lists them)")]
    NoSnapshot(String),
    #[error("a snapshot `{0}` exists already; pick another --tag or remove it first")]
    SnapshotExists(String),
    #[error("`{0}` is no name for a database: use letters, digits, `_` and `-`, at most 63")]
    BadName(String),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Dump(String),
    #[error("interrupted")]
    Interrupted,
}

fn hint_for(err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::NotFound {
        " (is it installed? Debian: postgresql-client, mariadb-client, zstd, gzip)"
    } else {
        ""
    }
}

impl DbError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

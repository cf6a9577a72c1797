//! What a database recipe runs, as facts other parts of wharf build on (shells, dumps,
//! snapshots): which server, which version, who its superuser is and where the
//! password comes from, where to reach it and where its data lives.

use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseEngine {
    Postgres,
    Mariadb,
}

/// Where the superuser's password is, without the password itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// In this variable of the service's environment.
    Variable(String),
    /// None is needed (`POSTGRES_HOST_AUTH_METHOD=trust`, an empty root password).
    NotNeeded,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseFacts {
    pub engine: DatabaseEngine,
    /// The server's major version as installed here (`15`), or the image's tag.
    pub version: String,
    pub superuser: String,
    pub credentials: Credentials,
    /// The database the image creates on first start.
    pub database: String,
    /// The unix socket clients reach the server on.
    pub socket: PathBuf,
    /// The loopback port it listens on.
    pub port: u16,
    pub data_dir: PathBuf,
    /// Where the server's own client programs are (pg_dump must be as new as the
    /// server); `None`: on the PATH.
    pub client_dir: Option<PathBuf>,
}

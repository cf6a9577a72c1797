//! What a database recipe runs, as facts other parts of wharf build on (shells, dumps,
//! snapshots): which server, which version, who its superuser is and where the
//! password comes from, where to reach it and where its data lives.

use std::path::PathBuf;

use wharf_model::Service;

use super::image_name_and_tag;

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

/// What a database image runs in its own container, by its documented settings: the
/// server's facts as the image has them (socket, port and data where the image puts
/// them). A recipe running the image's server natively changes where.
pub fn of_image(service: &Service) -> Option<DatabaseFacts> {
    if !super::runs_the_server(service) {
        return None;
    }
    let env = |name: &str| {
        service
            .environment
            .get(name)
            .and_then(|v| v.as_deref())
            .filter(|v| !v.is_empty())
    };
    let (name, tag) = image_name_and_tag(&service.image);
    match name {
        "postgres" => {
            let superuser = env("POSTGRES_USER").unwrap_or("postgres").to_owned();
            Some(DatabaseFacts {
                engine: DatabaseEngine::Postgres,
                version: tag.to_owned(),
                credentials: if env("POSTGRES_HOST_AUTH_METHOD") == Some("trust") {
                    Credentials::NotNeeded
                } else {
                    Credentials::Variable("POSTGRES_PASSWORD".to_owned())
                },
                database: env("POSTGRES_DB").unwrap_or(&superuser).to_owned(),
                superuser,
                socket: PathBuf::from("/var/run/postgresql/.s.PGSQL.5432"),
                port: 5432,
                data_dir: PathBuf::from(env("PGDATA").unwrap_or("/var/lib/postgresql/data")),
                client_dir: None,
            })
        }
        "mariadb" | "mysql" => {
            // The images read MARIADB_ names first, then MYSQL_ ones.
            let setting = |suffix: &str| {
                ["MARIADB_", "MYSQL_"]
                    .into_iter()
                    .map(|prefix| format!("{prefix}{suffix}"))
                    .find(|name| env(name).is_some())
            };
            Some(DatabaseFacts {
                engine: DatabaseEngine::Mariadb,
                version: tag.to_owned(),
                superuser: "root".to_owned(),
                credentials: setting("ROOT_PASSWORD")
                    .map_or(Credentials::NotNeeded, Credentials::Variable),
                database: setting("DATABASE")
                    .and_then(|name| env(&name).map(str::to_owned))
                    .unwrap_or_default(),
                socket: PathBuf::from("/run/mysqld/mysqld.sock"),
                port: 3306,
                data_dir: PathBuf::from("/var/lib/mysql"),
                client_dir: None,
            })
        }
        _ => None,
    }
}

//! The postgres recipe: the image's behaviour with the host's PostgreSQL. The first
//! start of an empty data directory runs `initdb` with POSTGRES_USER, POSTGRES_PASSWORD
//! and POSTGRES_INITDB_ARGS, creates POSTGRES_DB, and runs the `*.sql`, `*.sql.gz` and
//! `*.sh` files of a mount on `/docker-entrypoint-initdb.d`; every start then runs the
//! server on loopback. The entrypoint is wharf itself (`wharf recipe postgres`), so the
//! steps run in order in the service's own process, which ends as `postgres`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};

use super::entrypoint::{
    become_account, check, clear_if_cut_off, initialize_once, mark_unfinished, prepare_dirs,
    run_init_files, wait_until_ready,
};
use super::{DatabaseArgs, DatabaseFacts, LaunchError, Options, Recipe, RecipeContext};

const INSTALLS: &str = "/usr/lib/postgresql";

/// Major versions installed here, highest first.
fn installed_versions() -> Vec<u32> {
    let mut versions: Vec<u32> = std::fs::read_dir(INSTALLS)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().join("bin/postgres").is_file())
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    versions
}

/// The major version the tag asks for (`15`, `15.3-alpine`), or the newest for `latest`.
fn pick_version(tag: &str) -> Result<u32, String> {
    let installed = installed_versions();
    let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
    let listed = || {
        installed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match digits.parse::<u32>() {
        Ok(major) if installed.contains(&major) => Ok(major),
        Ok(major) if installed.is_empty() => Err(format!(
            "postgres {major} is not installed; install it (Debian: apt-get install postgresql-{major}) or add an x-wharf.process section"
        )),
        Ok(major) => Err(format!(
            "postgres {major} is not installed (installed: {}); install postgresql-{major}, use image postgres:{}, or run it in a container (`x-wharf.backend: docker`, or `wharf up --backend docker`, which pulls the image)",
            listed(),
            installed[0]
        )),
        Err(_) => installed.first().copied().ok_or_else(|| {
            "PostgreSQL is not installed; install it (Debian: apt-get install postgresql) or add an x-wharf.process section".to_owned()
        }),
    }
}

pub fn recipe(context: &RecipeContext<'_>, tag: &str) -> Result<Recipe, String> {
    let version = pick_version(tag)?;
    let trust = context.env("POSTGRES_HOST_AUTH_METHOD") == Some("trust");
    if context.env("POSTGRES_PASSWORD").is_none_or(str::is_empty) && !trust {
        return Err(
            "POSTGRES_PASSWORD is not set; the postgres image refuses to start without it (or POSTGRES_HOST_AUTH_METHOD=trust)"
                .to_owned(),
        );
    }
    let pgdata = context.env("PGDATA").unwrap_or("/var/lib/postgresql/data");
    let data = context.data_dir(pgdata);
    let command = context.database_command(
        "postgres",
        Options::default().with("bin", format!("{INSTALLS}/{version}/bin")),
        &data,
        &["postgres"],
    );
    // Healthchecks such as `pg_isready -U app` and `psql` in `wharf exec` find the
    // server on its unix socket, where local connections are trusted as in the image:
    // `wharf exec db psql -U app` asks for no password.
    let environment = BTreeMap::from([
        (
            "PGHOST".to_owned(),
            context.own_dir("sockets").display().to_string(),
        ),
        ("PGPORT".to_owned(), context.port.to_string()),
    ]);
    let database = DatabaseFacts {
        version: version.to_string(),
        socket: context
            .own_dir("sockets")
            .join(format!(".s.PGSQL.{}", context.port)),
        port: context.port,
        data_dir: data,
        client_dir: Some(PathBuf::from(format!("{INSTALLS}/{version}/bin"))),
        ..super::facts::of_image(context.service).expect("a postgres image")
    };
    Ok(Recipe {
        command,
        working_dir: context.project_dir.to_owned(),
        environment,
        origin: format!("recipe postgres {version}"),
        // Fast shutdown, the image's STOPSIGNAL: SIGTERM would wait for every client.
        stop_signal: Some("SIGINT"),
        database: Some(database),
    })
}

/// What `wharf recipe postgres` is given.
#[derive(Debug)]
pub struct PostgresArgs {
    /// The directory holding initdb, postgres and psql.
    bin: PathBuf,
    database: DatabaseArgs,
}

impl PostgresArgs {
    pub fn read(options: &Options) -> Result<Self, LaunchError> {
        Ok(Self {
            bin: options.path("bin")?,
            database: DatabaseArgs::read(options)?,
        })
    }
}

/// `wharf recipe postgres`: prepare, initialize once, then become the server.
pub fn run(args: &PostgresArgs) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let user = env("POSTGRES_USER").unwrap_or_else(|| "postgres".to_owned());
    let database = env("POSTGRES_DB").unwrap_or_else(|| user.clone());
    let password = env("POSTGRES_PASSWORD");
    let auth = env("POSTGRES_HOST_AUTH_METHOD").unwrap_or_else(|| "scram-sha-256".to_owned());

    clear_if_cut_off(&args.database.data)?;
    let fresh = !args.database.data.join("PG_VERSION").exists();
    prepare_dirs(&[&args.database.data, &args.database.sockets])?;
    become_account("postgres", &[&args.database.data, &args.database.sockets])?;
    if fresh {
        initialize_once(&args.database.data, || {
            initialize(args, &user, &database, password.as_deref(), &auth)
        })?;
    }
    println!("starting PostgreSQL on 127.0.0.1:{}", args.database.port);
    let error = server(args, "127.0.0.1", &args.database.sockets)
        .args(&args.database.server_args)
        .exec();
    Err(error).context("cannot run postgres")
}

/// The server command on `listen` (empty: unix socket only), its socket in `sockets`.
fn server(args: &PostgresArgs, listen: &str, sockets: &Path) -> Command {
    let mut command = Command::new(args.bin.join("postgres"));
    command
        .arg("-D")
        .arg(&args.database.data)
        .arg("-c")
        .arg(format!("listen_addresses={listen}"))
        .arg("-p")
        .arg(args.database.port.to_string())
        .arg("-k")
        .arg(sockets);
    command
}

/// Where the server initializing the data directory takes connections: not the
/// service's socket directory, so a healthcheck (`pg_isready`, which uses the socket)
/// does not find it healthy before the real server listens.
fn init_sockets(args: &PostgresArgs) -> PathBuf {
    args.database.sockets.join("init")
}

fn initialize(
    args: &PostgresArgs,
    user: &str,
    database: &str,
    password: Option<&str>,
    auth: &str,
) -> anyhow::Result<()> {
    println!(
        "initializing the database in {}",
        args.database.data.display()
    );
    let mut initdb = Command::new(args.bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&args.database.data)
        .arg("--username")
        .arg(user)
        .arg("--auth-local=trust")
        .arg(format!("--auth-host={auth}"));
    let password_file = args.database.sockets.join(".initdb-password");
    if let Some(password) = password {
        std::fs::write(&password_file, password).with_context(|| {
            format!(
                "cannot write {} (the postgres user must be able to reach it: each parent directory needs o+x)",
                password_file.display()
            )
        })?;
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))?;
        initdb.arg("--pwfile").arg(&password_file);
    }
    if let Ok(extra) = std::env::var("POSTGRES_INITDB_ARGS") {
        initdb.args(wharf_manifest::split_whole_command(&extra).map_err(anyhow::Error::msg)?);
    }
    let status = initdb.status().context("cannot run initdb");
    let _ = std::fs::remove_file(&password_file);
    if !status?.success() {
        bail!("initdb failed");
    }
    // initdb clears what it made when it is stopped; from here it is this process's.
    mark_unfinished(&args.database.data)?;

    let sockets = init_sockets(args);
    prepare_dirs(&[&sockets])?;
    let mut temporary = server(args, "", &sockets)
        .spawn()
        .context("cannot start postgres")?;
    let outcome = initialize_running(args, user, database, password, &mut temporary);
    // Fast shutdown, as the image's entrypoint does.
    super::entrypoint::stop_temporary(&mut temporary, nix::sys::signal::Signal::SIGINT);
    outcome
}

fn initialize_running(
    args: &PostgresArgs,
    user: &str,
    database: &str,
    password: Option<&str>,
    server: &mut Child,
) -> anyhow::Result<()> {
    // With the password, as the image's entrypoint: POSTGRES_INITDB_ARGS may ask for
    // it on local connections too (`--auth-local=scram-sha-256`).
    let psql = |db: &str| {
        let mut command = Command::new(args.bin.join("psql"));
        command
            .args(["-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-h"])
            .arg(init_sockets(args))
            .arg("-p")
            .arg(args.database.port.to_string())
            .args(["-U", user, "-d", db]);
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        command
    };
    wait_until_ready(server, "postgres", || {
        Ok(psql("postgres")
            .args(["-c", "select 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?
            .success())
    })?;
    if database != "postgres" {
        let quoted = crate::sql_quote::postgres::identifier(database);
        check(
            psql("postgres")
                .arg("-c")
                .arg(format!("CREATE DATABASE {quoted}")),
            "creating the database",
        )?;
    }
    let Some(scripts) = &args.database.initdb_d else {
        return Ok(());
    };
    let mut script_env = vec![
        ("PGHOST", init_sockets(args).display().to_string()),
        ("PGPORT", args.database.port.to_string()),
        ("PGUSER", user.to_owned()),
        ("PGDATABASE", database.to_owned()),
    ];
    if let Some(password) = password {
        script_env.push(("PGPASSWORD", password.to_owned()));
    }
    run_init_files(scripts, &script_env, || psql(database))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_version_says_what_to_install() {
        let error = pick_version("999-alpine").unwrap_err();
        assert!(error.contains("postgres 999 is not installed"), "{error}");
        assert!(error.contains("postgresql-999"), "{error}");
    }
}

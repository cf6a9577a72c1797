//! The mariadb/mysql recipe: the images' behaviour with the host's MariaDB server. The
//! first start of an empty data directory installs the system tables, sets the root
//! password, creates MARIADB_DATABASE and MARIADB_USER (or their MYSQL_ names), and
//! runs the init files of `/docker-entrypoint-initdb.d`; every start then runs
//! `mariadbd` on loopback. The entrypoint is `wharf recipe mariadb`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};

use anyhow::{Context as _, bail};

use super::entrypoint::{
    become_account, check, clear_if_cut_off, initialize_once, mark_unfinished, prepare_dirs,
    run_init_files, wait_until_ready,
};
use crate::sql_quote::mariadb::{identifier, literal};

use super::{DatabaseArgs, DatabaseFacts, Options, Recipe, RecipeContext, find_program, missing};

/// The image's variable, under either of its names (MARIADB_ first, as the image does).
fn setting(lookup: impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(&format!("MARIADB_{name}"))
        .or_else(|| lookup(&format!("MYSQL_{name}")))
        .filter(|v| !v.is_empty())
}

pub fn recipe(context: &RecipeContext<'_>, image: &str) -> Result<Recipe, String> {
    if find_program("mariadbd").is_none() {
        return Err(missing("mariadbd", "mariadb-server"));
    }
    let env = |name: &str| context.env(name).map(str::to_owned);
    let has_root = setting(env, "ROOT_PASSWORD").is_some()
        || setting(env, "ALLOW_EMPTY_ROOT_PASSWORD").is_some()
        || env("MYSQL_ALLOW_EMPTY_PASSWORD").is_some_and(|v| !v.is_empty());
    if !has_root {
        return Err("MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD) is not set; the image refuses to start without it (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)".to_owned());
    }
    let data = context.data_dir("/var/lib/mysql");
    let sockets = context.own_dir("sockets");
    let command = context.database_command(
        "mariadb",
        Options::default(),
        &data,
        &["mariadbd", "mysqld"],
    );
    // Clients in healthchecks and `wharf exec` (`mariadb-admin ping`) find the server
    // through the option file the entrypoint writes there, read after the host's own.
    let environment = BTreeMap::from([("MARIADB_HOME".to_owned(), sockets.display().to_string())]);
    let database = DatabaseFacts {
        socket: sockets.join(SOCKET),
        port: context.port,
        data_dir: data,
        ..super::facts::of_image(context.service).expect("a mariadb or mysql image")
    };
    Ok(Recipe {
        command,
        working_dir: context.project_dir.to_owned(),
        environment,
        origin: format!("recipe {image} (the host's MariaDB)"),
        stop_signal: None,
        database: Some(database),
    })
}

/// `wharf recipe mariadb`: prepare, initialize once, then become the server.
pub fn run(args: &DatabaseArgs) -> anyhow::Result<()> {
    clear_if_cut_off(&args.data)?;
    let fresh = !args.data.join("mysql").exists();
    prepare_dirs(&[&args.data, &args.sockets])?;
    let options = args.sockets.join("my.cnf");
    std::fs::write(
        &options,
        format!(
            "# Written by wharf: clients reach this service's server.\n[client-server]\nsocket={}\nport={}\n",
            args.sockets.join(SOCKET).display(),
            args.port
        ),
    )
    .with_context(|| format!("cannot write {}", options.display()))?;
    become_account("mysql", &[&args.data, &args.sockets])?;
    if fresh {
        initialize_once(&args.data, || initialize(args))?;
    }
    println!("starting MariaDB on 127.0.0.1:{}", args.port);
    let error = server(args, SOCKET)
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--port={}", args.port))
        .args(&args.server_args)
        .exec();
    Err(error).context("cannot run mariadbd")
}

/// The socket clients use, and the one only initialization uses: a healthcheck must
/// not find the temporary server and call the service ready.
const SOCKET: &str = "mysqld.sock";
const INIT_SOCKET: &str = "init.sock";

fn server(args: &DatabaseArgs, socket: &str) -> Command {
    let mut command = Command::new(find_program("mariadbd").unwrap_or_else(|| "mariadbd".into()));
    // --no-defaults first: the host's /etc/mysql settings belong to the host's server.
    // Then the character set the image's own configuration (and Debian's) gives the
    // server: without it the compiled-in latin1 makes every new database refuse `✓`.
    command
        .arg("--no-defaults")
        .arg("--character-set-server=utf8mb4")
        .arg("--collation-server=utf8mb4_general_ci")
        .arg(format!("--datadir={}", args.data.display()))
        .arg(format!("--socket={}", args.sockets.join(socket).display()))
        .arg(private_tmpdir(args));
    command
}

/// The server's temporary tables in the service's own directory, as in the image's
/// private `/tmp`: servers sharing the host's `/tmp` trip over each other's files.
fn private_tmpdir(args: &DatabaseArgs) -> String {
    format!("--tmpdir={}", args.sockets.display())
}

fn client(args: &DatabaseArgs, database: Option<&str>) -> Command {
    let mut command = Command::new("mariadb");
    command
        .arg("--no-defaults")
        .arg(format!(
            "--socket={}",
            args.sockets.join(INIT_SOCKET).display()
        ))
        .arg("--user=root");
    if let Some(database) = database {
        command.arg(format!("--database={database}"));
    }
    command
}

fn initialize(args: &DatabaseArgs) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let root_password = setting(env, "ROOT_PASSWORD").unwrap_or_default();
    let database = setting(env, "DATABASE");
    let user = setting(env, "USER");
    let password = setting(env, "PASSWORD").unwrap_or_default();
    println!("initializing the database in {}", args.data.display());
    // Before the system tables: a stop half way through them leaves pages no later
    // start can read.
    mark_unfinished(&args.data)?;
    check(
        Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", args.data.display()))
            .arg(private_tmpdir(args))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .stdout(Stdio::null()),
        "mariadb-install-db",
    )?;
    let mut temporary = server(args, INIT_SOCKET)
        .arg("--skip-networking")
        .spawn()
        .context("cannot start mariadbd")?;
    let outcome = initialize_running(
        args,
        &mut temporary,
        &root_password,
        database.as_deref(),
        user.as_deref(),
        &password,
    );
    super::entrypoint::stop_temporary(&mut temporary, nix::sys::signal::Signal::SIGTERM);
    outcome
}

fn initialize_running(
    args: &DatabaseArgs,
    server: &mut Child,
    root_password: &str,
    database: Option<&str>,
    user: Option<&str>,
    password: &str,
) -> anyhow::Result<()> {
    wait_until_ready(server, "mariadbd", || {
        Ok(client(args, None)
            .args(["-e", "SELECT 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?
            .success())
    })?;
    // Passwords travel on standard input, never in arguments other users could read.
    let mut sql = format!(
        "ALTER USER 'root'@'localhost' IDENTIFIED BY {root};\n\
         CREATE USER 'root'@'%' IDENTIFIED BY {root};\n\
         GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;\n",
        root = literal(root_password)
    );
    if let Some(database) = database {
        let _ = writeln!(
            sql,
            "CREATE DATABASE IF NOT EXISTS {};",
            identifier(database)
        );
    }
    if let Some(user) = user {
        let _ = writeln!(
            sql,
            "CREATE USER {}@'%' IDENTIFIED BY {};",
            literal(user),
            literal(password)
        );
        if let Some(database) = database {
            let _ = writeln!(
                sql,
                "GRANT ALL ON {}.* TO {}@'%';",
                identifier(database),
                literal(user)
            );
        }
    }
    let mut setup = client(args, None)
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot run mariadb")?;
    setup
        .stdin
        .take()
        .context("mariadb input")?
        .write_all(sql.as_bytes())?;
    if !setup.wait()?.success() {
        bail!("setting up users and the database failed");
    }
    let Some(scripts) = &args.initdb_d else {
        return Ok(());
    };
    // Scripts' clients read the service's option file; during initialization it must
    // point at the temporary server.
    let init_home = args.sockets.join("init-client");
    std::fs::create_dir_all(&init_home)?;
    std::fs::write(
        init_home.join("my.cnf"),
        format!(
            "[client-server]\nsocket={}\n[client]\nuser=root\n",
            args.sockets.join(INIT_SOCKET).display()
        ),
    )?;
    let script_env = [
        ("MYSQL_PWD", root_password.to_owned()),
        ("MARIADB_HOME", init_home.display().to_string()),
    ];
    run_init_files(scripts, &script_env, || {
        let mut command = client(args, database);
        command.env("MYSQL_PWD", root_password);
        command
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_name_of_a_setting_is_read() {
        let lookup = |name: &str| (name == "MYSQL_DATABASE").then(|| "shop".to_owned());
        assert_eq!(setting(lookup, "DATABASE").as_deref(), Some("shop"));
        assert_eq!(setting(lookup, "USER"), None);
    }
}

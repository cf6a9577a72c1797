//! The postgres recipe: the image's behaviour with the host's PostgreSQL. The first
//! start of an empty data directory runs `initdb` with POSTGRES_USER, POSTGRES_PASSWORD
//! and POSTGRES_INITDB_ARGS, creates POSTGRES_DB, and runs the `*.sql`, `*.sql.gz` and
//! `*.sh` files of a mount on `/docker-entrypoint-initdb.d`; every start then runs the
//! server on loopback. The entrypoint is wharf itself (`wharf recipe postgres`), so the
//! steps run in order in the service's own process, which ends as `postgres`.

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::recipes::{Recipe, RecipeContext};
use crate::cli::PostgresArgs;

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
            "postgres {major} is not installed (installed: {}); install postgresql-{major}, or use image postgres:{}",
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
    let sockets = context.own_dir("sockets");
    let mut command = context.entrypoint("postgres");
    command.extend([
        "--bin".to_owned(),
        format!("{INSTALLS}/{version}/bin"),
        "--data".to_owned(),
        data.display().to_string(),
        "--port".to_owned(),
        context.port.to_string(),
        "--sockets".to_owned(),
        sockets.display().to_string(),
    ]);
    if let Some(scripts) = context.mounted("/docker-entrypoint-initdb.d") {
        command.extend(["--initdb-d".to_owned(), scripts.display().to_string()]);
    }
    let server_args: Vec<String> = context
        .command()
        .into_iter()
        .skip_while(|arg| arg == "postgres")
        .collect();
    if !server_args.is_empty() {
        command.push("--".to_owned());
        command.extend(server_args);
    }
    // Healthchecks such as `pg_isready -U app` and `psql` in `wharf exec` find the server.
    let environment = BTreeMap::from([
        ("PGHOST".to_owned(), "127.0.0.1".to_owned()),
        ("PGPORT".to_owned(), context.port.to_string()),
    ]);
    Ok(Recipe {
        command,
        working_dir: context.project_dir.to_owned(),
        environment,
        origin: format!("recipe postgres {version}"),
        // Fast shutdown, the image's STOPSIGNAL: SIGTERM would wait for every client.
        stop_signal: Some("SIGINT"),
    })
}

/// `wharf recipe postgres`: prepare, initialize once, then become the server.
pub fn run(args: &PostgresArgs) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let user = env("POSTGRES_USER").unwrap_or_else(|| "postgres".to_owned());
    let database = env("POSTGRES_DB").unwrap_or_else(|| user.clone());
    let password = env("POSTGRES_PASSWORD");
    let auth = env("POSTGRES_HOST_AUTH_METHOD").unwrap_or_else(|| "scram-sha-256".to_owned());

    let fresh = !args.data.join("PG_VERSION").exists();
    for dir in [&args.data, &args.sockets] {
        // Parents stay traversable for the postgres user; only the leaf is private.
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    drop_root(&[&args.data, &args.sockets])?;
    if fresh {
        let initialized = initialize(args, &user, &database, password.as_deref(), &auth);
        if let Err(err) = initialized {
            // The directory was empty before this run: clear it so the next start retries.
            let _ = std::fs::remove_dir_all(&args.data);
            return Err(
                err.context("first start of the database failed; its data directory was cleared")
            );
        }
    }
    println!("starting PostgreSQL on 127.0.0.1:{}", args.port);
    let error = server(args, "127.0.0.1").args(&args.server_args).exec();
    Err(error).context("cannot run postgres")
}

/// The server command on `listen` (empty: unix socket only).
fn server(args: &PostgresArgs, listen: &str) -> Command {
    let mut command = Command::new(args.bin.join("postgres"));
    command
        .arg("-D")
        .arg(&args.data)
        .arg("-c")
        .arg(format!("listen_addresses={listen}"))
        .arg("-p")
        .arg(args.port.to_string())
        .arg("-k")
        .arg(&args.sockets);
    command
}

/// As root, PostgreSQL refuses to run: become the `postgres` system user, owning the
/// directories it needs.
fn drop_root(dirs: &[&Path]) -> anyhow::Result<()> {
    use nix::unistd::{User, chown, setgid, setgroups, setuid};
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let account = User::from_name("postgres")
        .context("looking up the postgres user")?
        .context("PostgreSQL will not run as root and there is no `postgres` user to run it as")?;
    for dir in dirs {
        chown(*dir, Some(account.uid), Some(account.gid))
            .with_context(|| format!("cannot hand {} to the postgres user", dir.display()))?;
    }
    setgroups(&[account.gid]).context("setgroups")?;
    setgid(account.gid).context("setgid")?;
    setuid(account.uid).context("setuid")?;
    Ok(())
}

fn initialize(
    args: &PostgresArgs,
    user: &str,
    database: &str,
    password: Option<&str>,
    auth: &str,
) -> anyhow::Result<()> {
    println!("initializing the database in {}", args.data.display());
    let mut initdb = Command::new(args.bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&args.data)
        .arg("--username")
        .arg(user)
        .arg("--auth-local=trust")
        .arg(format!("--auth-host={auth}"));
    let password_file = args.sockets.join(".initdb-password");
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
        initdb.args(wharf_manifest::split_command(&extra).map_err(anyhow::Error::msg)?);
    }
    let status = initdb.status().context("cannot run initdb");
    let _ = std::fs::remove_file(&password_file);
    if !status?.success() {
        bail!("initdb failed");
    }

    let mut temporary = server(args, "").spawn().context("cannot start postgres")?;
    let outcome = initialize_running(args, user, database, &mut temporary);
    // Fast shutdown, as the image's entrypoint does.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(temporary.id().cast_signed()),
        nix::sys::signal::Signal::SIGINT,
    );
    let _ = temporary.wait();
    outcome
}

fn initialize_running(
    args: &PostgresArgs,
    user: &str,
    database: &str,
    server: &mut Child,
) -> anyhow::Result<()> {
    let psql = |db: &str| {
        let mut command = Command::new(args.bin.join("psql"));
        command
            .args(["-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-h"])
            .arg(&args.sockets)
            .arg("-p")
            .arg(args.port.to_string())
            .args(["-U", user, "-d", db]);
        command
    };
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("postgres exited during initialization ({status})");
        }
        let ready = psql("postgres")
            .args(["-c", "select 1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?
            .success();
        if ready {
            break;
        }
        if Instant::now() > deadline {
            bail!("postgres did not accept connections within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if database != "postgres" {
        let quoted = format!("\"{}\"", database.replace('"', "\"\""));
        check(
            psql("postgres")
                .arg("-c")
                .arg(format!("CREATE DATABASE {quoted}")),
            "creating the database",
        )?;
    }
    let Some(scripts) = &args.initdb_d else {
        return Ok(());
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(scripts)
        .with_context(|| format!("cannot read {}", scripts.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut command = match script_kind(&name) {
            Some(Script::Shell) => {
                let executable =
                    std::fs::metadata(&file).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
                let mut command = if executable {
                    Command::new(&file)
                } else {
                    Command::new("sh")
                };
                if !executable {
                    command.arg(&file);
                }
                command
                    .env("PGHOST", &args.sockets)
                    .env("PGPORT", args.port.to_string())
                    .env("PGUSER", user)
                    .env("PGDATABASE", database);
                command
            }
            Some(Script::Sql) => {
                let mut command = psql(database);
                command.arg("-f").arg(&file);
                command
            }
            Some(Script::SqlGz) => {
                let gunzip = Command::new("gzip")
                    .arg("-dc")
                    .arg(&file)
                    .stdout(Stdio::piped())
                    .spawn()
                    .context("cannot run gzip")?;
                let mut command = psql(database);
                command.stdin(gunzip.stdout.context("gzip output")?);
                command
            }
            None => {
                println!("ignoring {name}");
                continue;
            }
        };
        println!("running {name}");
        check(&mut command, &name)?;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    Shell,
    Sql,
    SqlGz,
}

/// What an init file is, by its extension; matched case-sensitively, as the image's
/// entrypoint globs do.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
fn script_kind(name: &str) -> Option<Script> {
    if name.ends_with(".sh") {
        Some(Script::Shell)
    } else if name.ends_with(".sql") {
        Some(Script::Sql)
    } else if name.ends_with(".sql.gz") {
        Some(Script::SqlGz)
    } else {
        None
    }
}

fn check(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("{what}: cannot start"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
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

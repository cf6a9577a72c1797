//! What the database recipes' entrypoints share, as the images' own entrypoint scripts
//! do: private data directories, dropping root for servers that refuse it, and the
//! one-time init files of `/docker-entrypoint-initdb.d`.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Creates each directory private (0700), its parents traversable, so a server that
/// runs as its own user can still reach it.
pub fn prepare_dirs(dirs: &[&Path]) -> anyhow::Result<()> {
    for dir in dirs {
        if let Some(parent) = dir.parent() {
            crate::create_data_dir(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    Ok(())
}

/// As root, becomes the system `account` (which owns `dirs` from then on): database
/// servers refuse to run as root. Does nothing for any other user.
pub fn become_account(account: &str, dirs: &[&Path]) -> anyhow::Result<()> {
    use nix::unistd::{User, chown, setgid, setgroups, setuid};
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let user = User::from_name(account)
        .with_context(|| format!("looking up the {account} user"))?
        .with_context(|| {
            format!("the server will not run as root and there is no `{account}` user to run it as")
        })?;
    for dir in dirs {
        if let Some(closed) = closed_ancestor(dir) {
            bail!(
                "the {account} user cannot reach {}: {} is private to its owner; \
                 choose a WHARF_HOME every user may pass through (chmod o+x {}), or run wharf \
                 as a user other than root, so the server runs as that user",
                dir.display(),
                closed.display(),
                closed.display()
            );
        }
        chown(*dir, Some(user.uid), Some(user.gid))
            .with_context(|| format!("cannot hand {} to the {account} user", dir.display()))?;
    }
    setgroups(&[user.gid]).context("setgroups")?;
    setgid(user.gid).context("setgid")?;
    setuid(user.uid).context("setuid")?;
    Ok(())
}

/// The first directory above `dir` that other users cannot pass through: a server that
/// drops root to its own user could not reach its data past it.
fn closed_ancestor(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    dir.ancestors()
        .skip(1)
        .find(|a| {
            a.metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o001 == 0)
        })
        .map(Path::to_path_buf)
}

/// Runs `initialize` on a data directory that was empty; if it fails, clears the
/// directory again so the next start retries rather than starting half-initialized.
/// `initialize` marks the directory unfinished (`mark_unfinished`) as soon as it holds
/// anything; the mark goes once it is done.
pub fn initialize_once(
    data: &Path,
    initialize: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    initialize().map_err(|err| {
        let _ = std::fs::remove_dir_all(data);
        err.context("first start of the database failed; its data directory was cleared")
    })?;
    std::fs::remove_file(data.join(UNFINISHED))
        .with_context(|| format!("cannot finish the first start of {}", data.display()))
}

/// Lies in a data directory while its first start initializes it: a start that finds
/// it knows the last one was cut off half way (the service stopped, the machine went
/// down), before the database and the init files were made.
const UNFINISHED: &str = ".wharf-initializing";

/// Marks `data` as not yet initialized, until `initialize_once` ends.
pub fn mark_unfinished(data: &Path) -> anyhow::Result<()> {
    std::fs::write(data.join(UNFINISHED), "")
        .with_context(|| format!("cannot write in {}", data.display()))
}

/// Clears `data` when its first start was cut off, so this start makes it anew rather
/// than serving a database without its users, databases and init files; whether it
/// did.
pub fn clear_if_cut_off(data: &Path) -> anyhow::Result<bool> {
    if !data.join(UNFINISHED).exists() {
        return Ok(false);
    }
    println!(
        "the first start of the database in {} was cut off; starting it over",
        data.display()
    );
    std::fs::remove_dir_all(data).with_context(|| format!("cannot clear {}", data.display()))?;
    Ok(true)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    Shell,
    Sql,
    SqlGz,
}

/// What an init file is, by its extension; matched case-sensitively, as the images'
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

/// Runs the init files of `dir` in name order: `*.sh` with `sh` (or directly when
/// executable) and `script_env`, `*.sql` and `*.sql.gz` fed to `sql_client()`.
pub fn run_init_files(
    dir: &Path,
    script_env: &[(&str, String)],
    sql_client: impl Fn() -> Command,
) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
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
                command.envs(script_env.iter().map(|(k, v)| (*k, v)));
                command
            }
            Some(Script::Sql) => {
                let mut command = sql_client();
                let input =
                    std::fs::File::open(&file).with_context(|| format!("cannot read {name}"))?;
                command.stdin(input);
                command
            }
            Some(Script::SqlGz) => {
                let gunzip = Command::new("gzip")
                    .arg("-dc")
                    .arg(&file)
                    .stdout(Stdio::piped())
                    .spawn()
                    .context("cannot run gzip")?;
                let mut command = sql_client();
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

/// Waits until `ready()` says the temporary server answers, for at most a minute;
/// fails at once if the server exits.
pub fn wait_until_ready(
    server: &mut std::process::Child,
    product: &str,
    mut ready: impl FnMut() -> std::io::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("{product} exited during initialization ({status})");
        }
        if ready()? {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            bail!("{product} did not accept connections within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn check(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("{what}: cannot start"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Stops the server the one-time initialization ran (with `signal`, the image's way
/// of stopping it fast) and waits for it to be gone.
pub fn stop_temporary(server: &mut std::process::Child, signal: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id().cast_signed()),
        signal,
    );
    let _ = server.wait();
}

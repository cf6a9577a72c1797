//! Reaching wharfd: connect to its socket, starting the daemon first when none answers.

use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use wharf_api::{Client, ClientError, DaemonStatus, Paths};

/// How long a freshly started daemon may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What a command following wharfd (an attached `up`, `logs -f`) says when wharfd
/// stopped under it.
pub const DAEMON_GONE: &str = "wharfd stopped, and the stack with it; the next wharf command starts it again and brings the stack back (its log: `wharf daemon logs`)";

/// A client of a running daemon, starting one if needed.
pub fn connect(paths: &Paths) -> anyhow::Result<Client> {
    let client = Client::new(paths.socket());
    match client.get::<DaemonStatus>("/v1/status") {
        Ok(status) => {
            warn_if_another_build(&status);
            return Ok(client);
        }
        Err(err) if not_answering(&err) => {}
        Err(err) => return Err(err.into()),
    }
    start_daemon(paths)?;
    let deadline = Instant::now() + START_TIMEOUT;
    let mut delay = Duration::from_millis(2);
    loop {
        match client.get::<DaemonStatus>("/v1/status") {
            Ok(_) => return Ok(client),
            Err(err) if not_answering(&err) && Instant::now() < deadline => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
            Err(err) => {
                bail!(
                    "wharfd did not come up ({err}); its log is {}",
                    paths.daemon_log().display()
                )
            }
        }
    }
}

/// Says so when wharfd runs another build of wharf than this command (it was started
/// before an upgrade): what it does is the old build's until it restarts.
fn warn_if_another_build(status: &DaemonStatus) {
    let mine = wharf_api::build_id();
    if !mine.is_empty() && status.build != mine {
        crate::printer::Printer::new(0, false).warn(&format!(
            "wharfd (pid {}) runs another build of wharf than this command; \
             `wharf daemon stop` restarts it with this one (what was up comes back)",
            status.pid
        ));
    }
}

/// No daemon answers: nothing listens, or the one that did died while answering (its
/// socket took the connection, then closed it unanswered).
fn not_answering(err: &ClientError) -> bool {
    matches!(err, ClientError::Connect { .. } | ClientError::Unanswered)
}

/// A client only if a daemon is already running (for `daemon status`, `daemon stop`).
pub fn existing(paths: &Paths) -> Option<Client> {
    let client = Client::new(paths.socket());
    client
        .get::<DaemonStatus>("/v1/status")
        .ok()
        .map(|_| client)
}

fn start_daemon(paths: &Paths) -> anyhow::Result<()> {
    // The daemon reads these; one it cannot read would leave its proxy elsewhere.
    for variable in ["WHARF_PROXY_PORT", "WHARF_PROXY_HTTPS_PORT"] {
        // Empty is unset, as the daemon reads it; 0 asks for any free port.
        if let Ok(value) = std::env::var(variable)
            && !value.is_empty()
            && value.parse::<u16>().is_err()
        {
            bail!("{variable}={value:?} is not a port number (1-65535, or 0 for any free one)");
        }
    }
    let log_path = paths.daemon_log();
    if let Some(dir) = log_path.parent() {
        wharf_api::create_private_dir(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the wharf executable")?;
    // Its own session: the daemon must not get the terminal's Ctrl-C. Its own tools
    // (`true`, `setsid`) are found whatever PATH this shell has; the services get the
    // PATH of each `up` (`ServiceSpec::search_path`).
    Command::new(exe)
        .args(["daemon", "run"])
        .env(
            "PATH",
            with_system_directories(std::env::var_os("PATH").as_deref()),
        )
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start wharfd")?;
    Ok(())
}

/// `path` with the system's program directories after it, where they are missing.
fn with_system_directories(path: Option<&std::ffi::OsStr>) -> std::ffi::OsString {
    let mut directories: Vec<std::path::PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    for system in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        if !directories.iter().any(|d| d.as_os_str() == system) {
            directories.push(system.into());
        }
    }
    std::env::join_paths(directories).unwrap_or_default()
}

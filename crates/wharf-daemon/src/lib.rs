//! wharfd: one daemon per user (per `WHARF_HOME`). It supervises every project's
//! native processes and serves the control API on a unix socket only its user can
//! open. The CLI starts it on demand (`wharf daemon run`, hidden).

mod cgroup;
mod container_instance;
mod dependencies;
mod engine_nudges;
mod events;
mod foreign_logs;
mod forward;
mod generation;
mod health;
mod hooks;
mod http;
mod instance;
mod lifecycle;
mod line_reader;
mod logs;
mod orphans;
mod ports;
mod process;
mod proxy;
mod restart_backoff;
mod routes;
mod server;
mod shared;
mod spawn;
mod store;
mod supervisor;
mod tls;
mod upstream;

use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt};
use std::sync::Arc;

use tokio::net::UnixListener;
use wharf_api::Paths;

use crate::generation::Generation;
use crate::server::Server;
use crate::supervisor::Supervisor;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("another wharfd already serves {0}")]
    AlreadyRunning(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Io { what, source }
}

/// How long a starting daemon waits for the lock a previous one's guard may hold.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(12);
/// How long after a child's exit adopted orphans are looked for, so a burst of exits
/// costs one look.
const REAP_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs the daemon in the foreground until `POST /v1/shutdown`, SIGTERM or SIGINT.
pub fn run(paths: &Paths) -> Result<(), DaemonError> {
    for dir in [&paths.runtime, &paths.state, &paths.state.join("projects")] {
        wharf_api::create_private_dir(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let lock_path = paths.lock();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io(format!("creating {}", lock_path.display())))?;
    // A previous daemon's guard holds the lock while it ends that daemon's processes:
    // wait for it. A daemon that answers on the socket holds it too: then this one is
    // not needed (two commands started one each), and waiting would outlive it.
    let mut serving = false;
    let locked = cgroup::wait_until(LOCK_WAIT, || {
        serving = std::os::unix::net::UnixStream::connect(paths.socket()).is_ok();
        serving || lock.try_lock().is_ok()
    });
    if serving || !locked {
        return Err(DaemonError::AlreadyRunning(
            paths.socket().display().to_string(),
        ));
    }
    // The pid file is for people and scripts; the lock is what guarantees one daemon.
    wharf_api::write_private(
        &paths.runtime.join("wharfd.pid"),
        format!("{}\n", std::process::id()).as_bytes(),
    )
    .map_err(io("writing the pid file"))?;
    // Nothing of a previous generation may survive into this one.
    let generation = Generation::new(paths);
    for problem in generation.end() {
        say(&problem);
    }
    let cgroups = generation.create_tree();
    match &cgroups {
        Some(tree) => say(&format!(
            "each service runs in a cgroup of its own under {}",
            tree.root().display()
        )),
        None => say(
            "services are contained by process group and marker (no cgroup: WHARF_CGROUPS=off, or no cgroup v2 tree this user may write)",
        ),
    }
    let _guard = generation
        .start_guard(cgroups.as_ref(), &lock)
        .map_err(io("starting the guard process"))?;
    // Orphans of the services (daemonized grandchildren) become wharfd's children, so
    // they can be found, stopped and reaped.
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| DaemonError::Io {
        what: "becoming a subreaper".to_owned(),
        source: e.into(),
    })?;
    // One thread: every service is spawned from it, so their parent-death signal fires
    // exactly when the daemon dies.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("starting the runtime"))?;
    let result = runtime.block_on(serve(paths, cgroups));
    drop(lock);
    result
}

async fn serve(paths: &Paths, cgroups: Option<cgroup::Tree>) -> Result<(), DaemonError> {
    let socket = paths.socket();
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).map_err(io(format!("listening on {}", socket.display())))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io("restricting the socket to its owner"))?;
    say(&format!(
        "wharfd {} listening on {}",
        env!("CARGO_PKG_VERSION"),
        socket.display()
    ));

    let supervisor = Supervisor::new(paths.clone(), cgroups);
    let (shutdown, mut shutdown_requested) = tokio::sync::watch::channel(false);
    let server = Arc::new(Server {
        supervisor: supervisor.clone(),
        shutdown,
    });
    // Restore in the background: `daemon status` answers at once, the rest once the
    // previous generation's projects are back in the table (`until_restored`).
    let restoring = supervisor.clone();
    tokio::spawn(async move {
        for problem in restoring.restore().await {
            say(&problem);
        }
    });

    let recorder = Arc::clone(supervisor.shared());
    tokio::spawn(async move { recorder.write_process_records().await });
    tokio::spawn(Arc::clone(supervisor.shared()).forget_removed_containers());

    // The proxy's table follows every change of every instance.
    let routing = Arc::clone(supervisor.shared());
    let mut changes = routing.subscribe_changes();
    tokio::spawn(async move {
        routing.rebuild_routes();
        while changes.changed().await.is_ok() {
            routing.rebuild_routes();
        }
    });
    process::raise_open_files_limit();
    let proxy_port = std::env::var("WHARF_PROXY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(proxy::DEFAULT_PORT);
    match std::net::TcpListener::bind(("127.0.0.1", proxy_port)) {
        Ok(listener) => {
            // Port 0 asks for any free one: the URLs give the one it got.
            let proxy_port = listener.local_addr().map_or(proxy_port, |a| a.port());
            say(&format!("proxy listening on http://127.0.0.1:{proxy_port}"));
            supervisor.shared().set_proxy_port(proxy_port);
            let proxy = Arc::new(proxy::Proxy::new(
                Arc::clone(&supervisor.shared().routes),
                proxy_port,
            ));
            // Its own thread and runtime: requests never wait behind supervision work,
            // and supervision (which must stay on the main thread) never waits behind them.
            let _ = supervisor.shared().proxy.set(Arc::clone(&proxy));
            let secure = https(paths, supervisor.shared());
            std::thread::Builder::new()
                .name("wharf-proxy".to_owned())
                .spawn(move || proxy::run(proxy, listener, secure))
                .map_err(io("starting the proxy thread"))?;
        }
        Err(err) => say(&format!(
            "the proxy cannot listen on 127.0.0.1:{proxy_port} ({}); set WHARF_PROXY_PORT to another port",
            ports::in_use(proxy_port).unwrap_or_else(|| err.to_string())
        )),
    }
    let mut child_exits = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())
        .map_err(io("installing the SIGCHLD handler"))?;
    let reaper = Arc::clone(supervisor.shared());
    tokio::spawn(async move {
        // Exits come in bursts (a stack going down): one look per burst.
        while child_exits.recv().await.is_some() {
            tokio::time::sleep(REAP_DELAY).await;
            reaper.children.reap_orphans();
        }
    });
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(io("installing the SIGTERM handler"))?;
    // A daemon whose socket was removed (its home deleted) can no longer be reached,
    // and a successor may already run in its place: it stops what it runs and exits.
    let socket_inode = std::fs::metadata(&socket).map(|m| m.ino()).ok();
    let mut socket_check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = socket_check.tick() => {
                if std::fs::metadata(&socket).map(|m| m.ino()).ok() != socket_inode {
                    say(&format!("{} was removed: nothing can reach this daemon", socket.display()));
                    break;
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let server = Arc::clone(&server);
                    tokio::spawn(server.serve(stream));
                }
                Err(err) => say(&format!("accept: {err}")),
            },
            _ = shutdown_requested.changed() => break,
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    say("stopping every service");
    server.shutdown.send_replace(true);
    let stopping = supervisor.shutdown();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => break,
            accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                tokio::spawn(Arc::clone(&server).serve(stream));
            },
        }
    }
    if std::fs::metadata(&socket).map(|m| m.ino()).ok() == socket_inode {
        // Nothing of this daemon is left to find: no socket, pid or cgroup record.
        for file in [
            socket.clone(),
            paths.runtime.join("wharfd.pid"),
            generation::tree_record(paths),
        ] {
            let _ = std::fs::remove_file(file);
        }
    }
    say("stopped");
    Ok(())
}

/// HTTPS beside HTTP, on `WHARF_PROXY_HTTPS_PORT` (default 7443), with certificates
/// from the local CA in the data directory; logged and skipped when it cannot be.
fn https(
    paths: &Paths,
    shared: &Arc<shared::Shared>,
) -> Option<(std::net::TcpListener, tokio_rustls::TlsAcceptor)> {
    let port = std::env::var("WHARF_PROXY_HTTPS_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(proxy::DEFAULT_HTTPS_PORT);
    let ca = match tls::LocalCa::load_or_create(&paths.data.join("ca")) {
        Ok(ca) => ca,
        Err(err) => {
            say(&format!("no HTTPS: {err}"));
            return None;
        }
    };
    say(&format!(
        "HTTPS certificates come from the local CA {}",
        ca.certificate_path.display()
    ));
    let routes = Arc::clone(&shared.routes);
    let resolver = tls::CertificateResolver::new(ca, move |host| routes.current().knows(host));
    let config = match tls::server_config(resolver) {
        Ok(config) => config,
        Err(err) => {
            say(&format!("no HTTPS: {err}"));
            return None;
        }
    };
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => {
            let port = listener.local_addr().map_or(port, |a| a.port());
            say(&format!("proxy listening on https://127.0.0.1:{port}"));
            Some((listener, tokio_rustls::TlsAcceptor::from(Arc::new(config))))
        }
        Err(err) => {
            say(&format!(
                "no HTTPS on 127.0.0.1:{port} ({}); set WHARF_PROXY_HTTPS_PORT to another port",
                ports::in_use(port).unwrap_or_else(|| err.to_string())
            ));
            None
        }
    }
}

/// A line in the daemon's log (its stderr, which the CLI points at `wharfd.log`).
pub(crate) fn say(message: &str) {
    eprintln!("{} {message}", wharf_api::utc_text(wharf_api::now_ms()));
}

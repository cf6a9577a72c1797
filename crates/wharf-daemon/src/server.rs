//! Routes of the control API (`docs/api.md`) onto the supervisor.

use std::time::Duration;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;
use tokio::sync::broadcast::error::RecvError;
use wharf_api::{DaemonStatus, DownRequest, ServicesRequest, UpMode, UpRequest, now_ms};

use crate::foreign_logs::{self, LogsQuery};
use crate::http::{Reply, Request, error, json, stream};
use crate::lifecycle::Command;
use crate::logs::Delivered;
use crate::process::parse_signal;
use crate::proxy::Sharing;
use crate::supervisor::{Dependencies, Supervisor, SupervisorError};

/// A request's head must arrive within this time.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    pub supervisor: Supervisor,
    /// Told when a client asks the daemon to shut down, and set while it does.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl Server {
    /// Serves one connection, keeping it open for further requests.
    pub async fn serve(self: Arc<Self>, connection: UnixStream) {
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let server = Arc::clone(&self);
            async move { Ok::<_, std::convert::Infallible>(server.route(request).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(READ_TIMEOUT)
            .serve_connection(TokioIo::new(connection), service)
            .await;
    }

    async fn route(&self, request: hyper::Request<Incoming>) -> Reply {
        let request = match Request::read(request).await {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "status"]) => return json(&self.status()),
            ("POST", ["v1", "shutdown"]) => {
                let _ = self.shutdown.send(true);
                return json(&serde_json::json!({"stopping": true}));
            }
            // Stopping, it answers what looks (`daemon stop` asks what holds it up),
            // not what would change what runs.
            (method, _) if *self.shutdown.borrow() && method != "GET" => {
                return error(
                    503,
                    "wharfd is stopping; run the command again once it has stopped",
                );
            }
            // The rest answers from, or acts on, the whole table.
            _ => self.supervisor.shared().until_restored().await,
        }
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "projects"]) => json(&self.supervisor.list()),
            ("GET", ["v1", "events"]) => self.events(&request),
            ("GET", ["v1", "projects", name, "logs"]) => self.stream_logs(name, &request).await,
            ("GET", ["v1", "projects", name, "share"]) => self.share(name, &request),
            (method, ["v1", "projects", name, action]) => {
                self.project(method, name, action, &request).await
            }
            _ => error(
                404,
                &format!("no such endpoint: {} {}", request.method, request.path),
            ),
        }
    }

    fn status(&self) -> DaemonStatus {
        let shared = self.supervisor.shared();
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            build: wharf_api::build_id(),
            pid: std::process::id(),
            uptime_ms: shared.started.elapsed().as_millis() as u64,
            socket: shared.paths.socket(),
            projects: self.supervisor.list(),
            stopping: *self.shutdown.borrow(),
        }
    }

    async fn project(&self, method: &str, name: &str, action: &str, request: &Request) -> Reply {
        let result = match (method, action) {
            ("GET", "ps") => self.supervisor.ps(name).await.map(|v| json(&v)),
            ("GET", "spec") => self.supervisor.spec(name).map(|v| json(&v)),
            ("GET", "urls") => Ok(json(&self.supervisor.shared().urls(name))),
            ("POST", action)
                if let Some(mode) = UpMode::ALL.into_iter().find(|m| m.action() == action) =>
            {
                match body::<UpRequest>(request) {
                    Ok(up) if up.spec.name != name => {
                        return error(400, "the spec's name differs from the project in the path");
                    }
                    Ok(up) => self.supervisor.up(up, mode).await.map(|v| json(&v)),
                    Err(why) => return error(400, &why),
                }
            }
            ("POST", "down") => match body::<DownRequest>(request) {
                Ok(down) => self
                    .supervisor
                    .down(name, down.volumes, down.timeout_s.map(Duration::from_secs))
                    .await
                    .map(|v| json(&v)),
                Err(why) => return error(400, &why),
            },
            ("POST", "start" | "stop" | "restart" | "kill" | "rm" | "pause" | "unpause") => {
                let services = match body::<ServicesRequest>(request) {
                    Ok(s) => s,
                    Err(why) => return error(400, &why),
                };
                self.services_action(name, action, &services).await
            }
            _ => {
                return error(404, &format!("no such endpoint: {method} {}", request.path));
            }
        };
        result.unwrap_or_else(|err| {
            let status = match err {
                SupervisorError::UnknownProject(_) => 404,
                SupervisorError::Store(_) | SupervisorError::Engine(_) => 500,
                SupervisorError::Graph(_) | SupervisorError::Invalid(_) => 400,
            };
            error(status, &err.to_string())
        })
    }

    async fn services_action(
        &self,
        name: &str,
        action: &str,
        request: &ServicesRequest,
    ) -> Result<Reply, SupervisorError> {
        let services = &request.services;
        if matches!(
            self.supervisor.spec(name),
            Err(SupervisorError::UnknownProject(_))
        ) && let Some(acted_on) = self
            .supervisor
            .act_on_foreign(name, action, request)
            .await?
        {
            return Ok(json(&if action == "rm" {
                serde_json::json!({"ok": true, "removed": acted_on})
            } else {
                serde_json::json!({"ok": true, "notes": []})
            }));
        }
        let stop = Command::Stop(request.timeout_s.map(Duration::from_secs));
        match action {
            "start" => {
                self.supervisor
                    .start(name, services, Dependencies::Start)
                    .await?;
            }
            "pause" => self.supervisor.pause(name, services, true).await?,
            "unpause" => self.supervisor.pause(name, services, false).await?,
            "stop" => self.supervisor.stop(name, services, stop).await?,
            "restart" => {
                // Dependents with `restart: true` go down and come back with it.
                let spec = self.supervisor.spec(name)?;
                let chosen: Vec<String> = if services.is_empty() || request.no_deps {
                    services.clone()
                } else {
                    wharf_plan::with_restart_dependents(&spec.services, services)
                        .into_iter()
                        .collect()
                };
                self.supervisor.restart(name, &chosen, stop).await?;
            }
            "rm" => {
                let removed = self
                    .supervisor
                    .remove_ended(name, services, request.volumes)
                    .await?;
                return Ok(json(&serde_json::json!({"ok": true, "removed": removed})));
            }
            _ if request.force => self.supervisor.force_kill(name, services)?,
            _ => {
                let text = request.signal.as_deref().unwrap_or("SIGKILL");
                let signal = parse_signal(text)
                    .ok_or_else(|| SupervisorError::Invalid(format!("unknown signal {text:?}")))?;
                self.supervisor
                    .stop(name, services, Command::Kill(signal))
                    .await?;
                if signal == nix::sys::signal::Signal::SIGKILL {
                    self.supervisor
                        .wait_ended(name, services, Duration::from_secs(10))
                        .await;
                }
            }
        }
        // What the user should hear of it (a container that ignored its stop signal).
        let notes = self.supervisor.shared().take_notes(name);
        Ok(json(&serde_json::json!({"ok": true, "notes": notes})))
    }

    /// `GET /v1/events[?project=NAME]`: the instances as they are, then every change.
    fn events(&self, request: &Request) -> Reply {
        let project = request.query_one("project").map(str::to_owned);
        // Subscribed before the snapshot is taken, so no change falls between the two.
        let mut live = self.supervisor.shared().events.subscribe();
        let snapshot = self.supervisor.snapshot(project.as_deref());
        let (lines, reply) = stream();
        tokio::spawn(async move {
            for event in snapshot {
                if !lines.send(&event).await {
                    return;
                }
            }
            loop {
                let event = tokio::select! {
                    received = live.recv() => match received {
                        Ok(event) => event,
                        // The gap in `seq` tells the subscriber what it missed.
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return,
                    },
                    () = lines.closed() => return,
                };
                let wanted = project.as_ref().is_none_or(|p| *p == event.project);
                if wanted && !lines.send(&event).await {
                    return;
                }
            }
        });
        reply
    }

    /// `wharf share`: the proxy on every interface for this project, for as long as the
    /// client holds the request open (a line every second tells whether it still does).
    fn share(&self, name: &str, request: &Request) -> Reply {
        let spec = match self.supervisor.spec(name) {
            Ok(spec) => spec,
            Err(err) => return error(404, &err.to_string()),
        };
        let Some(proxy) = self.supervisor.shared().proxy.get().cloned() else {
            return error(409, "the proxy is not running (see `wharf daemon logs`)");
        };
        let port: u16 = request
            .query_one("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(7090);
        // Requests for an address rather than a name go to the project's own domain when a
        // route covers its root, else to its first service with a port.
        let covers_root = |r: &wharf_plan::RouteSpec| {
            r.host.is_none()
                && r.path
                    .as_deref()
                    .is_none_or(|p| p.trim_end_matches('/').is_empty())
        };
        let host = if spec.routes.iter().any(covers_root) {
            spec.domain.clone()
        } else {
            let first = spec
                .services
                .iter()
                .find(|(_, s)| !s.ports.is_empty())
                .map(|(n, _)| n.clone());
            first.map_or_else(
                || spec.domain.clone(),
                |service| format!("{service}.{}", spec.domain),
            )
        };
        let listener = match std::net::TcpListener::bind(("0.0.0.0", port))
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .and_then(tokio::net::TcpListener::from_std)
        {
            Ok(listener) => listener,
            Err(err) => return error(409, &format!("cannot share on port {port}: {err}")),
        };
        let (lines, reply) = stream();
        let project = spec.name.clone();
        tokio::spawn(async move {
            let sharing = tokio::spawn(proxy.serve(
                listener,
                Some(Sharing {
                    project,
                    host: host.clone(),
                }),
            ));
            let address = lan_address();
            let announcement =
                serde_json::json!({"url": format!("http://{address}:{port}"), "host": host});
            let mut alive = lines.send(&announcement).await;
            while alive {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {
                        alive = lines.send(&serde_json::json!({})).await;
                    }
                    () = lines.closed() => alive = false,
                }
            }
            sharing.abort();
        });
        reply
    }

    /// Stored lines, then (with `follow`) live ones until the client goes away. A project
    /// wharfd does not run but the engine has containers of: theirs, from the engine.
    async fn stream_logs(&self, name: &str, request: &Request) -> Reply {
        let services = request.query_all("service");
        let tail = request.query_one("tail").and_then(|t| t.parse().ok());
        let since = request.query_one("since_ms").and_then(|t| t.parse().ok());
        let query = || LogsQuery {
            services: services.clone(),
            tail,
            since_ms: since,
            follow: request.flag("follow"),
        };
        // A project wharfd took down whose name the engine's containers now carry
        // (Compose started it anew): theirs, not the lines kept from before.
        if self.supervisor.spec(name).is_err()
            && let Some(reply) = self.foreign_logs(name, query()).await
        {
            return reply;
        }
        let book = match self.supervisor.logs(name) {
            Ok(book) => book,
            Err(err) => return error(404, &err.to_string()),
        };
        let following = request.flag("follow");
        let (stored, live) = if following {
            let (stored, live) = book.follow(&services, tail, since);
            (stored, Some(live))
        } else {
            (book.read(&services, tail, since), None)
        };
        // A tail left older lines out on purpose: a read-back must not bring them.
        let floor_ms = if tail.is_some() {
            now_ms()
        } else {
            since.unwrap_or(0)
        };
        let (lines, reply) = stream();
        let ended =
            Arc::clone(self.supervisor.shared()).until_none_runs(name.to_owned(), services.clone());
        tokio::spawn(async move {
            let mut delivered = Delivered::new(floor_ms);
            for line in &stored {
                delivered.note(line);
                if !lines.send(line).await {
                    return;
                }
            }
            let Some(mut live) = live else {
                return;
            };
            tokio::pin!(ended);
            loop {
                let received = tokio::select! {
                    // Lines first: the last words of what ended are sent before the end.
                    biased;
                    received = live.recv() => received,
                    // The project went down, or every service followed ended: the
                    // stream ends, as Compose's does.
                    () = book.closed() => return,
                    () = &mut ended => return,
                    () = lines.closed() => return,
                };
                let fresh = match received {
                    Ok(fresh) if services.is_empty() || services.contains(&fresh.service) => {
                        vec![fresh]
                    }
                    Ok(_) => continue,
                    // Fell behind a service that writes faster than the client reads:
                    // what it missed is read back from the files.
                    Err(RecvError::Lagged(_)) => {
                        let (stored, caught_up) =
                            book.follow(&services, None, Some(delivered.since_ms()));
                        live = caught_up;
                        delivered.unsent(stored)
                    }
                    Err(RecvError::Closed) => return,
                };
                for line in &fresh {
                    delivered.note(line);
                    if !lines.send(line).await {
                        return;
                    }
                }
            }
        });
        reply
    }

    /// The logs of a project only the engine knows; `None` when it has no container of it.
    async fn foreign_logs(&self, name: &str, query: LogsQuery) -> Option<Reply> {
        let engine = self.supervisor.shared().engine().await.ok()?;
        let containers = foreign_logs::containers(&engine, name, &query)
            .await
            .ok()??;
        let (lines, reply) = stream();
        tokio::spawn(async move { foreign_logs::send(&engine, containers, query, lines).await });
        Some(reply)
    }
}

/// This machine's address on its local network: the source address of a route out,
/// found without sending anything.
fn lan_address() -> std::net::IpAddr {
    std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|socket| socket.connect(("10.255.255.255", 1)).map(|()| socket))
        .and_then(|socket| socket.local_addr())
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip())
}

fn body<T: DeserializeOwned>(request: &Request) -> Result<T, String> {
    serde_json::from_slice(&request.body).map_err(|err| format!("invalid request body: {err}"))
}

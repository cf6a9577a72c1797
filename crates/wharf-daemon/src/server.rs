//! Routes of the control API (`docs/api.md`) onto the supervisor.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::broadcast::error::RecvError;
use wharf_api::{DaemonStatus, DownRequest, LogLine, ServicesRequest, UpRequest};

use crate::http::{Request, Response, read_request, write_head};
use crate::process::parse_signal;
use crate::supervisor::{Command, Supervisor, SupervisorError};

/// A request must arrive whole within this time.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Server {
    pub supervisor: Supervisor,
    /// Told when a client asks the daemon to shut down.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl Server {
    pub async fn handle(&self, stream: UnixStream) {
        let Ok(Ok((request, mut writer))) =
            tokio::time::timeout(READ_TIMEOUT, read_request(stream)).await
        else {
            return;
        };
        let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
        let response = match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "status"]) => Response::json(&self.status()),
            ("POST", ["v1", "shutdown"]) => {
                let _ = self.shutdown.send(true);
                Response::json(&serde_json::json!({"stopping": true}))
            }
            ("GET", ["v1", "projects"]) => Response::json(&self.supervisor.list()),
            ("GET", ["v1", "projects", name, "logs"]) => {
                self.stream_logs(name, &request, writer).await;
                return;
            }
            ("GET", ["v1", "projects", name, "share"]) => {
                self.share(name, &request, writer).await;
                return;
            }
            (method, ["v1", "projects", name, action]) => {
                self.project(method, name, action, &request).await
            }
            _ => Response::error(
                404,
                &format!("no such endpoint: {} {}", request.method, request.path),
            ),
        };
        let _ = response.send(&mut writer).await;
    }

    fn status(&self) -> DaemonStatus {
        let shared = self.supervisor.shared();
        DaemonStatus {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            uptime_ms: shared.started.elapsed().as_millis() as u64,
            socket: shared.paths.socket(),
            projects: self.supervisor.list(),
        }
    }

    async fn project(&self, method: &str, name: &str, action: &str, request: &Request) -> Response {
        let result = match (method, action) {
            ("GET", "ps") => self.supervisor.ps(name).await.map(|v| Response::json(&v)),
            ("GET", "spec") => self.supervisor.spec(name).map(|v| Response::json(&v)),
            ("GET", "urls") => Ok(Response::json(&self.supervisor.shared().urls(name))),
            ("POST", "up") => match body::<UpRequest>(request) {
                Ok(up) if up.spec.name != name => {
                    return Response::error(
                        400,
                        "the spec's name differs from the project in the path",
                    );
                }
                Ok(up) => self.supervisor.up(up).await.map(|v| Response::json(&v)),
                Err(response) => return response,
            },
            ("POST", "down") => match body::<DownRequest>(request) {
                Ok(down) => self
                    .supervisor
                    .down(name, down.volumes)
                    .await
                    .map(|v| Response::json(&v)),
                Err(response) => return response,
            },
            ("POST", "start" | "stop" | "restart" | "kill") => {
                let services = match body::<ServicesRequest>(request) {
                    Ok(s) => s,
                    Err(response) => return response,
                };
                self.services_action(name, action, &services).await
            }
            _ => {
                return Response::error(
                    404,
                    &format!("no such endpoint: {method} {}", request.path),
                );
            }
        };
        result.unwrap_or_else(|err| {
            let status = match err {
                SupervisorError::UnknownProject(_) => 404,
                SupervisorError::Store(_) | SupervisorError::Engine(_) => 500,
                SupervisorError::Graph(_) | SupervisorError::Invalid(_) => 400,
            };
            Response::error(status, &err.to_string())
        })
    }

    async fn services_action(
        &self,
        name: &str,
        action: &str,
        request: &ServicesRequest,
    ) -> Result<Response, SupervisorError> {
        let services = &request.services;
        match action {
            "start" => self.supervisor.start(name, services).await?,
            "stop" => self.supervisor.stop(name, services, Command::Stop).await?,
            "restart" => {
                // Dependents with `restart: true` go down and come back with it.
                let spec = self.supervisor.spec(name)?;
                let chosen: Vec<String> = if services.is_empty() {
                    Vec::new()
                } else {
                    wharf_plan::with_restart_dependents(&spec.services, services)
                        .into_iter()
                        .collect()
                };
                self.supervisor.stop(name, &chosen, Command::Stop).await?;
                self.supervisor.start(name, &chosen).await?;
            }
            _ if request.force => self.supervisor.force_kill(name, services)?,
            _ => {
                let text = request.signal.as_deref().unwrap_or("SIGKILL");
                let signal = parse_signal(text)
                    .ok_or_else(|| SupervisorError::Invalid(format!("unknown signal {text:?}")))?;
                self.supervisor
                    .stop(name, services, Command::Kill(signal))
                    .await?;
            }
        }
        Ok(Response::json(&serde_json::json!({"ok": true})))
    }

    /// `wharf share`: the proxy on every interface for this project, for as long as the
    /// client holds the request open (a line every second tells whether it still does).
    async fn share(&self, name: &str, request: &Request, mut writer: OwnedWriteHalf) {
        let refuse = |message: String| Response::error(409, &message);
        let spec = match self.supervisor.spec(name) {
            Ok(spec) => spec,
            Err(err) => {
                let _ = Response::error(404, &err.to_string())
                    .send(&mut writer)
                    .await;
                return;
            }
        };
        let Some(proxy) = self.supervisor.shared().proxy.get().cloned() else {
            let _ = refuse("the proxy is not running (see `wharf daemon logs`)".into())
                .send(&mut writer)
                .await;
            return;
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
            Err(err) => {
                let _ = refuse(format!("cannot share on port {port}: {err}"))
                    .send(&mut writer)
                    .await;
                return;
            }
        };
        let sharing = tokio::spawn(proxy.serve(listener, Some(host.clone())));
        let address = lan_address();
        let announcement =
            serde_json::json!({"url": format!("http://{address}:{port}"), "host": host});
        let mut alive = write_head(&mut writer, 200, None).await.is_ok()
            && write_json_line(&mut writer, &announcement).await.is_ok();
        while alive {
            tokio::time::sleep(Duration::from_secs(1)).await;
            alive = write_json_line(&mut writer, &serde_json::json!({}))
                .await
                .is_ok();
        }
        sharing.abort();
    }

    /// Stored lines, then (with `follow`) live ones until the client goes away.
    async fn stream_logs(&self, name: &str, request: &Request, mut writer: OwnedWriteHalf) {
        let book = match self.supervisor.logs(name) {
            Ok(book) => book,
            Err(err) => {
                let _ = Response::error(404, &err.to_string())
                    .send(&mut writer)
                    .await;
                return;
            }
        };
        let services = request.query_all("service");
        let tail = request.query_one("tail").and_then(|t| t.parse().ok());
        let since = request.query_one("since_ms").and_then(|t| t.parse().ok());
        let follow = request.flag("follow");
        // Subscribe before reading the files, so no line falls between the two.
        let mut live = follow.then(|| book.subscribe());
        let stored = book.read(&services, tail, since);
        if write_head(&mut writer, 200, None).await.is_err() {
            return;
        }
        let last_time = stored.last().map_or(0, |l| l.time_ms);
        let at_last_time: BTreeSet<String> = stored
            .iter()
            .filter(|l| l.time_ms == last_time)
            .filter_map(|l| serde_json::to_string(l).ok())
            .collect();
        for line in &stored {
            if write_line(&mut writer, line).await.is_err() {
                return;
            }
        }
        let Some(live) = live.as_mut() else {
            let _ = writer.shutdown().await;
            return;
        };
        loop {
            let received = tokio::select! {
                received = live.recv() => received,
                // The project went down: the stream ends, as Compose's does.
                () = book.closed() => break,
            };
            match received {
                Ok(fresh) => {
                    let wanted = services.is_empty() || services.contains(&fresh.service);
                    let seen = fresh.time_ms < last_time
                        || (fresh.time_ms == last_time
                            && serde_json::to_string(&fresh)
                                .is_ok_and(|t| at_last_time.contains(&t)));
                    if wanted && !seen && write_line(&mut writer, &fresh).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
        let _ = writer.shutdown().await;
    }
}

async fn write_json_line(
    writer: &mut OwnedWriteHalf,
    value: &serde_json::Value,
) -> std::io::Result<()> {
    let mut text = serde_json::to_vec(value)?;
    text.push(b'\n');
    writer.write_all(&text).await
}

/// This machine's address on its local network: the source address of a route out,
/// found without sending anything.
fn lan_address() -> std::net::IpAddr {
    std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|socket| socket.connect(("10.255.255.255", 1)).map(|()| socket))
        .and_then(|socket| socket.local_addr())
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip())
}

async fn write_line(writer: &mut OwnedWriteHalf, line: &LogLine) -> std::io::Result<()> {
    let mut text = serde_json::to_vec(line)?;
    text.push(b'\n');
    writer.write_all(&text).await
}

fn body<T: DeserializeOwned>(request: &Request) -> Result<T, Response> {
    serde_json::from_slice(&request.body)
        .map_err(|err| Response::error(400, &format!("invalid request body: {err}")))
}

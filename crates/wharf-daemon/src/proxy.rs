//! The reverse proxy: one HTTP port on loopback for every project. It speaks HTTP/1.1
//! (keep-alive, pipelining) and HTTP/2 (h2c) to clients, follows the routing table,
//! balances across ready replicas (round robin, trying the next replica when one
//! refuses the connection), passes WebSocket upgrades through, and explains itself
//! when a host is unknown or a service is down.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::routes::{Lookup, RouteTable, SharedTable};
use crate::upstream::{Body, UpstreamError, Upstreams};

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a request's head may weigh; larger ones are refused.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most client connections served at once (about 20 KiB each while idle).
const MAX_CONNECTIONS: usize = 16 * 1024;
/// How long a request waits for a service that is starting, or has just started and
/// does not listen yet, before the error page.
const HOLD: Duration = Duration::from_secs(15);
/// How long after becoming ready an instance may still be on its way to listening.
const LATELY: Duration = Duration::from_secs(30);
/// How often a held request looks again.
const RETRY: Duration = Duration::from_millis(50);

/// The proxy's default port (`WHARF_PROXY_PORT` changes it).
pub const DEFAULT_PORT: u16 = 7080;
/// The proxy's default HTTPS port (`WHARF_PROXY_HTTPS_PORT` changes it).
pub const DEFAULT_HTTPS_PORT: u16 = 7443;

/// Headers that belong to one connection, never forwarded (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
];

/// Runs the proxy on the calling thread with a runtime of its own: plain HTTP on
/// `listener`, and HTTPS on `secure` when given.
pub fn run(
    proxy: Arc<Proxy>,
    listener: std::net::TcpListener,
    secure: Option<(std::net::TcpListener, tokio_rustls::TlsAcceptor)>,
) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let listen = |listener: std::net::TcpListener| {
        listener.set_nonblocking(true).ok()?;
        TcpListener::from_std(listener).ok()
    };
    runtime.block_on(async move {
        let sweeper = Arc::clone(&proxy);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                ticks.tick().await;
                sweeper.upstreams.sweep();
            }
        });
        if let Some((listener, acceptor)) = secure
            && let Some(listener) = listen(listener)
        {
            tokio::spawn(Arc::clone(&proxy).serve_tls(listener, acceptor));
        }
        if let Some(listener) = listen(listener) {
            proxy.serve(listener, None).await;
        }
    });
}

pub struct Proxy {
    table: Arc<SharedTable>,
    upstreams: Upstreams,
    connections: Arc<Semaphore>,
    port: u16,
    /// Requests awaiting an answer, per backend, for least-connections routes.
    in_flight: std::sync::Mutex<std::collections::HashMap<SocketAddr, usize>>,
}

/// What `wharf share` opens: one project, and the host a request for any other goes to.
pub struct Sharing {
    pub project: String,
    pub host: String,
}

impl Proxy {
    pub fn new(table: Arc<SharedTable>, port: u16) -> Self {
        Self {
            table,
            upstreams: Upstreams::default(),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            port,
            in_flight: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Serves plain HTTP connections until the task is dropped. With `sharing` (`wharf
    /// share`), only that project is served.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, sharing: Option<Sharing>) {
        let sharing = sharing.map(Arc::new);
        loop {
            let Some((stream, peer, permit)) = self.next_client(&listener).await else {
                return;
            };
            let proxy = Arc::clone(&self);
            let sharing = sharing.clone();
            tokio::spawn(async move {
                proxy.connection(stream, peer, false, sharing).await;
                drop(permit);
            });
        }
    }

    /// Serves HTTPS connections until the task is dropped.
    async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    ) {
        loop {
            let Some((stream, peer, permit)) = self.next_client(&listener).await else {
                return;
            };
            let acceptor = acceptor.clone();
            let proxy = Arc::clone(&self);
            tokio::spawn(async move {
                // A handshake that stalls is dropped like a slow request head.
                if let Ok(Ok(stream)) =
                    tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
                {
                    proxy.connection(stream, peer, true, None).await;
                }
                drop(permit);
            });
        }
    }

    /// The next client, once there is room for one: past `MAX_CONNECTIONS` new clients
    /// wait in the listen queue, so memory stays bounded however many connect.
    async fn next_client(
        &self,
        listener: &TcpListener,
    ) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        // The semaphore is never closed: this only waits.
        let permit = Arc::clone(&self.connections).acquire_owned().await.ok()?;
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return Some((stream, peer, permit));
                }
                // Out of file descriptors, most likely: give clients time to leave
                // rather than spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    }

    /// One client connection, HTTP/1.1 or HTTP/2.
    async fn connection<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        secure: bool,
        sharing: Option<Arc<Sharing>>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |request| {
            let proxy = Arc::clone(&self);
            let sharing = sharing.clone();
            async move {
                Ok::<_, Infallible>(
                    proxy
                        .handle(request, peer, secure, sharing.as_deref())
                        .await,
                )
            }
        });
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // A client that is slow to send its headers, or sends too many, is cut off
        // without holding anything else up.
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES);
        let _ = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .await;
    }

    async fn handle(
        &self,
        mut request: Request<Incoming>,
        peer: SocketAddr,
        secure: bool,
        sharing: Option<&Sharing>,
    ) -> Response<Body> {
        let mut host = request_host(&request).to_owned();
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        // Shared, a host of another project is not reached: it, and a host the proxy does
        // not know (an address, as a phone sends), go to the shared project.
        if let Some(sharing) = sharing {
            let own = match self.table.current().lookup(&host, &path) {
                Lookup::Found(route) => route.project == sharing.project,
                Lookup::NoRoute { project } => project == sharing.project,
                Lookup::UnknownHost => false,
            };
            if !own {
                sharing.host.clone_into(&mut host);
            }
        }
        let held_until = Instant::now() + HOLD;
        let mut client_upgrade = request
            .headers()
            .contains_key(header::UPGRADE)
            .then(|| hyper::upgrade::on(&mut request));
        let (parts, body) = request.into_parts();
        // A request without a body can be tried on the next replica when one refuses it;
        // an idempotent one also when the connection broke (a replica that just died,
        // met through a pooled connection).
        let bodiless = body_is_empty(&parts.headers);
        let idempotent = bodiless && parts.method.is_idempotent();
        let mut head = Some(Head::forwarded(parts, peer, &host, secure));
        let mut body = Some(body.boxed());
        loop {
            let table = self.ready_table(&host, &path, held_until).await;
            let route = match table.lookup(&host, &path) {
                Lookup::Found(route) => route,
                Lookup::NoRoute { project } => {
                    return page(
                        StatusCode::NOT_FOUND,
                        &format!("No route for {host}{path}"),
                        &table,
                        Some(project),
                        self.port,
                    );
                }
                Lookup::UnknownHost => {
                    return page(
                        StatusCode::NOT_FOUND,
                        &format!("Unknown host {host}"),
                        &table,
                        sharing.map(|s| s.project.as_str()),
                        self.port,
                    );
                }
            };
            let backends = route.pick(|backend| self.in_flight(backend, 0));
            if backends.is_empty() {
                let why = if route.waiting > 0 {
                    "is starting"
                } else {
                    "is not running"
                };
                return page(
                    StatusCode::BAD_GATEWAY,
                    &format!("{} of project {} {why}", route.service, route.project),
                    &table,
                    Some(&route.project),
                    self.port,
                );
            }
            // A server that has just started may not listen yet: a request that cannot
            // have reached it is tried again until it does.
            let hold = bodiless
                && route.ready_lately(wharf_api::now_ms(), LATELY)
                && Instant::now() < held_until;
            let retries = bodiless && backends.len() > 1;
            for (attempt, backend) in backends.iter().enumerate() {
                let last = !retries || attempt + 1 == backends.len();
                // The head is cloned only while a later attempt may still need it.
                let (Some(this_head), Some(this_body)) = (
                    if last && !hold {
                        head.take()
                    } else {
                        head.clone()
                    },
                    body.take().or_else(|| bodiless.then(empty)),
                ) else {
                    break;
                };
                // Only least-connections routes need the count; the others skip the lock.
                let counted = route.least_connections;
                if counted {
                    self.in_flight(*backend, 1);
                }
                let answer = self
                    .upstreams
                    .send(*backend, this_head.into_request(this_body))
                    .await;
                if counted {
                    self.in_flight(*backend, -1);
                }
                match answer {
                    Ok(mut response) => {
                        if response.status() == StatusCode::SWITCHING_PROTOCOLS
                            && let Some(client_upgrade) = client_upgrade.take()
                        {
                            let backend_upgrade = hyper::upgrade::on(&mut response);
                            tokio::spawn(async move {
                                if let (Ok(client), Ok(backend)) =
                                    (client_upgrade.await, backend_upgrade.await)
                                {
                                    let _ = tokio::io::copy_bidirectional(
                                        &mut TokioIo::new(client),
                                        &mut TokioIo::new(backend),
                                    )
                                    .await;
                                }
                            });
                            return response.map(|_| empty());
                        }
                        let (mut parts, body) = response.into_parts();
                        strip_hop_by_hop(&mut parts.headers);
                        return Response::from_parts(parts, body.boxed());
                    }
                    Err(err)
                        if !last && (matches!(err, UpstreamError::Connect(_)) || idempotent) => {}
                    Err(UpstreamError::Connect(_)) if hold => break,
                    Err(err) => {
                        return page(
                            StatusCode::BAD_GATEWAY,
                            &format!("{} did not answer: {err}", route.service),
                            &table,
                            Some(&route.project),
                            self.port,
                        );
                    }
                }
            }
            if !hold {
                return page(
                    StatusCode::BAD_GATEWAY,
                    &format!("no instance of {} answered", route.service),
                    &table,
                    Some(&route.project),
                    self.port,
                );
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// The routing table, once the route of `host` and `path` has a ready instance, or
    /// has none on its way up, or `held_until` has come: a request for a service that
    /// is starting (a browser reloading after a restart) waits for it rather than
    /// getting an error page.
    async fn ready_table(&self, host: &str, path: &str, held_until: Instant) -> Arc<RouteTable> {
        loop {
            let table = self.table.current();
            let starting = matches!(
                table.lookup(host, path),
                Lookup::Found(route) if route.backends.is_empty() && route.waiting > 0
            );
            if !starting || Instant::now() >= held_until {
                return table;
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl Proxy {
    /// Adds `change` to the requests in flight to `backend` and returns the count.
    fn in_flight(&self, backend: SocketAddr, change: isize) -> usize {
        let mut counts = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(backend).or_default();
        *count = count.saturating_add_signed(change);
        *count
    }
}

/// The host a request is for: its absolute URI's (HTTP/2, proxy form), else the Host
/// header's without the port.
fn request_host<B>(request: &Request<B>) -> &str {
    request
        .uri()
        .host()
        .or_else(|| {
            let value = request.headers().get(header::HOST)?.to_str().ok()?;
            Some(value.rsplit_once(':').map_or(value, |(name, _)| name))
        })
        .unwrap_or_default()
}

fn empty() -> Body {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

fn body_is_empty(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok());
    !headers.contains_key(header::TRANSFER_ENCODING) && length.is_none_or(|l| l == "0")
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named by `Connection` are hop-by-hop too.
    if let Some(connection) = headers.get(header::CONNECTION) {
        let named: Vec<HeaderName> = connection
            .to_str()
            .unwrap_or_default()
            .split(',')
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// What goes to the backend besides the body.
#[derive(Clone)]
struct Head {
    method: hyper::Method,
    uri: hyper::Uri,
    headers: HeaderMap,
}

impl Head {
    /// The client's request head made fit for the backend: origin-form URI, Host kept
    /// (or taken from an HTTP/2 authority), hop-by-hop headers dropped (an upgrade's
    /// own kept), X-Forwarded-* set.
    fn forwarded(
        parts: hyper::http::request::Parts,
        peer: SocketAddr,
        host: &str,
        secure: bool,
    ) -> Self {
        let hyper::http::request::Parts {
            method,
            uri,
            mut headers,
            ..
        } = parts;
        let upgrade = headers.get(header::UPGRADE).cloned();
        strip_hop_by_hop(&mut headers);
        if let Some(protocol) = upgrade {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol);
        }
        if !headers.contains_key(header::HOST)
            && let Some(authority) = uri.authority()
            && let Ok(value) = HeaderValue::from_str(authority.as_str())
        {
            headers.insert(header::HOST, value);
        }
        let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
            headers.insert("x-forwarded-for", value);
        }
        headers.insert(
            "x-forwarded-proto",
            HeaderValue::from_static(if secure { "https" } else { "http" }),
        );
        if let Ok(value) = HeaderValue::from_str(host) {
            headers.insert("x-forwarded-host", value);
        }
        let uri = match uri.path_and_query() {
            Some(origin) if uri.scheme().is_some() => hyper::Uri::from(origin.clone()),
            _ => uri,
        };
        Self {
            method,
            uri,
            headers,
        }
    }

    fn into_request(self, body: Body) -> Request<Body> {
        let mut request = Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = self.headers;
        request
    }
}

/// A page that says what went wrong and lists what the proxy does serve.
fn page(
    status: StatusCode,
    headline: &str,
    table: &RouteTable,
    project: Option<&str>,
    port: u16,
) -> Response<Body> {
    let mut text = format!("wharf: {headline}\n\n");
    let routes: Vec<_> = table.routes_of(project).collect();
    if routes.is_empty() {
        text.push_str("No project has routes yet: `wharf up` a project with ports.\n");
    } else {
        text.push_str("Routes:\n");
        for route in routes {
            let path = if route.path == "/" { "" } else { &route.path };
            let state = if route.backends.is_empty() {
                "down"
            } else {
                "up"
            };
            let _ = writeln!(
                text,
                "  http://{}:{port}{path}  ->  {} port {} ({} ready, {state})",
                route.host,
                route.service,
                route.port,
                route.backends.len()
            );
        }
    }
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(
            Full::new(Bytes::from(text))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap_or_else(|_| Response::new(empty()))
}

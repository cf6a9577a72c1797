//! The reverse proxy: one HTTP port on loopback for every project. It speaks HTTP/1.1
//! (keep-alive, pipelining) and HTTP/2 (h2c) to clients, follows the routing table,
//! balances across ready replicas (round robin, trying the next replica when one
//! refuses the connection), passes WebSocket upgrades through, and explains itself
//! when a host is unknown or a service is down.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::routes::{Lookup, RouteTable, SharedTable};

type Body = BoxBody<Bytes, hyper::Error>;

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The most a request's head may weigh; larger ones are refused.
const MAX_HEAD_BYTES: usize = 64 * 1024;

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
        if let Some((listener, acceptor)) = secure
            && let Some(listener) = listen(listener)
        {
            tokio::spawn(Arc::clone(&proxy).serve_tls(listener, acceptor));
        }
        if let Some(listener) = listen(listener) {
            proxy.serve(listener).await;
        }
    });
}

pub struct Proxy {
    table: Arc<SharedTable>,
    client: Client<HttpConnector, Body>,
    port: u16,
    /// Requests awaiting an answer, per backend, for least-connections routes.
    in_flight: std::sync::Mutex<std::collections::HashMap<SocketAddr, usize>>,
}

impl Proxy {
    pub fn new(table: Arc<SharedTable>, port: u16) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        // Idle connections to backends close soon, so a backend that stops gracefully is
        // not kept waiting on the proxy's pool.
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build(connector);
        Self {
            table,
            client,
            port,
            in_flight: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Serves plain HTTP connections until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(Arc::clone(&self).connection(stream, peer, false, None));
        }
    }

    /// Serves a shared address (`wharf share`): a request for a host the proxy does not
    /// know (an IP address, as a phone sends) goes to `project_host`.
    pub async fn serve_shared(self: Arc<Self>, listener: TcpListener, project_host: String) {
        let fallback: Arc<str> = Arc::from(project_host);
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(Arc::clone(&self).connection(
                stream,
                peer,
                false,
                Some(Arc::clone(&fallback)),
            ));
        }
    }

    /// Serves HTTPS connections until the task is dropped.
    async fn serve_tls(
        self: Arc<Self>,
        listener: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
    ) {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let acceptor = acceptor.clone();
            let proxy = Arc::clone(&self);
            tokio::spawn(async move {
                // A handshake that stalls is dropped like a slow request head.
                if let Ok(Ok(stream)) =
                    tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
                {
                    proxy.connection(stream, peer, true, None).await;
                }
            });
        }
    }

    /// One client connection, HTTP/1.1 or HTTP/2.
    async fn connection<S>(
        self: Arc<Self>,
        stream: S,
        peer: SocketAddr,
        secure: bool,
        fallback: Option<Arc<str>>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |request| {
            let proxy = Arc::clone(&self);
            let fallback = fallback.clone();
            async move {
                Ok::<_, Infallible>(
                    proxy
                        .handle(request, peer, secure, fallback.as_deref())
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
        fallback: Option<&str>,
    ) -> Response<Body> {
        let mut host = request
            .uri()
            .host()
            .map(str::to_owned)
            .or_else(|| {
                let value = request.headers().get(header::HOST)?.to_str().ok()?;
                Some(
                    value
                        .rsplit_once(':')
                        .map_or(value, |(name, _)| name)
                        .to_owned(),
                )
            })
            .unwrap_or_default();
        let table = self.table.current();
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        if let Some(fallback) = fallback
            && matches!(table.lookup(&host, &path), Lookup::UnknownHost)
        {
            fallback.clone_into(&mut host);
        }
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
                    None,
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
        let upgrade = request.headers().contains_key(header::UPGRADE);
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
        let (parts, body) = request.into_parts();
        // A request without a body can be tried on the next replica when one refuses it;
        // an idempotent one also when the connection broke (a replica that just died,
        // met through a pooled connection).
        let bodiless = body_is_empty(&parts.headers);
        let idempotent = bodiless && parts.method.is_idempotent();
        let mut body = Some(body.boxed());
        for (attempt, backend) in backends.iter().enumerate() {
            let outgoing_body = match body.take() {
                Some(body) => body,
                None if bodiless => Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
                None => break,
            };
            let outgoing = forwarded_request(
                &parts,
                outgoing_body,
                *backend,
                peer,
                &host,
                upgrade,
                secure,
            );
            // Only least-connections routes need the count; the others skip the lock.
            let counted = route.least_connections;
            if counted {
                self.in_flight(*backend, 1);
            }
            let answer = self.client.request(outgoing).await;
            if counted {
                self.in_flight(*backend, -1);
            }
            match answer {
                Ok(mut response) => {
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS
                        && let Some(client_upgrade) = client_upgrade
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
                        return response.map(|_| {
                            Full::new(Bytes::new())
                                .map_err(|never| match never {})
                                .boxed()
                        });
                    }
                    let (mut parts, body) = response.into_parts();
                    strip_hop_by_hop(&mut parts.headers);
                    return Response::from_parts(parts, body.boxed());
                }
                Err(err)
                    if attempt + 1 < backends.len()
                        && bodiless
                        && (err.is_connect() || idempotent) => {}
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
        page(
            StatusCode::BAD_GATEWAY,
            &format!("no instance of {} answered", route.service),
            &table,
            Some(&route.project),
            self.port,
        )
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

fn body_is_empty(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok());
    !headers.contains_key(header::TRANSFER_ENCODING) && length.is_none_or(|l| l == "0")
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named by `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

fn forwarded_request(
    parts: &hyper::http::request::Parts,
    body: Body,
    backend: SocketAddr,
    peer: SocketAddr,
    host: &str,
    upgrade: bool,
    secure: bool,
) -> Request<Body> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://{backend}{path}"))
        .body(body)
        .unwrap_or_else(|_| {
            Request::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            )
        });
    let headers = request.headers_mut();
    for (name, value) in &parts.headers {
        headers.append(name, value.clone());
    }
    let upgrade_value = parts.headers.get(header::UPGRADE).cloned();
    strip_hop_by_hop(headers);
    if upgrade && let Some(protocol) = upgrade_value {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol);
    }
    if !headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority()
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
    request
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
        .unwrap_or_else(|_| {
            Response::new(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed(),
            )
        })
}

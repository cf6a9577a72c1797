//! The proxy's connections to backends: HTTP/1.1, kept open between requests and
//! reused per backend address, closed after a short idle time so a backend that stops
//! gracefully is not kept waiting on them.
//!
//! A connection goes back to the pool as soon as its response head arrives; it is
//! handed out again only once that response's body is through (`is_ready`), so a
//! slow download never holds up another request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A body as the proxy passes it on, whichever side it came from.
pub type Body = http_body_util::combinators::BoxBody<hyper::body::Bytes, hyper::Error>;

/// How long an unused connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most connections kept per backend; more are closed once their exchange ends.
const MAX_KEPT: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Nothing accepted the connection: the request never reached the backend.
    #[error("connecting: {0}")]
    Connect(#[source] std::io::Error),
    #[error("{0}")]
    Http(#[source] hyper::Error),
}

#[derive(Default)]
pub struct Upstreams {
    kept: Mutex<HashMap<SocketAddr, Vec<Kept>>>,
}

struct Kept {
    sender: SendRequest<Body>,
    since: Instant,
}

impl Upstreams {
    /// Sends `request` (origin-form, with its Host header) to `backend`.
    pub async fn send(
        &self,
        backend: SocketAddr,
        request: Request<Body>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut sender = match self.checkout(backend) {
            Some(sender) => sender,
            None => connect(backend).await?,
        };
        let response = sender
            .send_request(request)
            .await
            .map_err(UpstreamError::Http)?;
        // An upgraded connection belongs to the upgrade from now on.
        if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
            self.checkin(backend, sender);
        }
        Ok(response)
    }

    /// Closes the connections unused for longer than the idle timeout.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut kept = self.lock();
        kept.retain(|_, senders| {
            senders.retain(|kept| {
                let idle_too_long = kept.sender.is_ready() && now - kept.since > IDLE_TIMEOUT;
                !(kept.sender.is_closed() || idle_too_long)
            });
            !senders.is_empty()
        });
    }

    fn checkout(&self, backend: SocketAddr) -> Option<SendRequest<Body>> {
        let mut kept = self.lock();
        let senders = kept.get_mut(&backend)?;
        senders.retain(|kept| !kept.sender.is_closed());
        // The most recently used first: its socket is the likeliest to be warm.
        let ready = senders.iter().rposition(|kept| kept.sender.is_ready())?;
        Some(senders.remove(ready).sender)
    }

    fn checkin(&self, backend: SocketAddr, sender: SendRequest<Body>) {
        let mut kept = self.lock();
        let senders = kept.entry(backend).or_default();
        if senders.len() < MAX_KEPT {
            senders.push(Kept {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Vec<Kept>>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn connect(backend: SocketAddr) -> Result<SendRequest<Body>, UpstreamError> {
    let stream = TcpStream::connect(backend)
        .await
        .map_err(UpstreamError::Connect)?;
    if wharf_host::ports::reached_itself(&stream, backend) {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        return Err(UpstreamError::Connect(refused));
    }
    let _ = stream.set_nodelay(true);
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(UpstreamError::Http)?;
    tokio::spawn(connection.with_upgrades());
    Ok(sender)
}

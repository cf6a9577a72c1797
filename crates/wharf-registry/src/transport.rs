//! One HTTP/1.1 request to a registry or its token service, over TLS unless the URL
//! says plain HTTP. A publish sends a handful of small requests, so each has its own
//! connection and its whole body in memory; an image's layers go in chunks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::trust;

/// No registry answer worth reading is larger: the biggest is a chunk of a copied
/// image's layer (`client::CHUNK`).
const BODY_LIMIT: usize = 17 << 20;
const TIMEOUT: Duration = Duration::from_mins(1);

/// `scheme://host[:port]/target`, as far as a registry's URLs go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    /// The path and query.
    pub target: String,
}

impl Url {
    pub fn parse(text: &str) -> Option<Self> {
        let (https, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, text.strip_prefix("http://")?)
        };
        let (host, target) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
        (!host.is_empty()).then(|| Self {
            https,
            host: host.to_owned(),
            target: target.to_owned(),
        })
    }

    /// Where a `Location` header points, relative to this URL.
    pub fn join(&self, location: &str) -> Option<Self> {
        if location.starts_with('/') {
            return Some(Self {
                target: location.to_owned(),
                ..self.clone()
            });
        }
        Self::parse(location)
    }

    /// This URL with `query` (already encoded) added to its own.
    pub fn with_query(&self, query: &str) -> Self {
        let separator = if self.target.contains('?') { '&' } else { '?' };
        Self {
            target: format!("{}{separator}{query}", self.target),
            ..self.clone()
        }
    }

    /// The host without its port, brackets taken off an IPv6 address.
    fn hostname(&self) -> &str {
        if let Some(rest) = self.host.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        self.host.split(':').next().unwrap_or(&self.host)
    }

    fn address(&self) -> String {
        let has_port = if self.host.starts_with('[') {
            self.host.contains("]:")
        } else {
            self.host.contains(':')
        };
        if has_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, if self.https { 443 } else { 80 })
        }
    }

    /// A registry on this machine: Docker's engine lets these speak plain HTTP.
    pub fn is_loopback(&self) -> bool {
        let name = self.hostname();
        name == "localhost"
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host, self.target)
    }
}

pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct Transport {
    /// Made once; a trust store that cannot be read fails only what needs TLS.
    tls: Result<TlsConnector, String>,
}

/// Why a request got no answer. A TLS handshake that fails other than on the
/// certificate is told apart: a loopback registry that does may speak plain HTTP.
pub enum SendError {
    Handshake(String),
    /// The certificates to trust could not be read.
    Trust(String),
    /// Connected, and the connection ended before an answer.
    Cut(String),
    Certificate {
        host: String,
        reason: String,
    },
    Other(String),
}

impl SendError {
    pub fn reason(self) -> String {
        match self {
            Self::Handshake(reason) => format!("TLS: {reason}"),
            Self::Certificate { host, reason } => format!(
                "its certificate ({reason}) is not one this machine trusts: name its authority in SSL_CERT_FILE, or put it in /etc/docker/certs.d/{host}/ca.crt"
            ),
            Self::Trust(reason) | Self::Cut(reason) | Self::Other(reason) => reason,
        }
    }
}

impl Transport {
    /// Trusts what `trust` says a registry may present.
    pub fn new(registry: &str) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = trust::verifier(registry, &provider)
            .map_err(|err| err.to_string())
            .and_then(|verifier| {
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|err| err.to_string())?
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth();
                Ok(TlsConnector::from(Arc::new(config)))
            });
        Self { tls }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: Bytes,
    ) -> Result<Response, SendError> {
        let other = |err: &dyn std::fmt::Display| SendError::Other(err.to_string());
        let mut request = Request::builder()
            .method(method)
            .uri(&url.target)
            .header(hyper::header::HOST, &url.host)
            .header(hyper::header::USER_AGENT, "wharf");
        for (name, value) in headers {
            let value = HeaderValue::from_str(value).map_err(|e| other(&e))?;
            request = request.header(name, value);
        }
        let request = request.body(Full::new(body)).map_err(|e| other(&e))?;
        tokio::time::timeout(TIMEOUT, self.deliver(url, request))
            .await
            .unwrap_or_else(|_| Err(SendError::Other(format!("no answer in {TIMEOUT:?}"))))
    }

    /// Connects to `url`'s host, over TLS when it says so, and exchanges `request`.
    async fn deliver(
        &self,
        url: &Url,
        request: Request<Full<Bytes>>,
    ) -> Result<Response, SendError> {
        let other = |err: &dyn std::fmt::Display| SendError::Other(err.to_string());
        let stream = TcpStream::connect(url.address())
            .await
            .map_err(|e| other(&e))?;
        if !url.https {
            return exchange_over(stream, request).await;
        }
        let tls = self
            .tls
            .as_ref()
            .map_err(|err| SendError::Trust(err.clone()))?;
        let name = ServerName::try_from(url.hostname().to_owned()).map_err(|e| other(&e))?;
        let stream = tls.connect(name, stream).await.map_err(|err| {
            let certificate = err
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|tls| matches!(tls, rustls::Error::InvalidCertificate(_)));
            if certificate {
                SendError::Certificate {
                    host: url.host.clone(),
                    reason: err.to_string(),
                }
            } else {
                SendError::Handshake(err.to_string())
            }
        })?;
        exchange_over(stream, request).await
    }
}

async fn exchange_over<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Response, SendError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let other = |err: &dyn std::fmt::Display| SendError::Other(err.to_string());
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| other(&e))?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| SendError::Cut(e.to_string()))?;
    let status = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| other(&e))?
        .to_bytes();
    Ok(Response {
        status,
        headers: parts.headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_locations_read_as_registries_write_them() {
        let base = Url::parse("https://127.0.0.1:5000/v2/").unwrap();
        assert_eq!(base.address(), "127.0.0.1:5000");
        assert!(base.is_loopback());
        let moved = base.join("/v2/a/blobs/uploads/x?_state=y").unwrap();
        assert_eq!(
            moved.to_string(),
            "https://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=y"
        );
        let elsewhere = base.join("http://storage.example/upload").unwrap();
        assert_eq!(elsewhere.address(), "storage.example:80");
        assert!(!elsewhere.is_loopback());
        assert_eq!(Url::parse("https://[::1]/v2/").unwrap().hostname(), "::1");
        assert!(Url::parse("https://[::1]:5000/").unwrap().is_loopback());
        assert!(Url::parse("ftp://x/").is_none());
        assert!(base.join("relative/path").is_none());
    }
}

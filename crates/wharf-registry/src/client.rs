//! A session with one repository of a registry, speaking the OCI distribution API:
//! blobs are uploaded in two steps (POST, then PUT with the digest) after a HEAD says
//! the registry lacks them, and a manifest is PUT under its tag. A blob copied from
//! another repository is mounted in the same registry, else sent in chunks (PATCH).
//! A 401 is answered as the registry's challenge asks: a bearer token from its token
//! service (scoped to pull and push this repository), or the login itself for `Basic`.

use base64::Engine as _;
use bytes::Bytes;
use hyper::Method;
use hyper::header::{self, HeaderName};

use crate::credentials::{Credentials, credentials_for};
use crate::error::RegistryError;
use crate::reference::Reference;
use crate::transport::{Response, SendError, Transport, Url};

/// What a session does with the repository, and so the token it asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

/// A manifest as the registry gave it.
pub struct Manifest {
    pub body: Bytes,
    pub digest: String,
    pub media_type: String,
}

/// A blob copied in chunks this large: few requests, and each well inside a request's
/// time and size limits.
pub(crate) const CHUNK: u64 = 16 << 20;

/// What copying a blob took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobCopy {
    /// The repository had it.
    Present,
    /// The registry took it from the other repository: nothing crossed the network.
    Mounted,
    /// Its bytes went across.
    Copied,
}

enum Upload {
    /// The registry took the blob from another of its repositories.
    Mounted,
    /// Bytes go to this location.
    Started(Url),
}

pub struct Session {
    transport: Transport,
    reference: Reference,
    access: Access,
    base: Url,
    credentials: Option<Credentials>,
    authorization: Option<String>,
}

impl Session {
    /// Reaches the registry over HTTPS; one on this machine that answers in plain
    /// HTTP is spoken to in plain HTTP, as Docker's engine does.
    pub async fn open(reference: &Reference, access: Access) -> Result<Self, RegistryError> {
        let mut session = Self {
            transport: Transport::new(&reference.registry),
            reference: reference.clone(),
            access,
            base: Url {
                https: true,
                host: reference.api_host().to_owned(),
                target: String::new(),
            },
            credentials: credentials_for(reference.login_key()),
            authorization: None,
        };
        let probe = session.url("/v2/");
        match session
            .transport
            .send(Method::GET, &probe, &[], Bytes::new())
            .await
        {
            Ok(_) => {}
            Err(first @ (SendError::Handshake(_) | SendError::Trust(_)))
                if session.base.is_loopback() =>
            {
                session.base.https = false;
                let plain = session.url("/v2/");
                match session
                    .transport
                    .send(Method::GET, &plain, &[], Bytes::new())
                    .await
                {
                    // `/v2/` never answers 400, but a TLS server asked in plain HTTP does.
                    Ok(answer) if answer.status == 400 => {
                        return Err(failed(&session.base.host, first));
                    }
                    Ok(_) => {}
                    Err(err) => return Err(failed(&session.base.host, err)),
                }
            }
            Err(err) => return Err(failed(&session.base.host, err)),
        }
        Ok(session)
    }

    /// Uploads `data` as the blob `digest`, unless the repository has it already.
    pub async fn push_blob(&mut self, digest: &str, data: Bytes) -> Result<(), RegistryError> {
        if self.has_blob(digest).await? {
            return Ok(());
        }
        let Upload::Started(location) = self.start_upload(digest, None).await? else {
            return Ok(());
        };
        self.finish_upload(&location, digest, data).await
    }

    /// Copies the blob `digest` (`size` bytes) from `source`'s repository, unless this
    /// one has it. In the same registry the registry mounts it, copying nothing;
    /// elsewhere it goes across in chunks, so no layer is ever whole in memory.
    pub async fn copy_blob(
        &mut self,
        source: &mut Session,
        digest: &str,
        size: u64,
    ) -> Result<BlobCopy, RegistryError> {
        if self.has_blob(digest).await? {
            return Ok(BlobCopy::Present);
        }
        let same_registry = source.base.host == self.base.host;
        let mount = same_registry.then_some(source.reference.repository.as_str());
        let mut location = match self.start_upload(digest, mount).await? {
            Upload::Mounted => return Ok(BlobCopy::Mounted),
            Upload::Started(location) => location,
        };
        let what = format!("the blob {digest}");
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut offset = 0;
        while offset < size {
            let end = (offset + CHUNK).min(size) - 1;
            let chunk = source.get_blob_range(digest, offset, end).await?;
            sha2::Digest::update(&mut hasher, &chunk);
            let headers = [
                (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                (header::CONTENT_RANGE, format!("{offset}-{end}")),
            ];
            let sent = self
                .request(Method::PATCH, &location, &headers, chunk)
                .await?;
            expect(&sent, 202, &what)?;
            location = next_location(&sent, &location, &what)?;
            offset = end + 1;
        }
        if crate::artifact::finish_digest(hasher) != digest {
            return Err(not_its_digest(what));
        }
        self.finish_upload(&location, digest, Bytes::new()).await?;
        Ok(BlobCopy::Copied)
    }

    async fn has_blob(&mut self, digest: &str) -> Result<bool, RegistryError> {
        let repository = &self.reference.repository;
        let existing = self.url(&format!("/v2/{repository}/blobs/{digest}"));
        let answer = self
            .request(Method::HEAD, &existing, &[], Bytes::new())
            .await?;
        Ok(answer.status == 200)
    }

    /// Opens an upload of `digest`; with `mount`, asks the registry to take the blob
    /// from that repository of its own instead.
    async fn start_upload(
        &mut self,
        digest: &str,
        mount: Option<&str>,
    ) -> Result<Upload, RegistryError> {
        let what = format!("the blob {digest}");
        let mut start = self.url(&format!("/v2/{}/blobs/uploads/", self.reference.repository));
        if let Some(from) = mount {
            start = start.with_query(&format!(
                "mount={}&from={}",
                form_encode(digest),
                form_encode(from)
            ));
        }
        let started = self
            .request(Method::POST, &start, &[], Bytes::new())
            .await?;
        if mount.is_some() && started.status == 201 {
            return Ok(Upload::Mounted);
        }
        expect(&started, 202, &what)?;
        Ok(Upload::Started(next_location(&started, &start, &what)?))
    }

    /// Ends an upload at `location` with its last bytes, naming the digest they make.
    async fn finish_upload(
        &mut self,
        location: &Url,
        digest: &str,
        data: Bytes,
    ) -> Result<(), RegistryError> {
        let upload = location.with_query(&format!("digest={}", form_encode(digest)));
        let headers = [(header::CONTENT_TYPE, "application/octet-stream".to_owned())];
        let done = self.request(Method::PUT, &upload, &headers, data).await?;
        expect(&done, 201, &format!("the blob {digest}"))
    }

    /// Puts `manifest` under `version` (a tag, or its own digest).
    pub async fn put_manifest(
        &mut self,
        version: &str,
        media_type: &str,
        manifest: Bytes,
    ) -> Result<(), RegistryError> {
        let target = format!("/v2/{}/manifests/{version}", self.reference.repository);
        let url = self.url(&target);
        let headers = [(header::CONTENT_TYPE, media_type.to_owned())];
        let done = self.request(Method::PUT, &url, &headers, manifest).await?;
        expect(
            &done,
            201,
            &format!("the manifest {}:{version}", self.reference.repository),
        )
    }

    /// The manifest at `version` (a tag or a digest); `media_type` lists the kinds
    /// accepted.
    pub async fn get_manifest(
        &mut self,
        version: &str,
        media_type: &str,
    ) -> Result<Manifest, RegistryError> {
        let target = format!("/v2/{}/manifests/{version}", self.reference.repository);
        let url = self.url(&target);
        let headers = [(header::ACCEPT, media_type.to_owned())];
        let what = self.reference.to_string();
        let got = self
            .request(Method::GET, &url, &headers, Bytes::new())
            .await?;
        expect(&got, 200, &what)?;
        let digest = crate::artifact::digest(&got.body);
        if version.starts_with("sha256:") && version != digest {
            return Err(not_its_digest(what));
        }
        // The header says what it is; a registry that leaves it out has it in the body.
        let media_type = got
            .header(header::CONTENT_TYPE)
            .map(|kind| kind.split(';').next().unwrap_or_default().trim().to_owned())
            .filter(|kind| kind.starts_with("application/vnd."))
            .or_else(|| {
                serde_json::from_slice::<serde_json::Value>(&got.body)
                    .ok()
                    .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
            })
            .unwrap_or_default();
        Ok(Manifest {
            body: got.body,
            digest,
            media_type,
        })
    }

    /// The blob `digest`, checked against it.
    pub async fn get_blob(&mut self, digest: &str) -> Result<Bytes, RegistryError> {
        let body = self.blob_request(digest, None).await?;
        if crate::artifact::digest(&body) != digest {
            return Err(not_its_digest(format!("the blob {digest}")));
        }
        Ok(body)
    }

    /// Bytes `start..=end` of the blob `digest`; the caller checks the whole.
    async fn get_blob_range(
        &mut self,
        digest: &str,
        start: u64,
        end: u64,
    ) -> Result<Bytes, RegistryError> {
        let body = self.blob_request(digest, Some((start, end))).await?;
        if u64::try_from(body.len()) == Ok(end - start + 1) {
            return Ok(body);
        }
        Err(RegistryError::BadAnswer {
            what: format!("the blob {digest}"),
            why: format!("asked for bytes {start}-{end}, got {} bytes", body.len()),
        })
    }

    async fn blob_request(
        &mut self,
        digest: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Bytes, RegistryError> {
        let url = self.url(&format!("/v2/{}/blobs/{digest}", self.reference.repository));
        let what = format!("the blob {digest}");
        let headers: Vec<_> = range
            .map(|(start, end)| (header::RANGE, format!("bytes={start}-{end}")))
            .into_iter()
            .collect();
        let mut got = self
            .request(Method::GET, &url, &headers, Bytes::new())
            .await?;
        // Registries with external storage answer with a redirect to it.
        if matches!(got.status, 301 | 302 | 303 | 307 | 308)
            && let Some(moved) = got.header(header::LOCATION).and_then(|l| url.join(l))
        {
            got = self
                .send(Method::GET, &moved, &headers, Bytes::new())
                .await?;
        }
        if got.status == 206 && range.is_some() {
            return Ok(got.body);
        }
        expect(&got, 200, &what)?;
        Ok(got.body)
    }

    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    fn url(&self, target: &str) -> Url {
        Url {
            target: target.to_owned(),
            ..self.base.clone()
        }
    }

    /// Sends a request, logging in once if the registry asks.
    async fn request(
        &mut self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: Bytes,
    ) -> Result<Response, RegistryError> {
        let first = self
            .send(method.clone(), url, headers, body.clone())
            .await?;
        if first.status != 401 {
            return Ok(first);
        }
        let challenge = first
            .header(header::WWW_AUTHENTICATE)
            .unwrap_or_default()
            .to_owned();
        self.authorization = Some(self.answer(&challenge).await?);
        let second = self.send(method, url, headers, body).await?;
        if second.status == 401 {
            return Err(self.unauthorized());
        }
        Ok(second)
    }

    async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: Bytes,
    ) -> Result<Response, RegistryError> {
        let mut all = headers.to_vec();
        // Only to the registry itself: an upload location elsewhere is pre-signed.
        if let Some(authorization) = self
            .authorization
            .as_ref()
            .filter(|_| url.host == self.base.host)
        {
            all.push((header::AUTHORIZATION, authorization.clone()));
        }
        self.transport
            .send(method, url, &all, body)
            .await
            .map_err(|err| failed(&url.host, err))
    }

    fn unauthorized(&self) -> RegistryError {
        let registry = self.reference.registry.clone();
        if self.credentials.is_some() {
            RegistryError::LoginRefused { registry }
        } else {
            RegistryError::LoginNeeded { registry }
        }
    }

    /// The `Authorization` value that answers `challenge`.
    async fn answer(&self, challenge: &str) -> Result<String, RegistryError> {
        let (scheme, parameters) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let parameters = parse_parameters(parameters);
        let parameter = |name: &str| {
            parameters
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        if scheme.eq_ignore_ascii_case("basic") {
            return match &self.credentials {
                Some(Credentials::Password { username, password }) => Ok(basic(username, password)),
                _ => Err(self.unauthorized()),
            };
        }
        let realm = parameter("realm")
            .filter(|_| scheme.eq_ignore_ascii_case("bearer"))
            .and_then(Url::parse)
            .ok_or_else(|| RegistryError::BadAnswer {
                what: "a login".to_owned(),
                why: format!("a challenge wharf cannot answer: {challenge:?}"),
            })?;
        let actions = match self.access {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        };
        let scope = format!("repository:{}:{actions}", self.reference.repository);
        let service = parameter("service").unwrap_or_default();
        let token_response = match &self.credentials {
            // An identity token is traded for an access token, as OAuth2 refreshes.
            Some(Credentials::IdentityToken(token)) => {
                let form = format!(
                    "grant_type=refresh_token&client_id=wharf&service={}&scope={}&refresh_token={}",
                    form_encode(service),
                    form_encode(&scope),
                    form_encode(token)
                );
                let headers = [(
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded".to_owned(),
                )];
                self.token_request(Method::POST, &realm, &headers, Bytes::from(form))
                    .await?
            }
            login => {
                let url = realm.with_query(&format!(
                    "service={}&scope={}",
                    form_encode(service),
                    form_encode(&scope)
                ));
                let headers: Vec<_> = match login {
                    Some(Credentials::Password { username, password }) => {
                        vec![(header::AUTHORIZATION, basic(username, password))]
                    }
                    _ => Vec::new(),
                };
                self.token_request(Method::GET, &url, &headers, Bytes::new())
                    .await?
            }
        };
        let answer: serde_json::Value =
            serde_json::from_slice(&token_response).map_err(|err| RegistryError::BadAnswer {
                what: "a login".to_owned(),
                why: err.to_string(),
            })?;
        let token = answer["token"]
            .as_str()
            .or_else(|| answer["access_token"].as_str())
            .ok_or_else(|| RegistryError::BadAnswer {
                what: "a login".to_owned(),
                why: "the token service gave no token".to_owned(),
            })?;
        Ok(format!("Bearer {token}"))
    }

    async fn token_request(
        &self,
        method: Method,
        url: &Url,
        headers: &[(HeaderName, String)],
        body: Bytes,
    ) -> Result<Bytes, RegistryError> {
        let response = self
            .transport
            .send(method, url, headers, body)
            .await
            .map_err(|err| failed(&url.host, err))?;
        match response.status {
            200 => Ok(response.body),
            401 | 403 => Err(self.unauthorized()),
            status => Err(RegistryError::Refused {
                what: "a login".to_owned(),
                status,
                message: error_message(&response.body),
            }),
        }
    }
}

/// Why `host` gave no answer: its certificate, a cut connection, or no connection.
fn failed(host: &str, err: SendError) -> RegistryError {
    let host = host.to_owned();
    match err {
        SendError::Certificate { .. } | SendError::Trust(_) => RegistryError::Untrusted {
            host,
            reason: err.reason(),
        },
        SendError::Cut(reason) => RegistryError::Cut { host, reason },
        SendError::Handshake(_) | SendError::Other(_) => RegistryError::Unreachable {
            host,
            reason: err.reason(),
        },
    }
}

/// Runs a session's work to its end, on a runtime of its own: the CLI asks and waits.
pub fn block_on<T>(
    reference: &Reference,
    work: impl Future<Output = T>,
) -> Result<T, RegistryError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| RegistryError::Unreachable {
            host: reference.registry.clone(),
            reason: err.to_string(),
        })?;
    Ok(runtime.block_on(work))
}

/// Content that is not what its digest names: a registry, or a path to it, that
/// corrupted it.
fn not_its_digest(what: String) -> RegistryError {
    RegistryError::BadAnswer {
        what,
        why: "its content does not match its digest".to_owned(),
    }
}

/// Where an upload goes on, as the registry's last answer says.
fn next_location(response: &Response, base: &Url, what: &str) -> Result<Url, RegistryError> {
    response
        .header(header::LOCATION)
        .and_then(|location| base.join(location))
        .ok_or_else(|| RegistryError::BadAnswer {
            what: what.to_owned(),
            why: "no upload location".to_owned(),
        })
}

fn expect(response: &Response, status: u16, what: &str) -> Result<(), RegistryError> {
    if response.status == status {
        return Ok(());
    }
    Err(RegistryError::Refused {
        what: what.to_owned(),
        status: response.status,
        message: error_message(&response.body),
    })
}

/// The registry's own words: `{"errors": [{"code", "message"}]}` in the API's shape.
fn error_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let said: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v["errors"].as_array())
        .into_iter()
        .flatten()
        .map(|error| {
            let detail = match &error["detail"] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(text) => format!(" ({text})"),
                other => format!(" ({other})"),
            };
            format!(
                "{}: {}{detail}",
                error["code"].as_str().unwrap_or("ERROR"),
                error["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    if said.is_empty() {
        String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(300)
            .collect()
    } else {
        said.join("; ")
    }
}

fn basic(username: &str, password: &str) -> String {
    let pair = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `key="value", key2=value2` after the scheme of a `WWW-Authenticate` header.
fn parse_parameters(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (
                quoted[..end].to_owned(),
                quoted.get(end + 1..).unwrap_or(""),
            )
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        found.push((key, value));
        rest = next.trim_start().trim_start_matches(',');
    }
    found
}

/// Percent-encodes everything but the unreserved characters.
fn form_encode(text: &str) -> String {
    use std::fmt::Write as _;
    text.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_registries_write_them() {
        assert_eq!(
            parse_parameters(
                r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push""#
            ),
            [
                (
                    "realm".to_owned(),
                    "https://auth.docker.io/token".to_owned()
                ),
                ("service".to_owned(), "registry.docker.io".to_owned()),
                ("scope".to_owned(), "repository:a/b:pull,push".to_owned()),
            ]
        );
        assert_eq!(
            parse_parameters("realm=x, service=y"),
            [
                ("realm".to_owned(), "x".to_owned()),
                ("service".to_owned(), "y".to_owned())
            ]
        );
    }

    #[test]
    fn error_bodies_are_said_in_the_registrys_words() {
        assert_eq!(
            error_message(
                br#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}"#
            ),
            "MANIFEST_INVALID: manifest invalid"
        );
        assert_eq!(error_message(b"  plain text\n"), "plain text");
        assert_eq!(
            form_encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}

//! The control API's HTTP, served by hyper: keep-alive connections, JSON bodies, and
//! streamed bodies of newline-delimited JSON (logs, events, share) that end when the
//! client goes away.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use serde::Serialize;
use tokio::sync::mpsc;
use wharf_api::ErrorBody;

/// Bodies above this are refused: a project spec is kilobytes.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Lines a streamed response may hold before its writer waits for the client.
const STREAM_BUFFER: usize = 256;

pub type Reply = hyper::Response<BoxBody<Bytes, Infallible>>;

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
}

impl Request {
    /// Reads a request whole; a reply saying what is wrong when it cannot be.
    pub async fn read(request: hyper::Request<Incoming>) -> Result<Self, Reply> {
        let method = request.method().as_str().to_owned();
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(err) => return Err(error(400, &format!("reading the request body: {err}"))),
        };
        let (path, query) = split_target(&target);
        Ok(Self {
            method,
            path,
            query,
            body,
        })
    }

    pub fn query_one(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn query_all(&self, name: &str) -> Vec<String> {
        self.query.get(name).cloned().unwrap_or_default()
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.query_one(name), Some("1" | "true" | ""))
    }
}

fn split_target(target: &str) -> (String, BTreeMap<String, Vec<String>>) {
    let (path, query_text) = target.split_once('?').unwrap_or((target, ""));
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query_text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(percent_decode(name))
            .or_default()
            .push(percent_decode(value));
    }
    (percent_decode(path), query)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reply(status: u16, body: BoxBody<Bytes, Infallible>) -> Reply {
    let mut reply = hyper::Response::new(body);
    *reply.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    reply.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    reply
}

pub fn json<T: Serialize>(value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => reply(200, Full::new(Bytes::from(body)).boxed()),
        Err(err) => error(500, &format!("encoding the response: {err}")),
    }
}

pub fn error(status: u16, message: &str) -> Reply {
    let body = serde_json::to_vec(&ErrorBody {
        error: message.to_owned(),
    })
    .unwrap_or_default();
    reply(status, Full::new(Bytes::from(body)).boxed())
}

/// A streamed response: the reply to return, and the writer of its lines.
pub fn stream() -> (Lines, Reply) {
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    (Lines(sender), reply(200, ChannelBody(receiver).boxed()))
}

/// Writes one JSON value a line into a streamed response.
pub struct Lines(mpsc::Sender<Bytes>);

impl Lines {
    /// `false` once the client has gone away.
    pub async fn send<T: Serialize>(&self, value: &T) -> bool {
        let Ok(mut line) = serde_json::to_vec(value) else {
            return true;
        };
        line.push(b'\n');
        self.0.send(Bytes::from(line)).await.is_ok()
    }

    /// Resolves when the client has gone away.
    pub async fn closed(&self) {
        self.0.closed().await;
    }
}

/// A body whose frames come from a channel; it ends when the writer is dropped.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_path_and_repeated_query() {
        let (path, query) = split_target("/v1/projects/a%20b/logs?service=web&service=db&follow");
        assert_eq!(path, "/v1/projects/a b/logs");
        assert_eq!(query["service"], ["web", "db"]);
        assert_eq!(query["follow"], [""]);
    }

    #[test]
    fn bad_escapes_stay_literal() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41"), "A");
    }
}

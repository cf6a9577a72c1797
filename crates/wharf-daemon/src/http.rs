//! The HTTP/1.1 subset the control API speaks: one request per connection, a
//! `Content-Length` body, responses closed by end of stream. Small enough to read in
//! one sitting, and it keeps an HTTP framework out of the build.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use wharf_api::ErrorBody;

/// Bodies above this are refused: a project spec is kilobytes.
const MAX_BODY: usize = 16 * 1024 * 1024;
const MAX_HEAD_LINE: usize = 16 * 1024;

pub struct Request {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
}

impl Request {
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

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

/// Reads one request; the returned writer sends the response.
pub async fn read_request(stream: UnixStream) -> Result<(Request, OwnedWriteHalf), HttpError> {
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let request_line = read_line(&mut reader).await?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed("request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("only HTTP/1.x is spoken here"));
    }
    let mut content_length = 0usize;
    loop {
        let line = read_line(&mut reader).await?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed("header line"));
        };
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value
                .trim()
                .parse()
                .map_err(|_| HttpError::Malformed("content-length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::Malformed(
                "chunked request bodies are not accepted",
            ));
        }
    }
    if content_length > MAX_BODY {
        return Err(HttpError::Malformed("body too large"));
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).await?;
    let (path, query) = split_target(target);
    Ok((
        Request {
            method: method.to_owned(),
            path,
            query,
            body,
        },
        write,
    ))
}

async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> Result<String, HttpError> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_HEAD_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if read == 0 || !line.ends_with(b"\n") {
        return Err(HttpError::Malformed("truncated head"));
    }
    let text = String::from_utf8(line).map_err(|_| HttpError::Malformed("head is not UTF-8"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
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

/// A complete response, ready to send.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json<T: Serialize>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self { status: 200, body },
            Err(err) => Self::error(500, &format!("encoding the response: {err}")),
        }
    }

    pub fn error(status: u16, message: &str) -> Self {
        let body = serde_json::to_vec(&ErrorBody {
            error: message.to_owned(),
        })
        .unwrap_or_default();
        Self { status, body }
    }

    pub async fn send(self, writer: &mut OwnedWriteHalf) -> std::io::Result<()> {
        write_head(writer, self.status, Some(self.body.len())).await?;
        writer.write_all(&self.body).await?;
        writer.shutdown().await
    }
}

/// Writes the status line and headers; without a length, the body ends at close.
pub async fn write_head(
    writer: &mut OwnedWriteHalf,
    status: u16,
    length: Option<usize>,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nConnection: close\r\n"
    );
    if let Some(length) = length {
        let _ = write!(head, "Content-Length: {length}\r\n");
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes()).await
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

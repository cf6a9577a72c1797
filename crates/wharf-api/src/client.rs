//! A blocking client for the control API. One request per connection
//! (`Connection: close`); a body is read by its length, to the end of the stream, or
//! chunk by chunk as it streams.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach wharfd at {}: {source}", socket.display())]
    Connect {
        socket: PathBuf,
        source: std::io::Error,
    },
    /// It took the request and closed the connection without an answer: it died.
    #[error("wharfd closed the connection without answering")]
    Unanswered,
    #[error("talking to wharfd: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon answered with an error status; `message` is its explanation.
    #[error("{message}")]
    Api { status: u16, message: String },
    #[error("wharfd sent a response this client does not understand: {0}")]
    Protocol(String),
}

#[derive(Clone, Debug)]
pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let body = self.request("GET", path, None)?;
        decode(&read_all(body)?)
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let payload = serde_json::to_vec(body).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let response = self.request("POST", path, Some(&payload))?;
        decode(&read_all(response)?)
    }

    /// A streamed response of newline-delimited JSON values, read as they come.
    pub fn stream<T: DeserializeOwned>(&self, path: &str) -> Result<LineStream<T>, ClientError> {
        let reader = self.request("GET", path, None)?;
        Ok(LineStream {
            reader,
            line: String::new(),
            item: std::marker::PhantomData,
        })
    }

    /// Sends a request and returns the body reader after checking the status.
    fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Body, ClientError> {
        let mut stream =
            UnixStream::connect(&self.socket).map_err(|source| ClientError::Connect {
                socket: self.socket.clone(),
                source,
            })?;
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: wharfd\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        // A server that dies holding the connection resets it or closes it empty.
        let unanswered = |err: std::io::Error| match err.kind() {
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                ClientError::Unanswered
            }
            _ => err.into(),
        };
        stream.write_all(head.as_bytes()).map_err(unanswered)?;
        stream.write_all(body).map_err(unanswered)?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        if reader.read_line(&mut status_line).map_err(unanswered)? == 0 {
            return Err(ClientError::Unanswered);
        }
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ClientError::Protocol(format!("status line {status_line:?}")))?;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
                break;
            }
            let lower = header.to_ascii_lowercase();
            chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        }
        // Streamed bodies come chunked, and are read chunk by chunk as they come.
        let reader: Body = if chunked {
            Box::new(BufReader::new(Chunked {
                inner: reader,
                left: 0,
                ended: false,
            }))
        } else {
            Box::new(reader)
        };
        if status >= 400 {
            let text = read_all(reader)?;
            let message = serde_json::from_slice::<ErrorBody>(&text)
                .map_or_else(|_| String::from_utf8_lossy(&text).into_owned(), |e| e.error);
            return Err(ClientError::Api { status, message });
        }
        Ok(reader)
    }
}

/// A response body being read.
type Body = Box<dyn BufRead + Send>;

/// A chunked body as a plain one, decoded as it is read.
struct Chunked<R> {
    inner: R,
    /// Bytes left in the current chunk.
    left: usize,
    ended: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let malformed = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        if self.ended || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut size_line = String::new();
            if self.inner.read_line(&mut size_line)? == 0 {
                return Err(malformed("the body ends inside a chunk".to_owned()));
            }
            let size_text = size_line.trim().split(';').next().unwrap_or_default();
            self.left = usize::from_str_radix(size_text, 16)
                .map_err(|_| malformed(format!("chunk size {size_line:?}")))?;
            if self.left == 0 {
                self.ended = true;
                return Ok(0);
            }
        }
        let wanted = buf.len().min(self.left);
        let read = self.inner.read(&mut buf[..wanted])?;
        if read == 0 {
            return Err(malformed("the body ends inside a chunk".to_owned()));
        }
        self.left -= read;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
        }
        Ok(read)
    }
}

fn read_all(mut reader: impl Read) -> Result<Vec<u8>, ClientError> {
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    Ok(body)
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Protocol(e.to_string()))
}

/// Values of a streamed response, one per line, until the daemon closes the stream.
pub struct LineStream<T> {
    reader: Body,
    line: String,
    item: std::marker::PhantomData<T>,
}

impl<T: DeserializeOwned> Iterator for LineStream<T> {
    type Item = Result<T, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.line.clear();
        match self.reader.read_line(&mut self.line) {
            Ok(0) => None,
            Ok(_) => Some(decode(self.line.trim_end().as_bytes())),
            Err(err) => Some(Err(err.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Chunked, read_all};

    fn dechunk(wire: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut Chunked {
                inner: wire,
                left: 0,
                ended: false,
            },
            &mut body,
        )?;
        Ok(body)
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let wire = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        assert_eq!(dechunk(&wire[..]).unwrap(), b"hello, world");
        assert!(dechunk(&b"zz\r\n"[..]).is_err());
        assert!(
            dechunk(&b"5\r\nhel"[..]).is_err(),
            "a cut body passed as whole"
        );
        assert_eq!(read_all(&b"plain"[..]).unwrap(), b"plain");
    }
}

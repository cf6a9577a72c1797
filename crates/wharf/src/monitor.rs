//! Calling a service's `x-wharf.monitor` endpoint: one HTTP/1.0 GET on loopback, so
//! the answer ends with the connection and needs no chunked decoding.

use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);
/// The most of an answer kept: monitors answer a status page, not a download.
const MAX_BODY: u64 = 64 * 1024;

pub struct Answer {
    pub status: u16,
    pub body: String,
}

pub fn call(port: u16, path: &str) -> io::Result<Answer> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: localhost:{port}\r\nUser-Agent: wharf-check\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(MAX_BODY).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "not an HTTP answer");
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(invalid)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)?;
    Ok(Answer {
        status,
        body: body.to_owned(),
    })
}

//! Whether a PostgreSQL server takes logins, as `pg_isready` asks it: the server
//! accepts connections from its first moment, through crash recovery too, and answers
//! each login "the database system is starting up" (57P03) until it can serve one.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Whether the server on loopback `port` would take a login by `user` now: any
/// answer but "cannot connect now" (a request for a password, a refusal) says so.
pub fn takes_logins(port: u16, user: &str) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(50)) else {
        return false;
    };
    if crate::ports::reached_itself(&stream, address) {
        return false;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut header = [0u8; 5];
    if stream.write_all(&startup_message(user)).is_err() || stream.read_exact(&mut header).is_err()
    {
        return false;
    }
    // The whole message is read: one closed on unread bytes is reset, which the
    // server logs as an error.
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let mut fields = Vec::new();
    let _ = stream
        .take(u64::from(length.saturating_sub(4)).min(4096))
        .read_to_end(&mut fields);
    header[0] != b'E' || !fields.windows(7).any(|field| field == b"C57P03\0")
}

/// A protocol 3.0 startup message logging `user` into the database of its name.
fn startup_message(user: &str) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for part in ["user", user, ""] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    let length = u32::try_from(body.len() + 4).unwrap_or(u32::MAX);
    [length.to_be_bytes().to_vec(), body].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server stand-in that reads the startup message and answers `answer`.
    fn answering(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut connection, _) = listener.accept().unwrap();
            let mut length = [0u8; 4];
            connection.read_exact(&mut length).unwrap();
            let mut rest = vec![0u8; u32::from_be_bytes(length) as usize - 4];
            connection.read_exact(&mut rest).unwrap();
            assert!(rest.windows(8).any(|w| w == b"user\0app"));
            connection.write_all(answer).unwrap();
        });
        port
    }

    fn error(code: &str) -> Vec<u8> {
        let fields = format!("SFATAL\0C{code}\0Mno\0\0");
        [
            vec![b'E'],
            u32::try_from(fields.len() + 4)
                .unwrap()
                .to_be_bytes()
                .to_vec(),
            fields.into_bytes(),
        ]
        .concat()
    }

    #[test]
    fn starting_up_is_not_taking_logins_and_any_other_answer_is() {
        let starting = Box::leak(error("57P03").into_boxed_slice());
        assert!(!takes_logins(answering(starting), "app"));
        let no_role = Box::leak(error("28000").into_boxed_slice());
        assert!(takes_logins(answering(no_role), "app"));
        // AuthenticationSASL: a password is asked for.
        assert!(takes_logins(
            answering(b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0"),
            "app"
        ));
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(!takes_logins(port, "app"));
    }
}

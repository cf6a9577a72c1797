//! Whether a TCP port is free or answers, and if not free, which process listens on
//! it, read from `/proc` so "port already allocated" can say whom to stop.

use std::net::{Ipv4Addr, TcpListener};

/// A process listening on a port.
pub struct Owner {
    pub pid: u32,
    pub command: String,
}

/// `Ok` when `port` can be bound on loopback now; else the listener, when this user
/// may see it.
pub fn check_free(port: u16) -> Result<(), Option<Owner>> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(_) => Err(listener_of(port)),
    }
}

/// Whether something accepts connections on `port` on loopback. A connection that
/// reached itself does not count: with nothing listening on a port of the ephemeral
/// range, the kernel may pick that very port as the source and connect the socket to
/// itself.
pub fn accepts(port: u16) -> bool {
    let address = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_millis(50))
        .is_ok_and(|stream| stream.local_addr().ok() != Some(address))
}

fn listener_of(port: u16) -> Option<Owner> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.filter_map(Result::ok).any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
        });
        if holds {
            let command = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            return Some(Owner {
                pid,
                command: command.trim().to_owned(),
            });
        }
    }
    None
}

/// The socket inodes of a `/proc/net/tcp` table that listen on `port`.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit_once(':')?.1;
            let listening =
                u16::from_str_radix(local_port, 16).ok()? == port && *fields.get(3)? == LISTEN;
            listening.then_some((*fields.get(9)?).to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_is_taken_and_its_owner_found() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let owner = check_free(port)
            .unwrap_err()
            .expect("the owner (this test)");
        assert_eq!(owner.pid, std::process::id());
        drop(listener);
        assert!(check_free(port).is_ok());
    }
}

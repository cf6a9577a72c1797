//! Whether a port is free before a service starts, and if not, who holds it: a
//! service that cannot bind fails in a confusing way, and a healthcheck may even pass
//! against the stranger that holds its port.

use std::net::{Ipv4Addr, TcpListener};

use crate::process::all_pids;

/// `None` when `port` can be bound on loopback; else what holds it, as far as known.
pub fn in_use(port: u16) -> Option<String> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => None,
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => Some(match holder(port) {
            Some((pid, name)) => format!("port {port} is already in use by {name} (pid {pid})"),
            None => format!("port {port} is already in use by another program"),
        }),
        Err(err) => Some(format!("port {port} cannot be used: {err}")),
    }
}

/// The process listening on `port`: the socket's inode from `/proc/net/tcp{,6}`, then
/// the process with a descriptor on it. Only processes this user may inspect are found.
fn holder(port: u16) -> Option<(u32, String)> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .find_map(|text| listening_inode(&text, port))?;
    let target = format!("socket:[{inode}]");
    for pid in all_pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let holds = fds.filter_map(Result::ok).any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == target.as_str())
        });
        if holds {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            return Some((pid, name.trim().to_owned()));
        }
    }
    None
}

/// The inode of the socket listening on `port` in a `/proc/net/tcp` table.
fn listening_inode(table: &str, port: u16) -> Option<u64> {
    const LISTEN: &str = "0A";
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields.get(1)?.rsplit(':').next()?;
        let matches =
            u16::from_str_radix(local_port, 16).ok()? == port && *fields.get(3)? == LISTEN;
        if matches {
            fields.get(9)?.parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_names_its_holder() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let message = in_use(port).unwrap();
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(listener);
        assert_eq!(in_use(port), None);
    }

    #[test]
    fn the_table_is_read_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1\n   1: 0100007F:1F91 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 999 1\n";
        assert_eq!(listening_inode(table, 8080), Some(12345));
        assert_eq!(listening_inode(table, 8081), None);
    }
}

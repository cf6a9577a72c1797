//! Who listens where, read from `/proc`: whether a TCP port is free or answers, which
//! process holds a taken one (so "port already allocated" can say whom to stop), and
//! where a native service's processes really listen.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsFd;

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
        .is_ok_and(|stream| !reached_itself(&stream, address))
}

/// Whether a socket connected to `address` reached itself, not a listener: what a
/// connection to a loopback port of the ephemeral range nothing listens on can do.
/// Such a socket is set to be reset as it closes: closed gently it would wait out
/// TIME-WAIT on the very port, and keep the service that should listen there from
/// binding it for a minute.
pub fn reached_itself(stream: impl AsFd, address: SocketAddr) -> bool {
    let local = rustix::net::getsockname(&stream)
        .ok()
        .and_then(|local| SocketAddr::try_from(local).ok());
    if local != Some(address) {
        return false;
    }
    let _ = rustix::net::sockopt::set_socket_linger(stream, Some(std::time::Duration::ZERO));
    true
}

/// Where anything listens on TCP in the network namespace of process `pid` (a
/// container's), but for the engine's own DNS server (127.0.0.11): a container's
/// published port is answered by the engine's proxy at once, whether or not the
/// server inside listens yet. `None` when the namespace's tables cannot be read.
pub fn listening_in_namespace_of(pid: u32) -> Option<Vec<SocketAddr>> {
    const ENGINE_DNS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
    let mut readable = false;
    let mut found = Vec::new();
    for table in ["tcp", "tcp6"] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
            readable = true;
            found.extend(
                parse_listening(&text)
                    .into_iter()
                    .map(|(address, _)| address)
                    .filter(|a| a.ip() != IpAddr::V4(ENGINE_DNS)),
            );
        }
    }
    readable.then_some(found)
}

/// The process whose listener keeps `port` from being bound on loopback: one on
/// loopback or on every address, not one on another address (wharfd's own, for
/// containers, on the engine's bridge) that happens to share the port.
fn listener_of(port: u16) -> Option<Owner> {
    let blocks_loopback = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4 == Ipv4Addr::LOCALHOST || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST),
    };
    let wanted: Vec<String> = listening_sockets()
        .into_iter()
        .filter(|(address, _)| address.port() == port && blocks_loopback(address.ip()))
        .map(|(_, inode)| socket_link(&inode))
        .collect();
    if wanted.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if !socket_links(pid).iter().any(|link| wanted.contains(link)) {
            continue;
        }
        let command = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        return Some(Owner {
            pid,
            command: command.trim().to_owned(),
        });
    }
    None
}

/// Where each of `processes` listens: natively nothing maps a port or stands between
/// a process and the network, so this is what the service really offers. Only these
/// processes are read, not their children: servers open their listening sockets in
/// the process wharf started (workers inherit them), and `ps` must stay fast.
pub fn listening_of(processes: &BTreeSet<u32>) -> BTreeMap<u32, Vec<SocketAddr>> {
    let mut links: BTreeMap<u32, Vec<String>> = processes
        .iter()
        .map(|pid| (*pid, socket_links(*pid)))
        .filter(|(_, links)| !links.is_empty())
        .collect();
    if links.is_empty() {
        return BTreeMap::new();
    }
    let sockets: BTreeMap<String, SocketAddr> = listening_sockets()
        .into_iter()
        .map(|(address, inode)| (socket_link(&inode), address))
        .collect();
    let mut found = BTreeMap::new();
    for (pid, links) in &mut links {
        let mut addresses: Vec<SocketAddr> = links
            .iter()
            .filter_map(|link| sockets.get(link).copied())
            .collect();
        addresses.sort_unstable();
        addresses.dedup();
        found.insert(*pid, addresses);
    }
    found
}

fn socket_link(inode: &str) -> String {
    format!("socket:[{inode}]")
}

/// What the descriptors of `pid` point at, for those that are sockets.
fn socket_links(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| target.to_str().map(str::to_owned))
        .filter(|target| target.starts_with("socket:"))
        .collect()
}

/// Every listening TCP socket: its address and its inode.
fn listening_sockets() -> Vec<(SocketAddr, String)> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| parse_listening(&table))
        .collect()
}

/// The listening sockets of a `/proc/net/tcp{,6}` table.
fn parse_listening(table: &str) -> Vec<(SocketAddr, String)> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if *fields.get(3)? != LISTEN {
                return None;
            }
            let (address, port) = fields.get(1)?.rsplit_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            Some((
                SocketAddr::new(kernel_address(address)?, port),
                (*fields.get(9)?).to_owned(),
            ))
        })
        .collect()
}

/// An address as the kernel prints it: 32-bit words in hex, each in the machine's
/// byte order.
fn kernel_address(hex: &str) -> Option<IpAddr> {
    let words: Vec<[u8; 4]> = (0..hex.len() / 8)
        .map(|i| {
            hex.get(i * 8..i * 8 + 8)
                .and_then(|w| u32::from_str_radix(w, 16).ok())
                .map(u32::to_ne_bytes)
        })
        .collect::<Option<_>>()?;
    match words.as_slice() {
        [v4] => Some(IpAddr::from(*v4)),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (chunk, word) in bytes.chunks_mut(4).zip([a, b, c, d]) {
                chunk.copy_from_slice(word);
            }
            Some(IpAddr::from(bytes))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket connected to itself, as the kernel makes one when the source port it
    /// picks is the port connected to.
    fn connected_to_itself() -> (std::net::TcpStream, SocketAddr) {
        use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
        bind(&fd, &SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
        let stream = std::net::TcpStream::from(fd);
        let address = stream.local_addr().unwrap();
        connect(&stream, &address).unwrap();
        (stream, address)
    }

    #[test]
    fn a_connection_to_itself_does_not_count_and_leaves_its_port_free() {
        let (stream, address) = connected_to_itself();
        assert!(reached_itself(&stream, address));
        drop(stream);
        assert!(
            check_free(address.port()).is_ok(),
            "port {} held after the probe",
            address.port()
        );
    }

    #[test]
    fn a_namespace_s_listeners_are_read_from_its_process() {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let address = listener.local_addr().unwrap();
        let found = listening_in_namespace_of(std::process::id()).expect("readable");
        assert!(found.contains(&address), "{found:?}");
        drop(listener);
        let found = listening_in_namespace_of(std::process::id()).expect("readable");
        assert!(!found.contains(&address), "{found:?}");
        assert_eq!(listening_in_namespace_of(u32::MAX), None, "no such process");
    }

    #[test]
    fn a_listening_port_is_taken_and_its_owner_found() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let owner = check_free(port)
            .unwrap_err()
            .expect("the owner (this test)");
        assert_eq!(owner.pid, std::process::id());
        let me = BTreeSet::from([std::process::id()]);
        let listening = listening_of(&me);
        assert!(
            listening
                .values()
                .flatten()
                .any(|a| *a == SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
            "{listening:?}"
        );
        drop(listener);
        assert!(check_free(port).is_ok());
    }

    #[test]
    fn the_owner_is_the_listener_in_the_way_not_one_elsewhere_on_the_port() {
        // This process on another address, a child on loopback: the child is in the way.
        let elsewhere = TcpListener::bind(("127.0.0.2", 0)).unwrap();
        let port = elsewhere.local_addr().unwrap().port();
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                &format!(
                    "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',{port})); s.listen(); print(flush=True); time.sleep(30)"
                ),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut ready,
        )
        .unwrap();
        let owner = check_free(port).unwrap_err().expect("the child");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(owner.pid, child.id());
        drop(elsewhere);
    }

    #[test]
    fn kernel_addresses_read_in_the_machines_byte_order() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242\n   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4243\n";
        let found = parse_listening(table);
        assert_eq!(
            found,
            [
                ("127.0.0.1:8080".parse().unwrap(), "4242".to_owned()),
                ("0.0.0.0:80".parse().unwrap(), "4243".to_owned())
            ]
        );
        let v6 = "00000000000000000000000001000000";
        assert_eq!(kernel_address(v6), Some("::1".parse().unwrap()));
    }
}

//! Lets containers reach native services: a native process that listens on loopback
//! cannot be reached from a container, so wharfd forwards the project network's gateway
//! address (the host, as containers see it) to it, port by port. Only containers on
//! this machine can reach that address. A process that listens on every address is
//! reached there already, and a forwarder would take the port it binds: so a port is
//! forwarded only once its process is seen listening on loopback alone.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A mixed stack's forwarders: where each native service's ports are wanted on the
/// gateway, and those that run. They stop when the project goes.
#[derive(Default)]
pub struct Forwarders {
    /// Each gateway address, with the native service behind it and its loopback address.
    wanted: BTreeMap<SocketAddr, (String, SocketAddr)>,
    running: BTreeMap<SocketAddr, JoinHandle<()>>,
}

impl Forwarders {
    /// Wants `wanted`, keeping what `previous` runs of it; the rest of `previous` stops.
    pub fn new(wanted: BTreeMap<SocketAddr, (String, SocketAddr)>, mut previous: Self) -> Self {
        let running = wanted
            .iter()
            .filter(|(listen, to)| previous.wanted.get(*listen) == Some(*to))
            .filter_map(|(listen, _)| Some((*listen, previous.running.remove(listen)?)))
            .collect();
        Self { wanted, running }
    }

    /// The service's process (re)started: its forwarders stop, so it finds its ports
    /// free whichever addresses it binds, until `seen_listening` says where it did.
    pub fn started(&mut self, service: &str) {
        for listen in self.addresses_of(service) {
            if let Some(handle) = self.running.remove(&listen) {
                handle.abort();
            }
        }
    }

    /// Where the service's processes listen now: a port on loopback alone gets its
    /// forwarder, one on every address needs none.
    pub fn seen_listening(&mut self, service: &str, listening: &[SocketAddr]) {
        for listen in self.addresses_of(service) {
            let Some((_, target)) = self.wanted.get(&listen) else {
                continue;
            };
            let on_port = || listening.iter().filter(|a| a.port() == target.port());
            if on_port().any(|a| a.ip().is_unspecified()) {
                if let Some(handle) = self.running.remove(&listen) {
                    handle.abort();
                }
            } else if on_port().any(|a| a.ip().is_loopback())
                && !self.running.contains_key(&listen)
                && let Ok(handle) = spawn_forwarder(listen, *target)
            {
                self.running.insert(listen, handle);
            }
        }
    }

    fn addresses_of(&self, service: &str) -> Vec<SocketAddr> {
        self.wanted
            .iter()
            .filter(|(_, (of, _))| of == service)
            .map(|(listen, _)| *listen)
            .collect()
    }
}

impl Drop for Forwarders {
    fn drop(&mut self) {
        for handle in self.running.values() {
            handle.abort();
        }
    }
}

/// Accepts on `listen` and joins each connection to `target`, until aborted.
pub fn spawn_forwarder(listen: SocketAddr, target: SocketAddr) -> std::io::Result<JoinHandle<()>> {
    let socket = std::net::TcpListener::bind(listen)?;
    socket.set_nonblocking(true)?;
    let listener = TcpListener::from_std(socket)?;
    Ok(tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_cross_both_ways() {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = server.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = server.accept().await.unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf.map(|b| b.to_ascii_uppercase()))
                .await
                .unwrap();
        });
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let forwarder = spawn_forwarder(free, target).unwrap();
        let mut client = TcpStream::connect(free).await.unwrap();
        client.write_all(b"ping").await.unwrap();
        let mut answer = [0u8; 4];
        client.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"PING");
        forwarder.abort();
    }
}

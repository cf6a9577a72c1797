//! Lets containers reach native services: a native process that listens on loopback
//! cannot be reached from a container, so wharfd forwards the project network's gateway
//! address (the host, as containers see it) to it, port by port. Only containers on
//! this machine can reach that address. A port is forwarded once its process is seen
//! listening on it on loopback alone (declared or not: `expose`, or none at all); one
//! on every address is reached there already, and a forwarder would take it. A port
//! published elsewhere (`8080:80`, the process on 8080) is also forwarded from the
//! port containers ask for (80), as they would reach a container.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running forwarder: the native service behind it, and its handle.
struct Running {
    service: String,
    task: JoinHandle<()>,
}

/// A mixed stack's forwarders. They stop when the project goes.
#[derive(Default)]
pub struct Forwarders {
    /// The project network's gateway, where containers find the native services.
    gateway: Option<IpAddr>,
    /// Each native service's declared ports: (the one containers ask for, the one its
    /// process listens on).
    services: BTreeMap<String, Vec<(u16, u16)>>,
    running: BTreeMap<SocketAddr, Running>,
}

impl Forwarders {
    /// Forwards `services`' ports on `gateway`, keeping what `previous` runs of them.
    pub fn new(
        gateway: IpAddr,
        services: BTreeMap<String, Vec<(u16, u16)>>,
        mut previous: Self,
    ) -> Self {
        let (running, gone): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut previous.running)
                .into_iter()
                .partition(|(listen, r)| {
                    listen.ip() == gateway && services.contains_key(&r.service)
                });
        for r in gone.values() {
            r.task.abort();
        }
        Self {
            gateway: Some(gateway),
            services,
            running,
        }
    }

    /// The service's process (re)started: its forwarders stop, so it finds its ports
    /// free whichever addresses it binds, until `seen_listening` says where it did.
    pub fn started(&mut self, service: &str) {
        self.running.retain(|_, r| {
            let mine = r.service == service;
            if mine {
                r.task.abort();
            }
            !mine
        });
    }

    /// Where the service's processes listen now.
    pub fn seen_listening(&mut self, service: &str, listening: &[SocketAddr]) {
        let (Some(gateway), Some(declared)) = (self.gateway, self.services.get(service)) else {
            return;
        };
        let everywhere = |port: u16| {
            listening
                .iter()
                .any(|a| a.port() == port && a.ip().is_unspecified())
        };
        let loopback = |port: u16| {
            listening
                .iter()
                .find(|a| a.port() == port && a.ip().is_loopback())
                .copied()
        };
        // (the gateway's port, where it leads)
        let mut wanted: Vec<(u16, SocketAddr)> = listening
            .iter()
            .filter(|a| a.ip().is_loopback() && !everywhere(a.port()))
            .map(|a| (a.port(), *a))
            .collect();
        wanted.extend(
            declared
                .iter()
                .filter(|(asked, listens)| asked != listens)
                .filter_map(|(asked, listens)| {
                    let to = loopback(*listens).or_else(|| {
                        everywhere(*listens).then(|| SocketAddr::from(([127, 0, 0, 1], *listens)))
                    })?;
                    Some((*asked, to))
                }),
        );
        // A forwarder on a port the process binds on every address would hold it.
        for port in listening
            .iter()
            .filter(|a| a.ip().is_unspecified())
            .map(SocketAddr::port)
        {
            let listen = SocketAddr::new(gateway, port);
            if self
                .running
                .get(&listen)
                .is_some_and(|r| r.service == service)
                && let Some(r) = self.running.remove(&listen)
            {
                r.task.abort();
            }
        }
        for (port, to) in wanted {
            let listen = SocketAddr::new(gateway, port);
            if !self.running.contains_key(&listen)
                && let Ok(task) = spawn_forwarder(listen, to)
            {
                let service = service.to_owned();
                self.running.insert(listen, Running { service, task });
            }
        }
    }
}

impl Drop for Forwarders {
    fn drop(&mut self) {
        for r in self.running.values() {
            r.task.abort();
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
                if let Ok(mut outbound) = TcpStream::connect(target).await
                    && !wharf_host::ports::reached_itself(&outbound, target)
                {
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

//! Whether a port is free before a service starts, and if not, who holds it: a
//! service that cannot bind fails in a confusing way, and a healthcheck may even pass
//! against the stranger that holds its port.

use wharf_host::ports::check_free;

/// `None` when `port` can be bound on loopback; else what holds it, as far as known.
pub fn in_use(port: u16) -> Option<String> {
    match check_free(port) {
        Ok(()) => None,
        Err(Some(owner)) => Some(format!(
            "port {port} is already in use by {} (pid {})",
            owner.command, owner.pid
        )),
        Err(None) => Some(format!("port {port} is already in use by another program")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_names_its_holder() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let message = in_use(port).expect("the port is held");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(listener);
        assert_eq!(in_use(port), None);
    }
}

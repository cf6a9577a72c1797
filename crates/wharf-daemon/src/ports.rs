//! Whether a port is free before a service starts, and if not, who holds it: a
//! service that cannot bind fails in a confusing way, and a healthcheck may even pass
//! against the stranger that holds its port.

use wharf_host::ports::check_free;

/// `None` when `port` can be bound on loopback; else what holds it, as far as known.
pub fn in_use(port: u16) -> Option<String> {
    in_use_by(port, || None)
}

/// As [`in_use`], naming the instance `instance` finds (one of wharf's, which
/// publishes the port) as the holder.
pub fn in_use_by(port: u16, instance: impl FnOnce() -> Option<String>) -> Option<String> {
    let owner = check_free(port).err()?;
    let by = match (instance(), owner) {
        (Some(instance), Some(owner)) => {
            format!("{instance} ({}, pid {})", owner.command, owner.pid)
        }
        (Some(instance), None) => instance,
        (None, Some(owner)) => format!("{} (pid {})", owner.command, owner.pid),
        (None, None) => "another program".to_owned(),
    };
    Some(format!("port {port} is already in use by {by}"))
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
        let named = in_use_by(port, || Some("a-db-1 of project a".to_owned())).unwrap();
        assert!(named.contains("by a-db-1 of project a ("), "{named}");
        drop(listener);
        assert_eq!(in_use(port), None);
    }
}

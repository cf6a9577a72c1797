//! What a second `up` must do: compare the desired spec with the one running.

use crate::{ContainerSpec, ProjectSpec, ServiceSpec};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub service: String,
    pub reason: ChangeReason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeReason {
    Added,
    Removed,
    /// The named settings differ (`environment (DB_URL)` names its variables): the
    /// service is recreated.
    Changed(Vec<String>),
    /// Only the replica count differs: instances are added or removed.
    Scaled {
        from: u32,
        to: u32,
    },
    Unchanged,
}

/// One entry per service in either spec, in name order.
pub fn diff(running: Option<&ProjectSpec>, desired: &ProjectSpec) -> Vec<Change> {
    let mut changes = Vec::new();
    for (name, service) in &desired.services {
        let reason = match running.and_then(|r| r.services.get(name)) {
            None => ChangeReason::Added,
            Some(old) => compare(old, service),
        };
        changes.push(Change {
            service: name.clone(),
            reason,
        });
    }
    if let Some(running) = running {
        for name in running.services.keys() {
            if !desired.services.contains_key(name) {
                changes.push(Change {
                    service: name.clone(),
                    reason: ChangeReason::Removed,
                });
            }
        }
        changes.sort_by(|a, b| a.service.cmp(&b.service));
    }
    changes
}

fn compare(old: &ServiceSpec, new: &ServiceSpec) -> ChangeReason {
    let mut fields: Vec<String> = Vec::new();
    let mut check = |name: &str, same: bool| {
        if !same {
            fields.push(name.to_owned());
        }
    };
    // Moved between a container and a process: said first, as the news.
    let same_backend = old.container.is_some() == new.container.is_some();
    check("backend", same_backend);
    // A published port that moved is written into the command (a recipe's options)
    // and `PORT`: that much of their change is the ports'.
    let moves: Vec<(String, String)> = old
        .ports
        .iter()
        .zip(&new.ports)
        .filter(|(was, is)| was.published != is.published)
        .map(|(was, is)| (was.published.to_string(), is.published.to_string()))
        .collect();
    // Rewritten only when a port moved and the texts differ: `up` compares every
    // service each time.
    let same = |was: &String, is: &String| {
        was == is || (!moves.is_empty() && with_ports_moved(was, &moves) == *is)
    };
    // What a recipe runs is wharf's own command line, not the file's `command`.
    let command = if new.origin.starts_with("recipe ") {
        "recipe settings"
    } else {
        "command"
    };
    check(
        command,
        old.command.len() == new.command.len()
            && old
                .command
                .iter()
                .zip(&new.command)
                .all(|(was, is)| same(was, is)),
    );
    check("working_dir", old.working_dir == new.working_dir);
    let same_environment = old.environment.len() == new.environment.len()
        && old
            .environment
            .iter()
            .zip(&new.environment)
            .all(|((was_key, was), (is_key, is))| was_key == is_key && same(was, is));
    if !same_environment {
        // Named, not shown: a value may be a secret. A variable that follows another
        // service's port changes with it, which the user did not touch here.
        let variables: Vec<&String> = old
            .environment
            .keys()
            .chain(new.environment.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(
                |key| match (old.environment.get(*key), new.environment.get(*key)) {
                    (Some(was), Some(is)) => !same(was, is),
                    _ => true,
                },
            )
            .collect();
        let named: Vec<&str> = variables.iter().take(3).map(|v| v.as_str()).collect();
        let more = match variables.len().saturating_sub(3) {
            0 => String::new(),
            left => format!(" and {left} more"),
        };
        check(&format!("environment ({}{more})", named.join(", ")), false);
    }
    check("ports", old.ports == new.ports);
    check("depends_on", old.depends_on == new.depends_on);
    check("healthcheck", old.healthcheck == new.healthcheck);
    check("restart", old.restart == new.restart);
    check("stop_signal", old.stop_signal == new.stop_signal);
    check(
        "stop_grace_period",
        old.stop_grace_period == new.stop_grace_period,
    );
    check("origin", old.origin == new.origin);
    check(
        "hooks",
        old.post_start == new.post_start && old.pre_stop == new.pre_stop,
    );
    // A container is recreated when Compose would: its definition's hash changed. What
    // changed in it is named where it is one of its usual settings.
    let container_named = match (&old.container, &new.container) {
        (Some(was), Some(is)) if was.config_hash != is.config_hash => {
            Some(container_changes(was, is))
        }
        _ => None,
    };
    let native = |spec: &ServiceSpec| spec.container.as_ref().map(|c| c.native_hosts.clone());
    check(
        "native services",
        !same_backend || native(old) == native(new),
    );
    // Or its image is another one now (rebuilt, pulled anew); unknown on one side (not
    // on the machine yet) is no change.
    let image = |spec: &ServiceSpec| {
        spec.container
            .as_ref()
            .map(|c| c.image_id.clone())
            .filter(|id| !id.is_empty())
    };
    check(
        "image",
        image(old).is_none() || image(new).is_none() || image(old) == image(new),
    );
    match container_named {
        // Named nowhere else (the environment, ports or image may say why): the hash's.
        Some(named) if named.is_empty() && fields.is_empty() => {
            fields.push("configuration".to_owned());
        }
        Some(named) => fields.extend(named.into_iter().map(str::to_owned)),
        None => {}
    }
    if !fields.is_empty() {
        ChangeReason::Changed(fields)
    } else if old.replicas != new.replicas {
        ChangeReason::Scaled {
            from: old.replicas,
            to: new.replicas,
        }
    } else {
        ChangeReason::Unchanged
    }
}

/// The settings of a container that differ, by their names in the file; those the
/// service's own spec holds too (environment, ports, restart, the image in its origin)
/// are named from there.
fn container_changes(was: &ContainerSpec, is: &ContainerSpec) -> Vec<&'static str> {
    let settings: [(&str, bool); 18] = [
        ("entrypoint", was.entrypoint == is.entrypoint),
        ("command", was.command == is.command),
        ("working_dir", was.working_dir == is.working_dir),
        ("user", was.user == is.user),
        ("init", was.init == is.init),
        ("stdin_open", was.stdin_open == is.stdin_open),
        ("tty", was.tty == is.tty),
        ("hostname", was.hostname == is.hostname),
        ("volumes", was.mounts == is.mounts),
        ("networks", was.networks == is.networks),
        ("expose", was.expose == is.expose),
        ("labels", own_labels(was).eq(own_labels(is))),
        ("extra_hosts", was.extra_hosts == is.extra_hosts),
        ("cap_add", was.cap_add == is.cap_add),
        ("cap_drop", was.cap_drop == is.cap_drop),
        ("privileged", was.privileged == is.privileged),
        ("read_only", was.read_only == is.read_only),
        ("tmpfs", was.tmpfs == is.tmpfs),
    ];
    settings
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}

/// The service's own labels, without Compose's (its config hash among them).
fn own_labels(spec: &ContainerSpec) -> impl Iterator<Item = (&String, &String)> {
    spec.labels
        .iter()
        .filter(|(key, _)| !key.starts_with("com.docker.compose."))
}

/// `text` with each number that is a moved port's old number written as its new one.
fn with_ports_moved(text: &str, moves: &[(String, String)]) -> String {
    let mut written = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        written.push_str(&rest[..start]);
        let digits = rest[start..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(rest.len(), |end| start + end);
        let number = &rest[start..digits];
        written.push_str(
            moves
                .iter()
                .find(|(from, _)| from == number)
                .map_or(number, |(_, to)| to),
        );
        rest = &rest[digits..];
    }
    written.push_str(rest);
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(services: &[(&str, &str, u32)]) -> ProjectSpec {
        let mut spec = ProjectSpec::default();
        for (name, command, replicas) in services {
            spec.services.insert(
                (*name).to_owned(),
                ServiceSpec {
                    command: vec![(*command).to_owned()],
                    replicas: *replicas,
                    ..ServiceSpec::default()
                },
            );
        }
        spec
    }

    #[test]
    fn names_what_changed_and_why() {
        let old = spec(&[("a", "x", 1), ("b", "y", 1), ("c", "z", 1)]);
        let new = spec(&[
            ("a", "x", 1),
            ("b", "changed", 1),
            ("c", "z", 3),
            ("d", "w", 1),
        ]);
        let reasons: Vec<_> = diff(Some(&old), &new)
            .into_iter()
            .map(|c| (c.service, c.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                ("a".to_owned(), ChangeReason::Unchanged),
                (
                    "b".to_owned(),
                    ChangeReason::Changed(vec!["command".to_owned()])
                ),
                ("c".to_owned(), ChangeReason::Scaled { from: 1, to: 3 }),
                ("d".to_owned(), ChangeReason::Added),
            ]
        );
        let gone = diff(Some(&new), &old);
        assert!(gone.contains(&Change {
            service: "d".into(),
            reason: ChangeReason::Removed
        }));
    }

    /// A container's changed settings are named; what its hash alone covers is its
    /// configuration.
    #[test]
    fn a_containers_changed_settings_are_named() {
        let with = |user: &str, hash: &str| {
            let mut spec = spec(&[("box", "", 1)]);
            spec.services.get_mut("box").unwrap().container = Some(Box::new(ContainerSpec {
                user: user.to_owned(),
                config_hash: hash.to_owned(),
                ..ContainerSpec::default()
            }));
            spec
        };
        let reason = |old: &ProjectSpec, new: &ProjectSpec| diff(Some(old), new)[0].reason.clone();
        assert_eq!(
            reason(&with("", "a"), &with("nobody", "b")),
            ChangeReason::Changed(vec!["user".to_owned()])
        );
        assert_eq!(
            reason(&with("", "a"), &with("", "b")),
            ChangeReason::Changed(vec!["configuration".to_owned()])
        );
        assert_eq!(
            reason(&with("", "a"), &with("", "a")),
            ChangeReason::Unchanged
        );
    }

    #[test]
    fn a_service_moved_between_container_and_process_says_so_first() {
        let native = spec(&[("db", "postgres", 1)]);
        let mut contained = native.clone();
        let db = contained.services.get_mut("db").unwrap();
        db.command = vec!["docker-entrypoint.sh".to_owned()];
        db.container = Some(Box::new(crate::ContainerSpec {
            config_hash: "h".to_owned(),
            ..crate::ContainerSpec::default()
        }));
        for (old, new) in [(&contained, &native), (&native, &contained)] {
            assert_eq!(
                diff(Some(old), new)[0].reason,
                ChangeReason::Changed(vec!["backend".to_owned(), "command".to_owned()])
            );
        }
    }

    /// The variables that changed are named, never their values.
    #[test]
    fn changed_variables_are_named() {
        let with = |pairs: &[(&str, &str)]| {
            let mut spec = spec(&[("web", "srv", 1)]);
            spec.services.get_mut("web").unwrap().environment = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            spec
        };
        let reason = |old: &ProjectSpec, new: &ProjectSpec| diff(Some(old), new)[0].reason.clone();
        let base = with(&[("A", "1"), ("REDIS_URL", "redis://127.0.0.1:6379")]);
        assert_eq!(
            reason(
                &base,
                &with(&[("A", "1"), ("REDIS_URL", "redis://127.0.0.1:6380")])
            ),
            ChangeReason::Changed(vec!["environment (REDIS_URL)".to_owned()])
        );
        let many = with(&[("B", "1"), ("C", "1"), ("D", "1"), ("E", "1")]);
        assert_eq!(
            reason(&base, &many),
            ChangeReason::Changed(vec!["environment (A, B, C and 3 more)".to_owned()])
        );
    }

    /// A moved port is the change, not the command or the `PORT` it is written into.
    #[test]
    fn a_moved_port_is_said_as_the_ports_alone() {
        let at = |port: u16, extra: &str| {
            let mut spec = spec(&[("web", "srv", 1)]);
            let web = spec.services.get_mut("web").unwrap();
            web.command = vec![
                "srv".to_owned(),
                format!("--listen=127.0.0.1:{port}"),
                format!("18000{extra}"),
            ];
            web.environment = [("PORT".to_owned(), port.to_string())].into();
            web.ports = vec![crate::PortSpec {
                target: 80,
                published: port,
                ..crate::PortSpec::default()
            }];
            spec
        };
        let reason = |old: &ProjectSpec, new: &ProjectSpec| diff(Some(old), new)[0].reason.clone();
        assert_eq!(
            reason(&at(8000, ""), &at(9000, "")),
            ChangeReason::Changed(vec!["ports".to_owned()])
        );
        assert_eq!(
            reason(&at(8000, ""), &at(9000, "1")),
            ChangeReason::Changed(vec!["command".to_owned(), "ports".to_owned()])
        );
    }

    #[test]
    fn everything_is_added_the_first_time() {
        let new = spec(&[("a", "x", 1)]);
        assert_eq!(diff(None, &new)[0].reason, ChangeReason::Added);
    }
}

//! `--format json` in Compose's shapes, so scripts written for `docker compose ps` and
//! `ls` keep working: Compose's fields (`Name`, `Service`, `State`, `Publishers`…), and
//! wharf's own under `wharf`, where no decoder that ignores case mistakes one for the
//! other (Compose's `State` and wharf's `state` differ).

use std::fmt::Write as _;

use crate::{EnginePort, Health, InstanceState, InstanceStatus, ListedContainer, ProjectSummary};
use serde_json::{Value, json};

/// The state as Compose names a container's: `created`, `running`, `restarting`,
/// `exited` (and `paused`, `removing`, `dead`, which wharf's instances never are).
pub fn compose_state(state: InstanceState) -> &'static str {
    match state {
        InstanceState::Created | InstanceState::Waiting => "created",
        InstanceState::Running | InstanceState::Stopping => "running",
        InstanceState::Restarting | InstanceState::CrashLoop => "restarting",
        InstanceState::Exited | InstanceState::Stopped => "exited",
    }
}

/// An instance's state as Compose names its container's, `paused` included.
pub fn compose_state_of(instance: &InstanceStatus) -> &'static str {
    if instance.paused {
        "paused"
    } else if instance.never_ran() && instance.exit_code.is_none() {
        // Its dependency failed, or its program or port was not there: Docker's
        // container of it would be made and never started.
        "created"
    } else {
        compose_state(instance.state)
    }
}

/// The states `ps --status` accepts, as Compose's does.
pub const COMPOSE_STATES: [&str; 7] = [
    "paused",
    "restarting",
    "removing",
    "running",
    "dead",
    "created",
    "exited",
];

/// Adds what the spec knows of an instance to its `ps` line: what
/// [`with_listed_fields`] adds for a container, from the spec; for a native instance
/// its command, with no image.
pub fn with_spec_fields(
    line: &mut Value,
    service: &wharf_plan::ServiceSpec,
    replica: u32,
    full: bool,
) {
    match &service.container {
        Some(container) => with_listed_fields(line, &listed_from_spec(container, replica), full),
        None => {
            if let Value::Object(fields) = line {
                fields.insert("Image".to_owned(), Value::String(String::new()));
                let command = if service.command.is_empty() {
                    String::new()
                } else {
                    listed_command(&command_text(&service.command), full)
                };
                fields.insert("Command".to_owned(), Value::String(command));
            }
        }
    }
}

/// Adds a container's `Image`, `Command`, `Labels`, `LocalVolumes`, `Mounts` and
/// `Networks` to its `ps` line, as Compose lists them: the command cut to 20
/// characters and each mount to 15 unless `full` (`--no-trunc`).
pub fn with_listed_fields(line: &mut Value, listed: &ListedContainer, full: bool) {
    let Value::Object(fields) = line else {
        return;
    };
    let mounts: Vec<String> = listed
        .mounts
        .iter()
        .map(|mount| {
            if full {
                mount.clone()
            } else {
                ellipsis(mount, 15)
            }
        })
        .collect();
    for (key, value) in [
        ("Image", listed.image.clone()),
        ("Command", listed_command(&listed.command, full)),
        ("Labels", listed.labels.join(",")),
        ("LocalVolumes", listed.local_volumes.to_string()),
        ("Mounts", mounts.join(",")),
        ("Networks", listed.networks.join(",")),
    ] {
        fields.insert(key.to_owned(), Value::String(value));
    }
}

/// A container of wharfd's as the engine will list it.
fn listed_from_spec(container: &wharf_plan::ContainerSpec, replica: u32) -> ListedContainer {
    // As the engine fills a container's config from its image: the image's entrypoint
    // where none is set, and its command only then.
    let (entrypoint, command) = match &container.entrypoint {
        Some(entrypoint) => (entrypoint, container.command.as_ref()),
        None => (
            &container.image_entrypoint,
            Some(
                container
                    .command
                    .as_ref()
                    .unwrap_or(&container.image_command),
            ),
        ),
    };
    let words: Vec<String> = entrypoint
        .iter()
        .chain(command.into_iter().flatten())
        .cloned()
        .collect();
    // The spec's labels, and the two the daemon adds to each container.
    let mut labels: Vec<String> = container
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    labels.push(format!("com.docker.compose.container-number={replica}"));
    if !container.image_id.is_empty() {
        labels.push(format!("com.docker.compose.image={}", container.image_id));
    }
    ListedContainer {
        image: container.image.clone(),
        command: command_text(&words),
        labels,
        mounts: container
            .mounts
            .iter()
            .filter(|mount| mount.kind != "tmpfs" && !mount.source.is_empty())
            .map(|mount| mount.source.clone())
            .collect(),
        local_volumes: container
            .mounts
            .iter()
            .filter(|mount| mount.kind == "volume")
            .count(),
        networks: container.networks.keys().cloned().collect(),
    }
}

/// Words as the engine lists a command: joined, one with white space in single quotes.
fn command_text(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            if word.contains(char::is_whitespace) {
                format!("'{word}'")
            } else {
                word.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` cut to `width` characters, its last one an ellipsis, as Docker's lists cut.
pub fn ellipsis(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
}

/// A command as Docker's `ps` lists it: cut to 20 characters with an ellipsis unless
/// `full`, then quoted as Go quotes a string.
fn listed_command(command: &str, full: bool) -> String {
    let cut = if full {
        command.to_owned()
    } else {
        ellipsis(command, 20)
    };
    let mut quoted = String::from('"');
    for c in cut.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(quoted, "\\x{:02x}", u32::from(c));
            }
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// One line of `ps --format json`.
pub fn ps_line(project: &str, instance: &InstanceStatus, now_ms: u64) -> Value {
    let since = instance
        .started_at_ms
        .map(|t| human_duration(now_ms.saturating_sub(t)));
    // An exit is dated from when it ended, as Docker dates it.
    let ended = instance
        .finished_at_ms
        .map(|t| human_duration(now_ms.saturating_sub(t)));
    let health = match instance.health {
        Health::None => "",
        Health::Starting => "starting",
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
    };
    let state = compose_state_of(instance);
    let code = instance.exit_code.unwrap_or_default();
    let mut status = match (state, &since, &ended) {
        ("running", Some(since), _) => format!("Up {since}"),
        ("paused", Some(since), _) => format!("Up {since} (Paused)"),
        ("exited", _, Some(ended)) => format!("Exited ({code}) {ended} ago"),
        ("restarting", _, Some(ended)) => format!("Restarting ({code}) {ended} ago"),
        ("restarting", _, None) => format!("Restarting ({code})"),
        ("exited", _, None) => format!("Exited ({code})"),
        _ => "Created".to_owned(),
    };
    if state == "running" && !health.is_empty() {
        if instance.health == Health::Starting {
            status.push_str(" (health: starting)");
        } else {
            use std::fmt::Write as _;
            let _ = write!(status, " ({health})");
        }
    }
    // A container's as the engine lists them; a native instance's as wharf publishes them,
    // while it runs (the engine lists none for a container that does not).
    let engine_ports: Vec<EnginePort> = if instance.engine_ports.is_empty() {
        instance
            .ports
            .iter()
            .filter(|_| instance.publishes())
            .map(|p| EnginePort {
                ip: p
                    .host
                    .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string()),
                target: p.target,
                published: p.published,
                protocol: p.protocol.name().to_owned(),
            })
            .collect()
    } else {
        instance.engine_ports.clone()
    };
    let publishers = publishers(&engine_ports);
    let ports = displayable_ports(engine_ports);
    let mut line = json!({
        // A native instance's name, as `ps -q` gives it.
        "ID": if instance.container_id.is_empty() {
            &instance.name
        } else {
            instance.container_id.get(..12).unwrap_or(&instance.container_id)
        },
        "Name": instance.name,
        "Names": instance.name,
        "Project": project,
        "Service": instance.service,
        "State": state,
        "Status": status,
        "Health": health,
        "ExitCode": instance.exit_code.unwrap_or_default(),
        "Publishers": publishers,
        "Ports": ports,
        "RunningFor": since.map(|s| format!("{s} ago")).unwrap_or_default(),
        "CreatedAt": instance.started_at_ms.map(docker_time).unwrap_or_default(),
        // What the spec knows (`with_spec_fields`); so a template naming them works.
        "Labels": "",
        "LocalVolumes": "0",
        "Mounts": "",
        "Networks": "",
        "Size": "0B",
    });
    with_own_fields(&mut line, instance);
    line
}

/// `Publishers`: Compose's order, by container port (where Compose keeps the engine's
/// order for one port's bindings, which varies, the address decides).
fn publishers(ports: &[EnginePort]) -> Vec<Value> {
    let mut ordered: Vec<&EnginePort> = ports.iter().collect();
    ordered.sort_by(|a, b| (a.target, &a.ip).cmp(&(b.target, &b.ip)));
    ordered
        .into_iter()
        .map(|p| {
            json!({
                "URL": p.ip,
                "TargetPort": p.target,
                "PublishedPort": p.published,
                "Protocol": p.protocol,
            })
        })
        .collect()
}

/// `Ports` as Docker writes it: ports only exposed, and those published on the same
/// host port, in runs (`9000-9001/tcp`, `0.0.0.0:80-81->80-81/tcp`), each run kind in
/// the order first met; then the ports published on another host port, one by one.
fn displayable_ports(mut ports: Vec<EnginePort>) -> String {
    ports.sort_by(|a, b| {
        (a.target, &a.ip, a.published, &a.protocol).cmp(&(
            b.target,
            &b.ip,
            b.published,
            &b.protocol,
        ))
    });
    // A run: its kind (address and protocol), first and last port.
    let mut runs: Vec<(String, String, u16, u16)> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut done = Vec::new();
    let mut moved = Vec::new();
    for port in ports {
        if !port.ip.is_empty() && port.published != port.target {
            moved.push(format!(
                "{}->{}/{}",
                host_and_port(&port.ip, &port.published.to_string()),
                port.target,
                port.protocol
            ));
            continue;
        }
        let same_kind = open
            .iter()
            .position(|&run| runs[run].0 == port.ip && runs[run].1 == port.protocol);
        match same_kind {
            Some(at) if runs[open[at]].3.checked_add(1) == Some(port.target) => {
                runs[open[at]].3 = port.target;
            }
            Some(at) => {
                done.push(open[at]);
                runs.push((port.ip, port.protocol, port.target, port.target));
                open[at] = runs.len() - 1;
            }
            None => {
                runs.push((port.ip, port.protocol, port.target, port.target));
                open.push(runs.len() - 1);
            }
        }
    }
    done.extend(open);
    let mut shown: Vec<String> = done
        .into_iter()
        .map(|run| {
            let (ip, protocol, first, last) = &runs[run];
            let range = if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            };
            if ip.is_empty() {
                format!("{range}/{protocol}")
            } else {
                format!("{}->{range}/{protocol}", host_and_port(ip, &range))
            }
        })
        .collect();
    shown.extend(moved);
    shown.join(", ")
}

/// `ip:port`, an IPv6 address in brackets.
fn host_and_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// One entry of `ls --format json`.
pub fn ls_entry(project: &ProjectSummary) -> Value {
    let files = project
        .config_files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut entry = json!({
        "Name": project.name,
        "Status": project.status,
        "ConfigFiles": files,
    });
    with_own_fields(&mut entry, project);
    entry
}

/// Adds wharf's own fields, under `wharf`.
fn with_own_fields(into: &mut Value, own: &impl serde::Serialize) {
    if let (Some(into), Ok(own)) = (into.as_object_mut(), serde_json::to_value(own)) {
        into.insert("wharf".to_owned(), own);
    }
}

/// A time as `docker ps` prints it: `2026-12-02 03:03:56 +0000 UTC`.
fn docker_time(ms: u64) -> String {
    let text = crate::utc_text(ms);
    format!("{} {} +0000 UTC", &text[..10], &text[11..19])
}

/// A duration in Docker's words: `Less than a second`, `5 seconds`, `About a minute`,
/// `3 minutes`, `About an hour`, `2 hours`, `3 days`, `2 weeks`, `4 months`, `2 years`.
/// From an hour on, to the nearest hour, as Docker rounds them (2 h 50 min: `3 hours`).
pub fn human_duration(ms: u64) -> String {
    let seconds = ms / 1000;
    match seconds {
        0 => return "Less than a second".to_owned(),
        1 => return "1 second".to_owned(),
        2..60 => return format!("{seconds} seconds"),
        60..120 => return "About a minute".to_owned(),
        120..3600 => return format!("{} minutes", seconds / 60),
        _ => {}
    }
    let hours = (seconds + 1800) / 3600;
    match hours {
        0..2 => "About an hour".to_owned(),
        2..48 => format!("{hours} hours"),
        48..336 => format!("{} days", hours / 24),
        336..1440 => format!("{} weeks", hours / 24 / 7),
        1440..17_520 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", seconds / 3600 / 24 / 365),
    }
}

/// How long ago Docker's words say (`5 minutes`, `About an hour`), in milliseconds:
/// the least the words mean, so that `human_duration` says them again.
pub fn duration_of_words(words: &str) -> Option<u64> {
    let seconds = match words {
        "Less than a second" => 0,
        "About a minute" => 60,
        "About an hour" => 3600,
        _ => {
            let (count, unit) = words.split_once(' ')?;
            let count: u64 = count.parse().ok()?;
            let unit_seconds = match unit.trim_end_matches('s') {
                "second" => 1,
                "minute" => 60,
                "hour" => 3600,
                "day" => 86_400,
                "week" => 7 * 86_400,
                "month" => 30 * 86_400,
                "year" => 365 * 86_400,
                _ => return None,
            };
            count * unit_seconds
        }
    };
    Some(seconds * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_read_as_dockers_column_and_publishers_as_composes() {
        let port = |ip: &str, target: u16, published: u16, protocol: &str| EnginePort {
            ip: ip.into(),
            target,
            published,
            protocol: protocol.into(),
        };
        // What Compose showed for `ports: ["18080:8080", "127.0.0.1:18081:8081/udp",
        // "18090:18090", "18091:18091", "127.0.0.1:18092:18092"]` and `expose: ["9000",
        // "9001", "9003", "9001/udp", "7000"]`, the engine's list shuffled.
        let listed = vec![
            port("::", 18091, 18091, "tcp"),
            port("", 9003, 0, "tcp"),
            port("127.0.0.1", 8081, 18081, "udp"),
            port("0.0.0.0", 18090, 18090, "tcp"),
            port("", 9001, 0, "udp"),
            port("::", 8080, 18080, "tcp"),
            port("", 7000, 0, "tcp"),
            port("127.0.0.1", 18092, 18092, "tcp"),
            port("", 9001, 0, "tcp"),
            port("0.0.0.0", 8080, 18080, "tcp"),
            port("", 9000, 0, "tcp"),
            port("::", 18090, 18090, "tcp"),
            port("0.0.0.0", 18091, 18091, "tcp"),
        ];
        assert_eq!(
            displayable_ports(listed.clone()),
            "7000/tcp, 9000-9001/tcp, 9003/tcp, 9001/udp, \
             0.0.0.0:18090-18091->18090-18091/tcp, [::]:18090-18091->18090-18091/tcp, \
             127.0.0.1:18092->18092/tcp, 0.0.0.0:18080->8080/tcp, [::]:18080->8080/tcp, \
             127.0.0.1:18081->8081/udp"
        );
        let order: Vec<(String, u64)> = publishers(&listed)
            .iter()
            .map(|p| {
                (
                    p["URL"].as_str().unwrap().to_owned(),
                    p["TargetPort"].as_u64().unwrap(),
                )
            })
            .collect();
        let targets: Vec<u64> = order.iter().map(|(_, t)| *t).collect();
        assert_eq!(
            targets,
            [
                7000, 8080, 8080, 8081, 9000, 9001, 9001, 9003, 18090, 18090, 18091, 18091, 18092
            ]
        );
        assert_eq!(order[1].0, "0.0.0.0");
        assert_eq!(order[4].0, "");
    }

    #[test]
    fn durations_read_as_dockers() {
        assert_eq!(human_duration(400), "Less than a second");
        assert_eq!(human_duration(1_000), "1 second");
        assert_eq!(human_duration(45_000), "45 seconds");
        assert_eq!(human_duration(90_000), "About a minute");
        assert_eq!(human_duration(5 * 60_000), "5 minutes");
        assert_eq!(human_duration(3_700_000), "About an hour");
        assert_eq!(human_duration(5 * 3_600_000), "5 hours");
        assert_eq!(human_duration(3 * 86_400_000), "3 days");
        // Hours to the nearest, as Docker's: 89 minutes are about an hour, 2 h 50 min 3.
        assert_eq!(human_duration(89 * 60_000), "About an hour");
        assert_eq!(human_duration(90 * 60_000), "2 hours");
        assert_eq!(human_duration(170 * 60_000), "3 hours");
        assert_eq!(human_duration(47 * 3_600_000 + 40 * 60_000), "2 days");
        assert_eq!(human_duration(20 * 86_400_000), "2 weeks");
        assert_eq!(human_duration(90 * 86_400_000), "3 months");
        assert_eq!(human_duration(800 * 86_400_000), "2 years");
    }

    #[test]
    fn dockers_words_read_back_as_the_duration_they_say() {
        for words in [
            "Less than a second",
            "1 second",
            "45 seconds",
            "About a minute",
            "5 minutes",
            "About an hour",
            "5 hours",
            "3 days",
            "2 weeks",
            "4 months",
            "2 years",
        ] {
            let ms = duration_of_words(words).unwrap_or_else(|| panic!("{words}"));
            assert_eq!(human_duration(ms), words);
        }
        assert_eq!(duration_of_words("5 fortnights"), None);
        assert_eq!(duration_of_words("soon"), None);
    }

    #[test]
    fn a_containers_command_is_quoted_as_the_engine_lists_it() {
        let service = wharf_plan::ServiceSpec {
            container: Some(Box::new(wharf_plan::ContainerSpec {
                command: Some(["sh", "-c", "echo hi; sleep 1"].map(str::to_owned).to_vec()),
                ..Default::default()
            })),
            ..Default::default()
        };
        let mut line = json!({});
        with_spec_fields(&mut line, &service, 1, true);
        assert_eq!(line["Command"], "\"sh -c 'echo hi; sleep 1'\"");
        with_spec_fields(&mut line, &service, 1, false);
        assert_eq!(
            line["Command"], "\"sh -c 'echo hi; sle…\"",
            "cut as `ps` cuts it"
        );
        assert!(
            line["Labels"]
                .as_str()
                .unwrap()
                .contains("container-number=1")
        );
    }

    #[test]
    fn a_container_without_a_command_shows_its_images() {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        let mut container = wharf_plan::ContainerSpec {
            image_entrypoint: words(&["/docker-entrypoint.sh"]),
            image_command: words(&["nginx", "-g", "daemon off;"]),
            ..Default::default()
        };
        let command_of = |container: &wharf_plan::ContainerSpec| {
            let service = wharf_plan::ServiceSpec {
                container: Some(Box::new(container.clone())),
                ..Default::default()
            };
            let mut line = json!({});
            with_spec_fields(&mut line, &service, 1, true);
            line["Command"].clone()
        };
        assert_eq!(
            command_of(&container),
            "\"/docker-entrypoint.sh nginx -g 'daemon off;'\""
        );
        container.command = Some(words(&["nginx-debug"]));
        assert_eq!(
            command_of(&container),
            "\"/docker-entrypoint.sh nginx-debug\""
        );
        // An entrypoint of its own drops the image's command, as the engine does.
        container.command = None;
        container.entrypoint = Some(words(&["sleep", "9"]));
        assert_eq!(command_of(&container), "\"sleep 9\"");
    }

    #[test]
    fn a_listed_container_reads_as_docker_ps_cuts_it() {
        let listed = ListedContainer {
            image: "postgres:15".into(),
            command: "docker-entrypoint.sh postgres".into(),
            labels: vec!["a=1".into(), "b=2".into()],
            mounts: vec!["shop_database-data".into(), "/srv".into()],
            local_volumes: 1,
            networks: vec!["shop_back".into(), "shop_default".into()],
        };
        let mut line = json!({});
        with_listed_fields(&mut line, &listed, false);
        assert_eq!(line["Command"], "\"docker-entrypoint.s…\"");
        assert_eq!(line["Mounts"], "shop_database-…,/srv");
        assert_eq!(line["Labels"], "a=1,b=2");
        assert_eq!(line["Networks"], "shop_back,shop_default");
        assert_eq!(line["LocalVolumes"], "1");
        with_listed_fields(&mut line, &listed, true);
        assert_eq!(line["Command"], "\"docker-entrypoint.sh postgres\"");
        assert_eq!(line["Mounts"], "shop_database-data,/srv");
    }

    #[test]
    fn a_ps_line_has_composes_fields_and_wharfs_beside_them() {
        let instance = InstanceStatus {
            container_id: "e175510667a7ab9894176e3e97326c0c".into(),
            state: InstanceState::Running,
            health: Health::Healthy,
            ports: vec![wharf_plan::PortSpec {
                target: 80,
                published: 32772,
                host: None,
                ..Default::default()
            }],
            started_at_ms: Some(1_000),
            ..InstanceStatus::new("web", 1, "shop-web-1".into(), "docker")
        };
        let line = ps_line("shop", &instance, 121_000);
        assert_eq!(line["ID"], "e175510667a7");
        assert_eq!(line["State"], "running");
        assert_eq!(line["Status"], "Up 2 minutes (healthy)");
        assert_eq!(line["Ports"], "127.0.0.1:32772->80/tcp");
        assert_eq!(line["Publishers"][0]["PublishedPort"], 32772);
        assert_eq!(line["RunningFor"], "2 minutes ago");
        assert_eq!(line["wharf"]["backend"], "docker");
        assert_eq!(line["wharf"]["state"], "running");
        assert_eq!(line["CreatedAt"], "1970-01-01 00:00:01 +0000 UTC");
        assert_eq!(
            (&line["Networks"], &line["Size"]),
            (&json!(""), &json!("0B"))
        );

        // An exit is dated from its end, not from the start of the run.
        let stopped = InstanceStatus {
            state: InstanceState::Stopped,
            exit_code: Some(137),
            finished_at_ms: Some(119_000),
            ..instance
        };
        let line = ps_line("shop", &stopped, 121_000);
        assert_eq!(line["Status"], "Exited (137) 2 seconds ago");
        assert_eq!(line["RunningFor"], "2 minutes ago");
    }
}

//! The guarantees of docs/reliability.md, each tried the way it fails in real use:
//! the daemon killed under a stack of real servers, the file edited between `up`s, the
//! state directory taken away. Needs Debian's servers (installed by `scripts/test-all`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use support::{Stack, eventually, free_low_port, free_port};

/// Fails with what to install unless WHARF_SKIP_NATIVE_SERVICES is set (then skip).
fn have_servers() -> bool {
    let needed = [
        ("/usr/lib/postgresql", "postgresql"),
        ("/usr/bin/redis-server", "redis-server"),
        ("/usr/bin/memcached", "memcached"),
        ("/usr/sbin/nginx", "nginx"),
        ("/usr/sbin/mariadbd", "mariadb-server"),
        ("/usr/lib/rabbitmq", "rabbitmq-server"),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(p, _)| !Path::new(p).exists())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("WHARF_SKIP_NATIVE_SERVICES").is_some(),
        "these tests need Debian's {}: run scripts/test-all, or apt-get install them \
         (WHARF_SKIP_NATIVE_SERVICES=1 skips)",
        missing.join(", ")
    );
    false
}

/// One service of every recipe, each with a healthcheck.
fn every_recipe() -> String {
    let [pg, my, redis, memcached, nginx] = [(); 5].map(|()| free_port());
    let mq = free_low_port();
    format!(
        r#"name: recipes
services:
  pg:
    image: postgres:15
    environment: {{POSTGRES_USER: app, POSTGRES_PASSWORD: pw, POSTGRES_DB: app}}
    ports: ["127.0.0.1:{pg}:5432"]
    volumes: [pgdata:/var/lib/postgresql/data]
    healthcheck: {{test: ["CMD-SHELL", "pg_isready -U app -d app"], interval: 5s}}
  my:
    image: mariadb:11
    environment: {{MARIADB_ROOT_PASSWORD: r00t}}
    ports: ["127.0.0.1:{my}:3306"]
    volumes: [mydata:/var/lib/mysql]
    healthcheck: {{test: ["CMD", "mariadb-admin", "ping", "-uroot", "-pr00t"], interval: 5s}}
  redis:
    image: redis:7
    ports: ["127.0.0.1:{redis}:6379"]
    healthcheck: {{test: ["CMD", "redis-cli", "-p", "{redis}", "ping"], interval: 5s}}
  memcached:
    image: memcached:1.6
    ports: ["127.0.0.1:{memcached}:11211"]
  mq:
    image: rabbitmq:3
    environment: {{RABBITMQ_DEFAULT_USER: app, RABBITMQ_DEFAULT_PASS: pw}}
    ports: ["127.0.0.1:{mq}:5672"]
    volumes: [mqdata:/var/lib/rabbitmq]
    healthcheck: {{test: ["CMD", "rabbitmq-diagnostics", "-q", "ping"], interval: 5s, start_period: 60s}}
  front:
    image: nginx:1.25
    ports: ["127.0.0.1:{nginx}:80"]
volumes:
  pgdata:
  mydata:
  mqdata:
"#
    )
}

/// Every process descending from `root`, with its start time (so a reused pid is
/// not mistaken for a survivor).
fn descendants(root: u32) -> BTreeMap<u32, String> {
    let mut parent_of = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").unwrap().filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((_, parent, start)) = stat(pid) {
            parent_of.insert(pid, (parent, start));
        }
    }
    let mut found = BTreeMap::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, (ppid, start)) in &parent_of {
            if *ppid == parent && found.insert(*pid, start.clone()).is_none() {
                frontier.push(*pid);
            }
        }
    }
    found
}

/// (state, parent, start time) from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(String, u32, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text[text.rfind(')')? + 2..].split_whitespace().collect();
    Some((
        fields.first()?.to_string(),
        fields.get(1)?.parse().ok()?,
        fields.get(19)?.to_string(),
    ))
}

/// Of `processes`, those still alive (not exited, not a zombie) as the same process.
fn alive(processes: &BTreeMap<u32, String>) -> Vec<String> {
    processes
        .iter()
        .filter(|(pid, start)| {
            stat(**pid).is_some_and(|(state, _, now)| state != "Z" && &now == *start)
        })
        .map(|(pid, _)| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("{pid} ({})", name.trim())
        })
        .collect()
}

/// Processes carrying the marker of this stack's daemon.
fn marked(stack: &Stack) -> Vec<u32> {
    let wanted = format!(
        "WHARF_INSTANCE={}|",
        stack.home.path().join("run").display()
    );
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|e| e.starts_with(wanted.as_bytes()))
            })
        })
        .collect()
}

fn all_healthy_or_running(stack: &Stack) -> bool {
    let instances = stack.ps();
    instances.len() == 6
        && instances
            .iter()
            .all(|i| i["state"] == "running" && (i["health"] == "healthy" || i["health"] == "none"))
}

fn killing_the_daemon_leaves_nothing_and_the_next_brings_the_stack_back(cgroups: bool) {
    if !have_servers() {
        return;
    }
    let stack = Stack::new(&every_recipe());
    let with_cgroups = |mut command: std::process::Command| {
        if !cgroups {
            command.env("WHARF_CGROUPS", "off");
        }
        command
    };
    // PostgreSQL and MariaDB run as their own users: the wharf home must be reachable.
    std::fs::set_permissions(
        stack.home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    stack.ok_command(with_cgroups(stack.command(&[
        "up",
        "-d",
        "--wait",
        "--wait-timeout",
        "120",
    ])));
    let daemon = stack.daemon_pid();
    let generation = descendants(daemon);
    let users: BTreeSet<u32> = generation
        .keys()
        .filter_map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        users.len() >= 3,
        "servers run as root, postgres, mysql, rabbitmq and nobody: {users:?}"
    );
    assert!(generation.len() >= 12, "{generation:?}");

    support::kill(daemon);
    eventually(
        "every process of the killed daemon's services is gone",
        Duration::from_secs(5),
        || alive(&generation).is_empty() && marked(&stack).is_empty(),
    );

    // The next daemon (started by this command) brings the stack back, healthy.
    stack.ok_command(with_cgroups(stack.command(&["ps"])));
    let deadline = std::time::Instant::now() + Duration::from_mins(2);
    while !all_healthy_or_running(&stack) {
        assert!(
            std::time::Instant::now() < deadline,
            "the restored stack is not healthy:\n{}\n{}\n{}",
            stack.ok(&["ps", "-a"]),
            stack.ok(&["logs", "-n", "400"]),
            stack.ok(&["daemon", "logs"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let logs = stack.ok(&["daemon", "logs"]);
    assert!(
        !logs.contains("could not be ended") && !logs.contains("already in use"),
        "{logs}"
    );
}

#[test]
fn killing_the_daemon_ends_every_server_in_its_cgroups_and_the_next_restores_the_stack() {
    killing_the_daemon_leaves_nothing_and_the_next_brings_the_stack_back(true);
}

#[test]
fn killing_the_daemon_without_cgroups_ends_every_server_and_the_next_restores_the_stack() {
    killing_the_daemon_leaves_nothing_and_the_next_brings_the_stack_back(false);
}

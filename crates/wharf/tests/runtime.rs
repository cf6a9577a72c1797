//! End-to-end tests of `wharf up` and friends against real processes: a real wharfd
//! per test (its own `WHARF_HOME`), python3 HTTP servers, shell loops, signals.

mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;
use support::{Stack, bounded_output, eventually, free_port, http_get, signal};

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent has not collected it yet.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
    })
}

/// An HTTP server with a healthcheck, a dependent server, and an idle worker.
fn web_stack(api_port: u16, web_port: u16, worker_note: &str) -> String {
    format!(
        r#"name: e2e
services:
  api:
    image: python:3.12
    command: python3 -m http.server {api_port} --bind 127.0.0.1
    ports: ["127.0.0.1:{api_port}:{api_port}"]
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{api_port}/')"]
      interval: 2s
  web:
    image: python:3.12
    command: python3 -m http.server {web_port} --bind 127.0.0.1
    ports: ["127.0.0.1:{web_port}:{web_port}"]
    depends_on:
      api: {{condition: service_healthy}}
  worker:
    image: debian
    x-wharf:
      process:
        command: ["sleep", "600"]
        environment: {{NOTE: "{worker_note}"}}
"#
    )
}

#[test]
fn up_wait_runs_the_stack_healthy_and_down_stops_every_process() {
    let (api, web) = (free_port(), free_port());
    let stack = Stack::new(&web_stack(api, web, "one"));
    stack.ok(&["up", "--wait", "--wait-timeout", "30"]);
    let mode = std::fs::metadata(stack.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the control socket is the user's alone"
    );

    let instances = stack.ps();
    assert_eq!(instances.len(), 3);
    for instance in &instances {
        assert_eq!(instance["state"], "running", "{instance}");
    }
    let api_instance = instances.iter().find(|i| i["service"] == "api").unwrap();
    assert_eq!(api_instance["health"], "healthy");
    assert!(http_get(api, "localhost", "/").starts_with("HTTP/1.0 200"));
    assert!(http_get(web, "localhost", "/").starts_with("HTTP/1.0 200"));

    let pids: Vec<u32> = instances
        .iter()
        .map(|i| i["pid"].as_u64().unwrap() as u32)
        .collect();
    stack.ok(&["down"]);
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived `down`");
    }
    assert!(stack.ok(&["ps", "-q"]).trim().is_empty());
}

#[test]
fn a_second_up_recreates_only_what_changed_and_says_why() {
    let (api, web) = (free_port(), free_port());
    let stack = Stack::new(&web_stack(api, web, "one"));
    stack.ok(&["up", "--wait", "--wait-timeout", "30"]);
    let (api_pid, worker_pid) = (stack.pid_of("e2e-api-1"), stack.pid_of("e2e-worker-1"));

    stack.write(&web_stack(api, web, "two"));
    let output = stack.wharf(&["up", "--wait", "--wait-timeout", "30"]);
    assert!(output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("worker")
            && said.contains("recreated")
            && said.contains("environment (NOTE) changed"),
        "{said}"
    );
    assert!(said.contains("unchanged"), "{said}");
    assert_eq!(
        stack.pid_of("e2e-api-1"),
        api_pid,
        "an unchanged service keeps running"
    );
    assert_ne!(
        stack.pid_of("e2e-worker-1"),
        worker_pid,
        "a changed service is recreated"
    );
    assert!(!alive(worker_pid.unwrap()));
}

#[test]
fn a_killed_daemon_leaves_no_orphans_and_the_next_command_restores_the_stack() {
    let stack = Stack::new(
        r#"name: phoenix
services:
  forker:
    image: debian
    x-wharf:
      process:
        command: ["sh", "-c", "sleep 600 & echo child $! ; exec sleep 601"]
"#,
    );
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "30"]);
    let leader = stack.pid_of("phoenix-forker-1").unwrap();
    let grandchild = stack.logged_pid("child ");
    assert!(alive(grandchild));

    let daemon = stack.daemon_pid();
    support::kill(daemon);
    eventually(
        "the service dies with the daemon",
        Duration::from_secs(10),
        || !alive(leader),
    );

    // The next command starts a new daemon, which clears leftovers and restores the stack.
    eventually("the stack is back", Duration::from_secs(20), || {
        stack
            .ps()
            .first()
            .is_some_and(|i| i["state"] == "running" && i["pid"].as_u64() != Some(leader.into()))
    });
    assert!(
        !alive(grandchild),
        "a process of the old daemon's service survived"
    );
    assert_ne!(stack.daemon_pid(), daemon);
}

#[test]
fn a_crash_loop_is_visible_and_the_rest_keeps_running() {
    let stack = Stack::new(
        r#"name: loop
services:
  crasher:
    image: debian
    restart: always
    x-wharf:
      process:
        command: ["sh", "-c", "echo boom; exit 3"]
  steady:
    image: debian
    x-wharf:
      process:
        command: ["sleep", "600"]
"#,
    );
    stack.ok(&["up", "-d"]);
    let steady = loop {
        if let Some(pid) = stack.pid_of("loop-steady-1") {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    eventually(
        "the crash loop shows in ps",
        Duration::from_secs(20),
        || {
            stack
                .ps()
                .iter()
                .any(|i| i["service"] == "crasher" && i["state"] == "crash_loop")
        },
    );
    // Still retried, so `ps` lists it without -a.
    let table = stack.ok(&["ps"]);
    assert!(table.contains("crash loop"), "{table}");
    assert_eq!(stack.pid_of("loop-steady-1"), Some(steady));
    assert!(stack.ok(&["logs", "crasher"]).contains("boom"));

    // Another `up` while it waits out its backoff changes nothing: one instance, still
    // retried, never started twice at once.
    let said = String::from_utf8_lossy(&stack.wharf(&["up", "-d"]).stderr).into_owned();
    let crasher = said
        .lines()
        .find(|l| l.starts_with("crasher"))
        .unwrap_or_default();
    assert!(crasher.ends_with("unchanged"), "{said}");
    let restarts = |stack: &Stack| {
        stack
            .ps()
            .iter()
            .find(|i| i["service"] == "crasher")
            .and_then(|i| i["restarts"].as_u64())
            .unwrap_or_default()
    };
    let before = restarts(&stack);
    eventually("it is retried again", Duration::from_secs(40), || {
        restarts(&stack) > before
    });
    let logs = stack.ok(&["logs", "--notes", "crasher"]);
    assert!(!logs.contains("cannot start"), "{logs}");
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("[wharf]") || l.contains(" exited with code "))
        .collect();
    assert!(
        lines
            .windows(2)
            .all(|pair| !(pair[0].contains("started (pid") && pair[1].contains("started (pid"))),
        "never two starts in a row: {lines:#?}"
    );
}

#[test]
fn a_missing_binary_fails_with_a_clear_message() {
    let stack = Stack::new(
        r#"name: missing
services:
  ghost:
    image: debian
    x-wharf:
      process:
        command: ["wharf-test-no-such-binary", "--flag"]
"#,
    );
    let output = stack.wharf(&["up", "--wait", "--wait-timeout", "20"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("`wharf-test-no-such-binary` is not installed here (not found in PATH)"),
        "{said}"
    );
}

#[test]
fn an_image_without_a_recipe_is_refused_before_anything_starts() {
    let stack = Stack::new(
        r#"name: norecipe
services:
  fine:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  odd:
    image: example.org/mysterious:1
"#,
    );
    // No engine here: with one, the image would be the engine's to pull.
    let output = stack.wharf_without_engine(&["up", "-d"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("odd: no native recipe for image example.org/mysterious:1"),
        "{said}"
    );
    assert!(
        said.contains("x-wharf.process"),
        "the error says what to add: {said}"
    );
    assert!(
        stack.ok(&["ps", "-a", "-q"]).trim().is_empty(),
        "nothing started"
    );
}

#[test]
fn an_invalid_manifest_changes_nothing_that_runs() {
    let stack = Stack::new(
        r#"name: steady
services:
  app:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let pid = stack.pid_of("steady-app-1");
    stack.write("name: steady\nservices:\n  app:\n    image: {a: 1}\n");
    let output = stack.wharf(&["up", "-d"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("compose.yaml:4:"),
        "the error points at the file and line: {said}"
    );
    // `-p` names the project without reading the broken file.
    let after: Vec<Value> = stack
        .ok(&["-p", "steady", "ps", "--format", "json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["wharf"]["pid"].as_u64().map(|p| p as u32), pid);
}

#[test]
fn dependencies_wait_for_completion_and_health() {
    let stack = Stack::new(
        r#"name: order
services:
  migrate:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "sleep 0.3; echo migrated"]}}
  app:
    image: debian
    depends_on:
      migrate: {condition: service_completed_successfully}
    x-wharf: {process: {command: ["sh", "-c", "echo app up; exec sleep 600"]}}
"#,
    );
    stack.ok(&["up", "--wait", "--wait-timeout", "20"]);
    let logs = stack.ok(&["logs", "--no-log-prefix"]);
    let migrated = logs.find("migrated").expect("migrate ran");
    let app = logs.find("app up").expect("app ran");
    assert!(
        migrated < app,
        "app started only after migrate completed:\n{logs}"
    );
}

#[test]
fn two_ups_at_once_are_applied_one_after_the_other() {
    let stack = Stack::new(
        r#"name: race
services:
  a:
    image: debian
    deploy: {replicas: 2}
    x-wharf: {process: {command: ["sleep", "600"]}}
  b:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    // Start the daemon first, so both commands race on the same one.
    stack.ok(&["ls"]);
    let children: Vec<_> = (0..2)
        .map(|_| stack.command(&["up", "-d", "--wait"]).spawn().unwrap())
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let instances = stack.ps();
    assert_eq!(instances.len(), 3, "{instances:?}");
    assert!(instances.iter().all(|i| i["state"] == "running"));
}

#[test]
fn a_daemon_status_without_a_daemon_says_so() {
    let stack = Stack::new("services: {}\n");
    let output = stack.wharf(&["daemon", "status"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stdout).contains("not running"));
    assert!(!Path::new(&stack.socket()).exists());
}

#[test]
fn a_port_already_in_use_is_named_with_its_holder() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let stack = Stack::new(&format!(
        r#"name: clash
services:
  web:
    image: python:3.12
    command: python3 -m http.server {port} --bind 127.0.0.1
    ports: ["127.0.0.1:{port}:{port}"]
"#
    ));
    let output = stack.wharf(&["up", "--wait", "--wait-timeout", "20"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    let expected = format!("port {port} is already in use by runtime-");
    assert!(
        said.contains(&expected) && said.contains(&format!("pid {}", std::process::id())),
        "{said}"
    );
}

#[test]
fn exec_and_run_use_the_services_environment_and_return_the_exit_code() {
    let stack = Stack::new(
        r#"name: tools
services:
  db:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  app:
    image: debian
    environment:
      DB_HOST: db
      GREETING: hello
    depends_on: [db]
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    // `run` starts the dependencies, not the service itself.
    let output = stack.wharf(&["run", "app", "sh", "-c", "echo $GREETING $DB_HOST; exit 7"]);
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "hello 127.0.0.1"
    );
    // A program that is not there, or cannot run, gives a shell's codes.
    let missing = stack.wharf(&["run", "--no-deps", "app", "no-such-program"]);
    assert_eq!(missing.status.code(), Some(127), "{missing:?}");
    let unrunnable_file = stack.dir.path().join("notes.txt");
    std::fs::write(&unrunnable_file, "not a program\n").unwrap();
    std::fs::set_permissions(&unrunnable_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let unrunnable = stack.wharf(&["run", "--no-deps", "app", unrunnable_file.to_str().unwrap()]);
    assert_eq!(unrunnable.status.code(), Some(126), "{unrunnable:?}");
    let running: Vec<String> = stack
        .ps()
        .iter()
        .map(|i| i["service"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(running, ["db"]);

    let refused = stack.wharf(&["exec", "app", "true"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("service app is not running"));

    stack.ok(&["up", "-d", "--wait"]);
    let output = stack.wharf(&[
        "exec",
        "-e",
        "EXTRA=1",
        "-e",
        "NOT_IN_THIS_SHELL",
        "app",
        "sh",
        "-c",
        "echo $GREETING$EXTRA; pwd; exit 3",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.starts_with("hello1\n"), "{printed}");
    assert!(
        printed.contains(stack.dir.path().file_name().unwrap().to_str().unwrap()),
        "{printed}"
    );

    let top = stack.ok(&["top", "app"]);
    assert!(
        top.starts_with("SERVICE  #   PID")
            && top
                .lines()
                .any(|l| l.starts_with("app      1   ") && l.ends_with("sleep 600")),
        "{top}"
    );

    // A service named in the arguments is reached as from the service's own command
    // (`psql -h db -U db`): a host rewritten, a user left as written; what `echo`
    // prints is text.
    assert_eq!(stack.ok(&["exec", "-T", "app", "echo", "db"]).trim(), "db");
    let echoed = |before: &[&str], words: &[&str]| {
        let echo = ["sh", "-c", "echo \"$@\"", "sh"];
        stack
            .ok(&[before, &echo[..], words].concat())
            .trim()
            .to_owned()
    };
    assert_eq!(
        echoed(&["exec", "-T", "app"], &["-h", "db", "-U", "db"]),
        "-h 127.0.0.1 -U db"
    );
    assert_eq!(
        echoed(&["run", "--rm", "--no-deps", "-T", "app"], &["db"]),
        "127.0.0.1"
    );

    // Compose's flags, as they map natively: -u switches user (this test runs as root),
    // -T changes nothing, --entrypoint goes before the command, -w is a directory here.
    assert_eq!(
        stack
            .ok(&["exec", "-T", "-u", "nobody", "app", "id", "-un"])
            .trim(),
        "nobody"
    );
    assert_eq!(
        stack.ok(&["exec", "-T", "-w", "/tmp", "app", "pwd"]).trim(),
        "/tmp"
    );
    let elsewhere = stack.wharf(&["exec", "-T", "-w", "/no/such/dir", "app", "pwd"]);
    let said = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(
        elsewhere.status.code() == Some(1)
            && said.contains("-w /no/such/dir: not a directory on this machine"),
        "{said}"
    );
    assert_eq!(
        stack
            .ok(&[
                "run",
                "--no-deps",
                "--entrypoint",
                "echo first",
                "app",
                "second"
            ])
            .trim(),
        "first second"
    );
    std::fs::write(stack.dir.path().join("vars.env"), "FROM_FILE=yes\n").unwrap();
    let from_file = [
        "run",
        "--no-deps",
        "--env-from-file",
        "vars.env",
        "app",
        "sh",
        "-c",
        "echo $FROM_FILE",
    ];
    assert_eq!(stack.ok(&from_file).trim(), "yes");
    for (flags, said) in [
        (
            &["exec", "-d", "app", "true"][..],
            "exec -d needs a container",
        ),
        (
            &["run", "-v", "/tmp:/x", "app", "true"][..],
            "run -v needs a container",
        ),
        (
            &["run", "--cap-add", "NET_ADMIN", "app", "true"][..],
            "run --cap-add needs a container",
        ),
        (
            &["exec", "-u", "no-such-user-here", "app", "true"][..],
            "no such user",
        ),
    ] {
        let refused = stack.wharf(flags);
        assert_eq!(refused.status.code(), Some(1), "{flags:?}");
        let text = String::from_utf8_lossy(&refused.stderr);
        assert!(text.contains(said), "{flags:?}: {text}");
    }
}

#[test]
fn config_resolved_shows_what_runs_with_secrets_masked() {
    let port = free_port();
    let stack = Stack::new(&format!(
        r#"name: resolved
services:
  db:
    image: debian
    ports: ["127.0.0.1:{port}:5432"]
    x-wharf: {{process: {{command: ["sleep", "600"]}}}}
  app:
    image: python:3.12
    command: python3 app.py --db db:5432
    environment:
      DATABASE_URL: postgres://u:hunter2@db:5432/app
      API_TOKEN: abc123
"#
    ));
    let text = stack.ok(&["config", "--resolved", "--format", "json"]);
    let value: Value = serde_json::from_str(&text).unwrap();
    let app = &value["services"]["app"];
    assert_eq!(
        app["environment"]["DATABASE_URL"],
        format!("postgres://u:********@127.0.0.1:{port}/app")
    );
    assert_eq!(app["environment"]["API_TOKEN"], "********");
    assert_eq!(app["command"][3], format!("127.0.0.1:{port}"));
    assert!(!text.contains("hunter2") && !text.contains("abc123"));
    let shown = stack.ok(&["config", "--resolved", "--show-secrets"]);
    assert!(shown.contains("hunter2"));
}

#[test]
fn config_resolved_says_what_cannot_run_without_claiming_a_change() {
    let stack = Stack::new(
        "name: unresolved
services:
  odd:
    image: registry.local/nothing-like-it:1
",
    );
    // No engine here: with one, the image would be the engine's to pull and run.
    let refused = stack.wharf_without_engine(&["config", "--resolved"]);
    assert_eq!(refused.status.code(), Some(1));
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("a service cannot run as the file says:") && text.contains("odd:"),
        "{text}"
    );
    assert!(!text.contains("nothing was changed"), "{text}");
}

#[test]
fn down_while_up_is_still_starting_stops_everything() {
    let stack = Stack::new(
        r#"name: early
services:
  slow:
    image: debian
    healthcheck:
      test: ["CMD-SHELL", "test -f ready"]
      interval: 1s
    x-wharf: {process: {command: ["sh", "-c", "sleep 3; touch ready; exec sleep 600"]}}
  dependent:
    image: debian
    depends_on:
      slow: {condition: service_healthy}
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    let up = stack
        .command(&["up", "--wait", "--wait-timeout", "30"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut slow = None;
    eventually("slow has started", Duration::from_secs(10), || {
        slow = stack.pid_of("early-slow-1");
        slow.is_some()
    });
    let waiting = stack.instance_of("dependent");
    assert_eq!(waiting["state"], "waiting");
    stack.ok(&["down"]);
    assert!(!alive(slow.unwrap()));
    let waited = up.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&waited.stderr);
    assert!(
        !waited.status.success()
            && (said.contains("early was taken down (`wharf down`) while waiting")
                || said.contains("was stopped (`wharf stop` or `wharf kill`) while waiting")),
        "the waiting `up` reports that the stack went away: {said}"
    );
    assert!(stack.ok(&["ps", "-a", "-q"]).trim().is_empty());
}

#[test]
fn restarting_a_dependency_restarts_the_dependents_that_ask_for_it() {
    let stack = Stack::new(
        r#"name: chain
services:
  db:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  app:
    image: debian
    depends_on:
      db: {condition: service_started, restart: true}
      seed: {condition: service_completed_successfully}
    x-wharf: {process: {command: ["sleep", "601"]}}
  seed:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo ran >> seeded"]}}
  report:
    image: debian
    depends_on: [db]
    x-wharf: {process: {command: ["sleep", "602"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let seeded = || std::fs::read_to_string(stack.dir.path().join("seeded")).unwrap_or_default();
    assert_eq!(seeded(), "ran\n");
    let before: Vec<Option<u32>> = ["chain-db-1", "chain-app-1", "chain-report-1"]
        .iter()
        .map(|n| stack.pid_of(n))
        .collect();
    stack.ok(&["restart", "db"]);
    // As Compose's `restart`: what app depends on is left be, the seed not run again.
    assert_eq!(seeded(), "ran\n");
    stack.ok(&["up", "-d", "--wait"]);
    let after: Vec<Option<u32>> = ["chain-db-1", "chain-app-1", "chain-report-1"]
        .iter()
        .map(|n| stack.pid_of(n))
        .collect();
    assert_ne!(before[0], after[0], "db restarted");
    assert_ne!(before[1], after[1], "app asked to restart with db");
    assert_eq!(before[2], after[2], "report did not ask");
    // Restarted whatever became of what it depends on: the seed's ended instance
    // removed, app still comes back, as Compose restarts a container.
    let seeds = seeded();
    stack.ok(&["rm", "-f", "seed"]);
    stack.ok(&["restart", "app"]);
    eventually("app runs again", Duration::from_secs(5), || {
        stack
            .ps()
            .iter()
            .any(|i| i["service"] == "app" && i["state"] == "running")
    });
    assert_eq!(seeded(), seeds, "the seed not run again");
}

/// As Compose's `up -d`: a service left running still waits for a migration this `up`
/// ran again, and its failure fails the `up`.
#[test]
fn up_waits_for_a_migration_run_again_under_a_running_service() {
    let stack = Stack::new(
        r#"name: migrating
services:
  migrate:
    image: debian
    environment: {RUN: "1"}
    x-wharf: {process: {command: ["sh", "-c", "sleep 0.5; exit ${MIGRATE_EXIT:-0}"]}}
  web:
    image: debian
    depends_on:
      migrate: {condition: service_completed_successfully}
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    stack.ok(&["up", "-d"]);
    let file = stack.dir.path().join("compose.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("RUN: \"1\"", "RUN: \"2\"")).unwrap();
    stack.ok(&["up", "-d"]);
    let migrate = stack.instance_of("migrate");
    assert_eq!(
        migrate["state"], "exited",
        "ran to its end first: {migrate}"
    );
    let failed = stack
        .command(&["up", "-d"])
        .env("MIGRATE_EXIT", "4")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{said}");
    assert!(
        said.contains("dependency migrate did not complete successfully (exit code 4)"),
        "{said}"
    );
}

/// A one-off publishes nothing unless asked, as Compose's: natively, it gets a port of
/// its own, not the one the service's running instance holds.
#[test]
fn a_native_one_off_gets_a_port_of_its_own_unless_it_asks_for_the_services() {
    let port = free_port();
    let stack = Stack::new(&format!(
        r#"name: oneoffport
services:
  web:
    image: python:3.12
    command: ["sh", "-c", "exec python3 -m http.server $${{PORT}} --bind 127.0.0.1"]
    ports: ["127.0.0.1:{port}:8000"]
"#
    ));
    stack.ok(&["up", "-d", "--wait"]);
    let one_off_port = |args: &[&str]| {
        let mut all = vec!["run", "--rm", "--no-deps"];
        all.extend_from_slice(args);
        all.extend(["web", "sh", "-c", "echo $PORT"]);
        stack.ok(&all).trim().to_owned()
    };
    let own = one_off_port(&[]);
    assert!(!own.is_empty() && own != port.to_string(), "{own}");
    assert_eq!(one_off_port(&["--service-ports"]), port.to_string());
    stack.ok(&["down"]);
}

#[test]
fn attached_up_prints_prefixed_logs_and_exits_with_the_chosen_services_code() {
    let stack = Stack::new(
        r#"name: attached
services:
  job:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "sleep 0.3; echo job done; exit 5"]}}
  server:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo serving; exec sleep 600"]}}
"#,
    );
    let output = stack.wharf(&["up", "--exit-code-from", "job"]);
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    // Read as Compose's: who is shown, what each said, the end on a line of its own.
    assert!(
        printed.starts_with("Attaching to job-1, server-1\n"),
        "{printed}"
    );
    assert!(printed.contains("job-1     | job done"), "{printed}");
    assert!(printed.contains("server-1  | serving"), "{printed}");
    assert!(
        printed.contains("\njob-1 exited with code 5\n"),
        "{printed}"
    );
    let server = stack.instance_of("server");
    assert_eq!(
        server["state"], "stopped",
        "the rest of the stack was stopped"
    );
}

#[test]
fn an_attached_up_ends_when_the_project_goes_or_a_dependency_fails() {
    let stack = Stack::new(
        r#"name: goes
services:
  server:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    let attached = || {
        stack
            .command(&["up"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let stderr_of = |child: &mut std::process::Child| {
        let mut said = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
        said
    };
    let mut up = attached();
    eventually("the server runs", Duration::from_secs(10), || {
        stack.pid_of("goes-server-1").is_some()
    });
    // Taken down from another shell: the attached `up` has nothing left to follow.
    stack.ok(&["down"]);
    let done = std::time::Instant::now();
    let status = up.wait().unwrap();
    assert!(done.elapsed() < Duration::from_secs(5), "it ended at once");
    assert_eq!(status.code(), Some(0));
    let said = stderr_of(&mut up);
    assert!(said.contains("goes was taken down"), "{said}");

    // wharfd stopped under it: said so, not as a request that went unanswered.
    let mut up = attached();
    eventually("the server runs", Duration::from_secs(10), || {
        stack.pid_of("goes-server-1").is_some()
    });
    stack.ok(&["daemon", "stop"]);
    assert_eq!(up.wait().unwrap().code(), Some(1));
    let said = stderr_of(&mut up);
    assert!(
        said.contains("wharfd stopped, and the stack with it"),
        "{said}"
    );
    // So does `logs -f` whose wharfd was killed, not the broken stream.
    stack.ok(&["up", "-d"]);
    let mut follow = stack
        .command(&["logs", "-f"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    support::kill(stack.daemon_pid());
    assert_eq!(follow.wait().unwrap().code(), Some(1));
    let said = stderr_of(&mut follow);
    assert!(
        said.contains("wharfd stopped, and the stack with it"),
        "{said}"
    );
    stack.ok(&["down"]);

    // A job that fails fails the attached `up`, naming it, as Compose's.
    stack.write(
        r#"name: goes
services:
  migrate:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "exit 3"]}}
  server:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
    depends_on:
      migrate: {condition: service_completed_successfully}
"#,
    );
    let mut up = attached();
    let mut status = None;
    eventually("the attached up ended", Duration::from_secs(20), || {
        status = up.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(1));
    let said = stderr_of(&mut up);
    assert!(
        said.contains("goes-server-1 could not start: dependency migrate did not complete successfully (exit code 3)"),
        "{said}"
    );
    stack.ok(&["down"]);
}

#[test]
fn a_chain_that_cannot_start_is_blamed_where_it_began() {
    let stack = Stack::new(
        r#"name: chain
services:
  migrate:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "exit 3"]}}
  web:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    depends_on:
      migrate: {condition: service_completed_successfully}
  front:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
    depends_on:
      web: {condition: service_healthy}
"#,
    );
    let failed = stack.wharf(&["up", "-d"]);
    assert_eq!(failed.status.code(), Some(1));
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(
        said.contains(
            "chain-web-1 could not start: dependency migrate did not complete successfully (exit code 3)"
        ) && said.contains("`wharf logs --notes migrate`"),
        "{said}"
    );
    let front = stack.instance_of("front");
    assert!(
        front["message"]
            .as_str()
            .unwrap()
            .starts_with("dependency web did not start: dependency migrate"),
        "{front}"
    );
    stack.ok(&["down"]);
}

#[test]
fn up_recreating_a_dependency_restarts_the_dependents_that_ask_for_it() {
    let file = |greeting: &str| {
        format!(
            r#"name: follows
services:
  db:
    image: debian
    environment: {{GREETING: {greeting}}}
    x-wharf: {{process: {{command: ["sleep", "601"]}}}}
  worker:
    image: debian
    x-wharf: {{process: {{command: ["sleep", "602"]}}}}
    depends_on:
      db: {{condition: service_started, restart: true}}
  bystander:
    image: debian
    x-wharf: {{process: {{command: ["sleep", "603"]}}}}
    depends_on: [db]
"#
        )
    };
    let stack = Stack::new(&file("one"));
    stack.ok(&["up", "-d", "--wait"]);
    let (worker, bystander) = (
        stack.pid_of("follows-worker-1"),
        stack.pid_of("follows-bystander-1"),
    );
    stack.write(&file("two"));
    let said = stack.wharf(&["up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&said.stderr);
    assert!(
        said.contains("worker") && said.contains("restarted with db"),
        "{said}"
    );
    assert_ne!(stack.pid_of("follows-worker-1"), worker, "{said}");
    assert!(stack.pid_of("follows-worker-1").is_some());
    assert_eq!(stack.pid_of("follows-bystander-1"), bystander, "{said}");
    stack.ok(&["down"]);
}

#[test]
fn exit_code_from_a_service_the_abort_stopped_is_its_stop_code() {
    let stack = Stack::new(
        r#"name: stopcode
services:
  quick:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "sleep 0.5; exit 3"]}}
  long:
    image: debian
    x-wharf: {process: {command: ["sleep", "3600"]}}
"#,
    );
    // As Compose's: `long` was stopped by SIGTERM when `quick` ended the run.
    let output = stack.wharf(&["up", "--exit-code-from", "long"]);
    assert_eq!(output.status.code(), Some(143), "{output:?}");
    let output = stack.wharf(&["up", "--exit-code-from", "quick"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    stack.ok(&["down"]);
}

/// A service an `up --profile` started is reached by name without the profile, as
/// Compose reaches its container; one that never ran is still nothing to act on.
#[test]
fn a_profiled_service_that_runs_is_reached_without_its_profile() {
    let stack = Stack::new(
        r#"name: profiled
services:
  app:
    image: debian
    x-wharf: {process: {command: ["sleep", "3600"]}}
  debug:
    image: debian
    profiles: [debug]
    x-wharf: {process: {command: ["sleep", "3601"]}}
"#,
    );
    let state = || {
        stack
            .ok(&["ps", "-a", "--format", "{{.Service}} {{.State}}"])
            .lines()
            .find(|line| line.starts_with("debug "))
            .map(str::to_owned)
    };
    stack.ok(&["stop", "debug"]);
    assert_eq!(state(), None, "a service that never ran stays so");
    stack.ok(&["--profile", "debug", "up", "-d"]);
    assert_eq!(state().as_deref(), Some("debug running"));
    stack.ok(&["stop", "debug"]);
    assert_eq!(state().as_deref(), Some("debug exited"));
    stack.ok(&["start", "debug"]);
    assert_eq!(state().as_deref(), Some("debug running"));
    stack.ok(&["kill", "debug"]);
    assert_eq!(state().as_deref(), Some("debug exited"));
    stack.ok(&["rm", "-f", "debug"]);
    assert_eq!(state(), None);
    stack.ok(&["--profile", "debug", "up", "-d"]);
    stack.ok(&["down", "debug"]);
    assert_eq!(state(), None);
    assert!(stack.pid_of("profiled-app-1").is_some());
    stack.ok(&["down"]);
}

/// The service a CI run takes its code from never started: the run fails, as
/// Compose's does (its dependency failed to start), never passes with 0.
#[test]
fn exit_code_from_a_service_that_never_started_fails() {
    let stack = Stack::new(
        r#"name: neverran
services:
  cache:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "exit 1"]}}
  app:
    image: debian
    healthcheck: {test: ["CMD", "false"], interval: 1s}
    x-wharf: {process: {command: ["sleep", "3600"]}}
  tests:
    image: debian
    depends_on: {app: {condition: service_healthy}}
    x-wharf: {process: {command: ["true"]}}
"#,
    );
    let output = stack.wharf(&[
        "up",
        "--abort-on-container-exit",
        "--exit-code-from",
        "tests",
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("neverran-tests-1 never started"),
        "{output:?}"
    );
    stack.ok(&["down"]);
}

#[test]
fn ctrl_c_on_an_attached_up_stops_the_stack() {
    let stack = Stack::new(
        r#"name: interrupt
services:
  server:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo up; exec sleep 600"]}}
"#,
    );
    let mut up = stack
        .command(&["up"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = None;
    eventually("the server runs", Duration::from_secs(10), || {
        pid = stack.pid_of("interrupt-server-1");
        pid.is_some()
    });
    signal(up.id(), Signal::SIGINT).unwrap();
    let status = up.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!alive(pid.unwrap()), "the service was stopped");
    let mut printed = String::new();
    std::io::Read::read_to_string(&mut up.stdout.take().unwrap(), &mut printed).unwrap();
    assert!(printed.contains("server-1  | up"), "{printed}");
}

#[test]
fn a_second_ctrl_c_kills_what_ignores_its_stop_signal() {
    let stack = Stack::new(
        r#"name: stubborn
services:
  mule:
    image: debian
    stop_grace_period: 60s
    x-wharf: {process: {command: ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"]}}
"#,
    );
    let mut up = stack
        .command(&["up"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pid = None;
    eventually("the mule runs", Duration::from_secs(10), || {
        pid = stack.pid_of("stubborn-mule-1");
        pid.is_some() && stack.ok(&["logs", "--no-log-prefix"]).contains("ready")
    });
    let interrupt = || signal(up.id(), Signal::SIGINT).unwrap();
    interrupt();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        alive(pid.unwrap()),
        "SIGTERM is ignored, so the graceful stop waits"
    );
    let started = Instant::now();
    interrupt();
    assert_eq!(up.wait().unwrap().code(), Some(130));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "forced, not the 60 s grace period"
    );
    assert!(!alive(pid.unwrap()));
}

#[test]
fn processes_that_leave_the_service_group_do_not_survive_it() {
    let stack = Stack::new(
        r#"name: escape
services:
  sneaky:
    image: debian
    x-wharf:
      process:
        command: ["sh", "-c", "setsid sh -c 'echo escaped $$$$; exec sleep 600' & exec sleep 601"]
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let escaped = stack.logged_pid("escaped ");
    assert!(alive(escaped));
    stack.ok(&["down"]);
    eventually(
        "the escaped process is gone",
        Duration::from_secs(5),
        || !alive(escaped),
    );
}

#[test]
fn stop_start_kill_scale_and_down_volumes_behave_like_compose() {
    let stack = Stack::new(
        r#"name: life
services:
  worker:
    image: debian
    volumes: [store:/data]
    x-wharf: {process: {command: ["sleep", "600"]}}
volumes:
  store:
"#,
    );
    // Before any `up`: stopping what does not run is no error (a CI teardown's
    // `wharf stop`), as Compose; starting it is, with what to do.
    for action in ["stop", "restart", "kill", "pause", "unpause"] {
        stack.ok(&[action]);
    }
    let start = stack.wharf(&["start"]);
    assert_eq!(start.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&start.stderr).contains("`wharf up` creates and starts it"),
        "{start:?}"
    );
    // A service the file does not have is refused, as Compose refuses it.
    let unknown = stack.wharf(&["up", "-d", "--scale", "nosuch=2"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no such service: nosuch"),
        "{unknown:?}"
    );
    let no_number = stack.wharf(&["up", "-d", "--scale", "worker=x"]);
    assert_eq!(
        String::from_utf8_lossy(&no_number.stderr),
        "error: --scale \"worker=x\": \"x\" is not a number of replicas\n"
    );
    stack.ok(&["up", "-d", "--wait", "--scale", "worker=3"]);
    assert_eq!(stack.ok(&["ps", "-q"]).lines().count(), 3);

    stack.ok(&["stop", "worker"]);
    assert!(stack.ps().iter().all(|i| i["state"] == "stopped"));
    stack.ok(&["start", "worker"]);
    eventually("the workers run again", Duration::from_secs(10), || {
        stack
            .ps()
            .iter()
            .filter(|i| i["state"] == "running")
            .count()
            == 3
    });
    stack.ok(&["kill", "-s", "SIGTERM", "worker"]);
    eventually("the killed workers exited", Duration::from_secs(10), || {
        stack
            .ps()
            .iter()
            .all(|i| i["state"] == "exited" && i["exit_code"] == 143)
    });
    // A SIGKILL is waited for, as Docker's: `kill && rm` finds the instances ended.
    stack.ok(&["start", "worker"]);
    eventually("the workers run again", Duration::from_secs(10), || {
        stack.ps().iter().all(|i| i["state"] == "running")
    });
    stack.ok(&["kill", "worker"]);
    let states: Vec<Value> = stack.ps().iter().map(|i| i["state"].clone()).collect();
    assert!(states.iter().all(|s| s == "exited"), "{states:?}");

    // A volume's data is deleted only when confirmed; without a terminal, only with --yes.
    let volume = stack.home.path().join("data/projects/life/volumes/store");
    std::fs::write(volume.join("precious"), "data").unwrap();
    // An empty one holds nothing to lose: not asked about, deleted all the same.
    let empty = stack.home.path().join("data/projects/life/volumes/unused");
    std::fs::create_dir(&empty).unwrap();
    let refused = stack.wharf(&["down", "-v"]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--yes") && said.contains("store"), "{said}");
    assert!(!said.contains("unused"), "{said}");
    assert!(volume.join("precious").exists(), "nothing was deleted");
    assert_eq!(stack.ps().len(), 3, "nothing was stopped or forgotten");
    stack.ok(&["down", "-v", "--yes"]);
    assert!(!volume.exists() && !empty.exists());
}

#[test]
fn up_wait_outlives_another_up_recreating_its_service_and_names_a_stop() {
    let stack = Stack::new(
        "name: twice\nservices:\n  slow:\n    image: debian\n    \
         command: [sh, -c, 'sleep 1.5; touch up; exec sleep 600']\n    \
         healthcheck: {test: [CMD-SHELL, 'test -e up'], interval: 1s}\n",
    );
    // Another `up` recreates the service while this one waits: not a stop.
    let waiting = stack
        .command(&["up", "-d", "--wait", "--wait-timeout", "20"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stack.ok(&["up", "-d", "--force-recreate"]);
    let output = waiting.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && said.contains("ready in"),
        "{said}"
    );

    // `wharf stop` while it waits is one, and is named as such.
    std::fs::remove_file(stack.dir.path().join("up")).unwrap();
    let waiting = stack
        .command(&[
            "up",
            "-d",
            "--force-recreate",
            "--wait",
            "--wait-timeout",
            "20",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stack.ok(&["stop", "slow"]);
    let output = waiting.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && said.contains("twice-slow-1 was stopped (`wharf stop` or `wharf kill`)"),
        "{said}"
    );
}

#[test]
fn services_find_programs_on_the_path_of_the_up_that_started_them() {
    let stack = Stack::new(
        "name: paths\nservices:\n  first:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n",
    );
    // The daemon starts under a narrow PATH...
    let narrow = stack
        .command(&["up", "-d", "--wait"])
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        narrow.status.success(),
        "{}",
        String::from_utf8_lossy(&narrow.stderr)
    );
    // ...and a later `up` from a shell with the project's own tools on its PATH runs
    // them, and their healthchecks, from there.
    let tools = stack.dir.path().join("bin");
    std::fs::create_dir(&tools).unwrap();
    let tool = tools.join("hello-tool");
    std::fs::write(
        &tool,
        "#!/bin/sh\n[ \"$1\" = --check ] && exit 0\nexec sleep 600\n",
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    stack.write("name: paths\nservices:\n  first:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n  tool:\n    image: debian\n    x-wharf: {process: {command: [\"hello-tool\"]}}\n    healthcheck: {test: [\"CMD\", \"hello-tool\", \"--check\"], interval: 1s}\n");
    let wide = stack
        .command(&["up", "-d", "--wait", "--wait-timeout", "20"])
        .env("PATH", format!("{}:/usr/bin:/bin", tools.display()))
        .output()
        .unwrap();
    assert!(
        wide.status.success(),
        "{}",
        String::from_utf8_lossy(&wide.stderr)
    );
    let said = String::from_utf8_lossy(&wide.stderr);
    let first = said
        .lines()
        .find(|l| l.starts_with("first"))
        .unwrap_or_default();
    assert!(
        first.ends_with("unchanged"),
        "a new PATH does not recreate what runs: {said}"
    );
    assert!(
        stack
            .ps()
            .iter()
            .any(|i| i["service"] == "tool" && i["health"] == "healthy"),
        "{:?}",
        stack.ps()
    );
    stack.ok(&["down"]);
}

#[test]
fn ps_and_ls_take_composes_filters_and_print_composes_json() {
    let stack = Stack::new(
        r#"name: filters
services:
  web:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  once:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "exit 3"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait", "web"]);
    let _ = stack.wharf(&["up", "-d", "once"]);
    eventually("once exits", Duration::from_secs(10), || {
        stack
            .ps()
            .iter()
            .any(|i| i["service"] == "once" && i["state"] == "exited")
    });
    assert_eq!(stack.ok(&["ps", "--services"]), "web\n");
    assert_eq!(
        stack.ok(&["ps", "--services", "--status", "exited"]),
        "once\n"
    );
    assert_eq!(
        stack.ok(&["ps", "-q", "--filter", "status=running"]),
        "filters-web-1\n"
    );
    // A native instance's ID is its name, as `ps -q` gives it.
    assert_eq!(
        stack.ok(&["ps", "--format", "{{.ID}}", "--status", "running"]),
        "filters-web-1\n"
    );
    let bad = stack.wharf(&["ps", "--filter", "colour=red"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("status=STATE"));
    let nosuch = stack.wharf(&["ps", "nosuch"]);
    assert_eq!(nosuch.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nosuch.stderr).contains("no such service: nosuch"));
    // One object per line, Compose's fields beside wharf's.
    let lines: Vec<Value> = stack
        .ok(&["ps", "-a", "--format", "json"])
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let once = lines
        .iter()
        .find(|l| l["Service"] == "once")
        .expect("once listed");
    assert_eq!(once["State"], "exited");
    assert_eq!(once["ExitCode"], 3);
    assert_eq!(once["Name"], "filters-once-1");
    assert_eq!(once["Project"], "filters");
    assert!(
        once["Status"].as_str().unwrap().starts_with("Exited (3)"),
        "{once}"
    );
    assert_eq!(once["wharf"]["backend"], "process");
    assert_eq!(once["Command"], "\"sh -c 'exit 3'\"", "{once}");
    // Go templates over the same objects, as scripts for Compose write them.
    assert_eq!(
        stack.ok(&[
            "ps",
            "-a",
            "--format",
            "{{.Service}} {{.State}} {{.ExitCode}}"
        ]),
        "once exited 3\nweb running 0\n"
    );
    let table = stack.ok(&["ps", "--format", "table {{.Name}}\\t{{.State}}"]);
    assert_eq!(table, "NAME            STATE\nfilters-web-1   running\n");
    assert_eq!(
        stack.ok(&[
            "ps",
            "--format",
            "{{.Service}}: {{if eq .State \"running\"}}up{{else}}down{{end}} {{.Name | printf \"%.7s\"}} {{len .Publishers}}"
        ]),
        "web: up filters 0\n"
    );
    let unknown = stack.wharf(&["ps", "--format", "{{.Colour}}"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no field `Colour`"));

    // Projects a container engine has (other tests' too) are listed beside it.
    assert_eq!(
        stack.ok(&["ls", "-q", "--filter", "name=filters"]),
        "filters\n"
    );
    assert_eq!(stack.ok(&["ls", "-q", "--filter", "name=nomatch"]), "");
    // As Compose's: each name a regular expression, any of them matching.
    assert_eq!(
        stack.ok(&[
            "ls",
            "-q",
            "--filter",
            "name=^nomatch$",
            "--filter",
            "name=^fil.ers$"
        ]),
        "filters\n"
    );
    assert_eq!(stack.ok(&["ls", "-q", "--filter", "name=^ilters"]), "");
    let refused = stack.wharf(&["ls", "--filter", "name=("]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a regular expression"));
    // `table`/`pretty`/`json` in any case; text that is no template is refused, as
    // Compose refuses it, not printed once per project.
    assert_eq!(
        stack.ok(&["ls", "--format", "PRETTY", "--filter", "name=^filters$"]),
        stack.ok(&["ls", "--filter", "name=^filters$"])
    );
    let bogus = stack.wharf(&["ls", "--format", "bogus"]);
    assert_eq!(bogus.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bogus.stderr)
            .contains("format value \"bogus\" could not be parsed")
    );
    let listed = |args: &[&str]| -> Vec<Value> {
        let all: Vec<Value> = serde_json::from_str(&stack.ok(args)).unwrap();
        all.into_iter().filter(|p| p["Name"] == "filters").collect()
    };
    let projects = listed(&["ls", "--format", "json"]);
    assert_eq!(projects.len(), 1);
    // As Compose's: without -a, the running instances counted alone.
    assert_eq!(projects[0]["Status"], "running(1)");
    let all = listed(&["ls", "-a", "--format", "json"]);
    assert_eq!(all[0]["Status"], "exited(1), running(1)");
    assert!(
        projects[0]["ConfigFiles"]
            .as_str()
            .unwrap()
            .ends_with("compose.yaml")
    );
    stack.ok(&["stop", "web"]);
    assert_eq!(
        stack.ok(&["ls", "-q", "--filter", "name=filters"]),
        "",
        "a project with nothing running shows with -a only"
    );
    assert_eq!(
        stack.ok(&["ls", "-q", "-a", "--filter", "name=filters"]),
        "filters\n"
    );

    // rm: what has ended goes, after asking (no terminal here: -f answers).
    let unanswered = stack.wharf(&["rm"]);
    assert_eq!(unanswered.status.code(), Some(1));
    let said = String::from_utf8_lossy(&unanswered.stderr);
    assert!(
        said.contains("filters-once-1") && said.contains("run again with -f"),
        "{said}"
    );
    assert_eq!(stack.ps().len(), 2, "nothing removed unasked");
    stack.ok(&["rm", "-f", "once"]);
    let left: Vec<String> = stack
        .ps()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, ["filters-web-1"]);
    stack.ok(&["start", "web"]);
    stack.ok(&["rm", "-s", "-f"]);
    assert!(stack.ps().is_empty(), "-s stops, then removes");
    // `down` names what it stopped, not a service `rm` took away before.
    stack.ok(&["up", "-d", "--wait", "web"]);
    let _ = stack.wharf(&["up", "-d", "once"]);
    stack.ok(&["rm", "-s", "-f", "once"]);
    let down = stack.wharf(&["down"]);
    let said = String::from_utf8_lossy(&down.stderr);
    assert!(
        said.contains("web        stopped") && !said.contains("once"),
        "{said}"
    );

    // A bare `wharf` is help, on stdout, exit 0.
    let bare = stack.wharf(&[]);
    assert_eq!(bare.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&bare.stdout).contains("Usage: wharf"));
}

#[test]
fn stop_restart_and_down_take_a_timeout_before_the_kill() {
    let stack = Stack::new(
        r#"name: patience
services:
  stubborn:
    image: debian
    stop_grace_period: 60s
    x-wharf: {process: {command: ["sh", "-c", "trap '' TERM; sleep 600"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    for verb in [
        &["stop", "-t", "1"][..],
        &["restart", "--timeout", "1"],
        &["down", "-t", "1"],
    ] {
        let asked = std::time::Instant::now();
        stack.ok(verb);
        assert!(
            asked.elapsed() < Duration::from_secs(8),
            "{verb:?} waited {:?}, not the 60 s grace period",
            asked.elapsed()
        );
    }
    assert!(stack.ps().is_empty());
}

#[test]
fn logs_stats_port_restart_and_version_take_composes_flags() {
    let port = free_port();
    let stack = Stack::new(&format!(
        r#"name: flagged
services:
  db:
    image: debian
    volumes: [data:/var/lib/data]
    x-wharf: {{process: {{command: ["sleep", "600"]}}}}
  web:
    image: debian
    scale: 2
    depends_on: {{db: {{condition: service_started, restart: true}}}}
    x-wharf: {{process: {{command: ["sh", "-c", "echo web; sleep 600"]}}}}
  api:
    image: python:3.12
    command: python3 -m http.server {port} --bind 127.0.0.1
    ports: ["127.0.0.1:{port}:{port}"]
volumes:
  data: {{}}
"#
    ));
    stack.ok(&["up", "-d", "--wait"]);
    // A native volume is a directory of the project's, named as the engine would name
    // it, as Compose lists it.
    let project = stack.compose_ps()[0]["Project"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(stack.ok(&["volumes", "-q"]), format!("{project}_data\n"));
    assert_eq!(stack.ok(&["volumes", "-q", "web"]), "");
    let table = stack.ok(&["volumes", "db"]);
    assert!(
        table.starts_with("DRIVER") && table.contains("volumes/data"),
        "{table}"
    );
    eventually("both replicas said so", Duration::from_secs(10), || {
        stack
            .ok(&["logs", "--no-log-prefix", "web"])
            .matches("web")
            .count()
            >= 2
    });
    // The prefix column is as wide as the longest instance's name and a space from the
    // first line (db-1's start is noted before web-1 says anything), as Compose's.
    let all = stack.ok(&["logs", "--notes"]);
    let columns: std::collections::BTreeSet<Option<usize>> =
        all.lines().map(|line| line.find(" | ")).collect();
    assert_eq!(columns.len(), 1, "{all}");
    assert!(all.contains("db-1   | "), "{all}");
    // -t: each line stamped as Docker stamps it, an RFC 3339 time in UTC.
    let stamped = stack.ok(&["logs", "-t", "--no-log-prefix", "web"]);
    let first = stamped.lines().next().unwrap_or_default();
    let stamp = first.split(' ').next().unwrap_or_default();
    assert!(
        wharf_api::rfc3339_ms(stamp).is_some() && stamp.len() == 24 && stamp.ends_with('Z'),
        "{stamped}"
    );
    // --index: one instance; --until: nothing after it; --since an RFC 3339 time.
    let second = stack.ok(&["logs", "--index", "2", "web"]);
    assert!(
        second.contains("web-2") && !second.contains("web-1"),
        "{second}"
    );
    let unselected = stack.wharf(&["logs", "--index", "2"]);
    assert_eq!(unselected.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unselected.stderr)
            .contains("--index requires one service to be selected")
    );
    assert_eq!(stack.ok(&["logs", "--until", "1970-01-02T00:00:00Z"]), "");
    assert!(
        stack
            .ok(&["logs", "--since", "2000-01-01T00:00:00Z", "web"])
            .contains("web")
    );
    // --ansi (or COMPOSE_ANSI) decides colour, whatever the terminal.
    assert!(
        stack
            .ok(&["--ansi", "always", "logs", "web"])
            .contains("\x1b[")
    );
    let plain = stack
        .command(&["logs", "web"])
        .env("COMPOSE_ANSI", "never")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\x1b'));
    // --progress quiet (or COMPOSE_PROGRESS) says nothing of what happens.
    let quiet = stack
        .command(&["up", "-d"])
        .env("COMPOSE_PROGRESS", "quiet")
        .output()
        .unwrap();
    assert!(
        quiet.status.success() && quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert!(stack.ok(&["logs", "-n", "all", "web"]).contains("web"));
    for (args, said) in [
        (
            &["logs", "--index", "9", "web"][..],
            "service web has no instance 9",
        ),
        (&["top", "nosuch"][..], "no such service: nosuch"),
        // A file named with `-f` that is not there, even with `-p`.
        (
            &["-p", "flagged", "-f", "/nonexistent/x.yaml", "ps"][..],
            "cannot read /nonexistent/x.yaml: no such file or directory",
        ),
        (
            &["stats", "--no-stream", "nosuch"][..],
            "no such service: nosuch",
        ),
        (
            &["port", "--index", "3", "web", "80"][..],
            "web has no instance 3: it has 2",
        ),
    ] {
        let refused = stack.wharf(args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains(said),
            "{args:?}: {}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    let bad = stack.wharf(&["logs", "--until", "someday"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--until \"someday\""));

    let sample = stack.ok(&["stats", "--no-stream", "--format", "json"]);
    let lines: Vec<Value> = sample
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{sample}");
    assert!(
        lines
            .iter()
            .all(|l| l["Name"].is_string() && l["wharf"]["backend"] == "process")
    );
    // A template over the same objects, headed as `docker stats` heads its columns.
    let table = stack.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "table {{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.PIDs}}",
    ]);
    let mut rows = table.lines();
    assert_eq!(
        rows.next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        "NAME CPU % MEM USAGE / LIMIT PIDS"
    );
    assert_eq!(rows.count(), 4, "{table}");
    // An empty format is the default, as Docker's.
    assert_eq!(
        stack.ok(&["ps", "--format", ""]).lines().next(),
        stack.ok(&["ps"]).lines().next()
    );

    let published = stack.ok(&["port", "--protocol", "tcp", "api", &port.to_string()]);
    assert_eq!(published.trim(), format!("127.0.0.1:{port}"));
    let udp = stack.wharf(&["port", "--protocol", "udp", "api", &port.to_string()]);
    assert!(
        String::from_utf8_lossy(&udp.stderr).contains(&format!("publishes no udp port {port}"))
    );

    // restart --no-deps leaves the dependents that ask to follow alone.
    let web_pid = stack.pid_of("flagged-web-1");
    stack.ok(&["restart", "--no-deps", "db"]);
    assert_eq!(stack.pid_of("flagged-web-1"), web_pid);
    stack.ok(&["restart", "db"]);
    eventually("web followed db", Duration::from_secs(10), || {
        let now = stack.pid_of("flagged-web-1");
        now.is_some() && now != web_pid
    });

    assert_eq!(
        stack.ok(&["version", "--short"]).trim(),
        env!("CARGO_PKG_VERSION")
    );
    let version: Value = serde_json::from_str(&stack.ok(&["version", "-f", "json"])).unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    // `-v` alone, as `docker compose -v`: the version.
    assert_eq!(
        stack.ok(&["-v"]),
        format!("wharf {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_attached_up_shows_the_logs_asked_for_and_aborts_on_a_failure() {
    let stack = Stack::new(
        r#"name: attach
services:
  steady:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo steady-line; sleep 600"]}}
  chatty:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo chatty-line; sleep 600"]}}
  flaky:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo flaky-line; sleep 1; exit 2"]}}
"#,
    );
    let output = stack
        .command(&[
            "up",
            "--abort-on-container-failure",
            "--no-log-prefix",
            "--no-attach",
            "chatty",
            "--timeout",
            "1",
        ])
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(2),
        "the failed service's code: {printed}"
    );
    assert!(
        printed.lines().any(|l| l == "steady-line"),
        "no prefix: {printed}"
    );
    assert!(printed.contains("flaky-line"), "{printed}");
    assert!(
        !printed.contains("chatty-line"),
        "--no-attach hides it: {printed}"
    );
    assert!(
        stack.ps().iter().all(|i| i["state"] != "running"),
        "everything stopped"
    );
}

#[test]
fn wait_blocks_until_services_end_and_events_follow_what_happens() {
    let stack = Stack::new(
        r#"name: waiting
services:
  first:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "sleep 0.3; exit 3"]}}
  second:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "sleep 0.8; exit 4"]}}
  web:
    image: debian
    volumes: [".:/app", "./conf:/conf:ro"]
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    std::fs::create_dir(stack.dir.path().join("conf")).unwrap();
    stack.ok(&["up", "-d"]);
    let waited = stack.wharf(&["wait", "first", "second"]);
    let said = String::from_utf8_lossy(&waited.stdout);
    assert_eq!(waited.status.code(), Some(4), "the last one's code: {said}");
    assert_eq!(
        said,
        "container \"waiting-first-1\" exited with status code 3\ncontainer \"waiting-second-1\" exited with status code 4\n"
    );
    let nosuch = stack.wharf(&["wait", "nosuch"]);
    assert_eq!(nosuch.status.code(), Some(1));

    // events: what happens from now on, as text and as JSON.
    let mut follower = stack
        .command(&["events", "--json", "web"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = stack
        .command(&["events"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stack.ok(&["stop", "web"]);
    std::thread::sleep(Duration::from_millis(500));
    for child in [&mut follower, &mut text] {
        let _ = child.kill();
    }
    let json = String::from_utf8_lossy(&follower.wait_with_output().unwrap().stdout).into_owned();
    let events: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Compose's actions for a stop, each with the event as wharfd sent it.
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "container" && e["service"] == "web")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["kill", "die", "stop"], "{json}");
    assert!(
        events.iter().any(|e| e["action"] == "stop"
            && e["id"] == "waiting-web-1"
            && e["attributes"]["name"] == "waiting-web-1"
            && e["wharf"]["instance"]["state"] == "stopped"),
        "{json}"
    );
    assert!(
        events.iter().all(|e| e["wharf"]["seq"].as_u64() > Some(0)),
        "no snapshot: {json}"
    );
    let lines = String::from_utf8_lossy(&text.wait_with_output().unwrap().stdout).into_owned();
    assert!(lines.contains("project waiting stop web"), "{lines}");
    assert!(lines.contains("instance waiting-web-1 stopped"), "{lines}");

    // --until: it stops by itself when the time comes, events or not.
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let asked = std::time::Instant::now();
    let ended = stack.wharf(&["events", "--until", &soon.to_string()]);
    assert!(ended.status.success());
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    // A native service has no file system of its own to export or commit; cp copies
    // to and from its working directory.
    stack.ok(&["start", "web"]);
    std::fs::write(stack.dir.path().join("local.txt"), "from here").unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let copied = elsewhere.path().join("copied.txt");
    stack.ok(&["cp", "web:local.txt", copied.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&copied).unwrap(), "from here");
    stack.ok(&["cp", copied.to_str().unwrap(), "web:back.txt"]);
    assert_eq!(
        std::fs::read_to_string(stack.dir.path().join("back.txt")).unwrap(),
        "from here"
    );
    // A container path is the file behind the mount that holds it; one no mount
    // holds, and this machine lacks, is said with the mounts.
    std::fs::remove_file(&copied).unwrap();
    stack.ok(&["cp", "web:/app/local.txt", copied.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&copied).unwrap(), "from here");
    stack.ok(&["cp", copied.to_str().unwrap(), "web:/app/in-app.txt"]);
    assert!(stack.dir.path().join("in-app.txt").exists());
    let refused = stack.wharf(&["cp", copied.to_str().unwrap(), "web:/conf/x.txt"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        refused.status.code() == Some(1) && said.contains("web mounts it read-only"),
        "{said}"
    );
    assert!(!stack.dir.path().join("conf/x.txt").exists());
    // `exec -w` maps a container path through the mounts too.
    let pwd = stack.ok(&["exec", "-T", "-w", "/conf", "web", "pwd"]);
    assert_eq!(Path::new(pwd.trim()), stack.dir.path().join("conf"));
    let missing = stack.wharf(&["cp", "web:/srv/nothing-here.txt", "x.txt"]);
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        said.contains("/srv/nothing-here.txt: no such file here; natively web sees this machine's files and its mounts: /app is "),
        "{said}"
    );
    let refused = stack.wharf(&["export", "-o", "web.tar", "web"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("export needs a container, and waiting-web-1 runs natively"),
        "{said}"
    );
    assert!(!stack.dir.path().join("web.tar").exists());
}

#[test]
fn up_no_recreate_leaves_a_changed_service_running_until_a_plain_up() {
    let file = |greeting: &str| {
        format!(
            "name: keep\nservices:\n  app:\n    image: debian\n    environment: {{GREETING: {greeting}}}\n    x-wharf: {{process: {{command: [\"sleep\", \"600\"]}}}}\n"
        )
    };
    let stack = Stack::new(&file("hello"));
    stack.ok(&["up", "-d", "--wait"]);
    let pid = stack.pid_of("keep-app-1");
    std::fs::write(stack.dir.path().join("compose.yaml"), file("bonjour")).unwrap();
    let said = stack.ok(&["up", "-d", "--wait", "--no-recreate"]);
    assert_eq!(stack.pid_of("keep-app-1"), pid, "kept: {said}");
    stack.ok(&["up", "-d", "--wait"]);
    assert_ne!(stack.pid_of("keep-app-1"), pid, "a plain up recreates it");
    let conflict = stack.wharf(&["up", "-d", "--no-recreate", "--force-recreate"]);
    assert_eq!(
        conflict.status.code(),
        Some(1),
        "a usage error, as Compose's"
    );
    let unknown = stack.wharf(&["ps", "--no-such-flag"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--no-such-flag"));
    let help = stack.wharf(&["ps", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--status"));
}

#[test]
fn run_waits_for_each_dependency_s_condition_as_compose_s_run_does() {
    let stack = Stack::new(
        r#"name: jobs
services:
  migrate:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "echo migrating; sleep 0.3; test -e migrated"]}}
  app:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
    depends_on:
      migrate: {condition: service_completed_successfully}
"#,
    );
    // The job fails: the one-off does not run, even with the job's exit already
    // known from an earlier `up` (it is run again, as Compose's `run` does).
    assert!(!stack.wharf(&["up", "-d", "app"]).status.success());
    // The one that never ran is `created`, as Compose's container of it.
    let states: Vec<(String, String)> = stack
        .compose_ps()
        .iter()
        .map(|l| {
            (
                l["Service"].as_str().unwrap().to_owned(),
                l["State"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("app".to_owned(), "created".to_owned()),
            ("migrate".to_owned(), "exited".to_owned())
        ]
    );
    assert!(
        stack.ok(&["ls", "-a"]).contains("created(1), exited(1)"),
        "{}",
        stack.ok(&["ls", "-a"])
    );
    for _ in 0..2 {
        let refused = stack.wharf(&["run", "--rm", "-T", "app", "echo", "ran"]);
        assert_eq!(refused.status.code(), Some(1));
        assert_eq!(String::from_utf8_lossy(&refused.stdout), "");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(
            said.contains("dependency migrate did not complete successfully (exit code 1)"),
            "{said}"
        );
    }
    // Fixed outside the file: the job is run again and this time the one-off runs.
    std::fs::write(stack.dir.path().join("migrated"), "").unwrap();
    assert_eq!(
        stack.ok(&["run", "--rm", "-T", "app", "echo", "ran"]),
        "ran\n"
    );
    stack.ok(&["down"]);
}

#[test]
fn naming_a_service_whose_profile_is_off_enables_it_as_compose_does() {
    let stack = Stack::new(
        r#"name: profiled
services:
  web:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  side:
    image: debian
    profiles: [extra]
    x-wharf: {process: {command: ["sleep", "601"]}}
  migrate:
    image: debian
    profiles: [tools]
    x-wharf: {process: {command: ["echo", "migrated"]}}
    depends_on: [web]
"#,
    );
    // `run` of a tools profile's job: it runs, after what it depends on.
    assert_eq!(stack.ok(&["run", "--rm", "-T", "migrate"]), "migrated\n");
    stack.ok(&["up", "-d", "--wait", "side"]);
    let running: Vec<Value> = stack.ps();
    let mut services: Vec<&str> = running
        .iter()
        .map(|i| i["service"].as_str().unwrap())
        .collect();
    services.sort_unstable();
    assert_eq!(services, ["side", "web"]);
    // A plain `up` leaves it be, as Compose's: off, but not an orphan.
    stack.ok(&["up", "-d", "--wait"]);
    assert_eq!(stack.ps().len(), 2);
    stack.ok(&["down"]);
}

#[test]
fn up_of_one_service_leaves_the_others_as_they_run() {
    let file = |seconds: u32| {
        format!(
            "name: single\nservices:\n  app:\n    image: debian\n    x-wharf: {{process: {{command: [\"sleep\", \"600\"]}}}}\n  other:\n    image: debian\n    x-wharf: {{process: {{command: [\"sleep\", \"{seconds}\"]}}}}\n"
        )
    };
    let stack = Stack::new(&file(601));
    stack.ok(&["up", "-d", "--wait"]);
    let other = stack.pid_of("single-other-1");
    // As Compose's `up app`: `other` changed in the file, but it was not named.
    stack.write(&file(602));
    let said = stack.ok(&["up", "-d", "--wait", "app"]);
    assert_eq!(stack.pid_of("single-other-1"), other, "{said}");
    stack.ok(&["up", "-d", "--wait"]);
    assert_ne!(
        stack.pid_of("single-other-1"),
        other,
        "a plain up recreates it"
    );
    // `down SERVICE`, as Compose's: that one goes, the other runs on; the project
    // goes with its last service.
    let other = stack.pid_of("single-other-1");
    stack.ok(&["down", "app"]);
    let left: Vec<Value> = stack.ps();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["service"], "other");
    assert_eq!(stack.pid_of("single-other-1"), other);
    let refused = stack.wharf(&["down", "nosuch"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no such service: nosuch"));
    stack.ok(&["down", "other"]);
    assert_eq!(stack.ok(&["ls", "-q", "--filter", "name=single"]), "");
}

#[test]
fn a_service_whose_profile_is_off_does_not_stop_the_others_for_what_it_would_need() {
    let stack = Stack::new(
        "name: offstage\nservices:\n  app:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n  extra:\n    image: example/unknown-thing:1\n    profiles: [extra]\n",
    );
    stack.ok(&["up", "-d", "--wait"]);
    // Asked for, it says what it needs.
    let asked = stack.wharf_without_engine(&["--profile", "extra", "up", "-d"]);
    assert!(String::from_utf8_lossy(&asked.stderr).contains("extra: no native recipe"));
    assert_eq!(stack.ps().len(), 1);
    // Named, it runs nowhere: nothing to start, stop or signal (exit 0, as Compose's),
    // not running for `exec`; an unknown name is still an error.
    for command in [
        &["stop", "extra"][..],
        &["kill", "extra"],
        &["restart", "extra"],
        &["pause", "extra"],
        &["rm", "-f", "-s", "extra"],
        &["down", "extra"],
        &["stop", "app", "extra"],
    ] {
        stack.ok(command);
    }
    let exec = stack.wharf(&["exec", "-T", "extra", "true"]);
    assert_eq!(exec.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&exec.stderr).contains("service extra is not running"),
        "{exec:?}"
    );
    stack.ok(&["start", "extra"]);
    assert_eq!(stack.wharf(&["stop", "nosuch"]).status.code(), Some(1));
    assert_eq!(
        stack.ps()[0]["state"],
        "stopped",
        "app was stopped with extra"
    );
}

#[test]
fn service_names_complete_in_bash_and_each_command_has_a_man_page() {
    let stack = Stack::new(
        "name: completes\nservices:\n  web:\n    image: debian\n  worker:\n    image: debian\n  db:\n    image: debian\n",
    );
    let wharf = std::path::Path::new(env!("CARGO_BIN_EXE_wharf"));
    let script = stack.ok(&["completion", "bash"]);
    std::fs::write(stack.dir.path().join("wharf.bash"), script).unwrap();
    let complete = |line: &str| {
        let program = format!(
            "source ./wharf.bash; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; read -ra COMP_WORDS <<< \"$COMP_LINE\"; [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _wharf_services wharf \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let output = std::process::Command::new("bash")
            .args(["-c", &program])
            .current_dir(stack.dir.path())
            .env("WHARF_HOME", stack.home.path())
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", wharf.parent().unwrap().display()),
            )
            .output()
            .expect("bash");
        let mut words: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        words.sort();
        words.dedup();
        words
    };
    assert_eq!(complete("wharf logs w"), ["web", "worker"]);
    assert_eq!(complete("wharf restart -t 3 d"), ["db"]);
    assert!(
        !complete("wharf config ").contains(&"web".to_owned()),
        "config takes no services"
    );

    let page = stack.ok(&["man", "logs"]);
    assert!(
        page.contains(".TH wharf-logs 1") && page.contains("until"),
        "{page}"
    );
    let unknown = stack.wharf(&["man", "nosuch"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no such command: nosuch"));
}

#[test]
fn ps_orphans_false_leaves_out_services_the_file_no_longer_has() {
    let file = |extra: bool| {
        let mut text = "name: orphans\nservices:\n  app:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n".to_owned();
        if extra {
            text.push_str("  old:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n");
        }
        text
    };
    let stack = Stack::new(&file(true));
    stack.ok(&["up", "-d", "--wait"]);
    std::fs::write(stack.dir.path().join("compose.yaml"), file(false)).unwrap();
    assert_eq!(stack.ok(&["ps", "--services"]), "app\nold\n");
    assert_eq!(stack.ok(&["ps", "--services", "--orphans=false"]), "app\n");
    assert_eq!(stack.ok(&["ps", "--services", "--orphans"]), "app\nold\n");
}

#[test]
fn up_leaves_what_another_file_of_the_project_runs_unless_asked_to_remove_orphans() {
    let service = |name: &str| {
        format!(
            "name: split\nservices:\n  {name}:\n    image: debian\n    x-wharf: {{process: {{command: [\"sleep\", \"600\"]}}}}\n"
        )
    };
    let stack = Stack::new(&service("db"));
    std::fs::write(stack.dir.path().join("app.yaml"), service("app")).unwrap();
    stack.ok(&["up", "-d", "--wait"]);
    let db = stack.pid_of("split-db-1").expect("db runs");

    let app = stack.wharf(&["-f", "app.yaml", "up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&app.stderr);
    assert!(app.status.success(), "{said}");
    assert!(
        said.contains("db is in this project but not in the file: left as it is (`up --remove-orphans` removes it)"),
        "{said}"
    );
    assert_eq!(
        stack.pid_of("split-db-1"),
        Some(db),
        "db runs on, untouched"
    );
    assert_eq!(
        stack.ok(&["-f", "app.yaml", "ps", "--services"]),
        "app\ndb\n"
    );

    let mut quiet = stack.command(&["-f", "app.yaml", "up", "-d"]);
    quiet.env("COMPOSE_IGNORE_ORPHANS", "True");
    let output = bounded_output(&mut quiet);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !said.contains("not in the file"),
        "{said}"
    );
    assert_eq!(stack.pid_of("split-db-1"), Some(db));

    let mut both = stack.command(&["-f", "app.yaml", "up", "-d", "--remove-orphans"]);
    both.env("COMPOSE_IGNORE_ORPHANS", "1");
    let output = bounded_output(&mut both);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() == Some(1)
            && said.contains("COMPOSE_IGNORE_ORPHANS and --remove-orphans"),
        "{said}"
    );
    assert_eq!(
        stack.pid_of("split-db-1"),
        Some(db),
        "refused, nothing changed"
    );

    let removed = stack.wharf(&["-f", "app.yaml", "up", "-d", "--remove-orphans"]);
    let said = String::from_utf8_lossy(&removed.stderr);
    assert!(
        removed.status.success() && said.contains("no longer in the project"),
        "{said}"
    );
    eventually("db to stop", Duration::from_secs(10), || !alive(db));
    assert_eq!(stack.ok(&["-f", "app.yaml", "ps", "--services"]), "app\n");
}

#[test]
fn up_wait_fails_on_a_service_that_ends_unless_another_waits_for_its_completion() {
    let file = |depended_on: bool| {
        let mut text = "name: oneshot\nservices:\n  once:\n    image: debian\n    x-wharf: {process: {command: [\"true\"]}}\n  app:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n".to_owned();
        if depended_on {
            text.push_str("    depends_on: {once: {condition: service_completed_successfully}}\n");
        }
        text
    };
    let stack = Stack::new(&file(false));
    let alone = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "20"]);
    let said = String::from_utf8_lossy(&alone.stderr);
    assert_eq!(alone.status.code(), Some(1), "{said}");
    assert!(
        said.contains("oneshot-once-1 failed: exited (0)")
            && said.contains("service_completed_successfully"),
        "{said}"
    );
    stack.write(&file(true));
    // A timeout of 0 waits as long as it takes, as Compose's.
    let awaited = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "0"]);
    let said = String::from_utf8_lossy(&awaited.stderr);
    assert!(
        awaited.status.success() && said.contains("ready in"),
        "{said}"
    );
}

#[test]
fn logs_after_down_show_the_last_run_and_after_the_next_up_only_its_own() {
    let stack = Stack::new(
        "name: relogs\nservices:\n  app:\n    image: debian\n    x-wharf: {process: {command: [\"sh\", \"-c\", \"echo app-began; exec sleep 600\"]}}\n",
    );
    let began = |stack: &Stack| {
        let logs = stack.ok(&["logs", "--no-log-prefix", "app"]);
        logs.lines().filter(|line| *line == "app-began").count()
    };
    stack.ok(&["up", "-d", "--wait"]);
    eventually("the first line", Duration::from_secs(10), || {
        began(&stack) == 1
    });
    stack.ok(&["down"]);
    assert_eq!(
        began(&stack),
        1,
        "a project that is down keeps its last logs"
    );
    stack.ok(&["up", "-d", "--wait"]);
    eventually("the new run's line", Duration::from_secs(10), || {
        began(&stack) == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        began(&stack),
        1,
        "only this run's, as Compose's new containers have"
    );
    stack.ok(&["restart", "app"]);
    eventually("a restart's line", Duration::from_secs(10), || {
        began(&stack) == 2
    });
}

#[test]
fn lifecycle_hooks_run_beside_the_process_and_a_failing_post_start_fails_up() {
    let stack = Stack::new(
        r#"name: hooked
services:
  db:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "exec sleep 600"]}}
    post_start:
      - command: sh -c 'echo "seeded by $$WHO" > seeded.txt; echo seeding done'
        environment: {WHO: post_start}
      - command: sh -c 'sleep 3603 >/dev/null 2>&1 &'
    pre_stop:
      - command: ["sh", "-c", "echo drained > drained.txt"]
  app:
    image: debian
    depends_on: [db]
    x-wharf: {process: {command: ["sh", "-c", "cat seeded.txt; exec sleep 600"]}}
"#,
    );
    stack.ok(&["up", "--wait", "--wait-timeout", "20"]);
    let dir = stack.dir.path();
    assert_eq!(
        std::fs::read_to_string(dir.join("seeded.txt")).unwrap(),
        "seeded by post_start\n"
    );
    // The dependent started only once the hook was done: it read what the hook wrote.
    eventually("app printed the seed", Duration::from_secs(5), || {
        stack.ok(&["logs", "app"]).contains("seeded by post_start")
    });
    let logs = stack.ok(&["logs", "--notes", "db"]);
    assert!(logs.contains("post_start: running `sh -c 'echo"), "{logs}");
    assert!(logs.contains("post_start: seeding done"), "{logs}");
    assert!(!dir.join("drained.txt").exists());
    let left = || {
        std::process::Command::new("pgrep")
            .args(["-f", "sleep 3603"])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        left(),
        "the hook's background process runs while the service does"
    );
    stack.ok(&["stop", "db"]);
    assert_eq!(
        std::fs::read_to_string(dir.join("drained.txt")).unwrap(),
        "drained\n"
    );
    // What a hook left running is the service's, and ends with it.
    eventually(
        "the hook's leftover ends with its service",
        Duration::from_secs(5),
        || !left(),
    );
    stack.ok(&["down"]);

    stack.write(
        r#"name: hooked
services:
  broken:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
    post_start:
      - command: ["sh", "-c", "echo cannot seed; exit 3"]
"#,
    );
    let up = stack.wharf(&["up", "--wait", "--wait-timeout", "20"]);
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(!up.status.success(), "{said}");
    assert!(
        said.contains("post_start `sh -c 'echo cannot seed; exit 3'` exited with code 3"),
        "{said}"
    );
    assert!(
        stack
            .ok(&["logs", "--notes", "broken"])
            .contains("post_start: cannot seed")
    );
    let ps = stack.ps();
    assert_eq!(ps[0]["state"], "exited", "{ps:?}");
    assert_eq!(ps[0]["exit_code"], 3, "the hook's code: {ps:?}");
    assert!(ps[0]["pid"].is_null(), "its process was stopped: {ps:?}");
    stack.ok(&["down"]);
    let attached = stack.wharf(&["up"]);
    assert_eq!(
        attached.status.code(),
        Some(1),
        "an attached up fails with it, as Compose's"
    );
    stack.ok(&["down"]);
}

#[test]
fn a_hung_post_start_gives_way_to_kill() {
    let stack = Stack::new(
        r#"name: hung
services:
  app:
    image: debian
    x-wharf: {process: {command: ["sleep", "3605"]}}
    post_start:
      - command: sh -c 'echo before the hang; sleep 3604'
"#,
    );
    let up = stack
        .command(&["up", "-d"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Asked until the `up` in the background has made the project known.
    eventually("the hook runs", Duration::from_secs(10), || {
        let logs = stack.wharf(&["logs", "--notes", "app"]);
        String::from_utf8_lossy(&logs.stdout).contains("post_start: before the hang")
    });
    stack.ok(&["kill", "app"]);
    let up = up.wait_with_output().unwrap();
    assert_eq!(
        up.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let ps = stack.ps();
    assert_eq!(ps[0]["state"], "exited", "{ps:?}");
    assert_eq!(ps[0]["exit_code"], 137, "{ps:?}");
    let running = |pattern: &str| {
        std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap()
            .status
            .success()
    };
    eventually("nothing of it is left", Duration::from_secs(5), || {
        !running("sleep 3604") && !running("sleep 3605")
    });
    stack.ok(&["down"]);
}

#[test]
fn pause_freezes_a_service_and_unpause_thaws_it() {
    let stack = Stack::new(
        r#"name: frozen
services:
  ticker:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "while true; do date +%s%N > tick; sleep 0.05; done"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let tick = || std::fs::read_to_string(stack.dir.path().join("tick")).unwrap_or_default();
    eventually("it ticks", Duration::from_secs(5), || !tick().is_empty());
    // As the engine answers Compose: what is not paused cannot be unpaused.
    let refused = stack.wharf(&["unpause"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("frozen-ticker-1 is not paused"),
        "{refused:?}"
    );
    stack.ok(&["pause", "ticker"]);
    let json = stack.compose_ps().remove(0);
    assert_eq!(json["State"], "paused", "{json}");
    let again = stack.wharf(&["pause", "ticker"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("frozen-ticker-1 is already paused"),
        "{again:?}"
    );
    assert_eq!(
        stack.compose_ps().remove(0)["State"],
        "paused",
        "still paused"
    );
    assert!(stack.ok(&["ps"]).contains("paused"));
    assert_eq!(
        stack.ok(&["ps", "-q", "--status", "paused"]),
        "frozen-ticker-1\n"
    );
    let frozen = tick();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(tick(), frozen, "no tick while paused");
    stack.ok(&["unpause", "ticker"]);
    eventually("it ticks again", Duration::from_secs(5), || {
        tick() != frozen
    });
    assert_eq!(stack.ps()[0]["paused"], Value::Null, "paused no more");
    // A paused service stops as quickly as a running one.
    stack.ok(&["pause"]);
    let started = Instant::now();
    stack.ok(&["stop"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    stack.ok(&["down"]);
}

#[test]
fn create_makes_the_services_without_starting_them_and_start_runs_them() {
    let stack = Stack::new(
        r#"name: made
services:
  db:
    image: debian
    x-wharf: {process: {command: ["sleep", "620"]}}
  web:
    image: debian
    depends_on: [db]
    x-wharf: {process: {command: ["sleep", "621"]}}
"#,
    );
    let made = stack.wharf(&["create"]);
    assert!(made.status.success(), "{made:?}");
    assert!(
        String::from_utf8_lossy(&made.stderr).contains("created"),
        "{made:?}"
    );
    let states: Vec<String> = stack
        .compose_ps()
        .iter()
        .map(|line| line["State"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, ["created", "created"]);
    assert_eq!(stack.ok(&["ps", "-q"]), "", "ps shows what runs");
    assert!(stack.ok(&["ps", "-a"]).contains("created"));
    let sleeping = |arg: &str| {
        std::process::Command::new("pgrep")
            .args(["-f", &format!("sleep {arg}")])
            .status()
            .unwrap()
            .success()
    };
    assert!(!sleeping("620") && !sleeping("621"), "nothing started");
    // What web depends on starts with it, as Compose's `start web`.
    stack.ok(&["start", "web"]);
    eventually("both run", Duration::from_secs(5), || {
        sleeping("620") && sleeping("621")
    });
    // Over what runs, `up --no-start` leaves it running.
    stack.ok(&["up", "--no-start"]);
    assert!(sleeping("620"));
    stack.ok(&["down"]);
}

#[test]
fn attach_follows_a_native_instance_and_passes_ctrl_c_on() {
    let stack = Stack::new(
        r#"name: joined
services:
  ticker:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "trap 'echo interrupted; exit 3' INT; while true; do echo tick; sleep 0.1; done"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let mut attach = stack
        .command(&["attach", "ticker"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ctrl-C once it follows (its first line read), not at a guessed moment: on a busy
    // machine a guess can come before it listens for the signal.
    let (lines, said) = std::sync::mpsc::channel();
    let stdout = attach.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let first = said.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.contains("tick"), "{first}");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(attach.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = attach.wait().unwrap();
    let rest: Vec<String> = said.iter().collect();
    assert!(rest.iter().any(|l| l.contains("interrupted")), "{rest:?}");
    assert_eq!(status.code(), Some(3), "the instance's exit code");
    eventually("it exited", Duration::from_secs(5), || {
        stack.ps()[0]["state"] == "exited"
    });
    stack.ok(&["down"]);
}

#[test]
fn a_daemon_started_by_another_build_is_said_to_be() {
    let stack = Stack::new(
        r#"name: builds
services:
  app:
    image: debian
    x-wharf: {process: {command: ["sleep", "650"]}}
"#,
    );
    stack.ok(&["up", "-d"]);
    let same = stack.wharf(&["ps"]);
    assert!(
        !String::from_utf8_lossy(&same.stderr).contains("another build"),
        "{same:?}"
    );
    // A copy of the binary is another file, so another build as far as wharf can
    // tell: what an upgrade leaves the running daemon with.
    let copy = stack.home.path().join("wharf-upgraded");
    std::fs::copy(env!("CARGO_BIN_EXE_wharf"), &copy).unwrap();
    let base = stack.command(&["ps"]);
    let upgraded = std::process::Command::new(&copy)
        .args(base.get_args())
        .current_dir(stack.dir.path())
        .envs(
            base.get_envs()
                .filter_map(|(key, value)| Some((key, value?))),
        )
        .output()
        .unwrap();
    assert!(upgraded.status.success(), "{upgraded:?}");
    assert!(
        String::from_utf8_lossy(&upgraded.stderr).contains("runs another build of wharf"),
        "{upgraded:?}"
    );
    stack.ok(&["down"]);
}

#[test]
fn compatibility_names_instances_as_compose_v1_did() {
    let stack = Stack::new(
        r#"name: legacy
services:
  app:
    image: debian
    x-wharf: {process: {command: ["sleep", "640"]}}
"#,
    );
    stack.ok(&["--compatibility", "up", "-d", "--wait"]);
    assert_eq!(stack.ps()[0]["name"], "legacy_app_1");
    let images = stack
        .command(&["config", "--images"])
        .env("COMPOSE_COMPATIBILITY", "true")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&images.stdout), "debian\n");
    stack.ok(&["down"]);
}

#[test]
fn dry_run_says_what_would_change_and_changes_nothing() {
    // A recipe runs in its volume's directory, which a first dry run does not make.
    let stack = Stack::new(&format!(
        r#"name: rehearsal
services:
  db:
    image: debian
    x-wharf: {{process: {{command: ["sleep", "630"]}}}}
  web:
    image: debian
    depends_on: [db]
    x-wharf: {{process: {{command: ["sleep", "631"]}}}}
  cache:
    image: redis:7
    ports: ["127.0.0.1:{}:6379"]
    volumes: [cachedata:/data]
volumes:
  cachedata: {{}}
"#,
        free_port()
    ));
    let said = |args: &[&str]| {
        let out = stack.wharf(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let planned = said(&["--dry-run", "up", "-d"]);
    assert!(planned.contains("would create"), "{planned}");
    assert!(stack.ps().is_empty(), "nothing made");
    stack.ok(&["up", "-d", "--wait"]);
    let pid = stack.pid_of("rehearsal-web-1");
    let planned = said(&["--dry-run", "up", "-d", "--force-recreate", "web"]);
    assert!(planned.contains("web would recreate"), "{planned}");
    assert!(said(&["stop", "--dry-run", "web"]).contains("would stop rehearsal-web-1"));
    assert!(said(&["--dry-run", "down"]).contains("would stop and remove"));
    assert_eq!(
        stack.pid_of("rehearsal-web-1"),
        pid,
        "still the same process"
    );
    let refused = stack.wharf(&["--dry-run", "db", "drop", "x"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    stack.ok(&["--dry-run", "daemon", "status"]);
    let unknown = stack.wharf(&["--dry-run", "exec", "nosuch", "ls"]);
    assert_eq!(
        unknown.status.code(),
        Some(1),
        "checked as exec checks: {unknown:?}"
    );
    stack.ok(&["down"]);
}

#[test]
fn force_recreate_takes_the_named_services_and_always_recreate_deps_what_they_need() {
    let stack = Stack::new(
        r#"name: recreate
services:
  db:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  web:
    image: debian
    depends_on: [db]
    x-wharf: {process: {command: ["sleep", "601"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let pids = || {
        (
            stack.pid_of("recreate-db-1"),
            stack.pid_of("recreate-web-1"),
        )
    };
    let (db, web) = pids();
    stack.ok(&["up", "-d", "--wait", "--force-recreate", "web"]);
    let (db_after, web_after) = pids();
    assert_eq!(db_after, db, "a dependency is not forced");
    assert_ne!(web_after, web, "the named service is");
    let said = stack.wharf(&["up", "-d", "--wait", "--always-recreate-deps", "web"]);
    assert!(String::from_utf8_lossy(&said.stderr).contains("--always-recreate-deps"));
    let (db_last, web_last) = pids();
    assert_ne!(
        db_last, db_after,
        "--always-recreate-deps recreates what web needs"
    );
    assert_eq!(web_last, web_after, "and leaves web as it is");
    let refused = stack.wharf(&["up", "--no-recreate", "--always-recreate-deps"]);
    assert_eq!(refused.status.code(), Some(1));
    stack.ok(&["down"]);
}

#[test]
fn services_changed_together_are_recreated_together() {
    // Two services that ignore their stop signal: each stop takes its whole grace period.
    let file = |word: &str| {
        format!(
            "name: waves\nservices:\n  a:\n    image: debian\n    stop_grace_period: 3s\n    \
             command: [sh, -c, \"trap '' TERM; echo {word}; while true; do sleep 0.1; done\"]\n  \
             b:\n    image: debian\n    stop_grace_period: 3s\n    \
             command: [sh, -c, \"trap '' TERM; echo {word}; while true; do sleep 0.1; done\"]\n"
        )
    };
    let stack = Stack::new(&file("one"));
    stack.ok(&["up", "-d", "--wait"]);
    stack.write(&file("two"));
    let started = std::time::Instant::now();
    stack.ok(&["up", "-d"]);
    // One after the other would take two grace periods (6 s) at the least.
    let took = started.elapsed();
    assert!(took < Duration::from_millis(5500), "took {took:?}");
    stack.ok(&["down", "-t", "0"]);
}

/// `up --no-deps`, as Compose's: the named service starts whatever became of what it
/// depends on, and that is not started.
#[test]
fn up_no_deps_starts_a_service_whatever_became_of_its_dependencies() {
    let stack = Stack::new(
        r#"name: nodeps
services:
  a:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
  b:
    image: debian
    depends_on: [a]
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait", "--no-deps", "b"]);
    let states: Vec<(String, String)> = stack
        .ps()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap().to_owned(),
                i["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(states, [("nodeps-b-1".to_owned(), "running".to_owned())]);
}

/// An attached `up` whose services all end by themselves succeeds, whatever their
/// codes, as Compose's; `--abort-on-container-failure` gives the failure's code.
#[test]
fn an_attached_up_whose_services_end_by_themselves_succeeds() {
    let stack = Stack::new(
        r#"name: ended
services:
  failing:
    image: debian
    deploy: {replicas: 4}
    x-wharf: {process: {command: ["sh", "-c", "seq 3000; echo last words; exit 3"]}}
  fine:
    image: debian
    x-wharf: {process: {command: ["true"]}}
"#,
    );
    let output = stack.wharf(&["up"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // Each one's last words are shown, and before its end.
    let shown = String::from_utf8_lossy(&output.stdout);
    for replica in 1..=4 {
        let at = |words: &str| shown.find(&format!("failing-{replica}  | {words}"));
        let said = at("last words");
        // The end on a line of its own, as Compose says it.
        let ended = shown.find(&format!("failing-{replica} exited with code 3"));
        assert!(said.is_some() && said < ended, "{shown}");
    }
    let output = stack.wharf(&["up", "--abort-on-container-failure"]);
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    stack.ok(&["down"]);
}

/// An edit that moves a service to a port something else holds fails the `up` before
/// anything stops: the running version keeps serving.
#[test]
fn an_edit_onto_a_taken_port_changes_nothing() {
    let (port, taken) = (
        free_port(),
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
    );
    let taken_port = taken.local_addr().unwrap().port();
    let compose = |port: u16| {
        format!(
            "name: moving\nservices:\n  web:\n    image: debian\n    ports: [\"127.0.0.1:{port}:{port}\"]\n    x-wharf: {{process: {{command: [\"sleep\", \"600\"]}}}}\n"
        )
    };
    let stack = Stack::new(&compose(port));
    stack.ok(&["up", "-d"]);
    let before = stack.pid_of("moving-web-1");
    stack.write(&compose(taken_port));
    let output = stack.wharf(&["up", "-d"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "nothing was changed: web: port {taken_port} is already in use"
        )),
        "{said}"
    );
    assert_eq!(stack.pid_of("moving-web-1"), before, "web kept running");
    drop(taken);
    stack.ok(&["up", "-d"]);
    assert_ne!(
        stack.pid_of("moving-web-1"),
        before,
        "web moved once the port was free"
    );
}

/// A proxy port wharfd could not use is said before it starts; port 0 takes any free
/// one, which the URLs then give.
#[test]
fn a_proxy_port_that_is_no_port_is_refused_before_the_daemon_starts() {
    let web = free_port();
    let stack = Stack::new(&format!(
        "name: ports\nservices:\n  web:\n    image: debian\n    ports: [\"127.0.0.1:{web}:{web}\"]\n    x-wharf: {{process: {{command: [sleep, \"600\"]}}}}\n"
    ));
    for value in ["abc", "-1", "70000"] {
        let mut command = stack.command(&["ps"]);
        command.env("WHARF_PROXY_PORT", value);
        let output = command.output().unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code() == Some(1)
                && said.contains(&format!(
                    "WHARF_PROXY_PORT=\"{value}\" is not a port number"
                )),
            "{value}: {said}"
        );
    }
    let any = |args: &[&str]| {
        let mut command = stack.command(args);
        command.env("WHARF_PROXY_PORT", "0");
        stack.ok_command(command)
    };
    any(&["up", "-d"]);
    let urls = any(&["urls"]);
    let port = urls
        .split_whitespace()
        .find_map(|word| word.strip_prefix("http://web.ports.localhost:"))
        .and_then(|port| port.parse::<u16>().ok());
    assert!(port.is_some_and(|port| port != 0), "{urls}");
}

/// `ps` of a project nothing runs of loads its file, so one that cannot be loaded is
/// said, as Compose says it (the name alone suffices only for a project wharfd runs).
#[test]
fn ps_says_why_a_file_cannot_load_when_nothing_of_it_runs() {
    let stack = Stack::new("name: broken\nservices:\n  a:\n    imgae: debian\n");
    for command in ["ps", "logs"] {
        let output = stack.wharf(&[command]);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code() == Some(1) && said.contains("unknown key `imgae`"),
            "{command}: {said}"
        );
    }
}

/// `up --wait` says how long the whole command took, not only its wait: here the old
/// process's stop (it ignores SIGTERM until its grace period ends) comes first.
#[test]
fn up_wait_says_how_long_the_whole_command_took() {
    let compose = |marker: &str| {
        format!(
            "name: timed\nservices:\n  slow:\n    image: debian\n    stop_grace_period: 1s\n    x-wharf: {{process: {{command: [\"sh\", \"-c\", \"trap '' TERM; echo {marker}; while :; do sleep 0.1; done\"]}}}}\n"
        )
    };
    let stack = Stack::new(&compose("first"));
    stack.ok(&["up", "-d", "--wait"]);
    stack.write(&compose("second"));
    let output = stack.wharf(&["up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    let seconds: f64 = said
        .split("ready in ")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no time said: {said}"));
    assert!(seconds >= 1.0, "{said}");
    stack.ok(&["down"]);
}

/// A reader slower than the service (`logs -f | less`) falls behind wharfd's
/// broadcast of new lines: it still gets every one of them, once.
#[test]
fn a_slow_follower_gets_every_line_once() {
    let stack = Stack::new(
        r#"name: spew
services:
  spew:
    image: debian
    x-wharf: {process: {command: ["sh", "-c", "sleep 1; seq 1 30000; exec sleep 600"]}}
"#,
    );
    stack.ok(&["up", "-d"]);
    let mut follow = stack
        .command(&["logs", "-f", "--no-log-prefix"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Nothing read while the service writes: the pipe fills and wharfd's sender waits.
    std::thread::sleep(Duration::from_secs(3));
    let lines = std::io::BufRead::lines(std::io::BufReader::new(follow.stdout.take().unwrap()));
    let (sender, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for number in lines
            .map_while(Result::ok)
            .filter_map(|l| l.parse::<u32>().ok())
        {
            if sender.send(number).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut numbers = Vec::new();
    while let Ok(number) = received.recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        if number == 30000 {
            break;
        }
        numbers.push(number);
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let expected: Vec<u32> = (1..30000).collect();
    assert!(
        numbers == expected,
        "{} lines of 29999, first gap after {:?}",
        numbers.len(),
        numbers.windows(2).find(|w| w[1] != w[0] + 1).map(|w| w[0])
    );
    stack.ok(&["down"]);
}

/// A command `exec` runs natively ends with the wharf that runs it, killed as a
/// supervisor or a cancelled CI job kills it: nothing else would end it.
#[test]
fn an_exec_ends_with_the_wharf_that_runs_it() {
    let stack = Stack::new(
        r#"name: execend
services:
  web:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let mut exec = stack
        .command(&["exec", "-T", "web", "sleep", "781"])
        .spawn()
        .unwrap();
    let children = format!("/proc/{}/task/{}/children", exec.id(), exec.id());
    let mut command = None;
    eventually("the command runs", Duration::from_secs(10), || {
        command = std::fs::read_to_string(&children)
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse::<u32>().ok());
        command.is_some()
    });
    support::kill(exec.id());
    let _ = exec.wait();
    let command = command.unwrap();
    eventually("the command ended", Duration::from_secs(10), || {
        !alive(command)
    });
    stack.ok(&["down"]);
}

/// Two checkouts whose files give the project the same name share it, as in Compose;
/// the second `up` says it takes the project over from the other directory.
#[test]
fn an_up_from_another_directory_says_it_takes_the_project_over() {
    let compose = "name: shared\nservices:\n  web:\n    image: debian\n    x-wharf: {process: {command: [\"sleep\", \"600\"]}}\n";
    let stack = Stack::new(compose);
    stack.ok(&["up", "-d"]);
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("compose.yaml"), compose).unwrap();
    let output = stack.wharf_in(other.path(), &["up", "-d"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "project shared was running from {}; it now runs from {}",
            stack.dir.path().display(),
            other.path().display()
        )),
        "{said}"
    );
    let again = stack.wharf_in(other.path(), &["up", "-d"]);
    assert!(
        !String::from_utf8_lossy(&again.stderr).contains("was running from"),
        "said once"
    );
    stack.ok(&["down"]);
}

/// A pause of what is paused already is an error and nothing happens: the event
/// stream says no pause for it; a paused instance is said paused.
#[test]
fn a_pause_that_changes_nothing_is_no_event() {
    let stack = Stack::new(
        r#"name: paused
services:
  idle:
    image: debian
    x-wharf: {process: {command: ["sleep", "600"]}}
"#,
    );
    stack.ok(&["up", "-d", "--wait"]);
    let mut events = stack
        .command(&["events"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stack.ok(&["pause", "idle"]);
    assert!(!stack.wharf(&["pause", "idle"]).status.success());
    stack.ok(&["unpause", "idle"]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = events.kill();
    let mut said = String::new();
    std::io::Read::read_to_string(&mut events.stdout.take().unwrap(), &mut said).unwrap();
    let _ = events.wait();
    assert_eq!(said.matches("project paused pause").count(), 1, "{said}");
    assert!(
        said.contains("instance paused-idle-1 running (paused, pid"),
        "{said}"
    );
    stack.ok(&["down"]);
}

/// Two projects on one proxy domain: the second `up` says so, since a host both have
/// reaches only one of them.
#[test]
fn an_up_onto_a_domain_another_project_uses_says_so() {
    let compose = |name: &str| {
        format!(
            "name: {name}\nservices:\n  web:\n    image: debian\n    x-wharf: {{process: {{command: [\"sleep\", \"600\"]}}}}\nx-wharf: {{domain: same.localhost}}\n"
        )
    };
    let stack = Stack::new(&compose("first"));
    stack.ok(&["up", "-d"]);
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("compose.yaml"), compose("second")).unwrap();
    let output = stack.wharf_in(other.path(), &["up", "-d"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.contains("project first uses the domain same.localhost too"),
        "{said}"
    );
    let down = stack.wharf_in(other.path(), &["down"]);
    assert!(down.status.success());
    stack.ok(&["down"]);
}

/// `x-wharf.ready` is a native service's healthcheck: a line it prints, a port that
/// accepts, a path that answers; what depends on it being healthy waits for it.
#[test]
fn x_wharf_ready_tells_when_a_native_service_is_ready() {
    let (http, tcp, other) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: readied
services:
  said:
    image: debian
    x-wharf:
      process: {{command: ["sh", "-c", "sleep 1; echo now ready; exec sleep 600"]}}
      ready: {{log: "now ready"}}
  after:
    image: debian
    depends_on: {{said: {{condition: service_healthy}}}}
    x-wharf:
      process: {{command: ["sleep", "600"]}}
  web:
    image: python:3.12
    command: python3 -m http.server {http} --bind 127.0.0.1
    ports: ["127.0.0.1:{http}:{http}"]
    healthcheck: {{test: ["CMD", "false"]}}
    x-wharf: {{ready: {{http: /}}}}
  listens:
    image: python:3.12
    command: python3 -m http.server {tcp} --bind 127.0.0.1
    ports: ["127.0.0.1:{tcp}:{tcp}"]
    x-wharf: {{ready: {{tcp: {tcp}}}}}
  missing:
    image: python:3.12
    command: python3 -m http.server {other} --bind 127.0.0.1
    ports: ["127.0.0.1:{other}:{other}"]
    x-wharf: {{ready: {{http: /nowhere}}}}
"#
    ));
    stack.ok(&["up", "-d"]);
    // The dependent starts once the line is said, not before.
    eventually("said is healthy", Duration::from_secs(15), || {
        stack.instance_of("said")["health"] == "healthy"
    });
    let said_at = stack.instance_of("said")["started_at_ms"].as_u64().unwrap();
    eventually("after runs", Duration::from_secs(10), || {
        stack.instance_of("after")["state"] == "running"
    });
    let after_at = stack.instance_of("after")["started_at_ms"]
        .as_u64()
        .unwrap();
    assert!(after_at >= said_at + 1000, "{said_at} {after_at}");
    // The path answers, in place of the file's check (which always fails here).
    for service in ["web", "listens"] {
        eventually(
            &format!("{service} is healthy"),
            Duration::from_secs(15),
            || stack.instance_of(service)["health"] == "healthy",
        );
    }
    // A path that answers 404 is not ready, and a wait that runs out says so.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(stack.instance_of("missing")["health"], "starting");
    let waited = stack.wharf(&["up", "-d", "--wait", "--wait-timeout", "2", "missing"]);
    assert_eq!(waited.status.code(), Some(1));
    let said = String::from_utf8_lossy(&waited.stderr);
    assert!(
        said.contains(&format!(
            "it last said: http://127.0.0.1:{other}/nowhere answered 404"
        )),
        "{said}"
    );
    stack.ok(&["down"]);
    // Exactly one way to tell, said where.
    stack.write(
        "services:\n  web:\n    image: debian\n    x-wharf:\n      process: {command: [sleep, '9']}\n      ready: {tcp: 80, log: up}\n",
    );
    let refused = stack.wharf(&["up", "-d"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("x-wharf.ready: give exactly one of `http`, `tcp` and `log`"),
        "{said}"
    );
    // Each key is checked where it is written, by `config -q` as by `up`.
    for (ready, expected) in [
        ("{tcp: 0}", "x-wharf.ready.tcp: port 0 is no port to ask"),
        (
            "{tcp: 80.5}",
            "x-wharf.ready.tcp: 80.5 is no port: a port is a whole number",
        ),
        (
            "{tcp: 70000}",
            "x-wharf.ready.tcp: 70000 is no port: ports run from 1 to 65535",
        ),
        (
            "{log: ''}",
            "x-wharf.ready.log: the text to look for is empty",
        ),
        (
            "{http: 'http://x/'}",
            "x-wharf.ready.http: \"http://x/\" is no path",
        ),
    ] {
        stack.write(&format!(
            "services:\n  web:\n    image: debian\n    x-wharf:\n      process: {{command: [sleep, '9']}}\n      ready: {ready}\n"
        ));
        for command in [&["up", "-d"][..], &["config", "-q"]] {
            let refused = stack.wharf(command);
            assert_eq!(refused.status.code(), Some(1), "{ready}: {command:?}");
            let said = String::from_utf8_lossy(&refused.stderr);
            assert!(said.contains(expected), "{ready}: {command:?}: {said}");
            assert!(
                said.contains("compose.yaml:6:"),
                "{ready}: {command:?}: {said}"
            );
        }
    }
}

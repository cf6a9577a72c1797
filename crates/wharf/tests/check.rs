//! End-to-end tests of `wharf check` over real things: a git repository made in a temp
//! dir, a port really taken, a missing program, a native web service answering its
//! monitor path, requirements files changed after `up`, and engine sockets that are
//! missing or dead.

mod support;

use std::net::TcpListener;
use std::process::Output;

use serde_json::Value;
use support::{Stack, free_port, git};

fn report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "check --format json printed no JSON ({err}):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The finding of `check` about `subject`.
fn finding<'a>(report: &'a Value, check: &str, subject: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check && f["subject"] == subject)
        .unwrap_or_else(|| panic!("no {check} finding about {subject} in {report:#}"))
}

fn problems(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| {
            format!(
                "{} {}",
                f["check"].as_str().unwrap(),
                f["subject"].as_str().unwrap()
            )
        })
        .collect()
}

/// A project whose `web` serves `site/` natively on `port`; `extra` adds services.
fn project(stack: &Stack, repo_url: &str, port: u16, extra: &str) {
    stack.write(&format!(
        r#"name: checked
services:
  web:
    image: python
    command: ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "site"]
    ports: ["{port}:{port}"]
    x-wharf:
      monitor: /monitor.json
      requirements: ["req/*.txt"]
{extra}
x-wharf:
  repos:
    lib: {{url: "{repo_url}", path: trees/lib}}
  env:
    SECRET_KEY: {{description: "signs sessions", used_by: [web], secret: true}}
    DEBUG: {{default: "1"}}
"#
    ));
}

#[test]
fn check_names_each_problem_with_its_fix_and_passes_once_they_are_fixed() {
    let stack = Stack::new("services: {}\n");
    let dir = stack.dir.path();
    std::fs::create_dir_all(dir.join("site")).unwrap();
    std::fs::write(
        dir.join("site/monitor.json"),
        r#"{"db": [true, "ok"], "cache": [true, "ok"]}"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("req")).unwrap();
    std::fs::write(dir.join("req/base.txt"), "django==5.1\n").unwrap();
    let upstream = tempfile::tempdir().unwrap();
    git(upstream.path(), &["init", "-q", "-b", "main"]);
    git(
        upstream.path(),
        &["commit", "-q", "--allow-empty", "-m", "first"],
    );
    let url = upstream.path().display().to_string();
    // A port someone else holds, and a program nobody installed.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let web_port = free_port();
    project(
        &stack,
        &url,
        web_port,
        &format!(
            "  ghost:\n    image: debian\n    ports: [\"{taken_port}:80\"]\n    \
             x-wharf: {{process: {{command: [wharf-test-no-such-program]}}}}"
        ),
    );
    let output = stack.wharf(&["check", "--backend", "process", "--format", "json"]);
    assert!(!output.status.success(), "problems make check fail");
    let found = report(&output);
    assert_eq!(found["ok"], false);
    let secret = finding(&found, "env", "SECRET_KEY");
    assert_eq!(secret["ok"], false);
    assert!(secret["fix"].as_str().unwrap().contains(".env"), "{secret}");
    assert_eq!(finding(&found, "env", "DEBUG")["ok"], true);
    let lib = finding(&found, "repos", "lib");
    assert_eq!(lib["ok"], false);
    assert_eq!(lib["fix"], "wharf checkout lib");
    let ghost = finding(&found, "native", "ghost");
    assert!(
        ghost["detail"]
            .as_str()
            .unwrap()
            .contains("`wharf-test-no-such-program` is not installed"),
        "{ghost}"
    );
    let port = finding(&found, "ports", &format!("ghost:{taken_port}"));
    assert_eq!(port["ok"], false);
    let owner = format!("pid {}", std::process::id());
    assert!(port["detail"].as_str().unwrap().contains(&owner), "{port}");
    assert_eq!(
        finding(&found, "ports", &format!("web:{web_port}"))["ok"],
        true
    );
    assert_eq!(
        problems(&found),
        [
            "env SECRET_KEY",
            "repos lib",
            "native ghost",
            &format!("ports ghost:{taken_port}")
        ]
    );

    // Fixed: the variable set, the repo checked out, the broken service gone.
    std::fs::write(dir.join(".env"), "SECRET_KEY=s3cret\n").unwrap();
    stack.ok(&["checkout"]);
    project(&stack, &url, web_port, "");
    drop(taken);
    let text = stack.ok(&["check", "--backend", "process"]);
    assert!(text.ends_with("everything is in order\n"), "{text}");
    assert!(
        !text.contains("s3cret"),
        "check never prints a value: {text}"
    );

    // --services asks the running service's monitor and reports its answer.
    stack.ok(&["up", "-d", "--wait", "--backend", "process"]);
    let output = stack.wharf(&["check", "--services", "--format", "json"]);
    let found = report(&output);
    let web = finding(&found, "services", "checked-web-1");
    assert_eq!(web["ok"], true, "{web}");
    assert_eq!(web["answer"]["db"][1], "ok");
    assert!(output.status.success());
    std::fs::remove_file(dir.join("site/monitor.json")).unwrap();
    let output = stack.wharf(&["check", "--services"]);
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("FAIL  services") && text.contains("/monitor.json answered 404"),
        "{text}"
    );
    assert!(
        text.contains("fix: see what it logged: wharf logs web"),
        "{text}"
    );

    // --requirements: unchanged since `up` started web, then changed.
    let output = stack.wharf(&["check", "--requirements", "--format", "json"]);
    let web = finding(&report(&output), "requirements", "web").clone();
    assert_eq!(web["ok"], true, "{web}");
    std::fs::write(dir.join("req/base.txt"), "django==5.2\n").unwrap();
    let output = stack.wharf(&["check", "--requirements", "--format", "json"]);
    assert!(!output.status.success());
    let web = finding(&report(&output), "requirements", "web").clone();
    assert_eq!(web["ok"], false);
    assert!(
        web["fix"]
            .as_str()
            .unwrap()
            .contains("--force-recreate web"),
        "{web}"
    );
    // Recreating it records what it now starts with.
    stack.ok(&[
        "up",
        "-d",
        "--wait",
        "--force-recreate",
        "--backend",
        "process",
    ]);
    let output = stack.wharf(&["check", "--requirements"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // A web that stops answering is reported, not waited for.
    stack.ok(&["stop", "web"]);
    let output = stack.wharf(&["check", "--services", "--format", "json"]);
    let web = finding(&report(&output), "services", "web").clone();
    assert_eq!(web["fix"], "wharf up -d web");
}

/// A container's `user` does not apply natively, and `check` says so.
#[test]
fn a_native_service_with_a_containers_user_is_said_to_keep_it_for_a_container() {
    let stack = Stack::new(
        "name: users\nservices:\n  app:\n    image: debian\n    user: node\n    x-wharf: {process: {command: [sleep, '600']}}\n",
    );
    let report = report(&stack.wharf(&["check", "--format", "json"]));
    let native = finding(&report, "native", "app");
    assert_eq!(native["ok"], true, "{native}");
    assert!(
        native["detail"]
            .as_str()
            .unwrap()
            .ends_with("; its `user: node` applies in a container only"),
        "{native}"
    );
}

#[test]
fn a_broken_manifest_is_reported_at_its_line_and_column() {
    let stack = Stack::new("services:\n  web:\n    image: debian\n    ports: [\"99999:80\"]\n");
    let output = stack.wharf(&["check", "--format", "json"]);
    assert!(!output.status.success());
    let found = report(&output);
    let manifest = finding(&found, "manifest", "compose files");
    assert!(
        manifest["detail"]
            .as_str()
            .unwrap()
            .contains("compose.yaml:4:"),
        "{manifest}"
    );
}

#[test]
fn engine_problems_get_hints_that_say_what_to_do() {
    let stack = Stack::new(
        "name: engineless\nservices:\n  app:\n    image: wharf-test/none\n    x-wharf: {backend: docker}\n",
    );
    let hint = |docker_host: &str| {
        let output = stack
            .command(&["check", "--format", "json"])
            .env("DOCKER_HOST", docker_host)
            .output()
            .unwrap();
        assert!(!output.status.success());
        finding(&report(&output), "engine", "docker").clone()
    };
    let missing = hint("unix:///nonexistent/docker.sock");
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("DOCKER_HOST points at /nonexistent/docker.sock"),
        "{missing}"
    );
    assert!(
        missing["fix"]
            .as_str()
            .unwrap()
            .contains("unset DOCKER_HOST")
    );
    let tcp = hint("tcp://192.0.2.1:2375");
    assert!(
        tcp["detail"].as_str().unwrap().contains("unix socket"),
        "{tcp}"
    );
    // A socket file nobody listens on: what a stopped daemon leaves behind.
    let sockets = tempfile::tempdir().unwrap();
    let dead = sockets.path().join("docker.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let stopped = hint(&format!("unix://{}", dead.display()));
    assert!(
        stopped["detail"]
            .as_str()
            .unwrap()
            .contains("the Docker daemon is not running"),
        "{stopped}"
    );
    assert!(
        stopped["fix"].as_str().unwrap().contains("start it"),
        "{stopped}"
    );
    assert!(!stack.socket().exists(), "nothing started a daemon");
}

#[test]
fn a_socket_this_user_may_not_open_gets_the_permission_hint() {
    use std::os::unix::fs::PermissionsExt as _;
    let stack = Stack::new(
        "name: denied\nservices:\n  app:\n    image: wharf-test/none\n    x-wharf: {backend: docker}\n",
    );
    let shared = tempfile::tempdir().unwrap();
    let open_to_all = |path: &std::path::Path| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let socket = shared.path().join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // Root passes permission checks, so as root the check runs as `nobody`, from a copy
    // of wharf that `nobody` may execute; otherwise the socket is closed to its owner.
    let root = nix::unistd::Uid::effective().is_root();
    std::fs::set_permissions(
        &socket,
        std::fs::Permissions::from_mode(if root { 0o600 } else { 0o000 }),
    )
    .unwrap();
    let mut command = if root {
        let wharf = shared.path().join("wharf");
        std::fs::copy(env!("CARGO_BIN_EXE_wharf"), &wharf).unwrap();
        for dir in [shared.path(), stack.dir.path(), stack.home.path()] {
            open_to_all(dir);
        }
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.arg(wharf);
        command
    } else {
        std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
    };
    let output = command
        .args(["check", "--format", "json"])
        .current_dir(stack.dir.path())
        .env("WHARF_HOME", stack.home.path())
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .output()
        .expect("setpriv comes with util-linux");
    assert!(!output.status.success());
    let engine = finding(&report(&output), "engine", "docker").clone();
    assert!(
        engine["detail"]
            .as_str()
            .unwrap()
            .contains("this user may not use the Docker engine: permission denied"),
        "{engine}"
    );
    assert!(
        engine["fix"]
            .as_str()
            .unwrap()
            .contains("usermod -aG docker"),
        "{engine}"
    );
}

#[test]
fn the_projects_databases_are_checked_against_the_file() {
    let stack = Stack::new(
        r#"name: dbchecked
services:
  db:
    image: postgres:15
    environment: {POSTGRES_PASSWORD: x}
  web:
    image: python
x-wharf:
  tasks:
    migrate: {service: web, run: ["true"]}
  databases:
    shop: {service: db, migrate: migrate, seed: [migrate]}
    typo: {service: dbx}
    cache: {service: web}
    unmigrated: {service: db, migrate: nosuch}
    unseeded: {service: db, seed: [missing.sql, gone.sql]}
"#,
    );
    let report = report(&stack.wharf(&["check", "--format", "json"]));
    assert_eq!(
        finding(&report, "databases", "x-wharf.databases.shop")["ok"],
        true
    );
    for (subject, words) in [
        ("typo", "service `dbx` is not in the file"),
        ("cache", "`web` runs no postgres, mariadb or mysql image"),
        ("unmigrated", "migrate task `nosuch`"),
        ("unseeded", "seed `missing.sql`"),
    ] {
        let found = finding(
            &report,
            "databases",
            &format!("x-wharf.databases.{subject}"),
        );
        assert_eq!(found["ok"], false, "{found}");
        assert!(found["detail"].as_str().unwrap().contains(words), "{found}");
    }
    // Every bad seed is named, not only the first.
    let unseeded: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["subject"] == "x-wharf.databases.unseeded")
        .filter_map(|f| f["detail"].as_str())
        .collect();
    assert!(
        unseeded.iter().any(|d| d.contains("gone.sql")),
        "{unseeded:?}"
    );
}

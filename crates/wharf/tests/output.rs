//! What users read, pinned: the human output of the everyday commands (tables,
//! progress, errors) against the snapshots in `tests/snapshots/`, filtered for paths,
//! ports, pids and times. A change to any of it is a reviewed diff of those files.

mod support;

use support::Stack;
use support::registry::Registry;
use support::snapshot::{Filters, Transcript, assert_snapshot};

fn filters(stack: &Stack, ports: &[u16]) -> Filters {
    let mut filters = Filters::default()
        .text(&stack.dir.path().display(), "PROJECT")
        .text(&stack.home.path().display(), "HOME")
        .text(&stack.proxy_port, "PROXY_PORT")
        .text(&stack.https_port, "HTTPS_PORT");
    for port in ports {
        filters = filters.text(port, "PORT");
    }
    filters
}

#[test]
fn the_everyday_commands_read_as_pinned() {
    let port = support::free_port();
    let stack = Stack::new(&format!(
        r#"name: shop
services:
  web:
    image: busybox
    command: ["busybox", "httpd", "-f", "-p", "{port}"]
    ports: ["{port}:{port}"]
  worker:
    image: busybox
    command: sleep 600
    depends_on: [web]
"#
    ));
    let filters = filters(&stack, &[port]);
    let mut transcript = Transcript::new(&stack);
    transcript.step("first start", &["up", "-d"]);
    transcript.step("nothing changed", &["up", "-d"]);
    support::eventually("both running", std::time::Duration::from_secs(10), || {
        stack.ps().iter().all(|i| i["state"] == "running")
    });
    transcript.step("the table", &["ps"]);
    transcript.step("projects", &["ls"]);
    transcript.step("a service that is not in the file", &["ps", "nosuch"]);
    transcript.step("stop one", &["stop", "worker"]);
    transcript.step("and start it", &["start", "worker"]);
    transcript.step("more replicas", &["scale", "worker=2"]);
    support::eventually("two workers", std::time::Duration::from_secs(10), || {
        let ps = stack.ps();
        let running = |i: &&serde_json::Value| i["service"] == "worker" && i["state"] == "running";
        ps.iter().filter(running).count() == 2
    });
    transcript.step("its own log", &["logs", "worker", "--no-log-prefix"]);
    transcript.step("where the proxy reaches it", &["urls"]);
    transcript.step("everything down", &["down"]);
    transcript.step("nothing left", &["ps"]);
    transcript.step("no routes left", &["urls"]);
    assert_snapshot("everyday_commands", &transcript.text(), &filters);
}

#[test]
fn mistakes_are_answered_as_pinned() {
    let stack = Stack::new(
        "name: shop\nservices:\n  web:\n    image: busybox\n    command: sleep 600\n    ports: [\"99999:80\"]\n",
    );
    let filters = filters(&stack, &[]);
    let mut transcript = Transcript::new(&stack);
    transcript.step("a port out of range", &["config"]);
    stack.write("name: shop\nservices:\n  web:\n    image: busybox\n    command: [sleep\n");
    transcript.step("YAML cut short", &["up", "-d"]);
    stack.write("name: shop\nservices:\n  web:\n    image: nosuchimage:1\n");
    transcript.step(
        "an image with no recipe",
        &["up", "-d", "--backend", "process"],
    );
    stack.write("name: shop\nservices:\n  web:\n    image: busybox\n    command: sleep 600\n    depends_on: [db]\n");
    transcript.step("a dependency that is not there", &["up", "-d"]);
    stack.write("name: shop\nservices:\n  web:\n    image: busybox\n    depends_on:\n      - api\n  api:\n    image: busybox\n    depends_on: [web]\n");
    transcript.step("a dependency cycle", &["up", "-d"]);
    transcript.step("an unknown flag", &["up", "--detatch"]);
    stack.write(
        "name: shop\nservices:\n  web:\n    image: busybox\n    command: sleep 600\n    ports: [\"28000:28000\"]\n  api:\n    image: busybox\n    command: sleep 600\n    ports: [\"28001:28001\"]\n",
    );
    transcript.step(
        "a second replica on another service's port",
        &["up", "-d", "--scale", "web=2"],
    );
    stack.write(
        "name: shop\nservices:\n  web:\n    image: busybox\n    command: busybox httpd -f -p 28000\n    ports: [\"28000:28000\"]\n",
    );
    transcript.step(
        "replicas whose command names the port",
        &["up", "-d", "--scale", "web=2"],
    );
    stack.write(
        "name: shop\nservices:\n  web:\n    image: busybox\n    command: sleep 600\n    restart: sometimes\n",
    );
    transcript.step("a restart policy that is none", &["up", "-d"]);
    stack.write(
        "name: shop\nservices:\n  web:\n    image: busybox\n    command: sleep 600\nx-wharf:\n  proxy:\n    routes: [{path: /api, service: api}]\n",
    );
    transcript.step("a route to a service that is not there", &["up", "-d"]);
    transcript.step("a project name with a space", &["-p", "a b", "ps"]);
    stack.write("name: shop\nservices:\n  web:\n    image: busybox\n    profiles: [debug]\n");
    transcript.step("every service profiled out", &["up", "-d"]);
    assert_snapshot("mistakes", &transcript.text(), &filters);
}

#[test]
fn looking_at_a_project_reads_as_pinned() {
    let port = support::free_port();
    let stack = Stack::new(&format!(
        r#"name: shop
x-wharf:
  env:
    SHOP_TOKEN: {{description: "the API token", secret: true, default: "t0ken"}}
    SHOP_COLOR: {{description: "the theme", default: blue}}
  tasks:
    hello: {{service: web, run: "echo hello from the task", description: "says hello"}}
services:
  web:
    image: busybox
    command: ["busybox", "httpd", "-f", "-p", "{port}"]
    ports: ["{port}:{port}"]
    environment:
      SHOP_TOKEN: ${{SHOP_TOKEN:-t0ken}}
      SHOP_COLOR: ${{SHOP_COLOR:-blue}}
  debug:
    image: busybox
    command: sleep 600
    profiles: [debug]
"#
    ));
    let filters = filters(&stack, &[port]);
    let mut transcript = Transcript::new(&stack);
    transcript.step("the services", &["config", "--services"]);
    transcript.step("the profiles", &["config", "--profiles"]);
    transcript.step("the images", &["config", "--images"]);
    transcript.step("the documented variables", &["env"]);
    transcript.step("the tasks", &["tasks"]);
    transcript.step("no daemon yet", &["daemon", "status"]);
    // `--wait`'s progress lines follow timing; `up -d` and a wait here do not.
    transcript.step("start", &["up", "-d"]);
    support::eventually("web running", std::time::Duration::from_secs(10), || {
        stack.ps().iter().all(|i| i["state"] == "running")
    });
    transcript.step(
        "where a port is published",
        &["port", "web", &port.to_string()],
    );
    transcript.step(
        "a command in the running service",
        &["exec", "web", "echo", "hi"],
    );
    transcript.step("a task", &["task", "hello"]);
    transcript.step(
        "a failing command keeps its code",
        &["exec", "web", "sh", "-c", "exit 7"],
    );
    transcript.step("down", &["down"]);
    assert_snapshot("looking_at_a_project", &transcript.text(), &filters);
}

#[test]
fn the_machine_and_the_processes_read_as_pinned() {
    let port = support::free_port();
    let stack = Stack::new(&format!(
        r#"name: shop
x-wharf:
  env:
    SHOP_TOKEN: {{description: "the API token", secret: true}}
services:
  web:
    image: busybox
    command: ["busybox", "httpd", "-f", "-p", "{port}"]
    ports: ["{port}:{port}"]
  worker:
    image: busybox
    command: ["sh", "-c", "sleep 600 & sleep 700"]
  tool:
    image: nosuch-runtime:1
    profiles: [tools]
    x-wharf: {{process: {{command: ["nosuchprogram", "x"]}}}}
"#
    ));
    // The engine is found where this machine has it; the rest is the project's.
    let filters = filters(&stack, &[port])
        .text(&"/var/run/docker.sock", "ENGINE")
        .text(&"/run/docker.sock", "ENGINE");
    let mut transcript = Transcript::new(&stack);
    transcript.step(
        "a variable unset, a program missing",
        &["--profile", "tools", "check"],
    );
    transcript.step("start", &["up", "-d"]);
    support::eventually("both running", std::time::Duration::from_secs(10), || {
        let ps = stack.ps();
        ps.len() == 2 && ps.iter().all(|i| i["state"] == "running")
    });
    // The worker's shell has started both sleeps once `top` lists three processes.
    support::eventually(
        "the worker's sleeps",
        std::time::Duration::from_secs(10),
        || stack.ok(&["top", "worker"]).matches("sleep ").count() >= 3,
    );
    transcript.step("figures", &["stats", "--no-stream"]);
    transcript.step_unaligned("processes", &["top"]);
    transcript.step("running, with a server listening too widely", &["check"]);
    transcript.step("down", &["down"]);
    assert_snapshot(
        "the_machine_and_the_processes",
        &transcript.text(),
        &filters,
    );
}

#[test]
fn the_database_commands_read_as_pinned() {
    if !support::have_servers() {
        return;
    }
    let port = support::free_port();
    let stack = Stack::new(&format!(
        r#"name: shopdb
services:
  db:
    image: postgres:15
    environment: {{POSTGRES_USER: shop, POSTGRES_PASSWORD: s3cret, POSTGRES_DB: shop}}
    ports: ["127.0.0.1:{port}:5432"]
"#
    ));
    // PostgreSQL runs as its own user: the wharf home must be reachable.
    std::fs::set_permissions(
        stack.home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    // The server's version is Debian's of the day.
    let version = stack.ok(&["db", "shell", "--", "-At", "-c", "SHOW server_version"]);
    let version = version
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let filters = filters(&stack, &[port]).text(&version, "VERSION");
    let mut transcript = Transcript::new(&stack);
    transcript.step("the databases", &["db", "ls"]);
    transcript.step("a new one", &["db", "create", "extra"]);
    transcript.step("twice", &["db", "create", "extra"]);
    transcript.step("a name that is none", &["db", "create", "no way"]);
    transcript.step("a snapshot", &["db", "snapshot", "--tag", "before"]);
    transcript.step("the snapshots", &["db", "snapshots"]);
    transcript.step("drop, with nobody to ask", &["db", "drop", "extra"]);
    transcript.step("drop, answered", &["db", "drop", "extra", "--yes"]);
    transcript.step("and back", &["db", "restore", "--undo", "--yes"]);
    transcript.step("no such snapshot", &["db", "restore", "nosuch"]);
    transcript.step(
        "a dump of no known format",
        &["db", "dump", "-o", "shop.bak"],
    );
    transcript.step(
        "a dump that is not there",
        &["db", "load", "missing.sql", "--yes"],
    );
    transcript.step("a copy", &["db", "clone", "shop", "shop_test"]);
    transcript.step(
        "a server that is not one",
        &["db", "--service", "nosuch", "ls"],
    );
    transcript.step("the server down", &["stop", "db"]);
    transcript.step("and asked", &["db", "ls"]);
    assert_snapshot("database_commands", &transcript.text(), &filters);
}

#[test]
fn publishing_reads_as_pinned() {
    let registry = Registry::start();
    let stack = Stack::new(
        "name: shop\nservices:\n  web:\n    image: busybox\n    environment: {GREETING: hello}\n    volumes: [./html:/www]\n",
    );
    let filters = filters(&stack, &[]).text(&registry.address, "REGISTRY");
    let target = format!("{}/shop/app:1", registry.address);
    let mut transcript = Transcript::new(&stack);
    transcript.step("environment needs --with-env", &["publish", "-y", &target]);
    transcript.step(
        "what it would do",
        &["--dry-run", "publish", "--with-env", &target],
    );
    transcript.step("no terminal to answer", &["publish", "--with-env", &target]);
    transcript.step("published", &["publish", "--with-env", "-y", &target]);
    transcript.step(
        "read back",
        &["-f", &format!("oci://{target}"), "config", "--services"],
    );
    assert_snapshot("publishing", &transcript.text(), &filters);
}

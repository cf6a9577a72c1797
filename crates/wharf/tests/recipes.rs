//! End-to-end tests of the native recipes against Debian's PostgreSQL, Redis and
//! memcached (installed by `scripts/test-all`). Without them these tests fail and say
//! what to install, unless WHARF_SKIP_NATIVE_SERVICES=1.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use support::{Stack, free_port, http_get};

#[test]
fn postgres_redis_and_memcached_run_from_the_host_with_the_images_settings() {
    if !support::have_servers() {
        return;
    }
    let (pg, redis, memcached) = (free_port(), free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: shop
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: s3cret
      POSTGRES_DB: shopdb
    ports: ["127.0.0.1:{pg}:5432"]
    volumes:
      - dbdata:/var/lib/postgresql/data
      - ./initdb:/docker-entrypoint-initdb.d:ro
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U shop -d shopdb"]
      interval: 5s
  cache:
    image: redis:7
    command: redis-server --appendonly yes
    ports: ["127.0.0.1:{redis}:6379"]
    volumes: [cachedata:/data]
  memo:
    image: memcached:1.6
    ports: ["127.0.0.1:{memcached}:11211"]
  app:
    image: debian
    environment:
      DATABASE_URL: postgres://shop:s3cret@db:5432/shopdb
    depends_on:
      db: {{condition: service_healthy}}
    x-wharf:
      process:
        command: ["sh", "-c", "psql \"$$DATABASE_URL\" -Atc 'select name from items order by id' && exec sleep 600"]
volumes:
  dbdata:
  cachedata:
"#
    ));
    let initdb = stack.dir.path().join("initdb");
    std::fs::create_dir(&initdb).unwrap();
    std::fs::write(initdb.join("01-schema.sql"), "CREATE TABLE items (id int primary key, name text);\nINSERT INTO items VALUES (1, 'from-sql');\n").unwrap();
    let gz = Command::new("sh")
        .arg("-c")
        .arg("printf \"INSERT INTO items VALUES (2, 'from-gz');\\n\" | gzip > 02-more.sql.gz")
        .current_dir(&initdb)
        .status()
        .unwrap();
    assert!(gz.success());
    std::fs::write(
        initdb.join("03-script.sh"),
        "psql -c \"INSERT INTO items VALUES (3, 'from-sh-$POSTGRES_DB')\"\n",
    )
    .unwrap();

    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);

    // The app reached `db:5432` through the rewritten URL, after every init script ran once.
    let expected = "from-sql\nfrom-gz\nfrom-sh-shopdb";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let logs = stack.ok(&["logs", "app", "--no-log-prefix"]);
        if logs.contains(expected) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the app never printed the rows:\n{logs}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    // `top` lists the server's workers too, though they left its process group
    // (postgres's call `setsid`): the instance's cgroup holds them.
    let top = stack.ok(&["top", "db"]);
    assert!(top.contains("postgres: checkpointer"), "{top}");

    let mut redis_conn = TcpStream::connect(("127.0.0.1", redis)).unwrap();
    redis_conn.write_all(b"PING\r\n").unwrap();
    let mut answer = [0u8; 7];
    redis_conn.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"+PONG\r\n");
    // `exec redis redis-cli` reaches this server, not whatever holds 6379.
    assert_eq!(
        stack
            .ok(&["exec", "-T", "cache", "redis-cli", "config", "get", "port"])
            .lines()
            .nth(1),
        Some(redis.to_string().as_str())
    );

    let mut memo = TcpStream::connect(("127.0.0.1", memcached)).unwrap();
    memo.write_all(b"version\r\n").unwrap();
    let mut version = [0u8; 8];
    memo.read_exact(&mut version).unwrap();
    assert_eq!(&version, b"VERSION ");

    // A restart keeps the data and does not run the init scripts again.
    stack.ok(&["restart", "db"]);
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "60"]);
    let psql = Command::new("psql")
        .args(["-Atc", "select count(*) from items"])
        .arg(format!("postgres://shop:s3cret@127.0.0.1:{pg}/shopdb"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&psql.stdout).trim(),
        "3",
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&stack.wharf(&["logs", "db"]).stdout).contains("duplicate key")
    );
    // The image's habit: psql inside the service, as the user, asks for no password.
    let inside = stack.ok(&[
        "exec",
        "db",
        "psql",
        "-U",
        "shop",
        "-d",
        "shopdb",
        "-Atc",
        "select count(*) from items",
    ]);
    assert_eq!(inside.trim(), "3");
}

#[test]
fn postgres_without_a_password_or_its_version_is_refused_before_anything_starts() {
    if !support::have_servers() {
        return;
    }
    let stack = Stack::new("name: nopass\nservices:\n  db:\n    image: postgres:15\n");
    let output = stack.wharf(&["up", "-d"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("POSTGRES_PASSWORD is not set"));

    let stack = Stack::new(
        "name: tooold\nservices:\n  db:\n    image: postgres:9\n    environment: {POSTGRES_PASSWORD: x}\n",
    );
    let output = stack.wharf(&["up", "-d"]);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("postgres 9 is not installed") && said.contains("postgresql-9"),
        "{said}"
    );
}

#[test]
fn a_server_that_publishes_no_port_is_checked_and_reached_on_its_usual_one() {
    if !support::have_servers() {
        return;
    }
    // Natively memcached listens on the host whatever the file publishes: its usual
    // port, which a second project's memcached wants as well.
    let usual = 11211;
    if let Err(holder) = wharf_host::ports::check_free(usual) {
        let holder = holder.map_or("another program".to_owned(), |o| o.command);
        panic!("this test needs port {usual} free; {holder} holds it");
    }
    let compose = |name: &str| {
        format!(
            "name: {name}\nservices:\n  cache:\n    image: memcached:1.6\n  app:\n    image: debian\n    \
             command: [sh, -c, 'echo \"cache at $$CACHE\"; sleep 1000']\n    \
             environment: {{CACHE: \"cache:11211\"}}\n    depends_on: [cache]\n"
        )
    };
    let first = Stack::new(&compose("first"));
    first.ok(&["up", "-d", "--wait"]);
    let listed = first.ok(&["ps"]);
    assert!(listed.contains("127.0.0.1:11211->11211"), "{listed}");
    let logs = first.ok(&["logs", "app"]);
    assert!(logs.contains("cache at 127.0.0.1:11211"), "{logs}");

    let second = tempfile::tempdir().unwrap();
    std::fs::write(second.path().join("compose.yaml"), compose("second")).unwrap();
    let in_second = |args: &[&str]| {
        let mut command = first.command(args);
        command.current_dir(second.path());
        command.output().unwrap()
    };
    let output = in_second(&["check"]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("port 11211 is already in use by first-cache-1 of project first")
            && said.contains("`wharf -p first stop cache`"),
        "{said}"
    );
    let output = in_second(&["up", "-d", "--wait"]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("port 11211 is already in use by first-cache-1 of project first (memcached"),
        "{said}"
    );
    in_second(&["down"]);
    first.ok(&["down"]);
}

#[test]
fn the_usual_wait_for_postgres_loop_reaches_the_project_s_db() {
    if !support::have_servers() {
        return;
    }
    let pg = free_port();
    let stack = Stack::new(&format!(
        r#"name: waits
services:
  db:
    image: postgres:15
    environment: {{POSTGRES_PASSWORD: pw}}
    ports: ["127.0.0.1:{pg}:5432"]
  migrate:
    image: debian
    command: ["sh", "-c", "until pg_isready -q -h db; do sleep 0.2; done; echo db reached"]
"#
    ));
    stack.reachable_home();
    stack.ok(&["up", "-d"]);
    support::eventually(
        "migrate reaches db",
        std::time::Duration::from_mins(1),
        || stack.ok(&["logs", "migrate"]).contains("db reached"),
    );
    stack.ok(&["down"]);
}

/// Copies an example into a fresh directory, so its data and state are the test's own.
fn copy_example(name: &str, to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let status = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn the_marketplace_example_runs_natively_behind_nginx() {
    if !support::have_servers() {
        return;
    }
    let stack = Stack::new("");
    copy_example("marketplace", stack.dir.path());
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    let first = http_get(28080, "marketplace.localhost", "/");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(
        first.contains("<li>anchor: 42.00</li>") && first.contains("from api"),
        "{first}"
    );
    let second = http_get(28080, "marketplace.localhost", "/");
    assert!(
        second.contains("from memcached"),
        "the second page comes from the cache: {second}"
    );
    let api = http_get(28080, "marketplace.localhost", "/api/products");
    assert!(
        api.contains("\"name\": \"lantern\"") && api.contains("\"views\": "),
        "{api}"
    );
    // `exec … nginx -t` tests the service's own configuration, not the machine's.
    let tested = stack.wharf(&["exec", "-T", "front", "nginx", "-t"]);
    let said = String::from_utf8_lossy(&tested.stderr);
    assert!(
        tested.status.success()
            && said.contains("syntax is ok")
            && !said.contains("/etc/nginx/nginx.conf"),
        "{said}"
    );
    stack.ok(&["down"]);
    assert!(
        TcpStream::connect(("127.0.0.1", 28080)).is_err(),
        "nginx stopped with the stack"
    );
}

#[test]
fn mysql_runs_on_the_hosts_mariadb_with_the_images_settings() {
    if !support::have_servers() {
        return;
    }
    let port = free_port();
    let stack = Stack::new(&format!(
        r#"name: legacy
services:
  db:
    image: mysql:8
    environment:
      MYSQL_ROOT_PASSWORD: r00t
      MYSQL_DATABASE: legacy
      MYSQL_USER: app
      MYSQL_PASSWORD: "it's app"
    ports: ["127.0.0.1:{port}:3306"]
    volumes: [dbdata:/var/lib/mysql, ./init:/docker-entrypoint-initdb.d:ro]
    healthcheck:
      test: ["CMD", "mariadb-admin", "ping", "-uroot", "-pr00t"]
      interval: 5s
volumes:
  dbdata:
"#
    ));
    let init = stack.dir.path().join("init");
    std::fs::create_dir(&init).unwrap();
    std::fs::write(
        init.join("01.sql"),
        "CREATE TABLE t (name text); INSERT INTO t VALUES ('from-sql');\n",
    )
    .unwrap();
    std::fs::write(
        init.join("02.sh"),
        "mariadb legacy -e \"INSERT INTO t VALUES ('from-sh')\"\n",
    )
    .unwrap();
    stack.reachable_home();
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    let query = Command::new("mariadb")
        .args([
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            &port.to_string(),
            "-uapp",
            "-pit's app",
            "legacy",
        ])
        .args([
            "-N",
            "-e",
            "SELECT name FROM t ORDER BY name; SELECT @@character_set_database",
        ])
        .output()
        .unwrap();
    // The image's character set, not the compiled-in latin1.
    assert_eq!(
        String::from_utf8_lossy(&query.stdout),
        "from-sh\nfrom-sql\nutf8mb4\n",
        "{}",
        String::from_utf8_lossy(&query.stderr)
    );
}

#[test]
fn rabbitmq_runs_as_a_node_of_its_own_and_leaves_nothing_behind() {
    if !support::have_servers() {
        return;
    }
    let port = support::free_low_port();
    let stack = Stack::new(&format!(
        r#"name: queue
services:
  mq:
    image: rabbitmq:3-management
    environment:
      RABBITMQ_DEFAULT_USER: shop
      RABBITMQ_DEFAULT_PASS: shoppw
    ports: ["127.0.0.1:{port}:5672"]
    volumes: [mqdata:/var/lib/rabbitmq]
    healthcheck:
      test: ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
      interval: 5s
      start_period: 60s
volumes:
  mqdata:
"#
    ));
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    // The node answers an AMQP 0-9-1 client with a Connection.Start method frame.
    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(1);
    let mut amqp = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(err) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "AMQP never listened: {err}"
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    amqp.write_all(b"AMQP\x00\x00\x09\x01").unwrap();
    let mut frame_type = [0u8; 1];
    amqp.read_exact(&mut frame_type).unwrap();
    assert_eq!(frame_type[0], 1, "a method frame");
    let listeners = Command::new("ss").args(["-ltnpH"]).output().unwrap();
    let listening = String::from_utf8_lossy(&listeners.stdout).into_owned();
    for line in listening
        .lines()
        .filter(|l| l.contains("beam.smp") || l.contains("epmd"))
    {
        let local = line.split_whitespace().nth(3).unwrap_or_default();
        assert!(
            local.starts_with("127.0.0.1:") || local.starts_with("[::1]:"),
            "not on loopback: {line}"
        );
    }
    let epmd_port = port.checked_add(20_001).unwrap_or_else(|| port - 19_999);
    let epmd = format!("epmd -port {epmd_port}");
    let running = |pattern: &str| {
        !Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .unwrap()
            .stdout
            .is_empty()
    };
    assert!(running(&epmd), "the node has its own epmd");
    stack.ok(&["down"]);
    assert!(!running("rabbit-mq@localhost"), "the node outlived down");
    assert!(!running(&epmd), "epmd outlived down");
}

/// A database's first start stopped half way (while an init file runs) is started
/// over by the next one: its database, users and init files all made, once, rather
/// than a server without them (PostgreSQL) or one that cannot read its pages
/// (MariaDB).
#[test]
fn a_first_start_cut_off_half_way_is_started_over() {
    use std::os::unix::fs::PermissionsExt;
    if !support::have_servers() {
        return;
    }
    let (pg, maria) = (free_port(), free_port());
    let stack = Stack::new(&format!(
        r#"name: cutoff
services:
  pg:
    image: postgres:15
    environment: {{POSTGRES_PASSWORD: pw, POSTGRES_DB: idb}}
    ports: ["127.0.0.1:{pg}:5432"]
    volumes: [pgdata:/var/lib/postgresql/data, ./pginit:/docker-entrypoint-initdb.d:ro]
  maria:
    image: mariadb:10.11
    environment: {{MARIADB_ROOT_PASSWORD: pw, MARIADB_DATABASE: idb}}
    ports: ["127.0.0.1:{maria}:3306"]
    volumes: [mariadata:/var/lib/mysql, ./mariainit:/docker-entrypoint-initdb.d:ro]
volumes:
  pgdata:
  mariadata:
"#
    ));
    stack.reachable_home();
    let dir = stack.dir.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let marks = dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    std::fs::set_permissions(&marks, std::fs::Permissions::from_mode(0o777)).unwrap();
    // The first start waits in its first init file; the next goes straight through.
    let slow = |name: &str| {
        let mark = marks.join(name);
        format!(
            "if [ ! -e {0} ]; then touch {0}; sleep 60; fi\n",
            mark.display()
        )
    };
    for (init, client_sql) in [
        (
            "pginit",
            "CREATE TABLE t (n int); INSERT INTO t VALUES (1);\n",
        ),
        (
            "mariainit",
            "CREATE TABLE t (n int); INSERT INTO t VALUES (1);\n",
        ),
    ] {
        let path = dir.join(init);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("00-slow.sh"), slow(init)).unwrap();
        std::fs::write(path.join("01-table.sql"), client_sql).unwrap();
    }
    stack.ok(&["up", "-d"]);
    support::eventually(
        "both first starts in their init files",
        std::time::Duration::from_mins(1),
        || marks.join("pginit").exists() && marks.join("mariainit").exists(),
    );
    stack.ok(&["stop"]);
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "120"]);
    let pg_rows = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg.to_string(),
            "-U",
            "postgres",
            "-d",
            "idb",
        ])
        .args(["-Atc", "select count(*) from t"])
        .env("PGPASSWORD", "pw")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&pg_rows.stdout).trim(),
        "1",
        "{}",
        String::from_utf8_lossy(&pg_rows.stderr)
    );
    let maria_rows = Command::new("mariadb")
        .args(["--no-defaults", "-h", "127.0.0.1", "-P", &maria.to_string()])
        .args([
            "-uroot",
            "-ppw",
            "idb",
            "-N",
            "-e",
            "select count(*) from t",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&maria_rows.stdout).trim(),
        "1",
        "{}",
        String::from_utf8_lossy(&maria_rows.stderr)
    );
    stack.ok(&["down", "-v", "--yes"]);
}

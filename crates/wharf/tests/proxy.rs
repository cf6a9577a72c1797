//! End-to-end tests of the proxy: real clients (raw sockets and curl) through wharfd's
//! proxy to real backends (`proxy_backend.py`) that wharf runs.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use support::{Stack, eventually, free_port, http_get};

fn backend() -> String {
    format!("{}/tests/proxy_backend.py", env!("CARGO_MANIFEST_DIR"))
}

/// web in two replicas (ports p, p+1), api; `/api` on the project's domain goes to api.
fn shop() -> (Stack, u16) {
    let (web, api) = (free_port(), free_port());
    // Two consecutive ports for web's replicas.
    let web = if std::net::TcpListener::bind(("127.0.0.1", web + 1)).is_ok() {
        web
    } else {
        free_port()
    };
    let script = backend();
    let stack = Stack::new(&format!(
        r#"name: shop
services:
  web:
    image: debian
    ports: ["127.0.0.1:{web}-{}:{web}"]
    deploy: {{replicas: 2}}
    x-wharf: {{process: {{command: ["sh", "-c", "exec python3 {script} web-$$WHARF_REPLICA $$PORT"]}}}}
  api:
    image: debian
    ports: ["127.0.0.1:{api}:{api}"]
    x-wharf: {{process: {{command: ["python3", "{script}", "the-api", "{api}"]}}}}
x-wharf:
  proxy:
    routes: [{{path: /api, service: api}}]
"#,
        web + 1
    ));
    stack.ok(&["up", "-d", "--wait", "--wait-timeout", "30"]);
    let port = stack.proxy_port;
    (stack, port)
}

#[test]
fn hosts_and_paths_route_and_replicas_take_turns() {
    let (stack, port) = shop();
    let first = http_get(port, "web.shop.localhost", "/page");
    let second = http_get(port, "web.shop.localhost", "/page");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let replicas = [
        first.contains("web-1 /page"),
        second.contains("web-1 /page"),
    ];
    assert!(
        replicas[0] != replicas[1],
        "round robin: {first} / {second}"
    );
    assert!(
        first.contains("xff=127.0.0.1") && first.contains("xfh=web.shop.localhost"),
        "{first}"
    );
    let api = http_get(port, "shop.localhost", "/api/items?x=1");
    assert!(api.contains("the-api /api/items?x=1"), "{api}");
    let unknown = http_get(port, "nothing.localhost", "/");
    assert!(
        unknown.starts_with("HTTP/1.1 404") && unknown.contains("http://web.shop.localhost"),
        "{unknown}"
    );
    let urls = stack.ok(&["urls"]);
    assert!(
        urls.contains(&format!("http://web.shop.localhost:{port}")) && urls.contains('2'),
        "{urls}"
    );
    // A route changed in the file is followed at the next `up`, though no service changed
    // (once the services are past their last look at where they listen, 8 s in, nothing
    // else would rebuild the routes).
    std::thread::sleep(Duration::from_secs(9));
    let file = std::fs::read_to_string(stack.dir.path().join("compose.yaml")).unwrap();
    stack.write(&file.replace("path: /api", "path: /v1"));
    let up = stack.ok_command(stack.command(&["up", "-d"]));
    assert!(!up.contains("recreated"), "{up}");
    eventually("the new route", Duration::from_secs(2), || {
        http_get(port, "shop.localhost", "/v1/items").contains("the-api /v1/items")
    });
    assert!(!http_get(port, "shop.localhost", "/api/items").contains("the-api"));
}

#[test]
fn pipelined_requests_are_answered_in_order_and_downloads_stream() {
    let (_stack, port) = shop();
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Three requests in one write, the last closing the connection.
    socket
        .write_all(
            b"GET /api/one HTTP/1.1\r\nHost: shop.localhost\r\n\r\n\
              GET /api/two HTTP/1.1\r\nHost: shop.localhost\r\n\r\n\
              GET /api/three HTTP/1.1\r\nHost: shop.localhost\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut answers = String::new();
    socket.read_to_string(&mut answers).unwrap();
    let order: Vec<usize> = ["/api/one", "/api/two", "/api/three"]
        .iter()
        .map(|path| {
            answers
                .find(&format!("the-api {path} "))
                .unwrap_or(usize::MAX)
        })
        .collect();
    assert!(
        order[0] < order[1] && order[1] < order[2] && order[2] != usize::MAX,
        "three answers, in order: {answers}"
    );
    assert_eq!(answers.matches("HTTP/1.1 200").count(), 3, "{answers}");

    let download = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{size_download}"])
        .arg(format!("http://shop.localhost:{port}/api/stream"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&download.stdout), "20971520");
}

#[test]
fn http2_websockets_and_large_bodies_pass_through() {
    let (_stack, port) = shop();
    let url = format!("http://web.shop.localhost:{port}/h2");
    let h2 = Command::new("curl")
        .args([
            "-s",
            "--http2-prior-knowledge",
            "-w",
            " %{http_version}",
            &url,
        ])
        .output()
        .expect("curl");
    let h2 = String::from_utf8_lossy(&h2.stdout).into_owned();
    assert!(h2.contains("/h2") && h2.ends_with(" 2"), "{h2}");

    let big = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(big.path(), vec![b'x'; 20 * 1024 * 1024]).unwrap();
    let posted = Command::new("curl")
        .args(["-s", "--data-binary"])
        .arg(format!("@{}", big.path().display()))
        .arg(format!("http://shop.localhost:{port}/api/upload"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&posted.stdout),
        "the-api received 20971520"
    );

    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        socket,
        "GET /ws HTTP/1.1\r\nHost: web.shop.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        socket.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 101") && head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{head}"
    );
    let mask = [1u8, 2, 3, 4];
    let payload: Vec<u8> = b"hello"
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    socket.write_all(&[0x81, 0x80 | 5]).unwrap();
    socket.write_all(&mask).unwrap();
    socket.write_all(&payload).unwrap();
    let mut frame = [0u8; 2];
    socket.read_exact(&mut frame).unwrap();
    let mut text = vec![0u8; usize::from(frame[1] & 0x7f)];
    socket.read_exact(&mut text).unwrap();
    assert!(String::from_utf8_lossy(&text).ends_with("echoes hello"));
}

#[test]
fn a_dead_replica_costs_no_request() {
    let (stack, port) = shop();
    stack.kill_instance("shop-web-2");
    for _ in 0..20 {
        let answer = http_get(port, "web.shop.localhost", "/");
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.contains("web-1"),
            "{answer}"
        );
    }
    eventually(
        "the proxy drops the dead replica",
        Duration::from_secs(5),
        || {
            let urls: Vec<serde_json::Value> =
                serde_json::from_str(&stack.ok(&["urls", "--format", "json"])).unwrap();
            // One backend left; the dead one is not counted as on its way back either.
            urls.iter().all(|route| {
                route["backends"].as_array().map(Vec::len) == Some(1) && route["waiting"] == 0
            })
        },
    );
}

#[test]
fn a_request_waits_for_a_service_that_has_started_but_does_not_listen_yet() {
    let web = free_port();
    let script = backend();
    let stack = Stack::new(&format!(
        r#"name: slow
services:
  web:
    image: debian
    ports: ["127.0.0.1:{web}:{web}"]
    x-wharf: {{process: {{command: ["sh", "-c", "sleep 1; exec python3 {script} web {web}"]}}}}
"#
    ));
    stack.ok(&["up", "-d"]);
    let started = std::time::Instant::now();
    let answer = http_get(stack.proxy_port, "web.slow.localhost", "/");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // As a browser reloading right after a restart.
    stack.ok(&["restart", "web"]);
    let answer = http_get(stack.proxy_port, "web.slow.localhost", "/");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_stopping_service_finishes_its_requests_and_gets_no_new_ones() {
    let (stack, port) = shop();
    let slow = std::thread::spawn(move || http_get(port, "web.shop.localhost", "/slow"));
    std::thread::sleep(Duration::from_millis(300));
    let stopper = std::thread::spawn({
        let command = stack.command(&["stop", "web"]).spawn().unwrap();
        move || command.wait_with_output().unwrap()
    });
    eventually("web is stopping", Duration::from_secs(5), || {
        stack.ok(&["ps", "--format", "json"]).contains("stopping")
    });
    let refused = http_get(port, "web.shop.localhost", "/new");
    assert!(
        refused.starts_with("HTTP/1.1 502"),
        "no new request reaches a stopping instance: {refused}"
    );
    let answer = slow.join().unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("/slow"),
        "the request in progress finished: {answer}"
    );
    assert!(stopper.join().unwrap().status.success());
}

#[test]
fn oversized_headers_are_refused_and_slow_clients_hold_nobody_up() {
    let (_stack, port) = shop();
    // Slow clients: connected, half a request sent, nothing more.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: web.shop.localhost\r\n")
                .unwrap();
            stream
        })
        .collect();
    let served = http_get(port, "web.shop.localhost", "/meanwhile");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    drop(idle);

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let huge = "x".repeat(100 * 1024);
    let _ = write!(
        stream,
        "GET / HTTP/1.1\r\nHost: web.shop.localhost\r\nX-Huge: {huge}\r\n\r\n"
    );
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "refused, not forwarded: {}",
        &answer[..answer.len().min(200)]
    );
    assert!(!answer.contains("web-"), "the backend never saw it");
}

#[test]
fn https_serves_every_route_with_certificates_from_the_local_ca() {
    let (stack, _) = shop();
    let ca = stack.home.path().join("data/ca/ca.pem");
    let url = format!("https://web.shop.localhost:{}/secure", stack.https_port);
    let answer = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&ca)
        .args(["-w", " %{http_version}", &url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&answer.stdout);
    assert!(
        text.contains("/secure") && text.ends_with(" 2"),
        "HTTP/2 over TLS, verified: {text} {}",
        String::from_utf8_lossy(&answer.stderr)
    );
    let untrusted = Command::new("curl").args(["-s", &url]).output().unwrap();
    assert!(
        !untrusted.status.success(),
        "without the CA the certificate is not trusted"
    );
    let key = std::fs::metadata(stack.home.path().join("data/ca/ca.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key.permissions()) & 0o777,
        0o600
    );
    let trust = stack.ok(&["proxy", "trust", "--print"]);
    assert!(
        trust.contains("update-ca-certificates") && trust.contains(&ca.display().to_string()),
        "{trust}"
    );
}

#[test]
fn share_opens_the_project_on_the_network_only_while_it_runs() {
    let (stack, _) = shop();
    let port = free_port();
    let address = |ip: &str| format!("{ip}:{port}");
    let mut share = stack
        .command(&["share", "--port", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(share.stdout.take().unwrap()),
        &mut url,
    )
    .unwrap();
    assert!(
        url.starts_with("http://") && url.trim().ends_with(&format!(":{port}")),
        "{url}"
    );
    // A client that knows only an address (as a phone does) reaches the project.
    let mut stream = TcpStream::connect(address("127.0.0.1")).unwrap();
    write!(
        stream,
        "GET /shared HTTP/1.1\r\nHost: 192.0.2.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("/shared"),
        "{answer}"
    );
    // Another project of the same daemon is not shared: its host reaches the shop.
    let private = free_port();
    let other = tempfile::tempdir().unwrap();
    std::fs::write(
        other.path().join("compose.yaml"),
        format!(
            "name: private\nservices:\n  web:\n    image: debian\n    ports: [\"127.0.0.1:{private}:{private}\"]\n    x-wharf: {{process: {{command: [\"python3\", \"{}\", \"the-private\", \"{private}\"]}}}}\n",
            backend()
        ),
    )
    .unwrap();
    let up = stack.wharf_in(other.path(), &["up", "-d", "--wait"]);
    assert!(up.status.success(), "{up:?}");
    assert!(http_get(stack.proxy_port, "web.private.localhost", "/").contains("the-private"));
    let mut stream = TcpStream::connect(address("127.0.0.1")).unwrap();
    write!(
        stream,
        "GET /other HTTP/1.1\r\nHost: web.private.localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        !answer.contains("the-private") && !answer.contains("private.localhost"),
        "{answer}"
    );
    share.kill().unwrap();
    share.wait().unwrap();
    eventually(
        "sharing stops with the command",
        Duration::from_secs(5),
        || TcpStream::connect(address("127.0.0.1")).is_err(),
    );
}

#[test]
fn under_load_a_killed_replica_and_scaling_fail_no_request() {
    let (stack, port) = shop();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = http_get(port, "web.shop.localhost", "/load");
                    if answer.starts_with("HTTP/1.1 200") {
                        ok += 1;
                    } else {
                        failed.push(answer.lines().next().unwrap_or_default().to_owned());
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    stack.kill_instance("shop-web-2");
    std::thread::sleep(Duration::from_millis(500));
    stack.ok(&["scale", "web=1"]);
    std::thread::sleep(Duration::from_millis(500));
    stack.ok(&["up", "-d", "--wait", "--scale", "web=2", "web"]);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    for client in clients {
        let (o, f) = client.join().unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(ok > 50, "the load ran: {ok} requests");
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {failed:?}",
        failed.len(),
        ok as usize + failed.len()
    );
}

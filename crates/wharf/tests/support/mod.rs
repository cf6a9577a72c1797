//! The harness the end-to-end tests share: a project directory with a private wharf
//! home, whose daemon is stopped when the test ends, pass or fail.

// Each test binary uses part of the harness.
#![allow(dead_code)]

pub mod compose_oracle;
pub mod registry;
pub mod snapshot;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A project directory and a private wharf home; stops its daemon when dropped.
pub struct Stack {
    pub home: tempfile::TempDir,
    pub dir: tempfile::TempDir,
    /// The proxy ports of this stack's daemon, free when the stack was made.
    pub proxy_port: u16,
    pub https_port: u16,
}

impl Stack {
    pub fn new(compose: &str) -> Self {
        let stack = Self {
            home: tempfile::tempdir().unwrap(),
            dir: tempfile::tempdir().unwrap(),
            proxy_port: free_port(),
            https_port: free_port(),
        };
        stack.write(compose);
        stack
    }

    pub fn write(&self, compose: &str) {
        std::fs::write(self.dir.path().join("compose.yaml"), compose).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(Path::new(env!("CARGO_BIN_EXE_wharf")), args)
    }

    /// `command`, for another build of wharf (the release build's tests).
    pub fn command_of(&self, wharf: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(wharf);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("WHARF_HOME", self.home.path())
            .env("WHARF_PROXY_PORT", self.proxy_port.to_string())
            .env("WHARF_PROXY_HTTPS_PORT", self.https_port.to_string())
            .env("NO_COLOR", "1");
        command
    }

    /// Database servers run as their own users: the wharf home must be reachable.
    pub fn reachable_home(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    pub fn wharf(&self, args: &[&str]) -> Output {
        bounded_output(&mut self.command(args))
    }

    /// `wharf ARGS` on a machine where no Docker engine answers (`DOCKER_HOST` points
    /// at no socket), whether or not this one has an engine.
    pub fn wharf_without_engine(&self, args: &[&str]) -> Output {
        bounded_output(
            self.command(args)
                .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        )
    }

    /// `wharf ARGS` run in `dir`, another checkout, with this stack's daemon.
    pub fn wharf_in(&self, dir: &Path, args: &[&str]) -> Output {
        bounded_output(self.command(args).current_dir(dir))
    }

    /// Runs `wharf ARGS` (a shell line, the docker CLI off the PATH) under a terminal
    /// that script(1) makes, as a user at one would.
    pub fn under_terminal(&self, args: &str) -> Output {
        let wharf = env!("CARGO_BIN_EXE_wharf");
        bounded_output(
            Command::new("script")
                .args(["-qec", &format!("PATH=/nonexistent {wharf} {args}")])
                .arg(self.dir.path().join("typescript"))
                .current_dir(self.dir.path())
                .env("WHARF_HOME", self.home.path()),
        )
    }

    /// Runs and asserts success, returning stdout; a failure shows the recent logs.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_command(self.command(args))
    }

    /// Runs `command` (made by `command`) and asserts success, as `ok` does.
    pub fn ok_command(&self, mut command: Command) -> String {
        let output = bounded_output(&mut command);
        let args: Vec<_> = command.get_args().collect();
        assert!(
            output.status.success(),
            "wharf {args:?} failed ({}):\n{}{}\n--- recent logs:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&self.wharf(&["logs", "-n", "40"]).stdout)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn ps(&self) -> Vec<Value> {
        // wharf's own view of each instance, beside Compose's fields.
        self.compose_ps()
            .into_iter()
            .map(|line| line["wharf"].clone())
            .collect()
    }

    /// `ps -a --format json`: one object per instance, in Compose's shape.
    pub fn compose_ps(&self) -> Vec<Value> {
        self.ok(&["ps", "-a", "--format", "json"])
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .collect()
    }

    /// wharf's view of the first instance of `service` (which must have one).
    pub fn instance_of(&self, service: &str) -> Value {
        self.ps()
            .into_iter()
            .find(|i| i["service"] == service)
            .unwrap_or_else(|| panic!("no instance of {service}"))
    }

    pub fn pid_of(&self, name: &str) -> Option<u32> {
        self.ps()
            .into_iter()
            .find(|i| i["name"] == name)
            .and_then(|i| i["pid"].as_u64())
            .map(|p| p as u32)
    }

    /// SIGKILLs the process of instance `name` behind wharf's back; returns its pid.
    pub fn kill_instance(&self, name: &str) -> u32 {
        let pid = self
            .pid_of(name)
            .unwrap_or_else(|| panic!("{name} has no process"));
        kill(pid);
        pid
    }

    /// Waits until the service's output holds a line `<prefix> <pid>`, and returns the pid.
    pub fn logged_pid(&self, prefix: &str) -> u32 {
        let mut found = None;
        eventually(
            &format!("a line `{prefix} <pid>` in the logs"),
            Duration::from_secs(10),
            || {
                let logs = self.ok(&["logs", "--no-log-prefix"]);
                found = logs
                    .lines()
                    .find_map(|l| l.strip_prefix(prefix))
                    .and_then(|p| p.trim().parse::<u32>().ok());
                found.is_some()
            },
        );
        found.unwrap_or_default()
    }

    pub fn daemon_pid(&self) -> u32 {
        let status: Value =
            serde_json::from_str(&self.ok(&["daemon", "status", "--format", "json"])).unwrap();
        status["pid"].as_u64().unwrap() as u32
    }

    pub fn socket(&self) -> PathBuf {
        self.home.path().join("run/wharfd.sock")
    }
}

impl Drop for Stack {
    /// Stops the daemon, and fails the test if a driver reported an event the
    /// lifecycle's table refused: every end-to-end test checks the drivers too.
    fn drop(&mut self) {
        let _ = self.wharf(&["daemon", "stop"]);
        let log =
            std::fs::read_to_string(self.home.path().join("state/wharfd.log")).unwrap_or_default();
        let refused: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(" is not allowed while "))
            .collect();
        assert!(
            refused.is_empty() || std::thread::panicking(),
            "wharfd refused lifecycle events:\n{}",
            refused.join("\n")
        );
    }
}

/// A free port between 13000 and 19999: below the ephemeral range, where the tests'
/// own connections take their source ports, above `free_low_port`'s, and below the
/// fixed ports of the examples (21211 to 28080), which their tests publish. Each test
/// process claims a block of 100 ports of its own for as long as it runs (a lock file
/// held open), so a port a test frees for a moment (a server it restarts) is never
/// picked by another; ports come ten apart, leaving the next ones to a service's
/// further replicas.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let block = port_block();
    loop {
        let offset = (NEXT.fetch_add(1, Ordering::Relaxed) * 10 % 100) as u16;
        let port = 13_000 + block * 100 + offset;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// How many blocks of 100 ports `free_port` has.
const BLOCKS: u32 = 70;

/// This process's block of ports (0 to 69), claimed once.
fn port_block() -> u16 {
    static BLOCK: std::sync::OnceLock<(std::fs::File, u16)> = std::sync::OnceLock::new();
    let (_, block) = BLOCK.get_or_init(|| {
        let dir = std::env::temp_dir().join("wharf-test-ports");
        std::fs::create_dir_all(&dir).unwrap();
        let start = (std::process::id() % BLOCKS) as u16;
        (0..BLOCKS as u16)
            .map(|n| (start + n) % BLOCKS as u16)
            .find_map(|block| {
                let file = std::fs::File::create(dir.join(format!("{block}.lock"))).ok()?;
                file.try_lock().ok()?;
                Some((file, block))
            })
            .expect("a free block of test ports")
    });
    *block
}

/// A free port between 10000 and 12699, for servers whose own rules derive more ports
/// from it (RabbitMQ: + 20000, + 20001) that must stay below the ephemeral range
/// (32768 and up), where the tests' own connections take their source ports.
/// Ports ten apart, so servers of tests started together (consecutive pids) never
/// derive the same port.
pub fn free_low_port() -> u16 {
    let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
    let start = 10_000 + (std::process::id() % 270) as u16 * 10;
    (start..12_700)
        .chain(10_000..start)
        .step_by(10)
        .find(|port| free(*port) && free(port + 20_000) && free(port + 20_001))
        .expect("a free port between 10000 and 12699")
}

/// How long one command of a test may take: one that hangs fails its test, named, at
/// once, instead of holding the whole run until CI gives up.
const COMMAND_LIMIT: Duration = Duration::from_mins(5);

/// `command`'s output, as `Command::output` gives it (no input), but killed, with the
/// processes it started, and failed after `COMMAND_LIMIT`.
pub fn bounded_output(command: &mut Command) -> Output {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{program} could not start: {e}"));
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = sender.send(bytes);
        });
        receiver
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let group = nix::unistd::Pid::from_raw(child.id().cast_signed());
    let (ended, watched) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let hung = watched.recv_timeout(COMMAND_LIMIT).is_err();
        if hung {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        hung
    });
    let status = child.wait().unwrap();
    let _ = ended.send(());
    // A process left holding the output (started elsewhere) does not hold the test.
    let collect = |receiver: std::sync::mpsc::Receiver<Vec<u8>>| {
        receiver
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_default()
    };
    let output = Output {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    };
    assert!(
        !watchdog.join().unwrap(),
        "{program} {:?} did not end within {} s, and was killed; it said:\n{}{}",
        command.get_args().collect::<Vec<_>>(),
        COMMAND_LIMIT.as_secs(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// Waits until `check` holds, failing with `what` after `timeout`.
pub fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain HTTP GET on loopback, the connection closed after the answer.
pub fn http_get(port: u16, host: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Whether Debian's servers the recipes run are installed; when not, fails saying what
/// to install, unless WHARF_SKIP_NATIVE_SERVICES is set (then `false`: skip).
pub fn have_servers() -> bool {
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
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("WHARF_SKIP_NATIVE_SERVICES").is_some(),
        "these tests need Debian's {}: run scripts/test-all, or apt-get install them (WHARF_SKIP_NATIVE_SERVICES=1 skips)",
        missing.join(", ")
    );
    false
}

/// SIGKILLs a process.
pub fn kill(pid: u32) {
    signal(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
}

pub fn signal(pid: u32, signal: nix::sys::signal::Signal) -> nix::Result<()> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid.cast_signed()), signal)
}

/// Runs git in `dir` as a fixed author, asserting success; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.org")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.org")
        .output()
        .expect("git is needed for these tests: apt-get install git");
    assert!(
        output.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

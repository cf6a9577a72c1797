//! Healthchecks, run natively. While a service starts, probes come fast (from a few
//! milliseconds, growing) so a dependent starts the moment it can; once the service has
//! been healthy, they come at the configured interval.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use wharf_api::Health;
use wharf_plan::{HealthSpec, Probe};

use crate::orphans::Children;
use crate::spawn::{Containment, Process, spawn};

const FIRST_DELAY: Duration = Duration::from_millis(5);
/// While starting, the delay between probes never grows past this.
const STARTING_CAP: Duration = Duration::from_millis(250);

/// Decides the health status and the next delay from probe results; pure, so the
/// timing rules are tested without processes.
pub struct HealthTracker {
    spec: HealthSpec,
    started: Instant,
    status: Health,
    delay: Duration,
    failures: u32,
    last_counted: Option<Instant>,
}

impl HealthTracker {
    pub fn new(spec: HealthSpec, started: Instant) -> Self {
        Self {
            spec,
            started,
            status: Health::Starting,
            delay: FIRST_DELAY,
            failures: 0,
            last_counted: None,
        }
    }

    pub fn status(&self) -> Health {
        self.status
    }

    /// How long to wait before the next probe.
    pub fn next_delay(&self) -> Duration {
        self.delay
    }

    /// Records a probe result taken at `now`.
    pub fn record(&mut self, passed: bool, now: Instant) {
        if passed {
            self.status = Health::Healthy;
            self.failures = 0;
            self.last_counted = None;
        } else if self.counts_failure(now) {
            self.failures += 1;
            self.last_counted = Some(now);
            if self.failures >= self.spec.retries.max(1) {
                self.status = Health::Unhealthy;
            }
        }
        self.delay = if self.status == Health::Starting {
            (self.delay * 3 / 2)
                .min(STARTING_CAP)
                .min(self.spec.interval.max(FIRST_DELAY))
        } else {
            self.spec.interval
        };
    }

    /// Failures in the start period don't count, as in Compose; fast probes while
    /// starting count at most once per interval, from the first interval's end (where
    /// the engine probes first), so they use up the retries no earlier than its probes.
    fn counts_failure(&self, now: Instant) -> bool {
        if self.status == Health::Starting {
            if now.duration_since(self.started) < self.spec.start_period {
                return false;
            }
            let since = self.last_counted.unwrap_or(self.started);
            return now.duration_since(since) >= self.spec.interval;
        }
        true
    }
}

/// The log's line when a service turns unhealthy, natively or in a container.
pub fn unhealthy_line(said: &str) -> String {
    if said.is_empty() {
        // The engine turned it unhealthy before wharf read what its probe said.
        "unhealthy: the healthcheck failed".to_owned()
    } else {
        format!("unhealthy: the healthcheck failed ({said})")
    }
}

/// How a probe went: whether it passed, and what a failing one said.
pub struct ProbeResult {
    pub passed: bool,
    /// The last line of a failing probe's output, or why it did not run: what the user
    /// is shown when the service turns unhealthy.
    pub said: String,
}

impl ProbeResult {
    pub fn passed() -> Self {
        Self {
            passed: true,
            said: String::new(),
        }
    }

    pub fn failed(said: impl Into<String>) -> Self {
        Self {
            passed: false,
            said: said.into(),
        }
    }
}

/// Runs one probe in the service's environment; a probe past its timeout fails.
pub async fn probe(
    spec: &HealthSpec,
    dir: &Path,
    env: &BTreeMap<String, String>,
    children: &Children,
    containment: Containment<'_>,
) -> ProbeResult {
    let shell;
    let argv = match &spec.probe {
        Probe::Exec(argv) if argv.is_empty() => {
            return ProbeResult::failed("the healthcheck's command is empty");
        }
        Probe::Exec(argv) => argv,
        Probe::Shell(script) => {
            shell = ["/bin/sh".to_owned(), "-c".to_owned(), script.clone()];
            &shell[..]
        }
        Probe::Tcp(port) => return within(spec, connects(*port)).await,
        Probe::Http { port, path } => return within(spec, answers(*port, path)).await,
        // Read from the service's log by the caller, which has it.
        Probe::Log(_) => return ProbeResult::failed("no log to read"),
    };
    let child = match spawn(argv, dir, env, containment) {
        Ok(child) => child,
        Err(err) => {
            return ProbeResult::failed(format!(
                "the healthcheck did not run `{}`: {err}",
                argv[0]
            ));
        }
    };
    let pid = child.id();
    children.adopt(pid);
    let result = finish(spec, child).await;
    children.release(pid);
    result
}

/// A probe of wharf's own, failed past the healthcheck's timeout.
async fn within(
    spec: &HealthSpec,
    probe: impl std::future::Future<Output = ProbeResult>,
) -> ProbeResult {
    let timeout = probe_timeout(spec);
    tokio::time::timeout(timeout, probe)
        .await
        .unwrap_or_else(|_| ProbeResult::failed(format!("timed out after {}s", timeout.as_secs())))
}

/// Whether the service's port on loopback takes a connection.
async fn connects(port: u16) -> ProbeResult {
    match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(_) => ProbeResult::passed(),
        Err(err) => ProbeResult::failed(format!("127.0.0.1:{port}: {err}")),
    }
}

/// Whether `path` on the service's port answers a GET with 2xx or 3xx.
async fn answers(port: u16, path: &str) -> ProbeResult {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut stream = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(stream) => stream,
        Err(err) => return ProbeResult::failed(format!("{url}: {err}")),
    };
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let mut head = vec![0u8; 512];
    let read = match stream.write_all(request.as_bytes()).await {
        Ok(()) => stream.read(&mut head).await,
        Err(err) => Err(err),
    };
    let head = match read {
        Ok(n) => String::from_utf8_lossy(&head[..n]).into_owned(),
        Err(err) => return ProbeResult::failed(format!("{url}: {err}")),
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(code) if (200..400).contains(&code) => ProbeResult::passed(),
        Some(code) => ProbeResult::failed(format!("{url} answered {code}")),
        None => ProbeResult::failed(format!("{url} gave no HTTP answer")),
    }
}

fn probe_timeout(spec: &HealthSpec) -> Duration {
    if spec.timeout.is_zero() {
        Duration::from_secs(30)
    } else {
        spec.timeout
    }
}

/// Waits for a probe, killing it past its timeout.
async fn finish(spec: &HealthSpec, child: Process) -> ProbeResult {
    let timeout = probe_timeout(spec);
    match tokio::time::timeout(timeout, child.output()).await {
        Ok(Ok(output)) if output.status.success() => ProbeResult::passed(),
        Ok(Ok(output)) => {
            let text = [output.stdout, output.stderr].concat();
            let code = output.status.code().map(i64::from);
            ProbeResult::failed(wharf_api::probe_said(code, &String::from_utf8_lossy(&text)))
        }
        Ok(Err(err)) => ProbeResult::failed(err.to_string()),
        Err(_) => {
            // The future owned the probe: dropping it killed its group and reaps it.
            ProbeResult::failed(format!("timed out after {}s", timeout.as_secs()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(interval_ms: u64, retries: u32, start_period_ms: u64) -> HealthSpec {
        HealthSpec {
            probe: Probe::Shell("true".into()),
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_secs(1),
            retries,
            start_period: Duration::from_millis(start_period_ms),
            start_interval: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_unhealthy_line_says_what_the_probe_said_when_anything() {
        assert_eq!(
            unhealthy_line("exit code 1: down"),
            "unhealthy: the healthcheck failed (exit code 1: down)"
        );
        assert_eq!(unhealthy_line(""), "unhealthy: the healthcheck failed");
    }

    #[test]
    fn probes_speed_up_while_starting_then_follow_the_interval() {
        let start = Instant::now();
        let mut tracker = HealthTracker::new(spec(30_000, 3, 0), start);
        assert_eq!(tracker.next_delay(), Duration::from_millis(5));
        let mut delays = Vec::new();
        let mut now = start;
        for _ in 0..12 {
            now += tracker.next_delay();
            tracker.record(false, now);
            delays.push(tracker.next_delay());
        }
        assert!(
            delays.windows(2).all(|w| w[0] <= w[1]),
            "delays grow: {delays:?}"
        );
        assert!(delays.iter().all(|d| *d <= STARTING_CAP));
        // Many fast failures inside one interval count once: still starting.
        assert_eq!(tracker.status(), Health::Starting);
        tracker.record(true, now);
        assert_eq!(tracker.status(), Health::Healthy);
        assert_eq!(tracker.next_delay(), Duration::from_secs(30));
    }

    #[test]
    fn retries_failures_at_the_interval_make_it_unhealthy() {
        let start = Instant::now();
        let mut tracker = HealthTracker::new(spec(100, 2, 0), start);
        tracker.record(true, start);
        tracker.record(false, start + Duration::from_millis(100));
        assert_eq!(tracker.status(), Health::Healthy);
        tracker.record(false, start + Duration::from_millis(200));
        assert_eq!(tracker.status(), Health::Unhealthy);
    }

    #[test]
    fn a_service_that_never_passes_is_unhealthy_no_sooner_than_the_engine_says() {
        // interval 1s, retries 3: the engine probes at 1, 2 and 3 s.
        let start = Instant::now();
        let mut tracker = HealthTracker::new(spec(1_000, 3, 0), start);
        let mut now = start;
        while tracker.status() == Health::Starting {
            now += tracker.next_delay();
            tracker.record(false, now);
        }
        assert_eq!(tracker.status(), Health::Unhealthy);
        let took = now.duration_since(start);
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_millis(3_300),
            "{took:?}"
        );
    }

    #[test]
    fn failures_in_the_start_period_do_not_count() {
        let start = Instant::now();
        let mut tracker = HealthTracker::new(spec(10, 1, 1_000), start);
        tracker.record(false, start + Duration::from_millis(500));
        assert_eq!(tracker.status(), Health::Starting);
        tracker.record(false, start + Duration::from_millis(1_100));
        assert_eq!(tracker.status(), Health::Unhealthy);
    }
}

//! One instance's life: wait for its dependencies, start, probe, restart by policy
//! with backoff, stop on request. Runs as one task per instance; reports through
//! `Shared::update` and the project's log.

use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncRead;
use tokio::process::Child;
use tokio::sync::watch;
use wharf_api::{Health, InstanceState, LogStream, now_ms};
use wharf_plan::{Condition, ServiceSpec};

use crate::cgroup::Cgroup;
use crate::health::{HealthTracker, probe};
use crate::orphans::kill_marked;
use crate::ports::in_use;
use crate::process::{Containment, parse_signal, signal_group, spawn};
use crate::supervisor::{Command, InstanceKey, Shared};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long resets the backoff: the service was working.
const STABLE_RUN: Duration = Duration::from_secs(10);
/// This many exits within `CRASH_WINDOW` is reported as a crash loop.
const CRASH_LOOP_EXITS: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_mins(1);
/// How long the processes a service left behind may take to die once killed.
const LEFTOVERS_TIMEOUT: Duration = Duration::from_secs(5);

enum Outcome {
    Exited(Option<i32>),
    StopRequested,
}

pub async fn run(
    shared: Arc<Shared>,
    key: InstanceKey,
    spec: ServiceSpec,
    mut commands: watch::Receiver<Command>,
) {
    match wait_for_dependencies(&shared, &key, &spec, &mut commands).await {
        Ok(()) => {}
        Err(Some(reason)) => {
            shared.log(&key, LogStream::Wharf, format!("not started: {reason}"));
            shared.update(&key, |s| {
                s.state = InstanceState::Exited;
                s.message = reason;
            });
            return;
        }
        Err(None) => {
            shared.update(&key, |s| s.state = InstanceState::Stopped);
            return;
        }
    }
    let cgroup = CgroupLease(
        shared
            .cgroups
            .as_ref()
            .and_then(|tree| tree.instance(&key.project, &key.service, key.replica)),
    );
    let mut restarts = 0u32;
    let mut backoff = FIRST_BACKOFF;
    let mut exits: VecDeque<Instant> = VecDeque::new();
    loop {
        if let Some(problem) = spec.ports.iter().find_map(|p| in_use(p.published)) {
            shared.log(&key, LogStream::Wharf, format!("not started: {problem}"));
            shared.update(&key, |s| {
                s.state = InstanceState::Exited;
                s.message = problem;
            });
            return;
        }
        let marker = shared.instance_marker(&key);
        let containment = Containment {
            marker: &marker,
            cgroup: cgroup.0.as_ref(),
        };
        let spawned = spawn(
            &spec.command,
            &spec.working_dir,
            &spec.environment,
            containment,
        );
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => {
                let program = spec.command.first().map_or("", String::as_str);
                let message = if spec.working_dir.is_dir() {
                    format!("cannot start `{program}`: {err}")
                } else {
                    format!(
                        "cannot start `{program}`: its working directory {} does not exist",
                        spec.working_dir.display()
                    )
                };
                shared.log(&key, LogStream::Wharf, message.clone());
                shared.update(&key, |s| {
                    s.state = InstanceState::Exited;
                    s.exit_code = Some(127);
                    s.message = message;
                });
                return;
            }
        };
        let pid = child.id().unwrap_or_default();
        shared.children.adopt(pid);
        let started = Instant::now();
        pump_logs(&shared, &key, &mut child);
        shared.log(&key, LogStream::Wharf, format!("started (pid {pid})"));
        shared.update(&key, |s| {
            s.state = InstanceState::Running;
            s.pid = Some(pid);
            s.exit_code = None;
            s.started_at_ms = Some(now_ms());
            s.health = if spec.healthcheck.is_some() {
                Health::Starting
            } else {
                Health::None
            };
            s.restarts = restarts;
            s.message.clear();
            s.listening.clear();
        });
        tokio::spawn(look_where_it_listens(Arc::clone(&shared), key.clone(), pid));
        let prober = spec.healthcheck.clone().map(|health| {
            let shared = Arc::clone(&shared);
            let key = key.clone();
            let spec = spec.clone();
            let marker = marker.clone();
            let cgroup = cgroup.0.clone();
            tokio::spawn(async move {
                let mut tracker = HealthTracker::new(health.clone(), started);
                // Probes are the service's processes too: contained like it.
                let containment = Containment {
                    marker: &marker,
                    cgroup: cgroup.as_ref(),
                };
                loop {
                    tokio::time::sleep(tracker.next_delay()).await;
                    let result = probe(
                        &health,
                        &spec.working_dir,
                        &spec.environment,
                        &shared.children,
                        containment,
                    )
                    .await;
                    let before = tracker.status();
                    tracker.record(result.passed, Instant::now());
                    let status = tracker.status();
                    if status != before {
                        // An unhealthy service says why: the last probe's own words.
                        if status == Health::Unhealthy {
                            shared.log(
                                &key,
                                LogStream::Wharf,
                                format!("unhealthy: the healthcheck failed ({})", result.said),
                            );
                        }
                        shared.update(&key, |s| {
                            s.health = status;
                            s.message = if status == Health::Unhealthy {
                                format!("healthcheck: {}", result.said)
                            } else {
                                String::new()
                            };
                        });
                    }
                }
            })
        });

        let mut manual = false;
        let outcome = loop {
            tokio::select! {
                status = child.wait() => break Outcome::Exited(status.ok().and_then(exit_code)),
                changed = commands.changed() => {
                    let command = if changed.is_ok() { *commands.borrow_and_update() } else { Command::Stop };
                    match command {
                        Command::Run => {}
                        Command::Stop => break Outcome::StopRequested,
                        Command::Kill(signal) => {
                            manual = true;
                            signal_group(pid, signal);
                        }
                    }
                }
            }
        };
        if let Some(prober) = prober {
            prober.abort();
        }
        let stop_requested = matches!(outcome, Outcome::StopRequested);
        let code = match outcome {
            Outcome::StopRequested => {
                shared.update(&key, |s| s.state = InstanceState::Stopping);
                stop_child(&mut child, pid, &spec).await
            }
            Outcome::Exited(code) => code,
        };
        shared.children.release(pid);
        end_leftovers(cgroup.0.as_ref(), pid, &marker).await;
        if stop_requested {
            shared.mark_stopped(&key, code);
            return;
        }
        let code_text = code.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        if manual || !spec.restart.restarts_after(code, restarts) {
            // One line per exit: a restart says it with its delay, below.
            shared.log(
                &key,
                LogStream::Wharf,
                format!("exited with code {code_text}"),
            );
            shared.update(&key, |s| {
                s.state = InstanceState::Exited;
                s.pid = None;
                s.exit_code = code;
                s.health = Health::None;
            });
            return;
        }
        if started.elapsed() >= STABLE_RUN {
            backoff = FIRST_BACKOFF;
        }
        let now = Instant::now();
        exits.push_back(now);
        while exits
            .front()
            .is_some_and(|t| now.duration_since(*t) > CRASH_WINDOW)
        {
            exits.pop_front();
        }
        restarts += 1;
        let crash_loop = exits.len() >= CRASH_LOOP_EXITS;
        let message = if crash_loop {
            format!(
                "crash loop: {} exits in the last {}s (last code {code_text}); next try in {:.1}s",
                exits.len(),
                CRASH_WINDOW.as_secs(),
                backoff.as_secs_f64()
            )
        } else {
            format!(
                "exited with code {code_text}; restarting in {:.1}s",
                backoff.as_secs_f64()
            )
        };
        shared.log(&key, LogStream::Wharf, message.clone());
        shared.update(&key, |s| {
            s.state = if crash_loop {
                InstanceState::CrashLoop
            } else {
                InstanceState::Restarting
            };
            s.pid = None;
            s.exit_code = code;
            s.health = Health::None;
            s.restarts = restarts;
            s.message = message;
        });
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = commands.changed() => {
                if *commands.borrow_and_update() != Command::Run {
                    shared.mark_stopped(&key, code);
                    return;
                }
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// An instance's cgroup, removed when its task ends.
struct CgroupLease(Option<Cgroup>);

impl Drop for CgroupLease {
    fn drop(&mut self) {
        if let Some(cgroup) = &self.0 {
            cgroup.remove();
        }
    }
}

/// Whatever the service started goes with it, in its group, in its cgroup, or escaped
/// from both; with a cgroup, waited for, so what starts next finds its ports free.
async fn end_leftovers(cgroup: Option<&Cgroup>, pid: u32, marker: &str) {
    signal_group(pid, Signal::SIGKILL);
    let Some(cgroup) = cgroup else {
        kill_marked(marker);
        return;
    };
    // Usually the leader was all there was, and the cgroup is empty already.
    if !cgroup.populated() {
        return;
    }
    cgroup.kill();
    let deadline = Instant::now() + LEFTOVERS_TIMEOUT;
    while cgroup.populated() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The exit code as Docker reports it: the code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> Option<i32> {
    status.code().or_else(|| status.signal().map(|s| 128 + s))
}

/// Sends the stop signal to the group, then SIGKILL after the grace period.
async fn stop_child(child: &mut Child, pid: u32, spec: &ServiceSpec) -> Option<i32> {
    let signal = parse_signal(&spec.stop_signal).unwrap_or(Signal::SIGTERM);
    signal_group(pid, signal);
    let grace = if spec.stop_grace_period.is_zero() {
        Duration::from_secs(10)
    } else {
        spec.stop_grace_period
    };
    let status = if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
        status.ok()
    } else {
        signal_group(pid, Signal::SIGKILL);
        child.wait().await.ok()
    };
    status.and_then(exit_code)
}

fn pump_logs(shared: &Arc<Shared>, key: &InstanceKey, child: &mut Child) {
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(pump(
            Arc::clone(shared),
            key.clone(),
            LogStream::Stdout,
            stdout,
        ));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(pump(
            Arc::clone(shared),
            key.clone(),
            LogStream::Stderr,
            stderr,
        ));
    }
}

async fn pump(
    shared: Arc<Shared>,
    key: InstanceKey,
    stream: LogStream,
    output: impl AsyncRead + Unpin,
) {
    crate::line_reader::for_each_line(output, |line| shared.log(&key, stream, line)).await;
}

/// Waits until every dependency meets its condition. `Err(Some(reason))` when a
/// required one cannot, `Err(None)` when asked to stop meanwhile.
pub(crate) async fn wait_for_dependencies(
    shared: &Shared,
    key: &InstanceKey,
    spec: &ServiceSpec,
    commands: &mut watch::Receiver<Command>,
) -> Result<(), Option<String>> {
    let mut changes = shared.subscribe_changes();
    let mut warned = false;
    loop {
        let mut pending = false;
        for (name, dependency) in &spec.depends_on {
            match check(shared, &key.project, name, dependency.condition) {
                Check::Met => {}
                Check::Pending => pending = true,
                Check::Failed(reason) if dependency.required => {
                    return Err(Some(format!("dependency {name} {reason}")));
                }
                Check::Failed(reason) => {
                    if !warned {
                        shared.log(
                            key,
                            LogStream::Wharf,
                            format!("optional dependency {name} {reason}; starting anyway"),
                        );
                    }
                }
            }
        }
        if !pending {
            return Ok(());
        }
        warned = true;
        tokio::select! {
            _ = changes.changed() => {}
            _ = commands.changed() => {
                if *commands.borrow_and_update() != Command::Run {
                    return Err(None);
                }
            }
        }
    }
}

enum Check {
    Met,
    Pending,
    Failed(String),
}

fn check(shared: &Shared, project: &str, service: &str, condition: Condition) -> Check {
    let instances = shared.service_statuses(project, service);
    if instances.is_empty() {
        return if shared.is_up(project, service) {
            Check::Pending
        } else {
            Check::Failed("is not running".to_owned())
        };
    }
    let mut pending = false;
    for instance in &instances {
        let verdict = match condition {
            Condition::ServiceStarted => match instance.state {
                InstanceState::Waiting => Check::Pending,
                InstanceState::Exited
                    if instance.pid.is_none() && instance.started_at_ms.is_none() =>
                {
                    Check::Failed(format!("did not start: {}", instance.message))
                }
                InstanceState::Stopped => Check::Failed("was stopped".to_owned()),
                _ => Check::Met,
            },
            Condition::ServiceHealthy => match (instance.state, instance.health) {
                (InstanceState::Running, Health::Healthy) => Check::Met,
                (InstanceState::Running, Health::None) => {
                    Check::Failed("has no healthcheck, so it can never be healthy".to_owned())
                }
                (InstanceState::Running, Health::Unhealthy) => {
                    Check::Failed("is unhealthy".to_owned())
                }
                (
                    InstanceState::Waiting | InstanceState::Running | InstanceState::Restarting,
                    _,
                ) => Check::Pending,
                (_, _) => Check::Failed(format!(
                    "exited before it was healthy{}",
                    code_suffix(instance.exit_code)
                )),
            },
            Condition::ServiceCompletedSuccessfully => match (instance.state, instance.exit_code) {
                (InstanceState::Exited, Some(0)) => Check::Met,
                (
                    InstanceState::Exited | InstanceState::Stopped | InstanceState::CrashLoop,
                    code,
                ) => Check::Failed(format!(
                    "did not complete successfully{}",
                    code_suffix(code)
                )),
                _ => Check::Pending,
            },
        };
        match verdict {
            Check::Met => {}
            Check::Pending => pending = true,
            failed @ Check::Failed(_) => return failed,
        }
    }
    if pending { Check::Pending } else { Check::Met }
}

fn code_suffix(code: Option<i32>) -> String {
    code.map(|c| format!(" (exit code {c})"))
        .unwrap_or_default()
}

/// When a process's listening sockets are looked at, after it starts: servers open
/// them at once or after a warm-up; `ps` reads the result instead of `/proc`.
const LISTENING_LOOKS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(8),
];

/// Records where the instance's process `pid` listens, while it is that process.
async fn look_where_it_listens(shared: Arc<Shared>, key: InstanceKey, pid: u32) {
    let mut waited = Duration::ZERO;
    for at in LISTENING_LOOKS {
        tokio::time::sleep(at.saturating_sub(waited)).await;
        waited = at;
        let listening = wharf_host::ports::listening_of(&std::collections::BTreeSet::from([pid]))
            .remove(&pid)
            .unwrap_or_default();
        let mut current = true;
        shared.update(&key, |s| {
            current = s.pid == Some(pid);
            if current {
                s.listening = listening;
            }
        });
        if !current {
            return;
        }
    }
}

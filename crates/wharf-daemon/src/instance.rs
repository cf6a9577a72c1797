//! The driver of a native instance: waits for its dependencies, starts its process,
//! probes it, restarts it by policy with a backoff, stops it on request. It reports
//! each step as a lifecycle event (`Shared::report`) and says it in the project's log.

use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::AsyncRead;
use tokio::sync::watch;
use wharf_api::{Health, LogStream};
use wharf_plan::{Probe, RestartPolicy, ServiceSpec};

use crate::cgroup::Cgroup;
use crate::dependencies::wait_for_dependencies;
use crate::health::{HealthTracker, ProbeResult, probe};
use crate::hooks::{self, Target};
use crate::lifecycle::{Command, Event, InstanceKey};
use crate::orphans::kill_marked;
use crate::ports::in_use_by;
use crate::process::{parse_signal, signal_group};
use crate::restart_backoff::RestartBackoff;
use crate::shared::Shared;
use crate::spawn::{Containment, Process, spawn};

/// How long the processes a service left behind may take to die once killed.
const LEFTOVERS_TIMEOUT: Duration = Duration::from_secs(5);

/// How a run ended.
enum Outcome {
    Exited(Option<i32>),
    /// With the grace period asked for, if any.
    StopRequested(Option<Duration>),
}

pub async fn run(
    shared: Arc<Shared>,
    key: InstanceKey,
    spec: ServiceSpec,
    mut commands: watch::Receiver<Command>,
) {
    match wait_for_dependencies(&shared, &key, &spec, &mut commands).await {
        Ok(()) => {}
        Err(Some(reason)) => return shared.mark_not_started(&key, reason, None),
        Err(None) => {
            shared.report(&key, Event::Stopped { exit_code: None });
            return;
        }
    }
    let cgroup = CgroupLease(
        shared
            .cgroups
            .as_ref()
            .and_then(|tree| tree.instance(&key.project, &key.service, key.replica)),
    );
    let mut backoff = RestartBackoff::default();
    let environment = spec.process_environment();
    loop {
        let tcp = spec.ports.iter().filter(|p| p.protocol.is_tcp());
        let mut taken = tcp.map(|p| p.published);
        if let Some(problem) =
            taken.find_map(|port| in_use_by(port, || shared.holder_of_port(port, &key)))
        {
            return shared.mark_not_started(&key, problem, None);
        }
        let marker = shared.instance_marker(&key);
        let containment = Containment {
            marker: &marker,
            cgroup: cgroup.0.as_ref(),
        };
        let mut child = match spawn(&spec.command, &spec.working_dir, &environment, containment) {
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
                return shared.mark_not_started(&key, message, Some(127));
            }
        };
        let pid = child.id();
        shared.children.adopt(pid);
        let started = Instant::now();
        let pumps = pump_logs(&shared, &key, &mut child);
        shared.log(&key, LogStream::Wharf, format!("started (pid {pid})"));
        // Hooks run when wharf starts the instance, not on its policy's restarts.
        let hooked = if backoff.restarts() == 0 {
            let target = Target::Process(containment);
            hooks::after_start(&shared, &key, &spec, &target, &mut commands).await
        } else {
            Ok(())
        };
        if let Err(interrupted) = hooked {
            let ending = interrupted.ending();
            if let Some(signal) = ending.signal {
                signal_group(pid, signal);
            }
            let code = stop_child(&mut child, pid, &spec, ending.grace, &mut commands).await;
            shared.children.release(pid);
            end_leftovers(cgroup.0.as_ref(), pid, &marker).await;
            match ending.failure {
                Some((why, hook_code)) => shared.mark_not_started(&key, why, hook_code),
                None => shared.mark_stopped(&key, code),
            }
            return;
        }
        shared.report(
            &key,
            Event::Started {
                pid: Some(pid),
                checked: spec.healthcheck.is_some(),
                restarts: backoff.restarts(),
                container_id: None,
            },
        );
        tokio::spawn(look_where_it_listens(Arc::clone(&shared), key.clone(), pid));
        let probe = || {
            spec.healthcheck.is_some().then(|| {
                tokio::spawn(follow_health(
                    Arc::clone(&shared),
                    key.clone(),
                    spec.clone(),
                    marker.clone(),
                    cgroup.0.clone(),
                    started,
                ))
            })
        };
        let mut prober = probe();

        let mut manual = false;
        let mut paused = false;
        let outcome = loop {
            tokio::select! {
                status = child.wait() => break Outcome::Exited(status.ok().and_then(exit_code)),
                changed = commands.changed() => {
                    let command = if changed.is_ok() { *commands.borrow_and_update() } else { Command::Stop(None) };
                    // Anything but a pause thaws it first: a frozen process takes no signal.
                    if paused && command != Command::Pause {
                        freeze(cgroup.0.as_ref(), pid, false);
                        paused = false;
                        shared.report(&key, Event::Paused(false));
                        prober = probe();
                    }
                    match command {
                        Command::Pause if !paused => {
                            // A frozen process answers no probe: probing waits too.
                            if let Some(prober) = prober.take() {
                                prober.abort();
                            }
                            freeze(cgroup.0.as_ref(), pid, true);
                            paused = true;
                            shared.report(&key, Event::Paused(true));
                        }
                        // Running already, or paused already.
                        Command::Run | Command::Pause => {}
                        Command::Stop(grace) => break Outcome::StopRequested(grace),
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
        if matches!(outcome, Outcome::Exited(_)) {
            // What it wrote last is logged before its end: its pipes drain first (for a
            // moment at most: a process it left behind may hold them open).
            let drained = tokio::time::Instant::now() + LAST_WORDS;
            for pump in pumps {
                let _ = tokio::time::timeout_at(drained, pump).await;
            }
        }
        let stop_requested = matches!(outcome, Outcome::StopRequested(_));
        let code = match outcome {
            Outcome::StopRequested(grace) => {
                shared.report(&key, Event::StopRequested);
                let hook_time = grace.unwrap_or_else(|| spec.stop_grace());
                let target = Target::Process(containment);
                hooks::before_stop(&shared, &key, &spec, hook_time, &target).await;
                stop_child(&mut child, pid, &spec, grace, &mut commands).await
            }
            Outcome::Exited(code) => code,
        };
        shared.children.release(pid);
        end_leftovers(cgroup.0.as_ref(), pid, &marker).await;
        let end = RunEnd {
            code,
            stop_requested,
            killed_by_hand: manual,
        };
        let next = after_run(&end, spec.restart, &mut backoff, started, Instant::now());
        shared.log(&key, LogStream::Wharf, next.said);
        shared.report(&key, next.event);
        let Some(delay) = next.again_after else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            changed = commands.changed() => {
                // A dropped sender: the instance was replaced or forgotten.
                if changed.is_err() || *commands.borrow_and_update() != Command::Run {
                    shared.mark_stopped(&key, code);
                    return;
                }
            }
        }
    }
}

/// How one run of the process ended, as the driver saw it.
struct RunEnd {
    code: Option<i32>,
    /// Ended by a stop this driver was asked for.
    stop_requested: bool,
    /// Sent a signal by `wharf kill`: what follows is not restarted.
    killed_by_hand: bool,
}

/// What follows a run's end: the event, the log's line, and when to start again.
struct AfterRun {
    event: Event,
    said: String,
    again_after: Option<Duration>,
}

/// Decides what follows a run's end by the restart policy and the backoff; the
/// driver's one decision, kept apart so it is tested without processes.
fn after_run(
    end: &RunEnd,
    policy: RestartPolicy,
    backoff: &mut RestartBackoff,
    started: Instant,
    now: Instant,
) -> AfterRun {
    let code = end.code;
    if end.stop_requested {
        return AfterRun {
            event: Event::Stopped { exit_code: code },
            said: "stopped".to_owned(),
            again_after: None,
        };
    }
    let code_text = code.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    if end.killed_by_hand || !policy.restarts_after(code, backoff.restarts()) {
        // One line per exit: a restart says it with its delay, below.
        return AfterRun {
            event: Event::Exited { exit_code: code },
            said: wharf_api::exit_note(&code_text),
            again_after: None,
        };
    }
    let retry = backoff.after_exit(started, now);
    let message = retry.message(&code_text);
    AfterRun {
        event: Event::WillRestart {
            exit_code: code,
            restarts: retry.restarts,
            crash_loop: retry.crash_loop.is_some(),
            message: message.clone(),
        },
        said: message,
        again_after: Some(retry.delay),
    }
}

/// Runs the healthcheck for one run of the process, reporting each change of verdict.
async fn follow_health(
    shared: Arc<Shared>,
    key: InstanceKey,
    spec: ServiceSpec,
    marker: String,
    cgroup: Option<Cgroup>,
    started: Instant,
) {
    let Some(health) = spec.healthcheck.clone() else {
        return;
    };
    let mut tracker = HealthTracker::new(health.clone(), started);
    let environment = spec.process_environment();
    // Probes are the service's processes too: contained like it.
    let containment = Containment {
        marker: &marker,
        cgroup: cgroup.as_ref(),
    };
    let started_ms = wharf_api::now_ms()
        .saturating_sub(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    let mut watch = match &health.probe {
        Probe::Log(text) => Some(shared.watch_for_line(&key, text, started_ms)),
        _ => None,
    };
    // What a failing probe said last while the service starts, reported when it
    // changes: a `--wait` that runs out can say why, not only that it waited.
    let mut said_while_starting = String::new();
    loop {
        tokio::time::sleep(tracker.next_delay()).await;
        let result = match &health.probe {
            Probe::Log(text) => {
                if watch.as_mut().is_some_and(crate::logs::LineWatch::said) {
                    ProbeResult::passed()
                } else {
                    ProbeResult::failed(format!("it has not said {text:?} yet"))
                }
            }
            _ => {
                probe(
                    &health,
                    &spec.working_dir,
                    &environment,
                    &shared.children,
                    containment,
                )
                .await
            }
        };
        let before = tracker.status();
        tracker.record(result.passed, Instant::now());
        let status = tracker.status();
        if status == before {
            if status == Health::Starting && !result.passed && result.said != said_while_starting {
                said_while_starting.clone_from(&result.said);
                shared.report(
                    &key,
                    Event::HealthChanged {
                        health: status,
                        said: result.said,
                    },
                );
            }
            continue;
        }
        // An unhealthy service says why: the last probe's own words.
        if status == Health::Unhealthy {
            shared.log(
                &key,
                LogStream::Wharf,
                crate::health::unhealthy_line(&result.said),
            );
        }
        shared.report(
            &key,
            Event::HealthChanged {
                health: status,
                said: result.said,
            },
        );
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

/// Freezes or thaws an instance: its whole cgroup where the machine gives one, else
/// its process group (SIGSTOP, SIGCONT).
fn freeze(cgroup: Option<&Cgroup>, pid: u32, frozen: bool) {
    if cgroup.is_some_and(|c| c.freeze(frozen)) {
        return;
    }
    signal_group(
        pid,
        if frozen {
            Signal::SIGSTOP
        } else {
            Signal::SIGCONT
        },
    );
}

/// Sends the stop signal to the group, then SIGKILL after the grace period. A later
/// command is heard while it waits: a stop with a shorter grace (`down -t 5` after a
/// `stop -t 3600`) or a kill shortens the wait, and an instance that is forgotten
/// meanwhile is killed at once.
async fn stop_child(
    child: &mut Process,
    pid: u32,
    spec: &ServiceSpec,
    grace: Option<Duration>,
    commands: &mut watch::Receiver<Command>,
) -> Option<i32> {
    let signal = parse_signal(&spec.stop_signal).unwrap_or(Signal::SIGTERM);
    signal_group(pid, signal);
    let grace = grace.unwrap_or_else(|| spec.stop_grace());
    let mut deadline = tokio::time::Instant::now()
        .checked_add(grace)
        .unwrap_or_else(far_future);
    let mut listening = true;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.ok(),
            () = tokio::time::sleep_until(deadline) => {
                signal_group(pid, Signal::SIGKILL);
                break child.wait().await.ok();
            }
            changed = commands.changed(), if listening => {
                if changed.is_err() {
                    // Forgotten: nothing will wait for this process any more.
                    listening = false;
                    deadline = tokio::time::Instant::now();
                    continue;
                }
                match *commands.borrow_and_update() {
                    Command::Stop(later) => {
                        let later = later.unwrap_or_else(|| spec.stop_grace());
                        let sooner = tokio::time::Instant::now().checked_add(later);
                        deadline = sooner.map_or(deadline, |sooner| sooner.min(deadline));
                    }
                    Command::Kill(signal) => signal_group(pid, signal),
                    Command::Run | Command::Pause => {}
                }
            }
        }
    };
    status.and_then(exit_code)
}

/// A deadline no wait reaches (about thirty years on).
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_hours(24 * 365 * 30)
}

/// How long an instance that exited waits for the output still in its pipes.
const LAST_WORDS: Duration = Duration::from_millis(200);

/// Follows the child's output into its log; the followers, which end with the output.
fn pump_logs(
    shared: &Arc<Shared>,
    key: &InstanceKey,
    child: &mut Process,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut pumps = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(
            Arc::clone(shared),
            key.clone(),
            LogStream::Stdout,
            stdout,
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(
            Arc::clone(shared),
            key.clone(),
            LogStream::Stderr,
            stderr,
        )));
    }
    pumps
}

async fn pump(
    shared: Arc<Shared>,
    key: InstanceKey,
    stream: LogStream,
    output: impl AsyncRead + Unpin,
) {
    crate::line_reader::for_each_line(output, |line| shared.log(&key, stream, line)).await;
}

/// When a process's listening sockets are looked at, after it starts: servers open
/// them at once or after a warm-up (a JVM's can take a minute); `ps` reads the result
/// instead of `/proc`, and containers reach a port on loopback once it is seen.
const LISTENING_LOOKS: [Duration; 5] = [
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(8),
    Duration::from_secs(20),
    Duration::from_mins(1),
];

/// Records where the instance's process `pid` listens, while it is that process.
async fn look_where_it_listens(shared: Arc<Shared>, key: InstanceKey, pid: u32) {
    let mut waited = Duration::ZERO;
    for at in LISTENING_LOOKS {
        tokio::time::sleep(at.saturating_sub(waited)).await;
        waited = at;
        let addresses = wharf_host::ports::listening_of(&std::collections::BTreeSet::from([pid]))
            .remove(&pid)
            .unwrap_or_default();
        if !shared.report(&key, Event::Listening { pid, addresses }) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{apply, waiting};
    use wharf_api::InstanceState;

    /// A fake process: each run exits with its code after a moment (or is stopped, or
    /// killed by hand). Drives the driver's decision and the lifecycle as the real
    /// loop does; returns the states it went through, what it logged, and the waits.
    fn drive(
        policy: RestartPolicy,
        runs: &[RunEnd],
    ) -> (Vec<InstanceState>, Vec<String>, Vec<Duration>) {
        let mut instance = waiting(
            "web",
            1,
            "demo-web-1".into(),
            "process",
            &ServiceSpec::default(),
        );
        let mut backoff = RestartBackoff::default();
        let mut now = Instant::now();
        let (mut states, mut said, mut waits) = (Vec::new(), Vec::new(), Vec::new());
        for (pid, end) in (100..).zip(runs) {
            let started = Event::Started {
                pid: Some(pid),
                checked: false,
                restarts: backoff.restarts(),
                container_id: None,
            };
            apply(&mut instance, started).expect("a start after a wait");
            if end.stop_requested {
                apply(&mut instance, Event::StopRequested).unwrap();
            }
            let began = now;
            now += Duration::from_millis(10);
            let next = after_run(end, policy, &mut backoff, began, now);
            apply(&mut instance, next.event).expect("the driver's event is allowed");
            states.push(instance.state);
            said.push(next.said);
            let Some(delay) = next.again_after else {
                break;
            };
            waits.push(delay);
            now += delay;
        }
        (states, said, waits)
    }

    fn exit(code: i32) -> RunEnd {
        RunEnd {
            code: Some(code),
            stop_requested: false,
            killed_by_hand: false,
        }
    }

    #[test]
    fn on_failure_with_a_limit_restarts_that_often_then_stays_exited() {
        let (states, said, waits) = drive(
            RestartPolicy::OnFailure(Some(2)),
            &[exit(1), exit(1), exit(1), exit(1)],
        );
        assert_eq!(
            states,
            [
                InstanceState::Restarting,
                InstanceState::Restarting,
                InstanceState::Exited
            ]
        );
        assert_eq!(
            said,
            [
                "exited with code 1; restarting in 0.1s",
                "exited with code 1; restarting in 0.2s",
                "exited with code 1"
            ]
        );
        assert_eq!(
            waits,
            [Duration::from_millis(100), Duration::from_millis(200)]
        );
    }

    #[test]
    fn a_clean_exit_ends_on_failure_but_not_always() {
        let (states, _, _) = drive(RestartPolicy::OnFailure(None), &[exit(0)]);
        assert_eq!(states, [InstanceState::Exited]);
        let (states, _, _) = drive(RestartPolicy::Always, &[exit(0), exit(0)]);
        assert_eq!(
            states,
            [InstanceState::Restarting, InstanceState::Restarting]
        );
        let (states, said, _) = drive(RestartPolicy::No, &[exit(3)]);
        assert_eq!(
            (states, said),
            (
                vec![InstanceState::Exited],
                vec!["exited with code 3".to_owned()]
            )
        );
    }

    #[test]
    fn a_process_crashing_fast_becomes_a_crash_loop_and_still_retries() {
        let (states, said, waits) = drive(
            RestartPolicy::Always,
            &[exit(1), exit(1), exit(1), exit(1), exit(1), exit(1)],
        );
        assert_eq!(states[3], InstanceState::Restarting);
        assert_eq!(states[4], InstanceState::CrashLoop);
        assert!(
            said[4].starts_with("crash loop: 5 exits in the last 60s (last code 1)"),
            "{}",
            said[4]
        );
        assert_eq!(waits.len(), 6, "a crash loop is retried, never given up");
    }

    #[test]
    fn a_kill_by_hand_or_a_stop_is_never_restarted() {
        let killed = RunEnd {
            code: Some(137),
            stop_requested: false,
            killed_by_hand: true,
        };
        let (states, said, waits) = drive(RestartPolicy::Always, &[killed]);
        assert_eq!(
            (states, said),
            (
                vec![InstanceState::Exited],
                vec!["exited with code 137".to_owned()]
            )
        );
        assert!(waits.is_empty());
        let stopped = RunEnd {
            code: Some(143),
            stop_requested: true,
            killed_by_hand: false,
        };
        let (states, said, _) = drive(RestartPolicy::Always, &[exit(1), stopped]);
        assert_eq!(states, [InstanceState::Restarting, InstanceState::Stopped]);
        assert_eq!(said[1], "stopped");
    }
}

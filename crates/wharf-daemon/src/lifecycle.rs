//! An instance's lifecycle: its states, the events that move it between them, and
//! what each event writes into its status. This is the one place an instance's state
//! changes. The drivers (`instance.rs` for processes, `container_instance.rs` for
//! containers) turn what the system or the engine says into these events; an event
//! the current state does not allow is refused and changes nothing, so a late report
//! from a task that lost a race cannot undo what happened after it.

use std::net::SocketAddr;
use std::time::Duration;

use nix::sys::signal::Signal;
use wharf_api::{Health, InstanceState, InstanceStatus, now_ms};
use wharf_engine::ContainerState;

/// Identifies one instance of one generation: a recreated instance gets a new
/// generation, so the old task's late reports are ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceKey {
    pub project: String,
    pub service: String,
    pub replica: u32,
    pub generation: u64,
}

/// What an instance's driver is asked to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Run,
    /// Stop with the service's stop signal, then SIGKILL after the grace period: this
    /// one (`stop -t`), else the service's.
    Stop(Option<Duration>),
    /// Send this signal; whatever happens next is not restarted.
    Kill(Signal),
    /// Freeze its processes (`pause`) until `Run` comes again (`unpause`).
    Pause,
}

/// What happened to an instance, as its driver reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// It could not start: a dependency failed, its port is taken, its program or
    /// image is missing. `exit_code` is the shell's for a program that cannot run.
    NotStarted {
        reason: String,
        exit_code: Option<i32>,
    },
    /// Its process (or container) started; `checked` when it has a healthcheck.
    Started {
        pid: Option<u32>,
        checked: bool,
        restarts: u32,
        /// The engine's id of the container it runs in.
        container_id: Option<String>,
    },
    /// Its healthcheck's verdict changed; `said` is the last probe's own words.
    HealthChanged { health: Health, said: String },
    /// Where its process `pid` listens, as looked at after it started.
    Listening {
        pid: u32,
        addresses: Vec<SocketAddr>,
    },
    /// Its processes were frozen (`true`) or thawed (`false`).
    Paused(bool),
    /// Asked to stop: the proxy sends it nothing new from here on.
    StopRequested,
    /// It ended because it was asked to (or was asked before it ever started).
    Stopped { exit_code: Option<i32> },
    /// Its process exited and its restart policy does not bring it back.
    Exited { exit_code: Option<i32> },
    /// Its process exited and starts again after a backoff.
    WillRestart {
        exit_code: Option<i32>,
        restarts: u32,
        crash_loop: bool,
        message: String,
    },
    /// What the engine says of its container: the engine restarts containers and
    /// runs their healthchecks, so a container's state is read, not decided here.
    /// `health` is the verdict to show (the engine's, or wharf's own first probe).
    Observed {
        container: ContainerState,
        health: Health,
    },
}

/// An event the instance's current state does not allow.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed while {state:?}")]
pub struct Refused {
    pub state: InstanceState,
    pub event: &'static str,
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Self::NotStarted { .. } => "not-started",
            Self::Started { .. } => "started",
            Self::HealthChanged { .. } => "health-changed",
            Self::Listening { .. } => "listening",
            Self::Paused(_) => "paused",
            Self::StopRequested => "stop-requested",
            Self::Stopped { .. } => "stopped",
            Self::Exited { .. } => "exited",
            Self::WillRestart { .. } => "will-restart",
            Self::Observed { .. } => "observed",
        }
    }
}

/// A container the engine has restarted this often, restarting again, is in a crash
/// loop (five, as a native one's five exits within a minute).
const ENGINE_CRASH_LOOP_RESTARTS: u32 = 5;

/// The transition table: the state `event` moves an instance in `state` to, or
/// `None` when that event cannot happen there.
// One arm per row of the table, even where two rows lead to the same state.
#[allow(clippy::match_same_arms)]
pub fn next_state(state: InstanceState, event: &Event) -> Option<InstanceState> {
    use InstanceState::{CrashLoop, Exited, Restarting, Running, Stopped, Stopping, Waiting};
    let next = match (state, event) {
        // Before a run: while waiting for dependencies, or in a restart's backoff.
        (Waiting | Restarting | CrashLoop, Event::NotStarted { .. }) => Exited,
        (Waiting | Restarting | CrashLoop, Event::Started { .. }) => Running,
        (Waiting | Restarting | CrashLoop, Event::Stopped { .. }) => Stopped,
        // A run.
        (Running, Event::HealthChanged { .. } | Event::Paused(_)) => Running,
        (Running | Stopping, Event::Listening { .. }) => state,
        (Running, Event::Exited { .. }) => Exited,
        (Running, Event::WillRestart { crash_loop, .. }) => {
            if *crash_loop {
                CrashLoop
            } else {
                Restarting
            }
        }
        // A stop: an exited container is still there to stop.
        (Waiting | Running | Restarting | CrashLoop | Exited, Event::StopRequested) => Stopping,
        (Stopping, Event::Stopped { .. }) => Stopped,
        // A container as the engine has it; another tool may start an exited one.
        // The engine says a container it is restarting is running too: restarting
        // is the news, as Compose's `ps` has it.
        // Restarted by the engine as often as a native crash loop exits, it is one.
        (Running | Restarting | CrashLoop | Exited, Event::Observed { container, .. }) => {
            if container.restarting && container.restarts >= ENGINE_CRASH_LOOP_RESTARTS {
                CrashLoop
            } else if container.restarting {
                Restarting
            } else if container.running {
                Running
            } else {
                Exited
            }
        }
        _ => return None,
    };
    Some(next)
}

/// Applies `event` to `status`: its new state and the facts that come with it.
pub fn apply(status: &mut InstanceStatus, event: Event) -> Result<(), Refused> {
    let refused = || Refused {
        state: status.state,
        event: event.name(),
    };
    let next = next_state(status.state, &event).ok_or_else(refused)?;
    if let Event::Listening { pid, .. } = &event
        && status.pid != Some(*pid)
    {
        // Looked at a process that is no longer this instance's.
        return Err(refused());
    }
    status.state = next;
    match event {
        Event::NotStarted { reason, exit_code } => {
            status.exit_code = exit_code;
            status.message = reason;
        }
        Event::Started {
            pid,
            checked,
            restarts,
            container_id,
        } => {
            status.pid = pid;
            status.container_id = container_id.unwrap_or_default();
            status.exit_code = None;
            status.started_at_ms = Some(now_ms());
            status.finished_at_ms = None;
            status.health = if checked {
                Health::Starting
            } else {
                Health::None
            };
            status.restarts = restarts;
            status.message.clear();
            status.listening.clear();
            status.paused = false;
        }
        Event::HealthChanged { health, said } => {
            status.health = health;
            // Unhealthy, why; still starting, what the last probe said.
            status.message = match health {
                Health::Unhealthy | Health::Starting if !said.is_empty() => {
                    format!("healthcheck: {said}")
                }
                _ => String::new(),
            };
        }
        Event::Listening { addresses, .. } => status.listening = addresses,
        Event::Paused(paused) => status.paused = paused,
        Event::StopRequested => {}
        Event::Stopped { exit_code } => {
            ended(status, exit_code);
            // Stopped on request: why it was unhealthy or looping is history now.
            status.message.clear();
        }
        Event::Exited { exit_code } => ended(status, exit_code),
        Event::WillRestart {
            exit_code,
            restarts,
            message,
            ..
        } => {
            ended(status, exit_code);
            status.restarts = restarts;
            status.message = message;
        }
        Event::Observed { container, health } => {
            status.pid = container.pid;
            // An ended container has no health to speak of, as `ended` has it natively
            // (the engine keeps its last verdict, `unhealthy` after a kill).
            let health = if container.running {
                health
            } else {
                Health::None
            };
            // The engine's probe says why, as wharf's own probes do.
            match (&container.health_said, health) {
                (Some(said), Health::Unhealthy) => status.message = format!("healthcheck: {said}"),
                (_, Health::Healthy | Health::None)
                    if status.message.starts_with("healthcheck: ") =>
                {
                    status.message.clear();
                }
                _ => {}
            }
            status.health = health;
            if container.running {
                status.ports = container.ports;
                status.engine_ports = container.engine_ports;
                // The engine's start, as Docker counts `Up`: a container found running
                // (another tool started it) or restarted by its policy.
                if container.started_ms.is_some() {
                    status.started_at_ms = container.started_ms;
                }
            }
            status.exit_code = container.exit_code;
            status.restarts = container.restarts;
            // Said as a native crash loop is; gone once it runs steadily again.
            if next == InstanceState::CrashLoop {
                status.message = format!(
                    "crash loop: the engine restarted it {} times (last code {})",
                    container.restarts,
                    container
                        .exit_code
                        .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
                );
            } else if status.message.starts_with("crash loop: the engine") {
                status.message.clear();
            }
            status.finished_at_ms = if container.running {
                None
            } else {
                container.finished_ms.or(status.finished_at_ms)
            };
        }
    }
    Ok(())
}

/// What every end of a run leaves: no process, its code, no health to speak of.
fn ended(status: &mut InstanceStatus, exit_code: Option<i32>) {
    status.finished_at_ms = Some(now_ms());
    status.pid = None;
    status.paused = false;
    status.exit_code = exit_code;
    status.health = Health::None;
}

/// A new instance's status: waiting for its dependencies, which its message names.
pub fn waiting(
    service: &str,
    replica: u32,
    name: String,
    backend: &str,
    spec: &wharf_plan::ServiceSpec,
) -> InstanceStatus {
    let dependencies: Vec<&str> = spec.depends_on.keys().map(String::as_str).collect();
    InstanceStatus {
        ports: spec.ports.clone(),
        message: if dependencies.is_empty() {
            String::new()
        } else {
            format!("waiting for {}", dependencies.join(", "))
        },
        ..InstanceStatus::new(service, replica, name, backend)
    }
}

/// A new instance's status once `create` has made it (its container, when it has
/// one) without starting it: nothing to wait for until `start`.
pub fn created(waiting: InstanceStatus) -> InstanceStatus {
    InstanceStatus {
        state: InstanceState::Created,
        message: String::new(),
        ..waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstanceState::{
        CrashLoop, Created, Exited, Restarting, Running, Stopped, Stopping, Waiting,
    };
    use wharf_plan::ServiceSpec;

    const ALL: [InstanceState; 8] = [
        Created, Waiting, Running, Stopping, Restarting, CrashLoop, Exited, Stopped,
    ];

    fn status() -> InstanceStatus {
        waiting(
            "web",
            1,
            "demo-web-1".into(),
            "process",
            &ServiceSpec::default(),
        )
    }

    #[test]
    fn a_waiting_instance_names_what_it_waits_for_until_it_starts() {
        let mut spec = ServiceSpec::default();
        for name in ["db", "cache"] {
            spec.depends_on.insert(
                name.into(),
                wharf_plan::Dependency {
                    condition: wharf_plan::Condition::ServiceHealthy,
                    required: true,
                    restart: false,
                },
            );
        }
        let mut instance = waiting("web", 1, "demo-web-1".into(), "process", &spec);
        assert_eq!(instance.message, "waiting for cache, db");
        apply(&mut instance, started(7)).unwrap();
        assert!(instance.message.is_empty());
        assert!(
            status().message.is_empty(),
            "nothing to wait for: nothing said"
        );
    }

    fn started(pid: u32) -> Event {
        Event::Started {
            pid: Some(pid),
            checked: true,
            restarts: 0,
            container_id: None,
        }
    }

    fn container(running: bool, restarting: bool, code: Option<i32>) -> Event {
        Event::Observed {
            container: ContainerState {
                running,
                restarting,
                exit_code: code,
                pid: running.then_some(42),
                health: Health::None,
                restarts: 0,
                ports: Vec::new(),
                engine_ports: Vec::new(),
                finished_ms: None,
                started_ms: None,
                health_said: None,
                stop_signal: String::new(),
            },
            health: Health::None,
        }
    }

    /// Feeds `events` to a fresh instance; the states it went through, or the refusal.
    fn drive(events: impl IntoIterator<Item = Event>) -> Result<Vec<InstanceState>, Refused> {
        let mut status = status();
        let mut path = vec![status.state];
        for event in events {
            apply(&mut status, event)?;
            path.push(status.state);
        }
        Ok(path)
    }

    #[test]
    fn an_ended_container_has_no_health_whatever_the_engine_kept() {
        let mut status = status();
        let observed = |running: bool, code: Option<i32>| Event::Observed {
            container: ContainerState {
                running,
                exit_code: code,
                pid: running.then_some(42),
                health: Health::Unhealthy,
                health_said: Some("exit code 1: refused".to_owned()),
                ..ContainerState::default()
            },
            health: Health::Unhealthy,
        };
        apply(&mut status, started(7)).unwrap();
        apply(&mut status, observed(true, None)).unwrap();
        assert_eq!(status.health, Health::Unhealthy);
        assert_eq!(status.message, "healthcheck: exit code 1: refused");
        // Killed: the engine still says `unhealthy`, with its last probe's words.
        apply(&mut status, observed(false, Some(137))).unwrap();
        assert_eq!(
            (status.health, status.message.as_str(), status.exit_code),
            (Health::None, "", Some(137))
        );
    }

    #[test]
    fn a_container_the_engine_keeps_restarting_is_in_a_crash_loop_until_it_runs() {
        let mut status = status();
        let restarted = |restarts: u32, restarting: bool| Event::Observed {
            container: ContainerState {
                running: true,
                restarting,
                exit_code: Some(3),
                restarts,
                ..ContainerState::default()
            },
            health: Health::None,
        };
        apply(&mut status, started(7)).unwrap();
        apply(&mut status, restarted(4, true)).unwrap();
        assert_eq!(status.state, InstanceState::Restarting);
        apply(&mut status, restarted(5, true)).unwrap();
        assert_eq!(
            (status.state, status.message.as_str()),
            (
                InstanceState::CrashLoop,
                "crash loop: the engine restarted it 5 times (last code 3)"
            )
        );
        apply(&mut status, restarted(5, false)).unwrap();
        assert_eq!(
            (status.state, status.message.as_str()),
            (InstanceState::Running, "")
        );
    }

    #[test]
    fn a_container_the_engine_restarts_is_restarting_though_it_says_running() {
        let path = drive([
            started(7),
            container(true, true, Some(1)),
            container(true, false, None),
        ]);
        assert_eq!(
            path.unwrap(),
            [
                InstanceState::Waiting,
                InstanceState::Running,
                InstanceState::Restarting,
                InstanceState::Running
            ]
        );
    }

    #[test]
    fn stopped_is_final() {
        let events = [
            Event::NotStarted {
                reason: String::new(),
                exit_code: None,
            },
            started(1),
            Event::StopRequested,
            Event::Stopped { exit_code: None },
            Event::Exited { exit_code: None },
            container(true, false, None),
        ];
        for event in events {
            assert_eq!(next_state(Stopped, &event), None, "{event:?}");
        }
    }

    #[test]
    fn every_state_but_stopped_and_created_can_be_stopped() {
        for state in ALL.into_iter().filter(|s| *s != Created) {
            let mut status = status();
            status.state = state;
            status.message = "healthcheck: exit code 1".into();
            // Through `stopping` when something runs to be stopped, else at once.
            let _ = apply(&mut status, Event::StopRequested);
            let stopped = apply(&mut status, Event::Stopped { exit_code: None }).is_ok();
            assert_eq!(stopped, state != Stopped, "{state:?}");
            assert_eq!(status.state, Stopped);
            if stopped {
                assert!(
                    status.message.is_empty(),
                    "a stop clears what went wrong before"
                );
            }
        }
    }

    #[test]
    fn a_created_instance_has_no_driver_so_no_event_moves_it() {
        // `start` replaces it with a new generation that has one.
        let created = created(status());
        assert_eq!(created.state, Created);
        let events = [
            started(7),
            Event::StopRequested,
            Event::Stopped { exit_code: None },
            Event::Exited { exit_code: None },
            container(true, false, None),
        ];
        for event in events {
            assert_eq!(next_state(Created, &event), None, "{event:?}");
        }
        assert!(!Created.is_active(), "`start` and `up` make it anew");
    }

    #[test]
    fn a_process_that_keeps_failing_restarts_then_loops_and_stops_on_request() {
        let mut events = Vec::new();
        for exit in 1..=5u32 {
            events.push(started(100 + exit));
            events.push(Event::WillRestart {
                exit_code: Some(1),
                restarts: exit,
                crash_loop: exit == 5,
                message: String::new(),
            });
        }
        events.push(Event::Stopped { exit_code: Some(1) });
        let states = drive(events).unwrap();
        assert_eq!(
            states,
            [
                Waiting, Running, Restarting, Running, Restarting, Running, Restarting, Running,
                Restarting, Running, CrashLoop, Stopped
            ]
        );
    }

    #[test]
    fn each_event_writes_its_facts() {
        let mut status = status();
        apply(&mut status, started(7)).unwrap();
        assert_eq!((status.pid, status.health), (Some(7), Health::Starting));
        assert!(status.started_at_ms.is_some());
        apply(
            &mut status,
            Event::HealthChanged {
                health: Health::Unhealthy,
                said: "exit 1".into(),
            },
        )
        .unwrap();
        assert_eq!(status.message, "healthcheck: exit 1");
        apply(
            &mut status,
            Event::Listening {
                pid: 7,
                addresses: vec!["127.0.0.1:80".parse().unwrap()],
            },
        )
        .unwrap();
        assert_eq!(status.listening.len(), 1);
        apply(
            &mut status,
            Event::WillRestart {
                exit_code: Some(3),
                restarts: 1,
                crash_loop: false,
                message: "exited with code 3; restarting in 0.1s".into(),
            },
        )
        .unwrap();
        assert_eq!(
            (status.pid, status.exit_code, status.health, status.restarts),
            (None, Some(3), Health::None, 1)
        );
        apply(&mut status, started(8)).unwrap();
        assert!(status.message.is_empty() && status.listening.is_empty());
        assert_eq!(status.exit_code, None);
    }

    #[test]
    fn late_reports_of_an_earlier_run_are_refused() {
        let mut status = status();
        apply(&mut status, started(7)).unwrap();
        apply(&mut status, Event::Exited { exit_code: Some(0) }).unwrap();
        // The prober and the listener lookup of the run that ended report late.
        let health = Event::HealthChanged {
            health: Health::Healthy,
            said: String::new(),
        };
        assert_eq!(
            apply(&mut status, health),
            Err(Refused {
                state: Exited,
                event: "health-changed"
            })
        );
        let listening = Event::Listening {
            pid: 7,
            addresses: Vec::new(),
        };
        assert!(apply(&mut status, listening).is_err());
        assert_eq!((status.state, status.exit_code), (Exited, Some(0)));
        // A new run's process is not the old one's.
        let mut status = self::status();
        apply(&mut status, started(8)).unwrap();
        let stale = Event::Listening {
            pid: 7,
            addresses: vec!["127.0.0.1:1".parse().unwrap()],
        };
        assert!(apply(&mut status, stale).is_err());
        assert!(status.listening.is_empty());
    }

    #[test]
    fn nothing_runs_before_it_starts() {
        for event in [
            Event::Exited { exit_code: Some(0) },
            Event::HealthChanged {
                health: Health::Healthy,
                said: String::new(),
            },
            container(true, false, None),
        ] {
            assert!(drive([event.clone()]).is_err(), "{event:?}");
        }
        assert_eq!(
            drive([Event::Stopped { exit_code: None }]).unwrap(),
            [Waiting, Stopped]
        );
    }

    #[test]
    fn a_container_follows_the_engine_and_can_be_started_by_another_tool() {
        let states = drive([
            Event::Started {
                pid: None,
                checked: false,
                restarts: 0,
                container_id: None,
            },
            container(false, true, Some(1)),
            container(false, false, Some(1)),
            container(true, false, None),
            container(false, false, Some(0)),
            Event::StopRequested,
            Event::Stopped { exit_code: Some(0) },
        ])
        .unwrap();
        assert_eq!(
            states,
            [
                Waiting, Running, Restarting, Exited, Running, Exited, Stopping, Stopped
            ]
        );
    }

    #[test]
    fn a_stopping_instance_is_not_revived() {
        let mut status = status();
        apply(&mut status, started(7)).unwrap();
        apply(&mut status, Event::StopRequested).unwrap();
        for event in [
            started(9),
            container(true, false, None),
            Event::WillRestart {
                exit_code: Some(1),
                restarts: 1,
                crash_loop: false,
                message: String::new(),
            },
        ] {
            assert!(apply(&mut status, event).is_err());
        }
        assert_eq!(status.state, Stopping);
    }
}

//! The driver of a container instance: waits for its dependencies, creates (or reuses,
//! when its config hash still matches) and starts the container, follows its output
//! and state, stops it on request. The engine applies the restart policy and runs the
//! healthcheck; this driver reports what the engine says as lifecycle events.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use wharf_api::{Health, LogStream, now_ms};
use wharf_plan::{ContainerSpec, RestartPolicy, ServiceSpec};

use crate::dependencies::wait_for_dependencies;
use crate::hooks::{self, Target};
use crate::lifecycle::{Command, Event, InstanceKey};
use crate::shared::Shared;
use wharf_engine::{ContainerState, Engine, LogTime};

const FIRST_POLL: Duration = Duration::from_millis(5);
/// How long after its start a container's exit is waited for (beside the engine's
/// news and the looks): longer than `--wait` takes to count a start as settled.
const EARLY_EXIT_WATCH: Duration = Duration::from_secs(2);
/// Between two waits on it: the engine answers at once while it restarts it.
const EARLY_EXIT_PAUSE: Duration = Duration::from_millis(50);
const STARTING_POLL_CAP: Duration = Duration::from_millis(250);
const STEADY_POLL: Duration = Duration::from_secs(1);
/// How long an exit waits for the output before it to be copied into the log.
const OUTPUT_DRAINED_WITHIN: Duration = Duration::from_secs(1);

pub async fn run(
    shared: Arc<Shared>,
    key: InstanceKey,
    spec: ServiceSpec,
    mut commands: watch::Receiver<Command>,
) {
    let Some(container) = spec.container.as_deref() else {
        return;
    };
    match wait_for_dependencies(&shared, &key, &spec, &mut commands).await {
        Ok(()) => {}
        Err(Some(reason)) => return shared.mark_not_started(&key, reason, None),
        Err(None) => {
            shared.report(&key, Event::Stopped { exit_code: None });
            return;
        }
    }
    let name = spec.instance_name(&key.project, &key.service, key.replica);
    let engine = match shared.engine().await {
        Ok(engine) => engine,
        Err(err) => return shared.mark_not_started(&key, err.to_string(), None),
    };
    // Followed by id from here on: a new container of the same name is not this one.
    let (id, fresh) = match prepare(&engine, &name, container, &key, &spec).await {
        Ok(prepared) => prepared,
        Err(err) => return shared.mark_not_started(&key, err.to_string(), None),
    };
    let engine_news = shared.engine_nudges.follow(&id);
    // A container wharf did not just create keeps the lines already copied from it;
    // what it said that was not (all of it, when Compose ran it) is copied now. Asked
    // before this run's first note and first words.
    let copied_until = if fresh {
        None
    } else {
        shared.last_output_ms(&key)
    };
    // One found running (Compose started it, or wharfd before a restart) is followed
    // as it runs, and said so.
    let running = !fresh && engine.state(&id).await.is_ok_and(|s| s.running);
    if running {
        shared.log(
            &key,
            LogStream::Wharf,
            format!("container {name} was running: followed as it runs"),
        );
    } else {
        if let Err(err) = engine.start(&id).await
            && !engine.state(&id).await.is_ok_and(|s| s.running)
        {
            return shared.mark_not_started(&key, err.to_string(), None);
        }
        shared.log(&key, LogStream::Wharf, format!("container {name} started"));
    }
    // The engine's news of an exit can come before its stream is heard (a daemon just
    // started): the first moments of a run are also watched by waiting on the
    // container, so a crash on start is seen at once and `--wait` never takes it for
    // a start; and it is looked at often meanwhile.
    let running_since = std::time::Instant::now();
    tokio::spawn({
        let (engine, nudges, id) = (
            Arc::clone(&engine),
            Arc::clone(&shared.engine_nudges),
            id.clone(),
        );
        async move {
            // Each exit in that time, also of the runs the engine restarts it for.
            let until = tokio::time::Instant::now() + EARLY_EXIT_WATCH;
            while tokio::time::timeout_at(until, engine.stopped(&id))
                .await
                .is_ok()
            {
                nudges.nudge(&id);
                tokio::time::sleep(EARLY_EXIT_PAUSE).await;
            }
        }
    });
    let target = Target::Container {
        engine: &engine,
        id: &id,
    };
    // Hooks follow a start; one found running had its own when it started.
    let hooked = if running {
        Ok(())
    } else {
        hooks::after_start(&shared, &key, &spec, &target, &mut commands).await
    };
    if let Err(interrupted) = hooked {
        let ending = interrupted.ending();
        if let Some(signal) = ending.signal {
            let _ = engine.kill(&id, signal.as_str()).await;
        }
        let grace = ending.grace.unwrap_or_else(|| spec.stop_grace());
        let _ = engine.stop(&id, grace).await;
        let code = engine.state(&id).await.ok().and_then(|s| s.exit_code);
        match ending.failure {
            Some((why, hook_code)) => shared.mark_not_started(&key, why, hook_code),
            None => shared.mark_stopped(&key, code),
        }
        return;
    }
    // Counts the ends of the engine's log stream (at each exit), so an exit is said
    // after the output that came before it.
    let (output_ended, mut output_ends) = tokio::sync::watch::channel(0u64);
    let follower = tokio::spawn(follow(
        Arc::clone(&shared),
        key.clone(),
        Arc::clone(&engine),
        id.clone(),
        copied_until,
        output_ended,
    ));
    let checked = container
        .healthcheck
        .as_ref()
        .is_some_and(|h| h.test.first().is_some_and(|t| t != "NONE"));
    shared.report(
        &key,
        Event::Started {
            pid: None,
            checked,
            restarts: 0,
            container_id: Some(id.clone()),
        },
    );

    // Until the first passing check, wharf runs the test itself, fast, so dependents
    // start without waiting for the engine's interval.
    let probe = container.healthcheck.as_ref().filter(|_| checked).map(|h| {
        (
            h.test.clone(),
            if h.timeout.is_zero() {
                Duration::from_secs(30)
            } else {
                h.timeout
            },
        )
    });
    let mut probed_healthy = false;
    let mut reported_exit = false;
    let mut delay = FIRST_POLL;
    let mut was_unhealthy = false;
    let mut paused = false;
    // Thawed and not yet checked again by the engine (see `through_a_pause`).
    let mut thawed = false;
    // The health last seen while not frozen.
    let mut health_before = Health::None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = engine_news.changed() => {}
            changed = commands.changed() => {
                let command = if changed.is_ok() { *commands.borrow_and_update() } else { Command::Stop(None) };
                // Anything but a pause thaws it first, as a frozen container stops slowly.
                if paused && command != Command::Pause {
                    let _ = engine.pause(&id, false).await;
                    paused = false;
                    thawed = true;
                    shared.report(&key, Event::Paused(false));
                }
                match command {
                    Command::Pause if !paused => match engine.pause(&id, true).await {
                        Ok(()) => {
                            paused = true;
                            shared.report(&key, Event::Paused(true));
                        }
                        Err(err) => shared.log(&key, LogStream::Wharf, format!("cannot pause: {err}")),
                    },
                    // Running already, or paused already.
                    Command::Run | Command::Pause => {}
                    // Ended by itself for good: it stays as it ended (`exited (3)`), as
                    // a native process does and as Compose shows a stopped exited one.
                    Command::Stop(_) if reported_exit => {
                        follower.abort();
                        return;
                    }
                    Command::Stop(grace) => {
                        shared.report(&key, Event::StopRequested);
                        let asked = std::time::Instant::now();
                        // A grace period asked for (`-t`) is no news when it runs out.
                        let grace_asked = grace.is_some();
                        let grace = grace.unwrap_or_else(|| spec.stop_grace());
                        hooks::before_stop(&shared, &key, &spec, grace, &target).await;
                        let _ = engine.stop(&id, grace).await;
                        follower.abort();
                        let state = engine.state(&id).await.ok();
                        let code = state.as_ref().and_then(|s| s.exit_code);
                        let waited = asked.elapsed();
                        if let Some(state) = state.filter(|_| !grace_asked && code == Some(137) && waited + Duration::from_millis(500) >= grace) {
                            shared.note(
                                &key.project,
                                format!(
                                    "{name} ignored {} and was killed after {}s; `init: true` gives it an init process that passes signals on",
                                    state.stop_signal,
                                    grace.as_secs()
                                ),
                            );
                        }
                        shared.mark_stopped(&key, code);
                        return;
                    }
                    Command::Kill(signal) => {
                        let _ = engine.kill(&id, signal.as_str()).await;
                    }
                }
                continue;
            }
        }
        let Ok(mut state) = engine.state(&id).await else {
            follower.abort();
            shared.log(
                &key,
                LogStream::Wharf,
                format!("container {name} was removed outside wharf"),
            );
            shared.instance_removed_externally(&key);
            return;
        };
        if let Some((test, timeout)) = &probe
            && state.running
            && state.health == Health::Starting
            && !probed_healthy
        {
            probed_healthy = engine.probe(&id, test, *timeout).await;
        }
        if paused || thawed {
            // Thawed until the engine's own check passes again.
            thawed &= state.health == Health::Unhealthy;
            through_a_pause(
                &mut state,
                paused,
                health_before,
                &engine,
                &id,
                probe.as_ref(),
            )
            .await;
        } else {
            health_before = state.health;
        }
        // Turning unhealthy is said in the log, with the probe's words, as natively.
        let unhealthy = state.health == Health::Unhealthy;
        if unhealthy && !was_unhealthy {
            let why = state.health_said.as_deref().unwrap_or_default();
            shared.log(&key, LogStream::Wharf, crate::health::unhealthy_line(why));
        }
        was_unhealthy = unhealthy;
        if state.running {
            output_ends.mark_unchanged();
        }
        let early = running_since.elapsed() < EARLY_EXIT_WATCH;
        let seen = look(
            state,
            probed_healthy,
            spec.restart,
            reported_exit,
            delay,
            early,
        );
        if seen.said.is_some() {
            // The engine's stream ends once the container's last output is read.
            let _ = tokio::time::timeout(OUTPUT_DRAINED_WITHIN, output_ends.changed()).await;
        }
        if let Some(said) = seen.said {
            shared.log(&key, LogStream::Wharf, said);
        }
        shared.report(&key, seen.event);
        reported_exit = seen.stays_exited;
        delay = seen.next_delay;
    }
}

/// What the driver makes of one look at its container.
struct Look {
    event: Event,
    /// A line for the log: an exit that stays, said once.
    said: Option<String>,
    stays_exited: bool,
    /// When to look again: quickly while it starts, steadily once it runs or rests.
    next_delay: Duration,
}

/// A frozen container cannot run its check, and the engine counts each it could not
/// run as failed: paused, a service is as healthy as it was before; thawed, until the
/// engine's next check, wharf's own probe says whether it is healthy again, so
/// dependents need not wait an interval for it.
async fn through_a_pause(
    state: &mut ContainerState,
    paused: bool,
    health_before: Health,
    engine: &Engine,
    id: &str,
    probe: Option<&(Vec<String>, Duration)>,
) {
    if state.health != Health::Unhealthy {
        return;
    }
    let health = match probe {
        _ if paused => health_before,
        Some((test, timeout)) if engine.probe(id, test, *timeout).await => Health::Healthy,
        _ => return,
    };
    state.health = health;
    state.health_said = None;
}

/// Reads one look at the container (`probed_healthy`: wharf's own first probe
/// passed); `reported_exit` when the last look already said it exited; `early` in the
/// first moments of its run, when the engine's news may not flow yet. The driver's
/// one decision, kept apart so it is tested without an engine.
fn look(
    state: ContainerState,
    probed_healthy: bool,
    policy: RestartPolicy,
    reported_exit: bool,
    delay: Duration,
    early: bool,
) -> Look {
    let exited = !state.running && !state.restarting;
    // The engine's verdict stands once it has one; before that, wharf's own probe.
    let health = if state.health == Health::Starting && probed_healthy {
        Health::Healthy
    } else {
        state.health
    };
    // The engine restarts by policy; a container left exited stays watched, since
    // another tool may start or remove it.
    let stays_exited = exited && !policy.restarts_after(state.exit_code, state.restarts);
    let said = (stays_exited && !reported_exit).then(|| {
        let code = state
            .exit_code
            .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
        wharf_api::exit_note(code)
    });
    let next_delay = if stays_exited {
        STEADY_POLL
    } else if health == Health::Starting || !state.running || state.restarting || early {
        (delay * 3 / 2).min(STARTING_POLL_CAP)
    } else {
        STEADY_POLL
    };
    Look {
        event: Event::Observed {
            container: state,
            health,
        },
        said,
        stays_exited,
        next_delay,
    }
}

/// Creates the container unless one with the same config hash exists; returns its id
/// and whether it was created now (its whole output is then new).
pub(crate) async fn prepare(
    engine: &Engine,
    name: &str,
    container: &ContainerSpec,
    key: &InstanceKey,
    spec: &ServiceSpec,
) -> Result<(String, bool), wharf_engine::EngineError> {
    let image = engine.image_id(&container.image).await?;
    // Kept only when made from this definition and this image, as Compose keeps it: a
    // rebuilt or newly pulled image means a new container. And with host entries for
    // the same names: a native service added or moved away changes them.
    let mut container = container.clone();
    let hosts = wharf_engine::host_names(&container.extra_hosts);
    match engine.existing(name).await? {
        Some(found)
            if found.config_hash == container.config_hash
                && found.image == image
                && found.host_names == hosts =>
        {
            return Ok((found.id, false));
        }
        Some(found) => {
            // As Compose: the new container gets the old one's anonymous volumes, so
            // their data survives a recreation (unless `up -V`). Removing the old
            // container leaves its volumes.
            if !container.renew_anonymous_volumes {
                for mount in container
                    .mounts
                    .iter_mut()
                    .filter(|m| m.kind == "volume" && m.source.is_empty())
                {
                    if let Some((_, volume)) =
                        found.volumes.iter().find(|(at, _)| *at == mount.target)
                    {
                        mount.source.clone_from(volume);
                    }
                }
            }
            engine.remove(&found.id).await?;
        }
        None => {}
    }
    let container = &container;
    let id = engine
        .create(
            name,
            container,
            key.replica,
            &image,
            &spec.stop_signal,
            spec.stop_grace_period,
        )
        .await?;
    Ok((id, true))
}

/// Copies the container's output into the project's logs, across restarts: each time
/// the engine's stream ends (the container stopped), it resumes from the last line seen.
/// `after_ms`: only lines after then are new (a container started again, whose earlier
/// runs' lines were copied then); none for a container made anew.
async fn follow(
    shared: Arc<Shared>,
    key: InstanceKey,
    engine: Arc<Engine>,
    name: String,
    after_ms: Option<u64>,
    ended: tokio::sync::watch::Sender<u64>,
) {
    let mut last: Option<LogTime> = after_ms.map(LogTime::at_ms);
    let mut since = after_ms.map(|ms| i32::try_from(ms / 1000).unwrap_or(i32::MAX));
    loop {
        let mut lines = Box::pin(engine.logs(&name, since, None, true));
        while let Some((stderr, time, line)) = lines.next().await {
            if last.as_ref().is_some_and(|seen| time <= *seen) {
                continue; // already copied before the stream resumed
            }
            let at = time.ms().unwrap_or_else(now_ms);
            last = Some(time);
            let stream = if stderr {
                LogStream::Stderr
            } else {
                LogStream::Stdout
            };
            shared.log_at(&key, stream, line, at);
        }
        ended.send_modify(|n| *n += 1);
        since = last.as_ref().and_then(LogTime::unix_seconds).or(since);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{apply, waiting};
    use wharf_api::InstanceState;

    /// What a fake engine says of a container, look after look.
    fn container(
        running: bool,
        restarting: bool,
        code: Option<i32>,
        health: Health,
    ) -> ContainerState {
        ContainerState {
            running,
            restarting,
            exit_code: code,
            pid: running.then_some(42),
            health,
            restarts: 0,
            ports: Vec::new(),
            engine_ports: Vec::new(),
            finished_ms: None,
            started_ms: None,
            health_said: None,
            stop_signal: String::new(),
        }
    }

    /// Feeds the looks to the driver's decision and the lifecycle, as the real loop
    /// does after the container started; the states, the shown health, the log's
    /// lines, and the delays between looks.
    fn drive(
        policy: RestartPolicy,
        looks: Vec<(ContainerState, bool)>,
    ) -> (Vec<InstanceState>, Vec<Health>, Vec<String>, Vec<u128>) {
        let mut instance = waiting(
            "web",
            1,
            "demo-web-1".into(),
            "docker",
            &ServiceSpec::default(),
        );
        let started = Event::Started {
            pid: None,
            checked: true,
            restarts: 0,
            container_id: None,
        };
        apply(&mut instance, started).unwrap();
        let (mut reported, mut delay) = (false, FIRST_POLL);
        let (mut states, mut health, mut said, mut delays) = (vec![], vec![], vec![], vec![]);
        for (state, probed) in looks {
            let seen = look(state, probed, policy, reported, delay, false);
            said.extend(seen.said);
            apply(&mut instance, seen.event).expect("the driver's event is allowed");
            states.push(instance.state);
            health.push(instance.health);
            reported = seen.stays_exited;
            delay = seen.next_delay;
            delays.push(delay.as_millis());
        }
        (states, health, said, delays)
    }

    #[test]
    fn wharfs_own_probe_makes_it_healthy_before_the_engine_says_so() {
        let starting = container(true, false, None, Health::Starting);
        let healthy = container(true, false, None, Health::Healthy);
        let (states, health, said, delays) = drive(
            RestartPolicy::No,
            vec![
                (starting.clone(), false),
                (starting.clone(), false),
                (starting, true),
                (healthy, true),
            ],
        );
        assert!(states.iter().all(|s| *s == InstanceState::Running));
        assert_eq!(
            health,
            [
                Health::Starting,
                Health::Starting,
                Health::Healthy,
                Health::Healthy
            ]
        );
        assert!(said.is_empty());
        // Quick looks while it starts, growing by half, then steady once it is ready.
        assert_eq!(delays, [7, 11, 1000, 1000]);
    }

    #[test]
    fn an_exit_that_stays_is_said_once_and_a_restart_by_another_tool_is_followed() {
        let exited = container(false, false, Some(1), Health::None);
        let running = container(true, false, None, Health::None);
        let (states, _, said, delays) = drive(
            RestartPolicy::No,
            vec![
                (exited.clone(), false),
                (exited.clone(), false),
                (running, false),
                (exited, false),
            ],
        );
        assert_eq!(
            states,
            [
                InstanceState::Exited,
                InstanceState::Exited,
                InstanceState::Running,
                InstanceState::Exited
            ]
        );
        assert_eq!(said, ["exited with code 1", "exited with code 1"]);
        assert_eq!(delays, [1000, 1000, 1000, 1000]);
    }

    #[test]
    fn the_engines_restarts_are_shown_not_reported_as_exits() {
        let restarting = container(false, true, Some(1), Health::None);
        let between = container(false, false, Some(1), Health::None);
        let (states, _, said, delays) = drive(
            RestartPolicy::Always,
            vec![(restarting, false), (between, false)],
        );
        assert_eq!(states, [InstanceState::Restarting, InstanceState::Exited]);
        assert!(said.is_empty(), "it restarts by policy: {said:?}");
        assert_eq!(delays, [7, 11], "looked at quickly until it runs again");
    }
}

//! The driver of a container instance: waits for its dependencies, creates (or reuses,
//! when its config hash still matches) and starts the container, follows its output
//! and state, stops it on request. The engine applies the restart policy and runs the
//! healthcheck; this driver reports what the engine says as lifecycle events.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use wharf_api::{Health, LogStream, now_ms};
use wharf_plan::{ContainerSpec, ServiceSpec};

use crate::dependencies::wait_for_dependencies;
use crate::lifecycle::{Command, Event, InstanceKey};
use crate::shared::Shared;
use wharf_engine::{Engine, LogTime};

const FIRST_POLL: Duration = Duration::from_millis(5);
const STARTING_POLL_CAP: Duration = Duration::from_millis(250);
const STEADY_POLL: Duration = Duration::from_secs(1);

/// The container's name, as Compose names it.
pub fn container_name(key: &InstanceKey, container: &ContainerSpec) -> String {
    if container.container_name.is_empty() {
        format!("{}-{}-{}", key.project, key.service, key.replica)
    } else {
        container.container_name.clone()
    }
}

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
        Err(Some(reason)) => return fail(&shared, &key, reason),
        Err(None) => {
            shared.report(&key, Event::Stopped { exit_code: None });
            return;
        }
    }
    let name = container_name(&key, container);
    let engine = match shared.engine().await {
        Ok(engine) => engine,
        Err(err) => return fail(&shared, &key, err.to_string()),
    };
    // Followed by id from here on: a new container of the same name is not this one.
    let (id, fresh) = match prepare(&engine, &name, container, &key, &spec).await {
        Ok(prepared) => prepared,
        Err(err) => return fail(&shared, &key, err.to_string()),
    };
    if let Err(err) = engine.start(&id).await
        && !engine.state(&id).await.is_ok_and(|s| s.running)
    {
        return fail(&shared, &key, err.to_string());
    }
    shared.log(&key, LogStream::Wharf, format!("container {name} started"));
    let follower = tokio::spawn(follow(
        Arc::clone(&shared),
        key.clone(),
        Arc::clone(&engine),
        id.clone(),
        fresh,
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
    loop {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            changed = commands.changed() => {
                let command = if changed.is_ok() { *commands.borrow_and_update() } else { Command::Stop };
                match command {
                    Command::Run => {}
                    Command::Stop => {
                        shared.report(&key, Event::StopRequested);
                        let asked = std::time::Instant::now();
                        let _ = engine.stop(&id, spec.stop_grace_period).await;
                        follower.abort();
                        let code = engine.state(&id).await.ok().and_then(|s| s.exit_code);
                        let waited = asked.elapsed();
                        if code == Some(137) && waited + Duration::from_millis(500) >= spec.stop_grace_period {
                            shared.note(
                                &key.project,
                                format!(
                                    "{name} ignored {} and was killed after {}s; `init: true` gives it an init process that passes signals on",
                                    spec.stop_signal,
                                    spec.stop_grace_period.as_secs()
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
        let Ok(state) = engine.state(&id).await else {
            follower.abort();
            shared.log(
                &key,
                LogStream::Wharf,
                format!("container {name} was removed outside wharf"),
            );
            shared.instance_removed_externally(&key);
            return;
        };
        let exited = !state.running && !state.restarting;
        if let Some((test, timeout)) = &probe
            && state.running
            && state.health == Health::Starting
            && !probed_healthy
        {
            probed_healthy = engine.probe(&id, test, *timeout).await;
        }
        // The engine's verdict stands once it has one; before that, wharf's own probe.
        let health = if state.health == Health::Starting && probed_healthy {
            Health::Healthy
        } else {
            state.health
        };
        let (running, code, restarts) = (state.running, state.exit_code, state.restarts);
        shared.report(
            &key,
            Event::Observed {
                container: state,
                health,
            },
        );
        // The engine restarts by policy; a container left exited stays watched, since
        // another tool may start or remove it.
        let stays_exited = exited && !spec.restart.restarts_after(code, restarts);
        if stays_exited && !reported_exit {
            let code = code.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
            shared.log(&key, LogStream::Wharf, format!("exited with code {code}"));
        }
        reported_exit = stays_exited;
        delay = if stays_exited {
            STEADY_POLL
        } else if health == Health::Starting || !running {
            (delay * 3 / 2).min(STARTING_POLL_CAP)
        } else {
            STEADY_POLL
        };
    }
}

/// Creates the container unless one with the same config hash exists; returns its id
/// and whether it was created now (its whole output is then new).
async fn prepare(
    engine: &Engine,
    name: &str,
    container: &ContainerSpec,
    key: &InstanceKey,
    spec: &ServiceSpec,
) -> Result<(String, bool), wharf_engine::EngineError> {
    match engine.existing(name).await? {
        Some((id, hash)) if hash == container.config_hash => return Ok((id, false)),
        Some((id, _)) => engine.remove(&id).await?,
        None => {}
    }
    let image = engine.image_id(&container.image).await?;
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
async fn follow(
    shared: Arc<Shared>,
    key: InstanceKey,
    engine: Arc<Engine>,
    name: String,
    from_start: bool,
) {
    let mut last: Option<LogTime> = None;
    let mut since = (!from_start).then(|| i32::try_from(now_ms() / 1000).unwrap_or(i32::MAX));
    loop {
        let mut lines = Box::pin(engine.logs(&name, since));
        while let Some((stderr, time, line)) = lines.next().await {
            if last.as_ref().is_some_and(|seen| time <= *seen) {
                continue; // already copied before the stream resumed
            }
            last = Some(time);
            shared.log(
                &key,
                if stderr {
                    LogStream::Stderr
                } else {
                    LogStream::Stdout
                },
                line,
            );
        }
        since = last.as_ref().and_then(LogTime::unix_seconds).or(since);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn fail(shared: &Shared, key: &InstanceKey, reason: String) {
    shared.log(key, LogStream::Wharf, format!("not started: {reason}"));
    shared.report(
        key,
        Event::NotStarted {
            reason,
            exit_code: None,
        },
    );
}

//! The logs of a project wharfd does not run (one Docker Compose started, say), read
//! from the engine as `docker compose logs` reads them: each service container's output
//! (not `run` containers'), merged by time, with the tail, the start time and follow.

use futures_util::StreamExt as _;
use wharf_api::{LogLine, LogStream};
use wharf_engine::{Engine, EngineError, LogTime, ProjectContainer};

use crate::http::Lines;

/// What the client asked of the logs.
pub struct LogsQuery {
    /// Services whose lines are wanted; all when empty.
    pub services: Vec<String>,
    pub tail: Option<usize>,
    pub since_ms: Option<u64>,
    pub follow: bool,
}

/// The project's containers whose logs `query` wants; `None` when the engine has no
/// container of the project at all.
pub async fn containers(
    engine: &Engine,
    project: &str,
    query: &LogsQuery,
) -> Result<Option<Vec<ProjectContainer>>, EngineError> {
    let all = engine.project_containers(project).await?;
    if all.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        all.into_iter()
            .filter(|c| {
                !c.one_off && (query.services.is_empty() || query.services.contains(&c.service))
            })
            .collect(),
    ))
}

/// Sends what the containers wrote, oldest first, then (with `follow`) what they write
/// next, until each has stopped or the client goes away.
pub async fn send(
    engine: &Engine,
    containers: Vec<ProjectContainer>,
    query: LogsQuery,
    lines: Lines,
) {
    let since = query
        .since_ms
        .map(|ms| i32::try_from(ms / 1000).unwrap_or(i32::MAX));
    let mut stored = Vec::new();
    let mut followed = Vec::new();
    for container in containers {
        let written: Vec<(bool, LogTime, String)> = engine
            .logs(&container.name, since, query.tail, false)
            .collect()
            .await;
        let last = written.last().map(|(_, time, _)| time.clone());
        stored.extend(
            written
                .into_iter()
                .map(|line| log_line(&container, line))
                .filter(|l| query.since_ms.is_none_or(|since| l.time_ms >= since)),
        );
        if query.follow {
            // From the second of the last line seen, its own and earlier ones dropped.
            let from = last.as_ref().and_then(LogTime::unix_seconds).or(since);
            let next = engine
                .logs(&container.name, from, None, true)
                .filter(move |(_, time, _)| {
                    std::future::ready(last.as_ref().is_none_or(|seen| time > seen))
                })
                .map(move |line| log_line(&container, line));
            followed.push(Box::pin(next));
        }
    }
    stored.sort_by_key(|l| l.time_ms);
    for line in &stored {
        if !lines.send(line).await {
            return;
        }
    }
    let mut written_next = futures_util::stream::select_all(followed);
    loop {
        tokio::select! {
            next = written_next.next() => match next {
                Some(line) => {
                    if !lines.send(&line).await {
                        return;
                    }
                }
                None => return,
            },
            () = lines.closed() => return,
        }
    }
}

fn log_line(
    container: &ProjectContainer,
    (stderr, time, line): (bool, LogTime, String),
) -> LogLine {
    LogLine {
        service: container.service.clone(),
        replica: container.number,
        stream: if stderr {
            LogStream::Stderr
        } else {
            LogStream::Stdout
        },
        time_ms: time.ms().unwrap_or(0),
        line,
    }
}

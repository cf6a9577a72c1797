//! `wharf events`: what happens to the project's instances as it happens, from
//! wharfd's event stream, one line each (`--json`: in Compose's shape, each with the
//! event as wharfd sent it).

use std::process::ExitCode;

use wharf_api::{Change, ComposeEvents, Event, InstanceStatus, now_ms};

use crate::cli::EventsArgs;
use crate::daemon_client;
use crate::project_ref;
use crate::settings::Settings;
use wharf_api::{rfc3339_ms, window};

pub fn run(settings: &Settings, args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let (since, until) =
        window(args.since.as_deref(), args.until.as_deref()).map_err(anyhow::Error::msg)?;
    let name = project_ref::name_defining(settings, &args.services)?;
    if let Some(until) = until {
        // The stream waits for the next event; the time to stop may come first.
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(
                until.saturating_sub(now_ms()),
            ));
            std::process::exit(0);
        });
    }
    let client = daemon_client::connect(&settings.paths)?;
    // Project names are `[a-z0-9_-]`, safe in a query.
    let stream =
        client.stream::<Event>(&format!("{}/events?project={name}", wharf_api::API_PREFIX))?;
    let mut live = false;
    let mut compose_events = ComposeEvents::default();
    for event in stream {
        let event = event?;
        // The opening snapshot is how things are, not something that happened.
        if !live {
            live = event.change == Change::Live;
            compose_events.note(&event);
            continue;
        }
        let at = rfc3339_ms(&event.time).unwrap_or_else(now_ms);
        if until.is_some_and(|until| at > until) {
            break;
        }
        let shown = since.is_none_or(|since| at >= since)
            && (args.services.is_empty() || concerns(&event.change, &args.services));
        if !shown {
            // Still how each instance now is, for what the next event says happened.
            compose_events.note(&event);
        } else if args.json {
            for line in compose_events.lines(&event) {
                println!("{}", serde_json::to_string(&line)?);
            }
        } else if let Some(line) = line(&event) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn concerns(change: &Change, services: &[String]) -> bool {
    match change {
        Change::Instance { instance } => services.contains(&instance.service),
        Change::Removed { service, .. } => services.contains(service),
        Change::Project {
            services: changed, ..
        } => changed.is_empty() || changed.iter().any(|s| services.contains(s)),
        Change::Routes { .. } | Change::Live => false,
    }
}

/// `2026-12-01T12:38:19.123Z instance shop-web-1 running (healthy, pid 4242)`, in
/// the spirit of `docker compose events`' lines.
fn line(event: &Event) -> Option<String> {
    let what = match &event.change {
        Change::Instance { instance } => format!("instance {} {}", instance.name, state(instance)),
        Change::Removed { name, .. } => format!("instance {name} removed"),
        Change::Project { action, services } if services.is_empty() => {
            format!("project {} {action}", event.project)
        }
        Change::Project { action, services } => {
            format!("project {} {action} {}", event.project, services.join(" "))
        }
        Change::Routes { urls } => format!("routes {} {}", event.project, urls.join(" ")),
        Change::Live => return None,
    };
    Some(format!("{} {what}", event.time))
}

fn state(instance: &InstanceStatus) -> String {
    let state = serde_json::to_value(instance.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut details = Vec::new();
    if instance.paused {
        details.push("paused".to_owned());
    }
    let health = serde_json::to_value(instance.health)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    if health != "none" {
        details.push(health);
    }
    if let Some(pid) = instance.pid {
        details.push(format!("pid {pid}"));
    }
    if let Some(code) = instance.exit_code {
        details.push(format!("exit {code}"));
    }
    if details.is_empty() {
        state
    } else {
        format!("{state} ({})", details.join(", "))
    }
}

//! How an instance's state reads in one cell: `running 5m (healthy)`, `exited (1)`.

use wharf_api::{Health, InstanceState, InstanceStatus};

use crate::age::ago;

/// `running 5m (healthy)`, `exited (1)`, `restarting: …`, as one cell.
pub fn status_text(i: &InstanceStatus, now: u64) -> String {
    let mut text = match i.state {
        // The daemon names the dependencies; without any, it is about to start.
        InstanceState::Waiting if i.message.is_empty() => "starting".to_owned(),
        InstanceState::Stopping => "stopping".to_owned(),
        InstanceState::Running if i.paused => "paused".to_owned(),
        InstanceState::Running => format!(
            "running {}",
            i.started_at_ms.map(|t| ago(now, t)).unwrap_or_default()
        ),
        InstanceState::Waiting | InstanceState::Restarting | InstanceState::CrashLoop
            if !i.message.is_empty() =>
        {
            i.message.clone()
        }
        // The engine restarting a container by its policy says nothing more.
        InstanceState::Waiting | InstanceState::Restarting | InstanceState::CrashLoop => {
            match i.exit_code {
                Some(code) => format!("restarting (exited {code})"),
                None => "restarting".to_owned(),
            }
        }
        InstanceState::Exited => match i.exit_code {
            Some(code) => format!("exited ({code})"),
            None => "exited".to_owned(),
        },
        InstanceState::Stopped => "stopped".to_owned(),
        InstanceState::Created => "created".to_owned(),
    };
    match i.health {
        Health::None => {}
        Health::Starting => text.push_str(" (health: starting)"),
        Health::Healthy => text.push_str(" (healthy)"),
        Health::Unhealthy => text.push_str(" (unhealthy)"),
    }
    let says_why = i.state == InstanceState::Exited || i.health == Health::Unhealthy;
    if says_why && !i.message.is_empty() {
        text.push_str(": ");
        text.push_str(&i.message);
    }
    text
}

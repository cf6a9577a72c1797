//! `wharf daemon status|stop|logs|run`.

use std::process::ExitCode;

use anyhow::Context as _;
use wharf_api::{DaemonStatus, InstanceState, InstanceStatus};

use crate::age::ago;
use crate::cli::{DaemonCommand, ListFormat};
use crate::daemon_client;
use crate::project_ref::endpoint;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &DaemonCommand) -> anyhow::Result<ExitCode> {
    let (paths, printer) = (&settings.paths, &settings.printer);
    match command {
        DaemonCommand::Run => {
            wharf_daemon::run(paths)?;
            Ok(ExitCode::SUCCESS)
        }
        DaemonCommand::Status(format) => {
            let Some(client) = daemon_client::existing(paths) else {
                if format.format == ListFormat::Json {
                    println!("{{\"running\": false}}");
                } else {
                    println!("wharfd is not running ({})", paths.socket().display());
                }
                return Ok(ExitCode::from(3));
            };
            let status: DaemonStatus = client.get("/v1/status")?;
            if format.format == ListFormat::Json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                let up = ago(status.uptime_ms, 0);
                let state = if status.stopping {
                    "stopping"
                } else {
                    "running"
                };
                println!(
                    "wharfd {} {state}, pid {}, up {up}",
                    status.version, status.pid
                );
                println!("socket  {}", status.socket.display());
                for project in &status.projects {
                    println!("project {}: {}", project.name, project.status);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DaemonCommand::Stop => {
            let Some(client) = daemon_client::existing(paths) else {
                printer.info("wharfd is not running");
                return Ok(ExitCode::SUCCESS);
            };
            let _: serde_json::Value = client.post("/v1/shutdown", &serde_json::json!({}))?;
            // The socket disappears once every service has stopped; the lock is let go
            // once the daemon and its guard have written their last, so a script may
            // delete WHARF_HOME the moment this returns.
            let asked = std::time::Instant::now();
            let mut said = false;
            while paths.socket().exists() {
                // A service that ignores its stop signal holds the stop for its grace
                // period: say which.
                if !said && asked.elapsed() >= std::time::Duration::from_secs(1) {
                    let stopping = still_stopping(&client);
                    let which = if stopping.is_empty() {
                        "the services".to_owned()
                    } else {
                        stopping.join(", ")
                    };
                    printer.info(&format!(
                        "wharfd is stopping {which}: each has its stop_grace_period (10 s \
                         unless set) to end after its stop signal, then it is killed"
                    ));
                    said = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            if let Ok(lock) = std::fs::File::open(paths.lock()) {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                while lock.try_lock().is_err() && std::time::Instant::now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
            printer.info("wharfd stopped");
            Ok(ExitCode::SUCCESS)
        }
        DaemonCommand::Logs => {
            let log = paths.daemon_log();
            let text = std::fs::read_to_string(&log)
                .with_context(|| format!("cannot read {}", log.display()))?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The instances, of every project, that are still being stopped.
fn still_stopping(client: &wharf_api::Client) -> Vec<String> {
    let Ok(status) = client.get::<DaemonStatus>("/v1/status") else {
        return Vec::new();
    };
    status
        .projects
        .iter()
        .filter_map(|p| {
            client
                .get::<Vec<InstanceStatus>>(&endpoint(&p.name, "ps"))
                .ok()
        })
        .flatten()
        .filter(|i| i.state == InstanceState::Stopping)
        .map(|i| i.name)
        .collect()
}

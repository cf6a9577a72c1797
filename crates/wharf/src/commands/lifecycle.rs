//! `wharf start|stop|restart|kill|pause|unpause`: act on services of a project wharfd
//! runs.

use std::process::ExitCode;

use wharf_api::{ClientError, ServicesRequest};

use crate::cli::RestartArgs;
use crate::daemon_client;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;

pub fn run(
    settings: &Settings,
    action: &str,
    services: &[String],
    signal: Option<&str>,
    timeout_s: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let request = ServicesRequest {
        services: services.to_vec(),
        signal: signal.map(str::to_owned),
        timeout_s,
        ..ServicesRequest::default()
    };
    act(settings, action, &request)
}

/// `wharf restart`: with its dependents that ask for it, unless `--no-deps`.
pub fn restart(settings: &Settings, args: &RestartArgs) -> anyhow::Result<ExitCode> {
    let request = ServicesRequest {
        services: args.stop.services.clone(),
        timeout_s: args.stop.timeout,
        no_deps: args.no_deps,
        ..ServicesRequest::default()
    };
    act(settings, "restart", &request)
}

fn act(settings: &Settings, action: &str, request: &ServicesRequest) -> anyhow::Result<ExitCode> {
    let (name, reachable) = project_ref::name_and_reachable(settings, &request.services)?;
    if !request.services.is_empty() && reachable.is_empty() {
        // Only services of profiles not enabled that run nowhere: none has an instance
        // to act on (Compose's `start` of one does nothing either).
        return Ok(ExitCode::SUCCESS);
    }
    let request = &ServicesRequest {
        services: reachable,
        ..request.clone()
    };
    let services = &request.services;
    let client = daemon_client::connect(&settings.paths)?;
    let answer: serde_json::Value = match client.post(&endpoint(&name, action), request) {
        // Nothing runs, here or in the engine: only `start` has something it cannot do
        // (as Compose's, which exits 0 for the others).
        Err(ClientError::Api { status: 404, .. }) if action != "start" => {
            if action == "kill" {
                settings.printer.info("no container to kill");
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(ClientError::Api { status: 404, .. }) => {
            anyhow::bail!("{name} has nothing to start: `wharf up` creates and starts it");
        }
        other => other?,
    };
    // Returned once what it started runs, as Compose's `start` and `restart`.
    if matches!(action, "start" | "restart") {
        crate::readiness::wait_started(&client, &name, services)?;
    }
    let what = if services.is_empty() {
        "all services".to_owned()
    } else {
        services.join(", ")
    };
    settings.printer.info(&format!("{action}: {what}"));
    for note in answer["notes"].as_array().into_iter().flatten() {
        if let Some(note) = note.as_str() {
            settings.printer.warn(note);
        }
    }
    Ok(ExitCode::SUCCESS)
}

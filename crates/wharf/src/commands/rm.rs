//! `wharf rm [SERVICE…]`: forgets the instances that have ended (a stopped or exited
//! service's), removing their containers, after saying which and asking (or `-f`).

use std::process::ExitCode;

use wharf_api::{InstanceStatus, ServicesRequest};

use crate::cli::RmArgs;
use crate::confirm::confirm;
use crate::daemon_client;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &RmArgs) -> anyhow::Result<ExitCode> {
    let (name, services) = project_ref::name_and_reachable(settings, &args.services)?;
    if !args.services.is_empty() && services.is_empty() {
        // Only services of profiles not enabled that run nowhere: none has an instance.
        settings.printer.info("no stopped instances");
        return Ok(ExitCode::SUCCESS);
    }
    let client = daemon_client::connect(&settings.paths)?;
    let request = ServicesRequest {
        services: services.clone(),
        volumes: args.volumes,
        ..ServicesRequest::default()
    };
    if args.stop {
        let _: serde_json::Value = client.post(&endpoint(&name, "stop"), &request)?;
    }
    let instances = project_ref::instances(&client, &name)?;
    let chosen = |i: &&InstanceStatus| services.is_empty() || services.contains(&i.service);
    // A service goes when all of its instances have ended, as the daemon decides too.
    let ended: Vec<String> = instances
        .iter()
        .filter(chosen)
        .filter(|i| {
            instances
                .iter()
                .filter(|j| j.service == i.service)
                .all(|j| !j.state.is_active())
        })
        .map(|i| i.name.clone())
        .collect();
    if ended.is_empty() {
        settings.printer.info("no stopped instances");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.force
        && !confirm(
            "Going to remove:",
            &ended,
            "Are you sure?",
            "removing instances needs confirmation: run again with -f",
        )?
    {
        settings.printer.info("nothing was removed");
        return Ok(ExitCode::FAILURE);
    }
    let answer: serde_json::Value = client.post(&endpoint(&name, "rm"), &request)?;
    for removed in answer["removed"].as_array().into_iter().flatten() {
        if let Some(removed) = removed.as_str() {
            settings.printer.info(&format!("removed {removed}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}

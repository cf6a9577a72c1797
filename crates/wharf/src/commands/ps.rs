//! `wharf ps` and `wharf ls`: what runs, from the daemon.

use std::process::ExitCode;

use wharf_api::{InstanceStatus, ProjectSummary, now_ms};

use crate::cli::{ListFormat, ListFormatArgs, PsArgs};
use crate::daemon_client;
use crate::output::aligned_table;
use crate::project_ref;
use crate::settings::Settings;
use crate::status_text::status_text;

pub fn run(settings: &Settings, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let client = daemon_client::connect(&settings.paths)?;
    let mut instances = project_ref::instances(&client, &name)?;
    instances.retain(|i| {
        (args.all || i.state.is_active())
            && (args.services.is_empty() || args.services.contains(&i.service))
    });
    if args.format.format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&instances)?);
    } else if args.quiet {
        for instance in &instances {
            println!("{}", instance.name);
        }
    } else {
        print!("{}", table(&instances));
        for exposure in crate::listening::exposures(&instances, now_ms()) {
            eprintln!(
                "warning: {} {}\n  fix: {}",
                exposure.instance, exposure.problem, exposure.fix
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn table(instances: &[InstanceStatus]) -> String {
    let now = now_ms();
    let mut rows =
        vec![["NAME", "SERVICE", "BACKEND", "STATUS", "PID", "PORTS"].map(str::to_owned)];
    for i in instances {
        let ports = i
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{}->{}", p.published, p.target))
            .collect::<Vec<_>>()
            .join(", ");
        rows.push([
            i.name.clone(),
            i.service.clone(),
            i.backend.clone(),
            status_text(i, now),
            i.pid.map(|p| p.to_string()).unwrap_or_default(),
            ports,
        ]);
    }
    aligned_table(&rows)
}

pub fn list(settings: &Settings, args: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    let client = daemon_client::connect(&settings.paths)?;
    let projects: Vec<ProjectSummary> =
        client.get(&format!("{}/projects", wharf_api::API_PREFIX))?;
    if args.format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&projects)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["NAME", "STATUS", "CONFIG FILES"].map(str::to_owned)];
    for p in projects {
        let files = p
            .config_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        rows.push([p.name, p.status, files]);
    }
    print!("{}", aligned_table(&rows));
    Ok(ExitCode::SUCCESS)
}

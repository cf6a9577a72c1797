//! `wharf ps` and `wharf ls`: what runs, from the daemon.

use std::process::ExitCode;

use wharf_api::{Health, InstanceState, InstanceStatus, Paths, ProjectSummary, now_ms};

use crate::age::ago;
use crate::cli::{GlobalArgs, ListFormat, ListFormatArgs, PsArgs};
use crate::daemon_client;
use crate::output::aligned_table;
use crate::project_ref;

pub fn run(global: &GlobalArgs, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(global, &args.services)?;
    let client = daemon_client::connect(&Paths::from_env())?;
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

/// `running 5m (healthy)`, `exited (1)`, `restarting: …`, as one cell.
pub fn status_text(i: &InstanceStatus, now: u64) -> String {
    let mut text = match i.state {
        InstanceState::Waiting => "waiting for dependencies".to_owned(),
        InstanceState::Stopping => "stopping".to_owned(),
        InstanceState::Running => format!(
            "running {}",
            i.started_at_ms.map(|t| ago(now, t)).unwrap_or_default()
        ),
        InstanceState::Restarting | InstanceState::CrashLoop => i.message.clone(),
        InstanceState::Exited => match i.exit_code {
            Some(code) => format!("exited ({code})"),
            None => "exited".to_owned(),
        },
        InstanceState::Stopped => "stopped".to_owned(),
    };
    match i.health {
        Health::None => {}
        Health::Starting => text.push_str(" (health: starting)"),
        Health::Healthy => text.push_str(" (healthy)"),
        Health::Unhealthy => text.push_str(" (unhealthy)"),
    }
    if i.state == InstanceState::Exited && !i.message.is_empty() {
        text.push_str(": ");
        text.push_str(&i.message);
    }
    text
}

pub fn list(args: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    let client = daemon_client::connect(&Paths::from_env())?;
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

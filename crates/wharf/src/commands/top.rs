//! `wharf top`: the processes of each instance, read from `/proc` (wharfd's services
//! run on this machine, each leading its own process group).

use std::process::ExitCode;

use wharf_api::InstanceStatus;

use crate::cli::ServicesArgs;
use crate::daemon_client;
use crate::output::aligned_table;
use crate::project_ref;
use crate::settings::Settings;
use wharf_host::processes::all_processes;

pub fn run(settings: &Settings, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let client = daemon_client::connect(&settings.paths)?;
    // A project nothing runs of has no processes: nothing to show, as Compose.
    let instances: Vec<InstanceStatus> = project_ref::instances(&client, &name)?;
    let processes = all_processes();
    for instance in instances {
        let Some(leader) = instance.pid else { continue };
        if !args.services.is_empty() && !args.services.contains(&instance.service) {
            continue;
        }
        println!("{}", instance.name);
        let mut rows = vec![["PID", "PPID", "STATE", "COMMAND"].map(str::to_owned)];
        for process in processes.iter().filter(|p| p.group == leader) {
            rows.push([
                process.pid.to_string(),
                process.parent.to_string(),
                process.state.clone(),
                process.command.clone(),
            ]);
        }
        println!("{}", aligned_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

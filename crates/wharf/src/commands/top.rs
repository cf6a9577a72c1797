//! `wharf top`: the processes of each instance. A native one's are read from `/proc`
//! (wharfd's services run on this machine, each in its own cgroup where the machine
//! allows one, else leading its own process group); a
//! container's are the engine's listing, as `docker top` shows them, so a container
//! wharfd did not start (Compose's) or one whose processes left its group shows too.

use std::process::ExitCode;

use wharf_api::InstanceStatus;
use wharf_engine::{BlockingEngine, EngineError};

use crate::cli::ServicesArgs;
use crate::daemon_client;
use crate::project_ref;
use crate::settings::Settings;
use wharf_host::cgroups::instance_members;
use wharf_host::processes::{Process, all_processes};

pub fn run(settings: &Settings, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let client = daemon_client::connect(&settings.paths)?;
    // A project nothing runs of has no processes: nothing to show, as Compose.
    let instances: Vec<InstanceStatus> = project_ref::instances(&client, &name)?
        .into_iter()
        .filter(|i| args.services.is_empty() || args.services.contains(&i.service))
        .filter(|i| i.pid.is_some() || (!i.container_id.is_empty() && i.state.is_active()))
        .collect();
    let engine = if instances.iter().any(|i| !i.container_id.is_empty()) {
        Some(BlockingEngine::connect().map_err(EngineError::from)?)
    } else {
        None
    };
    let processes = all_processes();
    // One table, as Compose's, each process under its service and replica; the
    // engine's columns and a native process's differ, so each kind has its own.
    let mut tables: Vec<(Vec<String>, Vec<Vec<String>>)> = Vec::new();
    for instance in instances {
        let (titles, rows) = match (&engine, instance.pid) {
            (Some(engine), _) if !instance.container_id.is_empty() => {
                let listed = engine.processes(&instance.container_id)?;
                (listed.titles, listed.rows)
            }
            (_, Some(leader)) => native_rows(&processes, leader),
            _ => continue,
        };
        let rows = rows.into_iter().map(|row| {
            [instance.service.clone(), instance.replica.to_string()]
                .into_iter()
                .chain(row)
                .collect()
        });
        match tables.iter_mut().find(|(seen, _)| *seen == titles) {
            Some((_, table)) => table.extend(rows),
            None => tables.push((titles, rows.collect())),
        }
    }
    let printed: Vec<String> = tables
        .into_iter()
        .map(|(titles, rows)| {
            let header = ["SERVICE".to_owned(), "#".to_owned()]
                .into_iter()
                .chain(titles)
                .collect();
            let rows: Vec<Vec<String>> = std::iter::once(header).chain(rows).collect();
            // Compose's spacing: two spaces between columns, each at least four wide.
            wharf_api::aligned_columns(&rows, 4, 2)
        })
        .collect();
    print!("{}", printed.join("\n"));
    Ok(ExitCode::SUCCESS)
}

/// A native instance's processes under `ps`'s titles: those of the cgroup wharfd made
/// for it (which keeps what called `setsid`, as postgres's workers do), else those
/// of the group `leader` leads.
fn native_rows(processes: &[Process], leader: u32) -> (Vec<String>, Vec<Vec<String>>) {
    let titles = ["PID", "PPID", "STATE", "COMMAND"]
        .map(str::to_owned)
        .to_vec();
    let members = instance_members(leader);
    let belongs = |p: &&Process| match &members {
        Some(members) => members.contains(&p.pid),
        None => p.group == leader,
    };
    let rows = processes
        .iter()
        .filter(belongs)
        .map(|p| {
            vec![
                p.pid.to_string(),
                p.parent.to_string(),
                p.state.clone(),
                p.command.clone(),
            ]
        })
        .collect();
    (titles, rows)
}

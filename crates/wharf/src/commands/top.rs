//! `wharf top`: the processes of each instance, read from `/proc` (wharfd's services
//! run on this machine, each leading its own process group).

use std::process::ExitCode;

use wharf_api::{InstanceStatus, Paths};

use crate::cli::{GlobalArgs, ServicesArgs};
use crate::daemon_client;
use crate::output::aligned_table;
use crate::project_ref::{self, endpoint};

pub fn run(global: &GlobalArgs, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(global)?;
    let client = daemon_client::connect(&Paths::from_env())?;
    let instances: Vec<InstanceStatus> = client.get(&endpoint(&name, "ps"))?;
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

struct Process {
    pid: u32,
    parent: u32,
    group: u32,
    state: String,
    command: String,
}

fn all_processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut processes: Vec<Process> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_process)
        .collect();
    processes.sort_by_key(|p| p.pid);
    processes
}

fn read_process(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces, follow the last ')'.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let command = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Some(Process {
        pid,
        state: (*fields.first()?).to_owned(),
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        command,
    })
}

//! `wharf stats` and `wharf port`: figures about running instances, read on this
//! machine (a container's processes are host processes too).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use wharf_api::InstanceStatus;

use crate::cli::{ComposeFormat, PortArgs, StatsArgs};
use crate::daemon_client;
use crate::output::{aligned_table, docker_size};
use crate::project_ref;
use crate::settings::Settings;
use wharf_host::processes::{Process, all_processes};

const SAMPLE: Duration = Duration::from_millis(500);

/// The project's instances; `services` must be the file's.
fn running(settings: &Settings, services: &[String]) -> anyhow::Result<Vec<InstanceStatus>> {
    let name = project_ref::name_defining(settings, services)?;
    let client = daemon_client::connect(&settings.paths)?;
    project_ref::instances(&client, &name)
}

/// CPU ticks, resident pages and processes of each instance, by the pid of its first
/// process (`roots`): its process group (a native service's, daemons that left its
/// tree included) and what descends from it (a container's, whose init may put its
/// child in a group of its own).
fn usage_by_instance(
    processes: &[Process],
    roots: &BTreeSet<u32>,
) -> BTreeMap<u32, (u64, u64, usize)> {
    let parents: HashMap<u32, u32> = processes.iter().map(|p| (p.pid, p.parent)).collect();
    let root_of = |process: &Process| {
        if roots.contains(&process.group) {
            return Some(process.group);
        }
        let mut at = process.pid;
        // A tree deeper than this is no service's; the bound keeps a cycle (pids reused
        // while /proc was read) from looping.
        for _ in 0..256 {
            if roots.contains(&at) {
                return Some(at);
            }
            at = *parents.get(&at)?;
        }
        None
    };
    let mut usage: BTreeMap<u32, (u64, u64, usize)> = BTreeMap::new();
    for process in processes {
        if let Some(root) = root_of(process) {
            let entry = usage.entry(root).or_default();
            entry.0 += process.cpu_ticks;
            entry.1 += process.rss_pages;
            entry.2 += 1;
        }
    }
    usage
}

/// This machine's memory, the limit `docker stats` shows for a container without one.
fn memory_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or_default()
}

/// `wharf stats`: a sample each second until Ctrl-C, as Compose's, or one with
/// `--no-stream`.
pub fn stats(settings: &Settings, args: &StatsArgs) -> anyhow::Result<ExitCode> {
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        let instances: Vec<InstanceStatus> = running(settings, &args.services)?
            .into_iter()
            .filter(|i| {
                (args.all || i.pid.is_some())
                    && (args.services.is_empty() || args.services.contains(&i.service))
            })
            .collect();
        let sample = sample(&instances);
        if !args.no_stream && terminal {
            // A screen that updates in place, as `docker stats` draws it.
            print!("\x1b[2J\x1b[H");
        }
        print_sample(&sample, &args.format.format)?;
        if args.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(STREAM_EVERY.saturating_sub(SAMPLE));
    }
}

const STREAM_EVERY: Duration = Duration::from_secs(1);

/// One instance's figures over a sample.
struct Usage<'a> {
    instance: &'a InstanceStatus,
    cpu_percent: f64,
    memory_bytes: f64,
    processes: usize,
}

/// Each instance's CPU and memory over `SAMPLE`.
fn sample(instances: &[InstanceStatus]) -> Vec<Usage<'_>> {
    // Clock ticks and page size as Linux reports them on every supported machine.
    let (ticks_per_second, page_bytes) = (100.0, 4096.0);
    let roots: BTreeSet<u32> = instances.iter().filter_map(|i| i.pid).collect();
    let before = usage_by_instance(&all_processes(), &roots);
    let started = Instant::now();
    std::thread::sleep(SAMPLE);
    let after = usage_by_instance(&all_processes(), &roots);
    let seconds = started.elapsed().as_secs_f64();
    instances
        .iter()
        .map(|instance| {
            let group = instance.pid.unwrap_or_default();
            let (cpu_before, _, _) = before.get(&group).copied().unwrap_or_default();
            let (cpu_after, pages, processes) = after.get(&group).copied().unwrap_or_default();
            Usage {
                instance,
                cpu_percent: cpu_after.saturating_sub(cpu_before) as f64
                    / ticks_per_second
                    / seconds
                    * 100.0,
                memory_bytes: pages as f64 * page_bytes,
                processes,
            }
        })
        .collect()
}

fn print_sample(sample: &[Usage<'_>], format: &ComposeFormat) -> anyhow::Result<()> {
    match format {
        ComposeFormat::Json => {
            for line in docker_shaped(sample) {
                println!("{line}");
            }
        }
        ComposeFormat::Template(template) => print!("{}", template.render(&docker_shaped(sample))?),
        ComposeFormat::Table => {
            let mut rows = vec![["NAME", "BACKEND", "CPU %", "MEM"].map(str::to_owned)];
            for u in sample {
                rows.push([
                    u.instance.name.clone(),
                    u.instance.backend.clone(),
                    format!("{:.2}%", u.cpu_percent),
                    format!("{:.1}MiB", u.memory_bytes / (1024.0 * 1024.0)),
                ]);
            }
            print!("{}", aligned_table(&rows));
        }
    }
    Ok(())
}

/// Each instance's figures in `docker stats`' shape, wharf's under `wharf`; network
/// and disk I/O are not measured (`--`, as Docker shows what it lacks).
fn docker_shaped(sample: &[Usage<'_>]) -> Vec<serde_json::Value> {
    let total = memory_total();
    sample
        .iter()
        .map(|u| {
            let instance = u.instance;
            let id = if instance.container_id.is_empty() {
                &instance.name
            } else {
                &instance.container_id
            };
            serde_json::json!({
                "BlockIO": "--",
                "CPUPerc": format!("{:.2}%", u.cpu_percent),
                "Container": id,
                "ID": id.get(..12).unwrap_or(id),
                "MemPerc": format!("{:.2}%", u.memory_bytes / total.max(1) as f64 * 100.0),
                "MemUsage": format!("{} / {}", docker_size(u.memory_bytes as u64), docker_size(total)),
                "Name": instance.name,
                "NetIO": "--",
                "PIDs": u.processes.to_string(),
                "wharf": {
                    "backend": instance.backend,
                    "cpu_percent": u.cpu_percent,
                    "memory_bytes": u.memory_bytes,
                },
            })
        })
        .collect()
}

pub fn port(settings: &Settings, args: &PortArgs) -> anyhow::Result<ExitCode> {
    let instances = running(settings, std::slice::from_ref(&args.service))?;
    let instance = project_ref::instance_of(&instances, &args.service, args.index)?;
    let Some(port) = instance
        .ports
        .iter()
        .find(|p| p.target == args.private_port && p.protocol.name() == args.protocol)
    else {
        bail!(
            "{} publishes no {} port {}",
            instance.name,
            args.protocol,
            args.private_port
        );
    };
    println!("{}", port.address());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(pid: u32, parent: u32, group: u32) -> Process {
        Process {
            pid,
            parent,
            group,
            state: "S".to_owned(),
            command: String::new(),
            cpu_ticks: 1,
            rss_pages: 2,
        }
    }

    #[test]
    fn an_instance_counts_its_group_and_its_descendants() {
        let processes = [
            process(100, 50, 100),  // a native instance
            process(101, 100, 100), // its child
            process(102, 1, 100),   // a daemon that left its tree, in its group
            process(200, 60, 200),  // a container's init
            process(201, 200, 201), // its child, in a group of its own
            process(202, 201, 201), // and a grandchild
            process(300, 1, 300),   // no service's
        ];
        let usage = usage_by_instance(&processes, &BTreeSet::from([100, 200]));
        assert_eq!(usage.get(&100), Some(&(3, 6, 3)));
        assert_eq!(usage.get(&200), Some(&(3, 6, 3)));
        assert_eq!(usage.len(), 2);
    }
}

//! `wharf ps` and `wharf ls`: what runs, from the daemon.

use std::process::ExitCode;

use wharf_api::{InstanceStatus, ProjectSummary, now_ms};

use anyhow::{Context as _, bail};

use crate::cli::{ComposeFormat, LsArgs, PsArgs};
use crate::daemon_client;
use crate::output::aligned_table;
use crate::project_ref;
use crate::settings::Settings;
use crate::status_text::status_text;
use wharf_api::{
    COMPOSE_STATES, compose_state_of, ls_entry, ps_line, with_listed_fields, with_spec_fields,
};

pub fn run(settings: &Settings, args: &PsArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let client = daemon_client::connect(&settings.paths)?;
    let mut instances = project_ref::instances(&client, &name)?;
    if args.all {
        instances.extend(one_off_containers(&name, &instances));
        // In name order, as Compose lists containers: a `run --name` one among them.
        instances.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut states = args.status.clone();
    for filter in &args.filter {
        match filter.split_once('=') {
            Some(("status", state)) if COMPOSE_STATES.contains(&state) => {
                states.push(state.to_owned());
            }
            _ => bail!(
                "--filter {filter}: the filter Compose's ps supports is status=STATE (one of {})",
                COMPOSE_STATES.join(", ")
            ),
        }
    }
    if !args.orphans {
        let loaded = project_ref::load(settings)?;
        instances.retain(|i| {
            loaded.project.services.contains_key(&i.service) || loaded.disabled.contains(&i.service)
        });
    }
    instances.retain(|i| {
        let shown = if states.is_empty() {
            args.all || (i.state.is_active() && !i.one_off)
        } else {
            states.iter().any(|s| s == compose_state_of(i))
        };
        shown && (args.services.is_empty() || args.services.contains(&i.service))
    });
    if args.services_only {
        let mut said = std::collections::HashSet::new();
        for service in instances.iter().map(|i| i.service.as_str()) {
            if said.insert(service) {
                println!("{service}");
            }
        }
    } else if args.format.format == ComposeFormat::Json {
        // As Go writes JSON: `&&` in a command is `\u0026\u0026` in Compose's too.
        for line in compose_lines(&client, &name, &instances, args.no_trunc) {
            println!("{}", wharf_manifest::to_go_json_line(&line)?);
        }
    } else if let ComposeFormat::Template(template) = &args.format.format {
        let lines = compose_lines(&client, &name, &instances, args.no_trunc);
        print!("{}", template.render(&lines)?);
    } else if args.quiet {
        for instance in &instances {
            // Compose prints container ids; a native instance has its name.
            if instance.container_id.is_empty() {
                println!("{}", instance.name);
            } else {
                println!("{}", instance.container_id);
            }
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
            .filter(|_| i.publishes())
            .map(|p| match p.protocol {
                wharf_plan::Protocol::Tcp => format!("{}->{}", p.address(), p.target),
                other => format!("{}->{}/{}", p.address(), p.target, other.name()),
            })
            .collect::<Vec<_>>()
            .join(", ");
        rows.push([
            i.name.clone(),
            i.service.clone(),
            i.backend.clone(),
            // A long reason would widen the table past any screen: whole in
            // `--format json` (`wharf.message`) and in `wharf logs --notes`.
            wharf_api::ellipsis(&status_text(i, now), STATUS_WIDTH),
            i.pid.map(|p| p.to_string()).unwrap_or_default(),
            ports,
        ]);
    }
    aligned_table(&rows)
}

pub fn list(settings: &Settings, args: &LsArgs) -> anyhow::Result<ExitCode> {
    let client = daemon_client::connect(&settings.paths)?;
    let mut projects: Vec<ProjectSummary> =
        client.get(&format!("{}/projects", wharf_api::API_PREFIX))?;
    // Compose's projects too, as its `ls` lists wharf's: those with containers wharfd
    // does not run, when an engine answers.
    if let Ok(engine) = wharf_engine::BlockingEngine::connect() {
        let others: Vec<ProjectSummary> = engine
            .compose_projects(args.all)
            .unwrap_or_default()
            .into_iter()
            .filter(|other| projects.iter().all(|own| own.name != other.name))
            .collect();
        projects.extend(others);
        projects.sort_by(|a, b| a.name.cmp(&b.name));
    }
    // As Compose's: each `name=` a regular expression found in the name, any of them.
    let mut patterns = Vec::new();
    for filter in &args.filter {
        match filter.split_once('=') {
            Some(("name", pattern)) => patterns.push(
                regex_lite::Regex::new(pattern)
                    .with_context(|| format!("--filter {filter}: not a regular expression"))?,
            ),
            _ => bail!("--filter {filter}: the filter Compose's ls supports is name=PATTERN"),
        }
    }
    // As Compose's: projects with something running, unless -a, and then their
    // running instances counted alone.
    projects.retain(|p| {
        (args.all || p.status.contains("running"))
            && (patterns.is_empty() || patterns.iter().any(|pattern| pattern.is_match(&p.name)))
    });
    if !args.all {
        for project in &mut projects {
            project.status = project
                .status
                .split(", ")
                .filter(|count| count.starts_with("running("))
                .collect::<Vec<_>>()
                .join(", ");
        }
    }
    if args.quiet {
        for project in &projects {
            println!("{}", project.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    match &args.format.format {
        ComposeFormat::Json => {
            let entries: Vec<_> = projects.iter().map(ls_entry).collect();
            println!("{}", wharf_manifest::to_go_json_line(&entries)?);
            return Ok(ExitCode::SUCCESS);
        }
        ComposeFormat::Template(template) => {
            let entries: Vec<_> = projects.iter().map(ls_entry).collect();
            print!("{}", template.render(&entries)?);
            return Ok(ExitCode::SUCCESS);
        }
        ComposeFormat::Table => {}
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

/// The project's `run` containers, which `ps -a` lists as Compose's does; asked of the
/// engine only for a project with containers, so a native one's `ps` stays fast.
fn one_off_containers(name: &str, instances: &[InstanceStatus]) -> Vec<InstanceStatus> {
    if !instances.iter().any(|i| i.backend == "docker") {
        return Vec::new();
    }
    let Ok(engine) = wharf_engine::BlockingEngine::connect() else {
        return Vec::new();
    };
    let known: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
    engine
        .project_containers(name)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.one_off && !known.contains(&c.name.as_str()))
        .map(|c| c.into_status("a one-off container (`wharf run`)"))
        .collect()
}

/// Each instance as Compose's `ps --format json` gives it: a container's `Image`,
/// `Command`, labels, mounts and networks from the daemon's spec, or as the engine lists
/// a container the daemon does not run.
fn compose_lines(
    client: &wharf_api::Client,
    name: &str,
    instances: &[InstanceStatus],
    full_command: bool,
) -> Vec<serde_json::Value> {
    let spec: Option<wharf_plan::ProjectSpec> =
        client.get(&crate::project_ref::endpoint(name, "spec")).ok();
    let now = now_ms();
    // An anonymous volume is named by the engine alone: a container that mounts one is
    // described as the engine lists it, asked once.
    let anonymous = |instance: &InstanceStatus| {
        spec.as_ref()
            .and_then(|s| s.services.get(&instance.service))
            .and_then(|s| s.container.as_ref())
            .is_some_and(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source.is_empty())
            })
    };
    let engine_listed: std::collections::HashMap<String, wharf_api::ListedContainer> =
        if instances.iter().any(anonymous) {
            wharf_engine::BlockingEngine::connect()
                .ok()
                .and_then(|engine| engine.project_containers(name).ok())
                .into_iter()
                .flatten()
                .map(|c| (c.name, c.listed))
                .collect()
        } else {
            std::collections::HashMap::new()
        };
    instances
        .iter()
        .map(|instance| {
            let mut line = ps_line(name, instance, now);
            // A container wharfd does not run (a `run` container, another tool's) is
            // as the engine lists it; the spec says nothing of it.
            if let Some(listed) = instance
                .listed
                .as_deref()
                .or_else(|| engine_listed.get(&instance.name))
            {
                with_listed_fields(&mut line, listed, full_command);
            } else if let Some(service) = spec
                .as_ref()
                .and_then(|s| s.services.get(&instance.service))
            {
                with_spec_fields(&mut line, service, instance.replica, full_command);
            }
            line
        })
        .collect()
}

/// The widest a status is shown in the table.
const STATUS_WIDTH: usize = 60;

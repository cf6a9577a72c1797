//! `wharf task`, `wharf tasks` and `wharf shell`: the project's everyday commands
//! (`x-wharf.tasks`) and a shell, run in a service's context — inside its running
//! instance when there is one (as `exec`), else as a one-off with its dependencies
//! started (as `run`), in whichever backend runs the service.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use wharf_manifest::Loaded;
use wharf_model::x_wharf::CommandLine;

use crate::cli::{ListFormat, ListFormatArgs, ShellArgs, TaskArgs};
use crate::output::aligned_table;
use crate::project_ref;
use crate::project_tasks::run_named;
use crate::service_exec::in_service;
use crate::settings::Settings;

pub fn task(settings: &Settings, args: &TaskArgs) -> anyhow::Result<ExitCode> {
    run_named(settings, &args.name, &args.args)
}

pub fn list(settings: &Settings, args: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let tasks = &loaded.project.wharf.tasks;
    let command_text = |run: &Option<CommandLine>| match run {
        Some(CommandLine::Shell(line)) => line.clone(),
        Some(CommandLine::Exec(words)) => words.join(" "),
        None => String::new(),
    };
    if args.format == ListFormat::Json {
        let rows: Vec<_> = tasks
            .iter()
            .map(|(name, t)| {
                json!({"name": name, "service": t.service, "run": command_text(&t.run),
                       "description": t.description, "interactive": t.interactive})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["TASK", "SERVICE", "COMMAND", "DESCRIPTION"].map(str::to_owned)];
    for (name, t) in tasks {
        rows.push([
            name.clone(),
            t.service.clone(),
            command_text(&t.run),
            t.description.clone().unwrap_or_default(),
        ]);
    }
    print!("{}", aligned_table(&rows));
    for (name, task) in tasks {
        if let Some(why) = crate::project_tasks::problem(&loaded.project, task) {
            settings
                .printer
                .warn(&format!("task `{name}` {why}: it cannot run"));
        }
    }
    if tasks.is_empty() {
        settings
            .printer
            .info("the project has no tasks: `x-wharf.tasks` names them (docs/x-wharf.md)");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn shell(settings: &Settings, args: &ShellArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let service = match &args.service {
        Some(service) => service.clone(),
        None => service_here(&loaded)?,
    };
    let containerized =
        crate::service_backends::containers(settings, &loaded, settings.backend).contains(&service);
    // Inside a container, whichever shell the image has; natively, the user's own.
    let command = if containerized {
        [
            "sh",
            "-c",
            "command -v bash >/dev/null && exec bash || exec sh",
        ]
        .map(str::to_owned)
        .to_vec()
    } else {
        vec![std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".to_owned())]
    };
    in_service(settings, &loaded, &service, command)
}

/// The service whose build context or working directory holds the current directory
/// (the deepest, when several do).
fn service_here(loaded: &Loaded) -> anyhow::Result<String> {
    let here = std::env::current_dir()?;
    let mut best: Option<(usize, &str)> = None;
    for (name, service) in &loaded.project.services {
        let process_dir = service
            .wharf
            .process
            .as_ref()
            .and_then(|p| p.working_dir.as_deref())
            .map(|dir| loaded.project_dir.join(dir));
        let build_dir = service
            .build
            .as_ref()
            .map(|build| loaded.project_dir.join(build.context_dir()));
        for dir in [process_dir, build_dir].into_iter().flatten() {
            let depth = dir.components().count();
            if contains(&dir, &here) && best.is_none_or(|(deepest, _)| depth > deepest) {
                best = Some((depth, name));
            }
        }
    }
    best.map(|(_, name)| name.to_owned()).with_context(|| {
        format!(
            "no service builds from or works in {}: name one (wharf shell SERVICE)",
            here.display()
        )
    })
}

fn contains(dir: &Path, here: &Path) -> bool {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    here.starts_with(dir)
}

//! The project's everyday commands (`x-wharf.tasks`), run by name in their service.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::bail;
use wharf_model::x_wharf::CommandLine;

use crate::project_ref;
use crate::service_exec::in_service;
use crate::settings::Settings;

/// Runs the task `name` with `extra` arguments appended to its command.
pub fn run_named(settings: &Settings, name: &str, extra: &[String]) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let tasks = &loaded.project.wharf.tasks;
    let Some(task) = tasks.get(name) else {
        let known: Vec<&str> = tasks.keys().map(String::as_str).collect();
        bail!(
            "no task `{name}` ({})",
            if known.is_empty() {
                "the project defines none in x-wharf.tasks".to_owned()
            } else {
                format!("the project has: {}", known.join(", "))
            }
        );
    };
    if !loaded.project.services.contains_key(&task.service) {
        bail!(
            "task `{name}` runs in service `{}`, which the project does not have",
            task.service
        );
    }
    if task.interactive && !std::io::stdin().is_terminal() {
        bail!("task `{name}` is interactive: run it from a terminal");
    }
    let mut command = match &task.run {
        Some(CommandLine::Exec(argv)) => argv.clone(),
        Some(CommandLine::Shell(line)) => wharf_manifest::split_whole_command(line)
            .map_err(|err| anyhow::anyhow!("task `{name}`: {err}"))?,
        None => bail!("task `{name}` has no `run` command"),
    };
    command.extend(extra.iter().cloned());
    in_service(settings, &loaded, &task.service, command)
}

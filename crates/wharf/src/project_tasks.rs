//! The project's everyday commands (`x-wharf.tasks`), run by name in their service.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::bail;
use wharf_model::Project;
use wharf_model::x_wharf::{CommandLine, Task};

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
    if let Some(why) = problem(&loaded.project, task) {
        bail!("task `{name}` {why}");
    }
    if task.interactive && !std::io::stdin().is_terminal() {
        bail!("task `{name}` is interactive: run it from a terminal");
    }
    let mut command = match &task.run {
        Some(CommandLine::Exec(argv)) => argv.clone(),
        Some(CommandLine::Shell(line)) => wharf_manifest::split_whole_command(line)
            .map_err(|err| anyhow::anyhow!("task `{name}`: {err}"))?,
        // Refused above: `problem` says so.
        None => bail!("task `{name}` has no `run` command"),
    };
    command.extend(extra.iter().cloned());
    in_service(settings, &loaded, &task.service, command)
}

/// What keeps `task` from running, said after its name (`has no \`service\``), as
/// `task`, `tasks` and `check` say it; `None` when it can run.
pub fn problem(project: &Project, task: &Task) -> Option<String> {
    if task.service.is_empty() {
        return Some("has no `service` to run in".to_owned());
    }
    if !project.services.contains_key(&task.service) {
        return Some(format!(
            "runs in service `{}`, which the project does not have",
            task.service
        ));
    }
    // An empty one would run the service's own command, not the task.
    let empty = match &task.run {
        None => true,
        Some(CommandLine::Exec(argv)) => argv.is_empty(),
        Some(CommandLine::Shell(line)) => line.trim().is_empty(),
    };
    empty.then(|| "has no `run` command".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_without_service_or_command_cannot_run() {
        let mut project = Project::default();
        project.services.insert("web".to_owned(), Box::default());
        let task = |service: &str, run: Option<CommandLine>| Task {
            service: service.to_owned(),
            run,
            ..Task::default()
        };
        let shell = |line: &str| Some(CommandLine::Shell(line.to_owned()));
        let said = |t: &Task| problem(&project, t);
        assert_eq!(said(&task("web", shell("make test"))), None);
        assert_eq!(
            said(&task("", shell("x"))).as_deref(),
            Some("has no `service` to run in")
        );
        assert_eq!(
            said(&task("db", shell("x"))).as_deref(),
            Some("runs in service `db`, which the project does not have")
        );
        for empty in [None, shell("  "), Some(CommandLine::Exec(Vec::new()))] {
            assert_eq!(
                said(&task("web", empty)).as_deref(),
                Some("has no `run` command")
            );
        }
    }
}

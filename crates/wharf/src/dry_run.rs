//! `--dry-run`: a command that would change something says what, and does nothing, as
//! Compose's does. Commands that only look (`ps`, `logs`, `config`…) run as usual;
//! `up`, `create` and `scale` ask wharfd for their plan themselves (`commands/up.rs`).

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::Command;
use crate::daemon_client;
use crate::project_ref;
use crate::settings::Settings;

/// What `command` would do, said instead of done; `None` when it changes nothing and
/// runs as usual (or plans for itself).
pub fn plan(settings: &Settings, command: &Command) -> Option<anyhow::Result<ExitCode>> {
    let (verb, services): (&str, &[String]) = match command {
        Command::Down(_) => ("stop and remove", &[]),
        Command::Start(args) | Command::Pause(args) | Command::Unpause(args) => {
            let verb = match command {
                Command::Start(_) => "start",
                Command::Pause(_) => "pause",
                _ => "unpause",
            };
            (verb, &args.services)
        }
        Command::Stop(args) => ("stop", &args.services),
        Command::Restart(args) => ("restart", &args.stop.services),
        Command::Kill(args) => ("kill", &args.services),
        Command::Rm(args) => ("remove, if ended,", &args.services),
        Command::Build(args) if !args.print => {
            return Some(images(settings, "build", &args.services, true));
        }
        Command::Pull(args) => return Some(images(settings, "pull", &args.services, false)),
        Command::Push(args) => return Some(images(settings, "push", &args.services, true)),
        Command::Cp(args) => {
            return Some(Ok(say(
                settings,
                &format!("would copy {} to {}", args.source, args.destination),
            )));
        }
        Command::Exec(args) => {
            return Some(Ok(say(
                settings,
                &format!("would run {:?} in {}", args.command, args.service),
            )));
        }
        Command::Run(args) => {
            return Some(Ok(say(
                settings,
                &format!(
                    "would run {:?} as a one-off of {}",
                    args.command, args.service
                ),
            )));
        }
        Command::Export(args) => {
            return Some(Ok(say(settings, &format!("would export {}", args.service))));
        }
        Command::Commit(args) => {
            return Some(Ok(say(settings, &format!("would commit {}", args.service))));
        }
        Command::Db(_)
        | Command::Update(_)
        | Command::Checkout(_)
        | Command::Task(_)
        | Command::Shell(_)
        | Command::Share(_)
        | Command::Proxy(_)
        | Command::Gitconfig(_)
        | Command::Daemon(_)
        | Command::Repos(_) => {
            return Some(Err(anyhow::anyhow!(
                "--dry-run is for Compose's commands; this one does not take it (nothing was done)"
            )));
        }
        _ => return None,
    };
    Some(instances(settings, verb, services))
}

fn say(settings: &Settings, line: &str) -> ExitCode {
    settings.printer.info(&format!("dry run: {line}"));
    ExitCode::SUCCESS
}

/// The instances of `services` (all when empty) the command would act on.
fn instances(settings: &Settings, verb: &str, services: &[String]) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(settings)?;
    let client = daemon_client::connect(&settings.paths)?;
    let instances = project_ref::instances(&client, &name)?;
    for service in services {
        if !instances.iter().any(|i| &i.service == service) {
            bail!("no such service: {service}");
        }
    }
    let chosen: Vec<&str> = instances
        .iter()
        .filter(|i| services.is_empty() || services.contains(&i.service))
        .map(|i| i.name.as_str())
        .collect();
    if chosen.is_empty() {
        return Ok(say(settings, &format!("nothing to {verb} in {name}")));
    }
    Ok(say(
        settings,
        &format!("would {verb} {}", chosen.join(", ")),
    ))
}

/// The images of `services` (all when empty) a build, pull or push would touch.
fn images(
    settings: &Settings,
    verb: &str,
    services: &[String],
    built: bool,
) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let project = &loaded.project;
    for service in services {
        if !project.services.contains_key(service) {
            bail!("no such service: {service}");
        }
    }
    let chosen: Vec<String> = project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .filter(|(_, service)| {
            if built {
                service.build.is_some()
            } else {
                service.build.is_none() && !service.image.is_empty()
            }
        })
        .map(|(name, service)| wharf_runtime::image_name(project, name, service))
        .collect();
    if chosen.is_empty() {
        return Ok(say(settings, &format!("no image to {verb}")));
    }
    Ok(say(
        settings,
        &format!("would {verb} {}", chosen.join(", ")),
    ))
}

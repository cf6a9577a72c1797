//! `--dry-run`: a command that would change something says what, and does nothing, as
//! Compose's does. Commands that only look (`ps`, `logs`, `config`…) run as usual;
//! `up`, `create` and `scale` ask wharfd for their plan themselves (`commands/up.rs`).

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{self, Command};
use crate::daemon_client;
use crate::project_ref;
use crate::settings::Settings;

/// What `command` would do, said instead of done; `None` when it changes nothing and
/// runs as usual (or plans for itself).
pub fn plan(settings: &Settings, command: &Command) -> Option<anyhow::Result<ExitCode>> {
    let (verb, services): (&str, &[String]) = match command {
        Command::Down(args) if args.volumes || args.rmi.is_some() => {
            return Some(instances(settings, "stop and remove", &[]).inspect(|_| {
                if args.volumes {
                    settings
                        .printer
                        .info("dry run: would delete the project's volumes");
                }
                if let Some(which) = &args.rmi {
                    settings
                        .printer
                        .info(&format!("dry run: would remove the images (--rmi {which})"));
                }
            }));
        }
        Command::Down(_) => ("stop and remove", &[]),
        Command::Start(args) => ("start", &args.services),
        Command::Pause(args) => ("pause", &args.services),
        Command::Unpause(args) => ("unpause", &args.services),
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
            let line = format!("would copy {} to {}", args.source, args.destination);
            let service = crate::commands::cp::service_named(args);
            return Some(instance_then(
                settings,
                service,
                args.index.unwrap_or(1),
                &line,
            ));
        }
        Command::Exec(args) => {
            let line = format!("would run {:?} in {}", args.command, args.service);
            return Some(instance_then(
                settings,
                Some(&args.service),
                args.index,
                &line,
            ));
        }
        Command::Run(args) => {
            let what = if args.command.is_empty() {
                format!("{}'s own command", args.service)
            } else {
                format!("{:?}", args.command)
            };
            let line = format!("would run {what} as a one-off of {}", args.service);
            return Some(defined_then(settings, &args.service, &line));
        }
        Command::Export(args) => {
            let line = format!("would export {}", args.service);
            return Some(instance_then(
                settings,
                Some(&args.service),
                args.index,
                &line,
            ));
        }
        Command::Commit(args) => {
            let line = format!("would commit {}", args.service);
            return Some(instance_then(
                settings,
                Some(&args.service),
                args.index,
                &line,
            ));
        }
        // wharf's own commands that only look run as usual.
        Command::Db(cli::DbArgs {
            command: cli::DbCommand::Ls(_) | cli::DbCommand::Snapshots(_),
            ..
        })
        | Command::Daemon(cli::DaemonCommand::Status(_) | cli::DaemonCommand::Logs)
        | Command::Repos(cli::ReposCommand::Ls(_))
        | Command::Gitconfig(_) => return None,
        Command::Db(_)
        | Command::Update(_)
        | Command::Checkout(_)
        | Command::Task(_)
        | Command::Shell(_)
        | Command::Share(_)
        | Command::Proxy(_)
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

/// Says `line` once `service`'s instance `index` is known to exist, as the command
/// itself would first find it.
fn instance_then(
    settings: &Settings,
    service: Option<&str>,
    index: u32,
    line: &str,
) -> anyhow::Result<ExitCode> {
    if let Some(service) = service {
        let name = project_ref::name_defining(settings, &[service.to_owned()])?;
        let client = daemon_client::connect(&settings.paths)?;
        let instances = project_ref::instances(&client, &name)?;
        project_ref::instance_of(&instances, service, index)?;
    }
    Ok(say(settings, line))
}

/// Says `line` once the project is known to define `service`.
fn defined_then(settings: &Settings, service: &str, line: &str) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    if !loaded.project.services.contains_key(service) {
        bail!("no such service: {service}");
    }
    Ok(say(settings, line))
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
    let mut chosen: Vec<String> = project
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
    chosen.sort();
    chosen.dedup();
    if chosen.is_empty() {
        return Ok(say(settings, &format!("no image to {verb}")));
    }
    Ok(say(
        settings,
        &format!("would {verb} {}", chosen.join(", ")),
    ))
}

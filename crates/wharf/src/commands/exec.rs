//! `wharf exec` and `wharf run`: a command in a service's environment and directory,
//! in the foreground, with the terminal passed through and its exit code returned.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use nix::sys::signal::{SigSet, Signal};
use wharf_api::{ClientError, InstanceState, InstanceStatus, Paths, UpRequest, UpResponse};
use wharf_plan::{ProjectSpec, ServiceSpec};

use crate::cli::{ExecArgs, GlobalArgs, RunArgs};
use crate::commands::up::wait;
use crate::daemon_client;
use crate::native;
use crate::printer::Printer;
use crate::project_ref::{self, endpoint};

pub fn exec(global: &GlobalArgs, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(global)?;
    let client = daemon_client::connect(&Paths::from_env())?;
    let spec: ProjectSpec = match client.get(&endpoint(&name, "spec")) {
        Ok(spec) => spec,
        Err(ClientError::Api { status: 404, .. }) => bail!("project {name} is not running"),
        Err(err) => return Err(err.into()),
    };
    let service = spec
        .services
        .get(&args.service)
        .with_context(|| format!("no such service: {}", args.service))?;
    let instances: Vec<InstanceStatus> = client.get(&endpoint(&name, "ps"))?;
    let Some(instance) = instances
        .iter()
        .find(|i| i.service == args.service && i.state == InstanceState::Running)
    else {
        bail!(
            "service {} is not running (start it with `wharf up -d {}`)",
            args.service,
            args.service
        );
    };
    if service.container.is_some() {
        return in_container(&instance.name, args);
    }
    foreground(
        &args.command,
        &service.for_replica(1),
        &args.env,
        args.workdir.as_ref(),
    )
}

/// `docker exec` does what exec in a container takes (a terminal when there is one,
/// signals, the exit code); wharf hands it the same arguments.
fn in_container(container: &str, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let mut command = Command::new("docker");
    command.arg("exec");
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        command.arg("-it");
    } else {
        command.arg("-i");
    }
    for pair in &args.env {
        command.arg("-e").arg(pair);
    }
    if let Some(dir) = &args.workdir {
        command.arg("-w").arg(dir);
    }
    command.arg(container).args(&args.command);
    let status = command.status().context(
        "running a command in a container needs the docker CLI (Debian: apt-get install docker.io)",
    )?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

pub fn run(global: &GlobalArgs, args: &RunArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(global, printer)?;
    let paths = Paths::from_env();
    let volumes = paths.project_data(&loaded.project.name).join("volumes");
    let containers = crate::backend::containers(&loaded, crate::backend::BackendChoice::Auto);
    let spec = native::project_spec(
        &loaded,
        &std::collections::BTreeMap::new(),
        &volumes,
        &containers,
    )?;
    let service = spec
        .services
        .get(&args.service)
        .with_context(|| format!("no such service: {}", args.service))?
        .clone();
    if service.container.is_some() {
        bail!(
            "`wharf run` of a service that runs in Docker is not supported yet; use `--backend process`, or `wharf exec` in its running container"
        );
    }
    let dependencies: Vec<String> = service
        .depends_on
        .keys()
        .filter(|d| spec.services.contains_key(*d))
        .cloned()
        .collect();
    if !args.no_deps && !dependencies.is_empty() {
        let client = daemon_client::connect(&paths)?;
        let name = spec.name.clone();
        let response: UpResponse = client.post(
            &endpoint(&name, "up"),
            &UpRequest {
                spec,
                services: dependencies,
                no_deps: false,
                force_recreate: false,
            },
        )?;
        let started: BTreeSet<String> = response.changes.into_iter().map(|c| c.service).collect();
        if wait(&client, &name, &started, None, &Printer::new(0, true))? != ExitCode::SUCCESS {
            bail!(
                "the services {} depends on did not become ready",
                args.service
            );
        }
    }
    let command = if args.command.is_empty() {
        service.command.clone()
    } else {
        args.command.clone()
    };
    foreground(
        &command,
        &service.for_replica(1),
        &args.env,
        args.workdir.as_ref(),
    )
}

fn foreground(
    argv: &[String],
    service: &ServiceSpec,
    env: &[String],
    workdir: Option<&PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (program, arguments) = argv.split_first().context("no command to run")?;
    let mut command = Command::new(program);
    command
        .args(arguments)
        .current_dir(workdir.unwrap_or(&service.working_dir))
        .envs(&service.environment);
    for pair in env {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("-e {pair:?}: expected KEY=VALUE"))?;
        command.env(key, value);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start `{program}`"))?;
    // Ctrl-C is the command's to handle; wharf stays to report its exit code. Blocked
    // only after the spawn, so the command itself still receives the signals.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGQUIT);
    signals.thread_block()?;
    let status = child.wait()?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

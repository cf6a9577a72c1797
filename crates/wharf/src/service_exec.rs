//! A command in a service's environment and directory, in the foreground, with the
//! terminal passed through and its exit code returned: inside its running instance
//! (`exec`), or as a one-off with its dependencies started (`run`), in whichever
//! backend runs the service. `exec`, `run`, `task` and `shell` share it.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use nix::sys::signal::{SigSet, Signal};
use wharf_api::{ClientError, InstanceState, InstanceStatus, Paths, UpRequest, UpResponse};
use wharf_manifest::Loaded;
use wharf_plan::{ProjectSpec, ServiceSpec};

use crate::cli::{ExecArgs, RunArgs};
use crate::daemon_client;
use crate::printer::Printer;
use crate::project_ref::endpoint;
use crate::readiness::{DEFAULT_WAIT_TIMEOUT, wait};
use wharf_engine::{BlockingEngine, ExecRequest, OneOff, ProjectResources, WindowSize};

/// `exec` in project `name`.
pub fn exec_in(paths: &Paths, name: &str, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let client = daemon_client::connect(paths)?;
    let spec: ProjectSpec = match client.get(&endpoint(name, "spec")) {
        Ok(spec) => spec,
        Err(ClientError::Api { status: 404, .. }) => bail!("project {name} is not running"),
        Err(err) => return Err(err.into()),
    };
    let service = spec
        .services
        .get(&args.service)
        .with_context(|| format!("no such service: {}", args.service))?;
    let instances: Vec<InstanceStatus> = client.get(&endpoint(name, "ps"))?;
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

/// Runs the command in the container through the engine's API, attached as `docker
/// exec -i` is, with a terminal when this process has one.
fn in_container(container: &str, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let workdir = args.workdir.as_ref().map(|dir| dir.to_string_lossy());
    attached(|tty| {
        engine.exec(&ExecRequest {
            container,
            command: &args.command,
            env: &args.env,
            workdir: workdir.as_deref(),
            tty,
        })
    })
}

/// Runs `command` attached to this terminal, in raw mode while it runs when there is
/// one (`tty` then says how to read the window's size); its exit code.
fn attached(
    command: impl FnOnce(Option<WindowSize>) -> Result<i64, wharf_engine::EngineError>,
) -> anyhow::Result<ExitCode> {
    let interactive = wharf_host::terminal::is_interactive();
    let raw = interactive
        .then(wharf_host::terminal::RawMode::enter)
        .flatten();
    let code = command(interactive.then_some(wharf_host::terminal::window_size as WindowSize));
    drop(raw);
    Ok(ExitCode::from(u8::try_from(code?).unwrap_or(1)))
}

/// The command's exit code as a shell reports it: the code, or 128 + its signal.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// A one-off container as `docker compose run` makes it (named `<project>-<service>-
/// run-<id>`, labelled `oneoff=True`, on the service's networks without its aliases,
/// with its mounts and environment, publishing its ports only with
/// `--service-ports`), run in the foreground through the engine's API.
fn one_off_container(
    project: &ProjectSpec,
    service: &str,
    container: &wharf_plan::ContainerSpec,
    args: &RunArgs,
) -> anyhow::Result<ExitCode> {
    let id = format!(
        "{:012x}",
        wharf_api::now_ms() ^ u64::from(std::process::id())
    );
    let mut spec = container.clone();
    if let Some(oneoff) = spec.labels.get_mut("com.docker.compose.oneoff") {
        "True".clone_into(oneoff);
    }
    spec.environment.extend(args.env.iter().cloned());
    if let Some(dir) = &args.workdir {
        spec.working_dir = dir.display().to_string();
    }
    if !args.command.is_empty() {
        spec.command = Some(args.command.clone());
    }
    if !args.service_ports {
        spec.ports.clear();
    }
    "no".clone_into(&mut spec.restart);
    for aliases in spec.networks.values_mut() {
        aliases.clear();
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let name = format!("{}-{service}-run-{id}", project.name);
    let resources = ProjectResources {
        networks: project.networks.clone(),
        volumes: project.volumes.clone(),
    };
    attached(|tty| {
        engine.run_attached(&OneOff {
            name: &name,
            spec: &spec,
            resources: &resources,
            tty,
            remove: args.rm,
        })
    })
}

/// `run` in the `loaded` project.
pub fn run_loaded(paths: &Paths, loaded: &Loaded, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let volumes = paths.project_data(&loaded.project.name).join("volumes");
    let containers = wharf_runtime::backend::containers(loaded, wharf_runtime::BackendChoice::Auto);
    let spec = wharf_runtime::project_spec(
        loaded,
        &std::collections::BTreeMap::new(),
        &volumes,
        &containers,
    )?;
    let service = spec
        .services
        .get(&args.service)
        .with_context(|| format!("no such service: {}", args.service))?
        .clone();
    let dependencies: Vec<String> = service
        .depends_on
        .keys()
        .filter(|d| spec.services.contains_key(*d))
        .cloned()
        .collect();
    if !args.no_deps && !dependencies.is_empty() {
        let client = daemon_client::connect(paths)?;
        let name = spec.name.clone();
        let replicas: BTreeMap<String, u32> = spec
            .services
            .iter()
            .map(|(name, service)| (name.clone(), service.replicas))
            .collect();
        let response: UpResponse = client.post(
            &endpoint(&name, "up"),
            &UpRequest {
                spec: spec.clone(),
                services: dependencies,
                no_deps: false,
                force_recreate: false,
                dormant: loaded.disabled.iter().cloned().collect(),
            },
        )?;
        let started: BTreeMap<String, u32> = response
            .changes
            .into_iter()
            .map(|c| {
                let want = replicas.get(&c.service).copied().unwrap_or(0);
                (c.service, want)
            })
            .collect();
        if wait(
            &client,
            &name,
            &started,
            DEFAULT_WAIT_TIMEOUT,
            &Printer::new(0, true),
        )? != ExitCode::SUCCESS
        {
            bail!(
                "the services {} depends on did not become ready",
                args.service
            );
        }
    }
    if let Some(container) = &service.container {
        return one_off_container(&spec, &args.service, container, args);
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
    Ok(exit_code(child.wait()?))
}

/// `command` in `service`: exec'd into its running instance, else run as a one-off.
pub fn in_service(
    paths: &Paths,
    loaded: &Loaded,
    service: &str,
    command: Vec<String>,
) -> anyhow::Result<ExitCode> {
    if is_running(paths, &loaded.project.name, service) {
        return exec_in(
            paths,
            &loaded.project.name,
            &ExecArgs {
                service: service.to_owned(),
                command,
                env: Vec::new(),
                workdir: None,
            },
        );
    }
    run_loaded(
        paths,
        loaded,
        &RunArgs {
            service: service.to_owned(),
            command,
            env: Vec::new(),
            workdir: None,
            no_deps: false,
            rm: true,
            service_ports: false,
        },
    )
}

fn is_running(paths: &Paths, project: &str, service: &str) -> bool {
    let Some(client) = daemon_client::existing(paths) else {
        return false;
    };
    client
        .get::<Vec<InstanceStatus>>(&endpoint(project, "ps"))
        .is_ok_and(|instances| {
            instances
                .iter()
                .any(|i| i.service == service && i.state == InstanceState::Running)
        })
}

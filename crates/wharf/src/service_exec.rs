//! A command in a service's environment and directory, in the foreground, with the
//! terminal passed through and its exit code returned: inside its running instance
//! (`exec`), or as a one-off with its dependencies started (`run`), in whichever
//! backend runs the service. `exec`, `run`, `task` and `shell` share it.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use std::io::ErrorKind;

use anyhow::{Context as _, bail};
use nix::sys::signal::{SigSet, Signal};
use wharf_api::{
    ClientError, InstanceState, InstanceStatus, Orphans, Paths, UpRequest, UpResponse,
};
use wharf_manifest::Loaded;
use wharf_plan::{ProjectSpec, ServiceSpec};

use crate::cli::{ExecArgs, RunArgs};
use crate::daemon_client;
use crate::printer::Printer;
use crate::project_ref::endpoint;
use crate::readiness::{DEFAULT_WAIT_TIMEOUT, wait, wait_for_conditions};
use crate::settings::Settings;
use wharf_engine::{
    BlockingEngine, COMPOSE_STOP_GRACE, ExecRequest, OneOff, ProjectResources, WindowSize,
};

/// `exec` in project `name`; natively in `native_workdir` when given (`-w` mapped
/// through the service's mounts) rather than `-w` as written.
pub fn exec_in(
    paths: &Paths,
    name: &str,
    args: &ExecArgs,
    native_workdir: Option<&PathBuf>,
) -> anyhow::Result<ExitCode> {
    let client = daemon_client::connect(paths)?;
    // None for a project wharfd does not run, whose containers (Docker Compose's, say)
    // the engine lists.
    let spec: Option<ProjectSpec> = match client.get(&endpoint(name, "spec")) {
        Ok(spec) => Some(spec),
        Err(ClientError::Api { status: 404, .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let instances = crate::project_ref::instances(&client, name)?;
    let service = match &spec {
        Some(spec) => Some(
            // Defined (the caller checked), but not in what runs: its profile is off.
            spec.services.get(&args.service).with_context(|| {
                format!(
                    "service {} is not running (start it with `wharf up -d {}`)",
                    args.service, args.service
                )
            })?,
        ),
        None if instances.is_empty() => bail!("project {name} is not running"),
        None => None,
    };
    let running =
        |i: &&InstanceStatus| i.service == args.service && i.state == InstanceState::Running;
    let Some(instance) = instances
        .iter()
        .filter(running)
        .find(|i| i.replica == args.index)
    else {
        if instances.iter().any(|i| running(&i)) {
            bail!(
                "service {} has no running instance {} (see `wharf ps {}`)",
                args.service,
                args.index,
                args.service
            );
        }
        bail!(
            "service {} is not running (start it with `wharf up -d {}`)",
            args.service,
            args.service
        );
    };
    if instance.paused {
        bail!(
            "service {} is paused: `wharf unpause {}` first",
            args.service,
            args.service
        );
    }
    let Some(service) = service.filter(|s| s.container.is_none()) else {
        return in_container(&instance.name, args);
    };
    if args.detach {
        bail!(
            "exec -d needs a container: a native command in the background would outlive its service; \
             run it in your shell's background instead (`wharf exec {} … &`)",
            args.service
        );
    }
    // Other services are reached by name here too, as from the service's own command.
    let mut command = args.command.clone();
    if let Some(spec) = &spec {
        wharf_runtime::references::resolve_argv(
            &mut command,
            &wharf_runtime::references::reachable_services(spec),
        );
    }
    foreground(
        &command,
        &service.for_replica(args.index),
        &env_flags(&args.env),
        native_workdir.or(args.workdir.as_ref()),
        args.user.as_deref(),
    )
}

/// `-e KEY=VALUE` as given; `-e KEY` takes this shell's value, as Docker's and
/// Compose's do, and is left out when the shell has none.
fn env_flags(given: &[String]) -> Vec<String> {
    given
        .iter()
        .filter_map(|pair| {
            if pair.contains('=') {
                Some(pair.clone())
            } else {
                std::env::var(pair)
                    .ok()
                    .map(|value| format!("{pair}={value}"))
            }
        })
        .collect()
}

/// Runs the command in the container through the engine's API, attached as `docker
/// exec -i` is, with a terminal when this process has one and `-T` is not given.
fn in_container(container: &str, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let workdir = args.workdir.as_ref().map(|dir| dir.to_string_lossy());
    attached(!args.no_tty && !args.detach, |tty| {
        engine.exec(&ExecRequest {
            container,
            command: &args.command,
            env: &env_flags(&args.env),
            workdir: workdir.as_deref(),
            user: args.user.as_deref(),
            privileged: args.privileged,
            tty,
            detach: args.detach,
        })
    })
}

/// Runs `command` attached to this terminal, in raw mode while it runs when there is
/// one and `terminal` allows it (`tty` then says how to read the window's size); its
/// exit code.
fn attached(
    terminal: bool,
    command: impl FnOnce(Option<WindowSize>) -> Result<i64, wharf_engine::EngineError>,
) -> anyhow::Result<ExitCode> {
    let interactive = terminal && wharf_host::terminal::is_interactive();
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
/// `--service-ports`), run in the foreground through the engine's API, or started in
/// the background with `-d`.
fn one_off_container(
    project: &ProjectSpec,
    service: &str,
    container: &wharf_plan::ContainerSpec,
    args: &RunArgs,
    env: &[String],
) -> anyhow::Result<ExitCode> {
    let id = format!(
        "{:012x}",
        wharf_api::now_ms() ^ u64::from(std::process::id())
    );
    let mut spec = container.clone();
    if let Some(oneoff) = spec.labels.get_mut("com.docker.compose.oneoff") {
        "True".clone_into(oneoff);
    }
    spec.environment.extend(env.iter().cloned());
    spec.cap_add.extend(args.cap_add.iter().cloned());
    spec.cap_drop.extend(args.cap_drop.iter().cloned());
    if let Some(dir) = &args.workdir {
        spec.working_dir = dir.display().to_string();
    }
    if let Some(user) = &args.user {
        spec.user.clone_from(user);
    }
    if let Some(entrypoint) = &args.entrypoint {
        spec.entrypoint = Some(entrypoint_words(entrypoint)?);
        // As Compose: a new entrypoint drops the service's command.
        spec.command = None;
    }
    if !args.command.is_empty() {
        spec.command = Some(args.command.clone());
    }
    if !args.service_ports {
        spec.ports.clear();
    }
    for published in &args.publish {
        spec.ports.extend(published_ports(published)?);
    }
    for volume in &args.volumes {
        // As Compose: a `-v` replaces the service's mount at the same path.
        let mount = mount(project, volume)?;
        spec.mounts.retain(|m| m.target != mount.target);
        spec.mounts.push(mount);
    }
    for label in &args.labels {
        let (key, value) = label.split_once('=').unwrap_or((label, ""));
        spec.labels.insert(key.to_owned(), value.to_owned());
    }
    "no".clone_into(&mut spec.restart);
    if !args.use_aliases {
        for aliases in spec.networks.values_mut() {
            aliases.clear();
        }
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let name = args.name.clone().unwrap_or_else(|| {
        let sep = project
            .services
            .get(service)
            .map_or('-', wharf_plan::ServiceSpec::name_separator);
        format!("{}{sep}{service}{sep}run{sep}{id}", project.name)
    });
    let resources = ProjectResources {
        networks: project.networks.clone(),
        volumes: project.volumes.clone(),
    };
    let one_off = |tty| OneOff {
        name: &name,
        spec: &spec,
        resources: &resources,
        tty,
        remove: args.rm,
    };
    if args.detach {
        // As Compose: the container's id, for `docker logs`, `docker stop`…
        println!("{}", engine.run_detached(&one_off(None))?);
        return Ok(ExitCode::SUCCESS);
    }
    attached(!args.no_tty, |tty| engine.run_attached(&one_off(tty)))
}

/// Builds the service's image when asked (`--build`) or when it is missing, as
/// Compose's `run` does; a service without `build` is pulled on creation instead.
fn build_if_needed(
    loaded: &Loaded,
    name: &str,
    image: &str,
    asked: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let Some(service) = loaded
        .project
        .services
        .get(name)
        .filter(|s| s.build.is_some())
    else {
        return Ok(());
    };
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    if asked || engine.inspect_image(image)?.is_none() {
        crate::image_build::build_service(
            &engine,
            loaded,
            name,
            service,
            &crate::image_build::BuildOptions::default(),
            &Printer::new(0, quiet),
        )?;
    }
    Ok(())
}

/// `--entrypoint`, split as a shell would split it.
fn entrypoint_words(text: &str) -> anyhow::Result<Vec<String>> {
    wharf_manifest::split_command(text)
        .map_err(|err| anyhow::anyhow!("--entrypoint {text:?}: {err}"))
}

/// `-p [[IP:]HOST:]CONTAINER[/PROTOCOL]`.
fn published_ports(text: &str) -> anyhow::Result<Vec<wharf_plan::ContainerPort>> {
    let ports = wharf_manifest::parse_port(text).map_err(|err| anyhow::anyhow!("-p: {err}"))?;
    ports
        .into_iter()
        .map(|port| {
            Ok(wharf_plan::ContainerPort {
                host_ip: port.host_ip,
                published: port.published,
                target: u16::try_from(port.target)
                    .map_err(|_| anyhow::anyhow!("-p {text:?}: no such port"))?,
                protocol: port.protocol,
            })
        })
        .collect()
}

/// `-v SOURCE:TARGET[:ro]`: a host path (relative to the project's directory) or a
/// volume, the project's own when the file declares it.
fn mount(project: &ProjectSpec, text: &str) -> anyhow::Result<wharf_plan::Mount> {
    let volume = wharf_manifest::parse_volume(text).map_err(|err| anyhow::anyhow!("-v: {err}"))?;
    let source = match volume.kind {
        "bind" => project
            .working_dir
            .join(&volume.source)
            .display()
            .to_string(),
        _ => project
            .volumes
            .get(&volume.source)
            .map_or(volume.source, |declared| declared.name.clone()),
    };
    Ok(wharf_plan::Mount {
        kind: volume.kind.to_owned(),
        source,
        target: volume.target,
        read_only: volume.read_only,
        options: String::new(),
    })
}

/// The containers the engine has of `project`'s services its file lacks: named, or
/// stopped and removed with `--remove-orphans`.
fn engine_orphans(
    settings: &Settings,
    project: &ProjectSpec,
    orphans: Orphans,
) -> anyhow::Result<()> {
    if orphans == Orphans::KeepQuietly {
        return Ok(());
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let found: Vec<_> = engine
        .project_containers(&project.name)?
        .into_iter()
        .filter(|c| c.is_orphan_of(project))
        .collect();
    // Each service once, in order, as wharfd's `up` names them.
    let mut services: Vec<&str> = found.iter().map(|c| c.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    if services.is_empty() {
        return Ok(());
    }
    if orphans == Orphans::Keep {
        settings.printer.warn(&Orphans::left_note(&services, "run"));
        return Ok(());
    }
    for container in &found {
        engine.stop_and_remove(&container.name, COMPOSE_STOP_GRACE)?;
    }
    settings.printer.warn(&Orphans::removed_note(&services));
    Ok(())
}

/// `run` in the `loaded` project.
pub fn run_loaded(
    settings: &Settings,
    loaded: &Loaded,
    args: &RunArgs,
) -> anyhow::Result<ExitCode> {
    let paths = &settings.paths;
    let volumes = paths.project_data(&loaded.project.name).join("volumes");
    let containers = crate::service_backends::containers(settings, loaded, settings.backend);
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
    let dependencies: BTreeMap<String, wharf_plan::Dependency> = service
        .depends_on
        .iter()
        .filter(|(d, _)| spec.services.contains_key(*d))
        .map(|(d, dependency)| (d.clone(), *dependency))
        .collect();
    let orphans = crate::commands::up::orphans(args.remove_orphans, &loaded.environment)?;
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
                services: dependencies.keys().cloned().collect(),
                no_deps: false,
                force_recreate: false,
                dormant: loaded.disabled.iter().cloned().collect(),
                timeout_s: None,
                no_recreate: false,
                recreate_dependencies: false,
                orphans,
            },
        )?;
        for note in &response.notes {
            settings.printer.warn(note);
        }
        // As Compose's `run`: each dependency meets its condition (a migration that
        // must complete has ended, and well) before the one-off starts ...
        wait_for_conditions(
            &client,
            &name,
            &dependencies,
            DEFAULT_WAIT_TIMEOUT,
            &Printer::new(0, false),
        )?;
        // ... and what it started anew, and runs on, is ready for it too.
        let started: BTreeMap<String, u32> = response
            .changes
            .into_iter()
            .filter(|c| {
                dependencies.get(&c.service).is_none_or(|d| {
                    d.condition != wharf_plan::Condition::ServiceCompletedSuccessfully
                })
            })
            .map(|c| {
                let want = replicas.get(&c.service).copied().unwrap_or(0);
                (c.service, want)
            })
            .collect();
        // What a one-off needs is there when it started; one that ends, well, is
        // done (a dependency of it waits for its own condition above).
        let ended_well_is_ready: std::collections::BTreeSet<String> =
            started.keys().cloned().collect();
        if wait(
            &client,
            &name,
            crate::readiness::Awaited {
                services: &started,
                one_offs: &ended_well_is_ready,
            },
            &crate::readiness::PostgresServers::of(&loaded.project),
            std::time::Instant::now(),
            DEFAULT_WAIT_TIMEOUT,
            &Printer::new(0, true),
        )? != ExitCode::SUCCESS
        {
            bail!(
                "the services {} depends on did not become ready",
                args.service
            );
        }
    } else if service.container.is_some() {
        // wharfd starts nothing for this one-off: the engine's containers of services
        // the file lacks are named, or removed, here, as Compose's `run` does.
        engine_orphans(settings, &spec, orphans)?;
    }
    // Variables from the files first, so `-e` wins, as in Compose.
    let mut env = Vec::new();
    for file in &args.env_from_file {
        let read = wharf_manifest::Environment::read_file(file, &loaded.environment)
            .map_err(|err| anyhow::anyhow!("--env-from-file: {err}"))?;
        env.extend(
            read.into_iter()
                .map(|(key, value)| format!("{key}={value}")),
        );
    }
    env.extend(env_flags(&args.env));
    if let Some(container) = &service.container {
        let quiet = args.quiet || args.quiet_build;
        build_if_needed(loaded, &args.service, &container.image, args.build, quiet)?;
        // One built here is built above, not pulled.
        if let Some(defined) = loaded
            .project
            .services
            .get(&args.service)
            .filter(|s| s.build.is_none())
        {
            let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
            let printer = Printer::new(0, args.quiet || args.quiet_pull);
            crate::image_pull::pull_by_policy(
                &engine,
                &[(&container.image, &defined.pull_policy)],
                args.pull.as_deref(),
                &printer,
            )?;
        }
        return one_off_container(&spec, &args.service, container, args, &env);
    }
    let containers_only = [
        ("--build", args.build),
        ("--cap-add", !args.cap_add.is_empty()),
        ("--cap-drop", !args.cap_drop.is_empty()),
        ("--pull", args.pull.is_some()),
        ("-d", args.detach),
        ("-v", !args.volumes.is_empty()),
        ("-p", !args.publish.is_empty()),
        ("-l", !args.labels.is_empty()),
        ("--name", args.name.is_some()),
    ];
    let given: Vec<&str> = containers_only
        .iter()
        .filter(|(_, given)| *given)
        .map(|(flag, _)| *flag)
        .collect();
    if !given.is_empty() {
        bail!(
            "run {} need{} a container, and {} runs natively here \
             (`x-wharf.backend: docker` or `--backend docker` on `up` runs it in one)",
            given.join(", "),
            if given.len() == 1 { "s" } else { "" },
            args.service
        );
    }
    let mut command = match &args.entrypoint {
        Some(entrypoint) => entrypoint_words(entrypoint)?,
        None => Vec::new(),
    };
    if !args.command.is_empty() {
        command.extend(args.command.iter().cloned());
    } else if args.entrypoint.is_none() {
        command.clone_from(&service.command);
    }
    // Other services are reached by name here too, as from the service's own command.
    wharf_runtime::references::resolve_argv(
        &mut command,
        &wharf_runtime::references::reachable_services(&spec),
    );
    let mut spec = service.for_replica(1);
    // Compose's one-off publishes nothing unless asked (`--service-ports`): natively,
    // it gets a free port of its own, not the one the service's instance holds.
    if !args.service_ports
        && spec.environment.contains_key("PORT")
        && let Ok(free) = std::net::TcpListener::bind(("127.0.0.1", 0))
    {
        let port = free.local_addr()?.port();
        spec.environment.insert("PORT".to_owned(), port.to_string());
    }
    foreground(
        &command,
        &spec,
        &env,
        args.workdir.as_ref(),
        args.user.as_deref(),
    )
}

fn foreground(
    argv: &[String],
    service: &ServiceSpec,
    env: &[String],
    workdir: Option<&PathBuf>,
    user: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (program, arguments) = argv.split_first().context("no command to run")?;
    if let Some(dir) = workdir.filter(|dir| !dir.is_dir()) {
        bail!(
            "-w {}: not a directory on this machine; natively the command runs here, \
             not in a container (the service runs in {})",
            dir.display(),
            service.working_dir.display()
        );
    }
    // A recipe's own program given no target (`redis-cli`, `nginx -t`) is pointed at
    // the service, not at the machine's server, which natively is someone else's.
    let recipe = service
        .origin
        .strip_prefix("recipe ")
        .and_then(|r| r.split_whitespace().next());
    let addressed = recipe.map_or_else(Vec::new, |recipe| {
        let port = service.ports.first().map(|p| p.published);
        wharf_runtime::recipes::exec_args(recipe, argv, &service.command, port)
    });
    let mut command = Command::new(program);
    command
        .args(&addressed)
        .args(arguments)
        .current_dir(workdir.unwrap_or(&service.working_dir))
        .envs(&service.environment);
    if let Some(user) = user {
        let (uid, gid) = wharf_host::users::lookup(user)?;
        std::os::unix::process::CommandExt::uid(&mut command, uid);
        std::os::unix::process::CommandExt::gid(&mut command, gid);
    }
    for pair in env {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("-e {pair:?}: expected KEY=VALUE"))?;
        command.env(key, value);
    }
    ends_with_this_process(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        // As a shell says it (and `docker run`): 127 not found, 126 not runnable.
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::NotFound | ErrorKind::PermissionDenied
            ) || err.raw_os_error() == Some(nix::errno::Errno::ENOEXEC as i32) =>
        {
            let code = if err.kind() == ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("error: cannot start `{program}`: {err}");
            return Ok(ExitCode::from(code));
        }
        Err(err) => return Err(err).with_context(|| format!("cannot start `{program}`")),
    };
    // Ctrl-C is the command's to handle; wharf stays to report its exit code. Blocked
    // only after the spawn, so the command itself still receives the signals.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGQUIT);
    signals.thread_block()?;
    Ok(exit_code(child.wait()?))
}

/// The command gets SIGTERM when this wharf ends before it (a supervisor's or a CI
/// job's SIGTERM, a SIGKILL): in a container it would end with the container, and
/// natively nothing else would end it, not the service's `stop` nor `down`.
fn ends_with_this_process(command: &mut Command) {
    let parent = nix::unistd::getpid();
    #[allow(unsafe_code)]
    // SAFETY: only system calls between fork and exec (prctl, getppid, kill), no
    // allocation or lock.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(command, move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
            // This wharf ended before the signal was asked for.
            if nix::unistd::getppid() != parent {
                nix::sys::signal::raise(Signal::SIGTERM)?;
            }
            Ok(())
        });
    }
}

/// `command` in `service`: exec'd into its running instance, else run as a one-off.
pub fn in_service(
    settings: &Settings,
    loaded: &Loaded,
    service: &str,
    command: Vec<String>,
) -> anyhow::Result<ExitCode> {
    let paths = &settings.paths;
    if is_running(paths, &loaded.project.name, service) {
        return exec_in(
            paths,
            &loaded.project.name,
            &ExecArgs::plain(service, command),
            None,
        );
    }
    run_loaded(settings, loaded, &RunArgs::plain(service, command))
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

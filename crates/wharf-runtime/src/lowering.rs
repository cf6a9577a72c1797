//! Turns a loaded project into what wharfd runs natively: each service's command,
//! directory, environment, ports and policies. Every service that cannot run natively
//! is reported at once, before anything starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wharf_manifest::Loaded;

use crate::recipes::{self, DatabaseFacts, Recipe, RecipeContext, image_name_and_tag, usual_port};
use crate::references::{
    names_no_host, resolve_argv, resolve_embedded, resolve_references, resolve_script,
};
use crate::shell_script::quoted;
use wharf_model::x_wharf::{CommandLine, Readiness};
use wharf_model::{Healthcheck, Service, ServiceHook};
use wharf_plan::{
    Condition, Dependency, HealthSpec, HookSpec, PortSpec, Probe, ProjectSpec, RestartPolicy,
    ServiceSpec,
};

/// Images whose command runs unchanged with the host's own interpreter or shell.
const COMMAND_IMAGES: &[&str] = &[
    "python", "node", "ruby", "perl", "php", "busybox", "alpine", "debian", "ubuntu", "bash",
];

#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0, ", so nothing was changed"))]
pub struct NotNative(pub Vec<Unrunnable>);

impl NotNative {
    /// The problems as a command that only reads the file says them (`config
    /// --resolved`), which had nothing to change.
    pub fn as_read(&self) -> String {
        render(&self.0, "")
    }
}

/// A service that cannot run as the file says: why, and where the file says it.
#[derive(Debug)]
pub struct Unrunnable {
    pub service: String,
    pub why: String,
    pub at: Option<wharf_manifest::Location>,
}

impl Unrunnable {
    /// Points at the attribute at fault: the refusal's, else the one `why` names first
    /// (`restart: …`, `x-wharf.process.command: …`), else the service.
    fn new(written: &wharf_manifest::WrittenFiles, service: String, refusal: Refusal) -> Self {
        let Refusal { attribute, why } = refusal;
        let named = attribute.or_else(|| {
            why.split_once(": ")
                .map(|(named, _)| named)
                .filter(|named| {
                    named
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                })
        });
        let attribute: Vec<&str> = named.map_or_else(Vec::new, |named| named.split('.').collect());
        let path: Vec<&str> = ["services", service.as_str()]
            .into_iter()
            .chain(attribute.iter().copied())
            .collect();
        // An attribute the file does not write (a default) is the service's.
        let at = written
            .at(&path)
            .or_else(|| written.at(&["services", service.as_str()]));
        Self { service, why, at }
    }

    /// Whether what is missing is a program or a recipe, which a command of the
    /// user's (an `x-wharf.process` section) or an install can stand in for; the other
    /// problems are the file's to correct.
    pub fn missing_program(&self) -> bool {
        self.why.contains(NOT_INSTALLED) || self.why.starts_with(NO_RECIPE)
    }
}

/// Why a service cannot run natively, and the attribute at fault when the words do
/// not start with it.
struct Refusal {
    attribute: Option<&'static str>,
    why: String,
}

impl Refusal {
    fn at(attribute: &'static str) -> impl FnOnce(String) -> Self {
        move |why| Self {
            attribute: Some(attribute),
            why,
        }
    }
}

impl From<String> for Refusal {
    fn from(why: String) -> Self {
        Self {
            attribute: None,
            why,
        }
    }
}

impl From<&str> for Refusal {
    fn from(why: &str) -> Self {
        why.to_owned().into()
    }
}

fn render(problems: &[Unrunnable], consequence: &str) -> String {
    let mut text = format!(
        "{} cannot run as the file says{consequence}:",
        if problems.len() == 1 {
            "a service"
        } else {
            "some services"
        }
    );
    for Unrunnable { service, why, at } in problems {
        let _ = write!(text, "\n  - {service}: {why}");
        if let Some(at) = at {
            let _ = write!(text, "\n    --> {at}");
        }
    }
    text.push_str("\nhint: do what each line says");
    if problems.iter().any(Unrunnable::missing_program) {
        text.push_str(
            "; a service this machine cannot run as it is can be given an `x-wharf.process` \
             section with the command that runs it here",
        );
    }
    text
}

/// How the problems an `x-wharf.process` section solves are worded.
const NOT_INSTALLED: &str = "is not installed here";
const NO_RECIPE: &str = "no native recipe for image";

/// The database servers the project's recipes run natively, by service: what other
/// commands (shells, dumps, snapshots) need to reach them.
pub fn databases(loaded: &Loaded, volumes_dir: &Path) -> BTreeMap<String, DatabaseFacts> {
    let wharf = this_program();
    let reachable = reachable(loaded);
    loaded
        .project
        .services
        .iter()
        .filter(|(_, service)| service.wharf.process.is_none())
        .filter_map(|(name, service)| {
            let context = recipe_context(loaded, name, service, volumes_dir, &wharf, &reachable);
            let recipe = recipe(context, &native_ports(service).ok()?)?.ok()?;
            Some((name.clone(), recipe.database?))
        })
        .collect()
}

/// What a recipe of `service` may look at; its port is set by `recipe`.
fn recipe_context<'a>(
    loaded: &'a Loaded,
    name: &'a str,
    service: &'a Service,
    volumes_dir: &'a Path,
    wharf: &'a Path,
    reachable: &'a BTreeMap<String, Vec<PortSpec>>,
) -> RecipeContext<'a> {
    RecipeContext {
        service_name: name,
        service,
        project_dir: &loaded.project_dir,
        volumes_dir,
        port: 0,
        wharf,
        reachable,
    }
}

/// This program, which carries the recipes' entrypoints.
fn this_program() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("wharf"))
}

/// Every service's ports, for recipes and references that point at other services.
fn reachable(loaded: &Loaded) -> BTreeMap<String, Vec<PortSpec>> {
    loaded
        .project
        .services
        .iter()
        .filter_map(|(name, service)| Some((name.clone(), native_ports(service).ok()?)))
        .collect()
}

/// The recipe of a service whose image has one, listening on the host port of the
/// image's usual port (published, else that port itself).
fn recipe(mut context: RecipeContext<'_>, ports: &[PortSpec]) -> Option<Result<Recipe, String>> {
    context.port = recipe_port(&context.service.image, ports)?;
    recipes::for_image(&context)
}

/// The host port a recipe listens on: where the image's usual port is published,
/// else that port itself.
fn recipe_port(image: &str, ports: &[PortSpec]) -> Option<u16> {
    let usual = usual_port(image)?;
    Some(
        ports
            .iter()
            .find(|p| p.target == usual)
            .map_or(usual, |p| p.published),
    )
}

/// `scale` overrides replica counts (`--scale web=3`); named volumes of native
/// services live in `volumes_dir`; the services in `containers` run in Docker.
pub fn project_spec(
    loaded: &Loaded,
    scale: &BTreeMap<String, u32>,
    volumes_dir: &Path,
    containers: &BTreeSet<String>,
) -> Result<ProjectSpec, NotNative> {
    let project = &loaded.project;
    // Compose's JSON form, the input of container hashes: only containers need it.
    let project_json = if containers.is_empty() {
        serde_json::Value::Null
    } else {
        wharf_manifest::project_value(project, false).map_err(|e| {
            NotNative(vec![Unrunnable {
                service: "*".to_owned(),
                why: e.to_string(),
                at: None,
            }])
        })?
    };
    let wharf = this_program();
    let mut services = BTreeMap::new();
    let mut problems = Vec::new();
    let reachable = reachable(loaded);
    for (name, service) in &project.services {
        let context = recipe_context(loaded, name, service, volumes_dir, &wharf, &reachable);
        let built = if containers.contains(name) {
            let hashed = crate::containers::service_json(&project_json, name);
            container_service_spec(loaded, name, service, &hashed).map_err(Refusal::from)
        } else {
            // Its programs are found where this shell finds them.
            service_spec(context).map(|spec| ServiceSpec {
                search_path: loaded.environment.get("PATH").cloned().unwrap_or_default(),
                ..spec
            })
        };
        match built {
            Ok(mut spec) => {
                spec.not_http = recipes::not_http_port(&service.image).into_iter().collect();
                spec.post_start = hooks(&service.post_start, &loaded.environment);
                spec.pre_stop = hooks(&service.pre_stop, &loaded.environment);
                spec.v1_names = project.compatibility;
                if let Some(replicas) = scale.get(name) {
                    spec.replicas = *replicas;
                }
                if spec.container.is_none()
                    && let Err(why) = replicas_fit_their_ranges(service, spec.replicas)
                        .and_then(|()| replicas_listen_apart(&spec))
                {
                    problems.push((name.clone(), why.into()));
                    continue;
                }
                services.insert(name.clone(), spec);
            }
            // A service whose profiles are off runs nothing: what it would need is
            // said when it is asked for, not now.
            Err(_) if loaded.disabled.contains(name) => {}
            Err(why) => problems.push((name.clone(), why)),
        }
    }
    problems.extend(
        shared_host_ports(&services)
            .into_iter()
            .map(|(service, why)| (service, Refusal::at("ports")(why))),
    );
    let unrouted = unknown_route_services(loaded);
    if !problems.is_empty() || !unrouted.is_empty() {
        // Read again, once, to point at each.
        let written = wharf_manifest::WrittenFiles::read(&loaded.files);
        let routes_at = written.at(&["x-wharf", "proxy", "routes"]);
        return Err(NotNative(
            problems
                .into_iter()
                .map(|(service, why)| Unrunnable::new(&written, service, why))
                .chain(unrouted.into_iter().map(|(service, why)| Unrunnable {
                    service,
                    why,
                    at: routes_at.clone(),
                }))
                .collect(),
        ));
    }
    // Containers reach each other by name on their network; native processes need help.
    let rewrite_script = |script: &mut String| *script = resolve_script(script, &reachable);
    let rewrite_env = |environment: &mut BTreeMap<String, String>| {
        for (variable, value) in environment.iter_mut() {
            *value = if names_no_host(variable) {
                resolve_embedded(value, &reachable)
            } else {
                resolve_references(value, &reachable)
            };
        }
    };
    let rewrite_argv = |argv: &mut Vec<String>| resolve_argv(argv, &reachable);
    for spec in services.values_mut().filter(|s| s.container.is_none()) {
        rewrite_env(&mut spec.environment);
        // A probe written for the container reaches its own port on loopback; the
        // process listens on the host port.
        let moved = spec.ports.iter().any(|p| p.target != p.published);
        let itself: BTreeMap<String, Vec<PortSpec>> = ["localhost", "127.0.0.1"]
            .into_iter()
            .filter(|_| moved)
            .map(|host| (host.to_owned(), spec.ports.clone()))
            .collect();
        match spec.healthcheck.as_mut().map(|h| &mut h.probe) {
            Some(Probe::Exec(argv)) => {
                for arg in argv.iter_mut().skip(1) {
                    *arg = resolve_references(arg, &itself);
                }
                rewrite_argv(argv);
            }
            Some(Probe::Shell(line)) => {
                *line = resolve_references(line, &itself);
                rewrite_script(line);
            }
            Some(Probe::Tcp(_) | Probe::Http { .. } | Probe::Log(_)) | None => {}
        }
        for hook in spec.post_start.iter_mut().chain(&mut spec.pre_stop) {
            rewrite_env(&mut hook.environment);
            rewrite_argv(&mut hook.command);
        }
        // A recipe whose entrypoint is wharf already got exact addresses.
        if spec.command.first().map(Path::new) != Some(wharf.as_path()) {
            rewrite_argv(&mut spec.command);
        }
    }
    let (networks, volumes) = if containers.is_empty() {
        Default::default()
    } else {
        crate::containers::engine_resources(&project.name, &project_json)
    };
    Ok(ProjectSpec {
        name: project.name.clone(),
        working_dir: loaded.project_dir.clone(),
        config_files: loaded.files.clone(),
        services,
        networks,
        volumes,
        domain: project
            .wharf
            .domain
            .clone()
            .unwrap_or_else(|| format!("{}.localhost", project.name)),
        routes: project
            .wharf
            .proxy
            .routes
            .iter()
            .map(|r| wharf_plan::RouteSpec {
                host: r.host.clone(),
                path: r.path.clone(),
                service: r.service.clone(),
                port: r.port,
                least_connections: r.balance == wharf_model::x_wharf::Balance::LeastConnections,
            })
            .collect(),
    })
}

/// A service that runs as a container: its settings for dependencies, ports and
/// policies as for a process, and the container itself.
fn container_service_spec(
    loaded: &Loaded,
    name: &str,
    service: &Service,
    hashed: &serde_json::Value,
) -> Result<ServiceSpec, String> {
    let container = crate::containers::container_spec(loaded, name, service, hashed);
    Ok(ServiceSpec {
        command: Vec::new(),
        working_dir: loaded.project_dir.clone(),
        environment: service
            .environment
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect(),
        ports: ports(service)?,
        depends_on: dependencies(service),
        healthcheck: None,
        restart: restart_policy(service)?,
        replicas: replicas(service),
        // Empty: the image's own signal, which the engine knows.
        stop_signal: service.stop_signal.clone(),
        stop_grace_period: service.stop_grace_period.map(wharf_model::Duration::as_std),
        origin: format!("container {}", container.image),
        search_path: String::new(),
        not_http: Vec::new(),
        post_start: Vec::new(),
        pre_stop: Vec::new(),
        v1_names: false,
        container: Some(Box::new(container)),
    })
}

fn service_spec(context: RecipeContext<'_>) -> Result<ServiceSpec, Refusal> {
    let service = context.service;
    let project_dir = context.project_dir;
    let ports = native_ports(service)?;
    let mut stop_signal = None;
    // Recipes put their servers on the published ports; other programs choose theirs.
    let chooses_its_port = service.wharf.process.is_some() || command_image(service).is_some();
    let (command, working_dir, extra_env, origin) = if let Some(process) = &service.wharf.process {
        let command = match &process.command {
            Some(CommandLine::Exec(argv)) => argv.clone(),
            Some(CommandLine::Shell(text)) => wharf_manifest::split_whole_command(text)
                .map_err(|e| format!("x-wharf.process.command: {e}"))?,
            None => compose_command(service)
                .ok_or("x-wharf.process has no command, and the service has none either")?,
        };
        let dir = process
            .working_dir
            .as_deref()
            .map_or_else(|| project_dir.to_owned(), |d| project_dir.join(d));
        (
            command,
            dir,
            process.environment.clone(),
            "x-wharf.process".to_owned(),
        )
    } else if let Some(recipe) = recipe(context, &ports) {
        // A recipe is the image's: what it refuses, the image names.
        let recipe = recipe.map_err(Refusal::at("image"))?;
        stop_signal = recipe.stop_signal;
        (
            recipe.command,
            recipe.working_dir,
            recipe.environment,
            recipe.origin,
        )
    } else if let Some(image) = command_image(service) {
        let command = compose_command(service).ok_or_else(|| {
            Refusal::at("image")(format!(
                "image {} has no default command to run natively; give the service a `command`",
                service.image
            ))
        })?;
        // A runtime image's own paths don't exist here; a mounted one does, at the
        // mount's source (`.:/app` makes `/app/manage.py` the project's).
        let dir = context
            .mounted(&service.working_dir)
            .filter(|_| !service.working_dir.is_empty())
            .unwrap_or_else(|| project_dir.to_owned());
        let command = command
            .iter()
            .map(|arg| with_mounted_paths(arg, &context))
            .collect();
        (
            command,
            dir,
            BTreeMap::new(),
            format!("{image} command on the host"),
        )
    } else if service.image.is_empty() {
        return Err(Refusal::at("build")(
            "it is built from a Dockerfile and has no x-wharf.process section".to_owned(),
        ));
    } else {
        // `auto` runs in Docker only an image the engine has (or builds).
        return Err(Refusal::at("image")(format!(
            "{NO_RECIPE} {image}; to run it in Docker, pull it (`docker pull {image}`) or set \
             `x-wharf.backend: docker`",
            image = service.image
        )));
    };
    if command.is_empty() {
        return Err(Refusal::at("command")("its command is empty".to_owned()));
    }
    let mut environment: BTreeMap<String, String> = service
        .environment
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    environment.extend(extra_env);
    if chooses_its_port {
        listen_on_the_published_port(&ports, &command, &mut environment)
            .map_err(Refusal::at("ports"))?;
    }
    if locate_program(&command[0], &working_dir, &environment).is_none() {
        let written_in = if service.wharf.process.is_some() {
            "x-wharf.process.command"
        } else {
            "command"
        };
        return Err(Refusal::at(written_in)(format!(
            "`{}` {NOT_INSTALLED} (not found in {})",
            command[0],
            if command[0].contains('/') {
                working_dir.display().to_string()
            } else {
                "PATH".to_owned()
            }
        )));
    }
    // Natively, wharf's own probe takes the healthcheck's place: the file's check was
    // written for the container, and may run a program of its image.
    let mut healthcheck = match &service.wharf.ready {
        Some(ready) => Some(ready_check(ready, &ports)?),
        None => service.healthcheck.as_deref().and_then(health_spec),
    };
    if let Some(probe) = healthcheck.as_mut().map(|h| &mut h.probe)
        && service.wharf.process.is_none()
    {
        recipes::native_probe(&service.image, probe);
    }
    if let Some(Probe::Exec(argv)) = healthcheck.as_mut().map(|h| &mut h.probe)
        && service.wharf.process.is_none()
        && let Some(port) = recipe_port(&service.image, &ports)
    {
        let added = recipes::probe_port_args(&service.image, argv, port);
        argv.splice(1..1, added);
    }
    // A check that cannot run would keep the service unhealthy, and what waits on it
    // waiting, for ever: said now, as a missing program is.
    if let Some(Probe::Exec(argv)) = healthcheck.as_ref().map(|h| &h.probe)
        && let Some(program) = argv.first()
        && locate_program(program, &working_dir, &environment).is_none()
    {
        return Err(format!(
            "healthcheck: `{program}` {NOT_INSTALLED} (not found in {})",
            if program.contains('/') {
                working_dir.display().to_string()
            } else {
                "PATH".to_owned()
            }
        )
        .into());
    }
    Ok(ServiceSpec {
        command,
        working_dir,
        environment,
        ports,
        depends_on: dependencies(service),
        healthcheck,
        restart: restart_policy(service)?,
        replicas: replicas(service),
        stop_signal: if service.stop_signal.is_empty() {
            stop_signal.unwrap_or("SIGTERM").to_owned()
        } else {
            service.stop_signal.clone()
        },
        stop_grace_period: service.stop_grace_period.map(wharf_model::Duration::as_std),
        origin,
        container: None,
        search_path: String::new(),
        not_http: Vec::new(),
        post_start: Vec::new(),
        pre_stop: Vec::new(),
        v1_names: false,
    })
}

/// Natively every replica listens on the host itself, so no two may need the same
/// host port: `scale web=2` would put web's second replica on the port after web's,
/// which may be another service's.
fn shared_host_ports(services: &BTreeMap<String, ServiceSpec>) -> Vec<(String, String)> {
    let mut holders: BTreeMap<u16, String> = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, spec) in services.iter().filter(|(_, s)| s.container.is_none()) {
        for replica in 1..=spec.replicas {
            let instance = if spec.replicas > 1 {
                format!("{name} replica {replica}")
            } else {
                name.clone()
            };
            for port in spec.for_replica(replica).ports {
                match holders.get(&port.published) {
                    Some(holder) => problems.push((
                        name.clone(),
                        format!(
                            "{instance} would listen on host port {}, which {holder} uses; \
                             publish another port, or fewer replicas",
                            port.published
                        ),
                    )),
                    None => {
                        holders.insert(port.published, instance.clone());
                    }
                }
            }
        }
    }
    problems
}

/// Natively replica *n* listens on the published port + *n* − 1; a published range
/// (`8000-8010:8000`) bounds the replicas, so none is put outside it.
fn replicas_fit_their_ranges(service: &Service, replicas: u32) -> Result<(), String> {
    for (index, port) in service.ports.iter().enumerate() {
        let Some((start, end)) = port.published.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (start.parse::<u32>(), end.parse::<u32>()) else {
            continue;
        };
        let room = end.saturating_sub(start) + 1;
        if replicas > room {
            return Err(format!(
                "{replicas} replicas need {replicas} host ports, but ports[{index}] publishes \
                 {start}-{end} ({room}); widen the range or run at most {room}"
            ));
        }
    }
    Ok(())
}

/// The proxy routes that name a service the project does not have (one whose profile
/// is off is there, only idle): the service and why.
fn unknown_route_services(loaded: &Loaded) -> Vec<(String, String)> {
    let project = &loaded.project;
    project
        .wharf
        .proxy
        .routes
        .iter()
        .enumerate()
        .filter(|(_, route)| {
            !project.services.contains_key(&route.service)
                && !loaded.disabled.contains(&route.service)
        })
        .map(|(index, route)| {
            (
                route.service.clone(),
                format!(
                    "x-wharf.proxy.routes[{index}] sends requests to it, but no service has that name"
                ),
            )
        })
        .collect()
}

/// Natively each replica listens on a port of its own, the published one plus its
/// number less one, which it learns from `PORT`: a command that names the published
/// port itself would have every replica but the first fail to bind it.
fn replicas_listen_apart(spec: &ServiceSpec) -> Result<(), String> {
    let Some(port) = spec.ports.first().filter(|_| spec.replicas > 1) else {
        return Ok(());
    };
    let published = port.published.to_string();
    let Some(word) = spec
        .command
        .iter()
        .skip(1)
        .flat_map(|arg| arg.split_whitespace())
        .find(|word| names_port(word, &published))
    else {
        return Ok(());
    };
    Err(format!(
        "its {} replicas listen on ports {published} and up (wharf gives each its PORT), \
         but its command says {word:?}, so all but the first would fail; make it listen \
         on $PORT, or run one replica",
        spec.replicas
    ))
}

/// Whether a command's `word` names `port` as where to listen: `8000`, `:8000`,
/// `--port=8000`.
fn names_port(word: &str, port: &str) -> bool {
    word == port || word.ends_with(&format!(":{port}")) || word.ends_with(&format!("={port}"))
}

/// Natively a process listens on the host itself, so it must listen where `ps`, the
/// proxy and its dependents look: the published port. It learns that port from `PORT`
/// (as each replica does); a `PORT` or a command that names the container's port
/// instead is refused with the fix, rather than leaving it unreachable.
fn listen_on_the_published_port(
    ports: &[PortSpec],
    command: &[String],
    environment: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let Some(port) = ports.iter().find(|p| p.published != p.target) else {
        return Ok(());
    };
    let (published, target) = (port.published.to_string(), port.target.to_string());
    let fix = format!(
        "natively it listens on the host itself, where `ps` and its dependents expect \
         port {published}: publish \"{target}:{target}\", or make it listen on {published}"
    );
    if let Some(given) = environment.get("PORT").filter(|p| **p != published) {
        return Err(format!(
            "it publishes {published}:{target} but sets PORT={given}; {fix} (or drop PORT: wharf sets it)"
        ));
    }
    if let Some(arg) = command.iter().skip(1).find(|a| names_port(a, &target)) {
        return Err(format!(
            "it publishes {published}:{target} and its command says {arg:?}; {fix} (wharf gives it PORT={published})"
        ));
    }
    environment.insert("PORT".to_owned(), published);
    Ok(())
}

/// The image's name, if its command can run natively.
/// Where the program a native service runs is: a path with a slash is relative to
/// its directory; a bare name is looked up in its `PATH` (its own, else wharf's).
pub fn locate_program(
    program: &str,
    working_dir: &Path,
    environment: &BTreeMap<String, String>,
) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let path = working_dir.join(program);
        return executable(&path).then_some(path);
    }
    let search = environment
        .get("PATH")
        .map(std::ffi::OsString::from)
        .or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&search)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// Whether wharf knows a way to run `service` natively: its own `x-wharf.process`, a
/// recipe for its image, or an image whose command runs on the host as it is. One it
/// does not is the engine's to run, which pulls its image when it is missing.
pub fn has_native_way(service: &Service) -> bool {
    service.wharf.process.is_some()
        || usual_port(&service.image).is_some()
        || command_image(service).is_some()
}

/// The image of a service whose command runs on the host as it is: a runtime's (its
/// programs are the machine's), or a server's image running another of its programs
/// (`psql` in `postgres`: the machine's client).
fn command_image(service: &Service) -> Option<&str> {
    let name = image_name_and_tag(&service.image).0;
    let client = usual_port(&service.image).is_some() && !recipes::runs_the_server(service);
    (COMMAND_IMAGES.contains(&name) || client).then_some(name)
}

/// `entrypoint` followed by `command`, as the container would run them.
fn compose_command(service: &Service) -> Option<Vec<String>> {
    let mut argv = service.entrypoint.clone().unwrap_or_default();
    argv.extend(service.command.clone().unwrap_or_default());
    (!argv.is_empty()).then_some(argv)
}

/// A native process listens on the host itself, so each port's host port is the
/// published one (or the target when none is published). A published range gives
/// replica n its n-th port; the daemon hands each replica its port in `PORT`.
pub fn ports(service: &Service) -> Result<Vec<PortSpec>, String> {
    let mut ports = Vec::new();
    for port in &service.ports {
        let target = u16::try_from(port.target)
            .map_err(|_| format!("port {} is out of range", port.target))?;
        let first = port.published.split('-').next().unwrap_or_default();
        let published = if first.is_empty() {
            target
        } else {
            match first.parse::<u64>() {
                Ok(number) => u16::try_from(number)
                    .map_err(|_| format!("published port {number} is out of range (1-65535)"))?,
                Err(_) => {
                    return Err(format!(
                        "published port {:?} is not a number",
                        port.published
                    ));
                }
            }
        };
        ports.push(PortSpec {
            target,
            published,
            host: None,
            protocol: wharf_plan::Protocol::from_name(&port.protocol),
        });
    }
    Ok(ports)
}

/// The ports a service listens on natively: its own, and the usual port of a server a
/// recipe runs even when the service publishes none (`postgres` alone listens on
/// 5432), so that port is checked before it starts, waited for, and reached by name.
pub fn native_ports(service: &Service) -> Result<Vec<PortSpec>, String> {
    let mut ports = ports(service)?;
    if service.wharf.process.is_none()
        && let Some(usual) = usual_port(&service.image)
        && !ports.iter().any(|p| p.target == usual)
    {
        ports.push(PortSpec {
            target: usual,
            published: usual,
            host: None,
            protocol: wharf_plan::Protocol::Tcp,
        });
    }
    Ok(ports)
}

/// A service's hooks as they run; a variable named without a value takes the
/// environment's, as a service's own would, and is left out when that has none.
fn hooks(hooks: &[ServiceHook], environment: &BTreeMap<String, String>) -> Vec<HookSpec> {
    hooks
        .iter()
        .map(|hook| HookSpec {
            command: hook.command.clone().unwrap_or_default(),
            user: hook.user.clone(),
            privileged: hook.privileged,
            working_dir: hook.working_dir.clone(),
            environment: hook
                .environment
                .iter()
                .filter_map(|(key, value)| {
                    let value = value.clone().or_else(|| environment.get(key).cloned())?;
                    Some((key.clone(), value))
                })
                .collect(),
        })
        .collect()
}

fn dependencies(service: &Service) -> BTreeMap<String, Dependency> {
    service
        .depends_on
        .iter()
        .map(|(name, d)| {
            let condition = match d.condition.as_str() {
                "service_healthy" => Condition::ServiceHealthy,
                "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
                _ => Condition::ServiceStarted,
            };
            (
                name.clone(),
                Dependency {
                    condition,
                    required: d.required,
                    restart: d.restart,
                },
            )
        })
        .collect()
}

/// `x-wharf.ready` as a native service's healthcheck: its port (the host's, where
/// the process listens) accepting, a path on its first TCP port answering, or a line
/// it prints. Probed fast while it starts, then every ten seconds; failures count
/// only after a minute, so a slow first start is waited for, not called unhealthy.
fn ready_check(ready: &Readiness, ports: &[PortSpec]) -> Result<HealthSpec, String> {
    let probe = match ready {
        Readiness::Http(path) => {
            let port = ports
                .iter()
                .find(|p| p.protocol.is_tcp())
                .ok_or("x-wharf.ready.http: the service publishes no TCP port to ask")?;
            Probe::Http {
                port: port.published,
                path: path.clone(),
            }
        }
        Readiness::Tcp(port) => Probe::Tcp(
            ports
                .iter()
                .find(|p| p.target == *port && p.protocol.is_tcp())
                .map_or(*port, |p| p.published),
        ),
        Readiness::Log(text) => Probe::Log(text.clone()),
    };
    Ok(HealthSpec {
        probe,
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
        retries: 3,
        start_period: Duration::from_mins(1),
        start_interval: Duration::from_secs(5),
    })
}

fn health_spec(check: &Healthcheck) -> Option<HealthSpec> {
    if !check.is_enabled() {
        return None;
    }
    let probe = match check.test.split_first()? {
        (kind, rest) if kind == "CMD" => Probe::Exec(rest.to_vec()),
        (kind, rest) if kind == "CMD-SHELL" => Probe::Shell(rest.join(" ")),
        _ => Probe::Exec(check.test.clone()),
    };
    let or = |value: Option<wharf_model::Duration>, default: u64| {
        value.map_or(Duration::from_secs(default), wharf_model::Duration::as_std)
    };
    Some(HealthSpec {
        probe,
        interval: or(check.interval, 30),
        timeout: or(check.timeout, 30),
        retries: check
            .retries
            .map_or(3, |r| r.min(u64::from(u32::MAX)) as u32),
        start_period: or(check.start_period, 0),
        start_interval: or(check.start_interval, 5),
    })
}

fn restart_policy(service: &Service) -> Result<RestartPolicy, String> {
    if !service.restart.is_empty() {
        return RestartPolicy::parse(&service.restart).ok_or_else(|| {
            format!(
                "restart: {:?} is not no, always, on-failure[:N] or unless-stopped",
                service.restart
            )
        });
    }
    let policy = service
        .deploy
        .as_ref()
        .and_then(|d| d.restart_policy.as_ref());
    Ok(match policy {
        None => RestartPolicy::No,
        Some(p) => match p.condition.as_str() {
            "none" => RestartPolicy::No,
            "on-failure" => {
                RestartPolicy::OnFailure(p.max_attempts.map(|n| n.min(u64::from(u32::MAX)) as u32))
            }
            _ => RestartPolicy::Always,
        },
    })
}

fn replicas(service: &Service) -> u32 {
    u32::try_from(service.replicas().max(0)).unwrap_or(u32::MAX)
}

/// `arg` with each absolute path inside a mount replaced by the path it mounts: a
/// whole argument (`/app/manage.py`), a flag's value (`--root=/srv/www`), or a word of a
/// shell script (`sh -c "python3 /app/manage.py migrate"`). A path starts an argument
/// or follows a space, `=`, a quote or `(`, and runs to the next space, quote, `;`,
/// `&`, `|` or `)`.
fn with_mounted_paths(arg: &str, context: &RecipeContext<'_>) -> String {
    // An argument with a space in it is a shell script (`sh -c "…"`): a path put in
    // is quoted as the script's quotes at that place need it.
    let script = arg.contains(char::is_whitespace);
    let ends = |c: char| c.is_whitespace() || "'\";&|)".contains(c);
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    let mut at_boundary = true;
    let mut quote: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        if c == '/' && at_boundary {
            let length = rest.find(ends).unwrap_or(rest.len());
            let (path, after) = rest.split_at(length);
            match context.mounted(path) {
                Some(host) if script => {
                    out.push_str(&quoted(&host.display().to_string(), quote));
                }
                Some(host) => out.push_str(&host.display().to_string()),
                None => out.push_str(path),
            }
            rest = after;
            at_boundary = false;
            continue;
        }
        out.push(c);
        quote = match (quote, c) {
            (None, '\'' | '"') => Some(c),
            (Some(open), _) if open == c => None,
            (open, _) => open,
        };
        at_boundary = c.is_whitespace() || "='\"(".contains(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipes::{Credentials, DatabaseEngine};

    /// `compose` loaded from a project directory of its own.
    fn load(compose: &str) -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
        let loaded = wharf_manifest::load(&wharf_manifest::LoadOptions {
            working_dir: dir.path().to_owned(),
            interpolate: true,
            ..wharf_manifest::LoadOptions::default()
        })
        .unwrap();
        (dir, loaded)
    }

    #[test]
    fn database_recipes_say_what_they_run_and_where_to_reach_it() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  db:\n    image: postgres:15\n    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: secret}\n    ports: [\"15432:5432\"]\n  my:\n    image: mariadb:11\n    environment: {MARIADB_ROOT_PASSWORD: r, MARIADB_DATABASE: shop}\n  cache:\n    image: redis:7\n",
        );
        let volumes = dir.path().join("volumes");
        let found = databases(&loaded, &volumes);
        let db = found.get("db").expect(
            "no facts for postgres: is PostgreSQL installed? (Debian: apt-get install postgresql)",
        );
        let sockets = dir.path().join("sockets/db");
        let expected = DatabaseFacts {
            engine: DatabaseEngine::Postgres,
            version: db.version.clone(), // the newest installed here
            superuser: "app".into(),
            credentials: Credentials::Variable("POSTGRES_PASSWORD".into()),
            database: "app".into(),
            socket: sockets.join(".s.PGSQL.15432"),
            port: 15432,
            data_dir: volumes.join("db-data"),
            client_dir: db.client_dir.clone(),
        };
        assert_eq!(*db, expected);
        let my = found.get("my").expect(
            "no facts for mariadb: is MariaDB installed? (Debian: apt-get install mariadb-server)",
        );
        let expected = DatabaseFacts {
            engine: DatabaseEngine::Mariadb,
            version: "11".into(),
            superuser: "root".into(),
            credentials: Credentials::Variable("MARIADB_ROOT_PASSWORD".into()),
            database: "shop".into(),
            socket: dir.path().join("sockets/my/mysqld.sock"),
            port: 3306,
            data_dir: volumes.join("my-data"),
            client_dir: None,
        };
        assert_eq!(*my, expected);
        assert!(!found.contains_key("cache"), "redis is no database here");
    }

    /// The spec of a project whose services all run natively here.
    fn native_spec(dir: &tempfile::TempDir, loaded: &Loaded) -> ProjectSpec {
        project_spec(
            loaded,
            &BTreeMap::new(),
            &dir.path().join("v"),
            &BTreeSet::new(),
        )
        .expect("redis-server and python3 are installed (Debian: apt-get install redis-server)")
    }

    #[test]
    fn a_runtime_images_command_finds_mounted_paths_at_their_sources() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  web:\n    image: python:3.12\n    volumes: [\".:/app\", \"./site:/srv/www:ro\"]\n    command: [\"python3\", \"/app/serve.py\", \"--root\", \"/srv/www\", \"--log\", \"/var/log/web\"]\n",
        );
        let spec = native_spec(&dir, &loaded);
        let host = |p: &str| dir.path().join(p).display().to_string();
        assert_eq!(
            spec.services["web"].command,
            [
                "python3".to_owned(),
                host("serve.py"),
                "--root".to_owned(),
                host("site"),
                "--log".to_owned(),
                "/var/log/web".to_owned(),
            ]
        );
    }

    #[test]
    fn a_mounted_path_put_into_a_shell_script_is_quoted_as_the_script_needs() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  web:\n    image: python:3.12\n    volumes: [\"./my data:/data\"]\n    command: [\"sh\", \"-c\", \"touch /data/a; cat \\\"/data/b\\\" '/data/c'\"]\n",
        );
        let spec = native_spec(&dir, &loaded);
        let host = |p: &str| dir.path().join("my data").join(p).display().to_string();
        assert_eq!(
            spec.services["web"].command[2],
            format!(
                "touch '{}'; cat \"{}\" '{}'",
                host("a"),
                host("b"),
                host("c")
            )
        );
    }

    #[test]
    fn mounted_paths_are_found_in_flags_and_shell_scripts() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  web:\n    image: python:3.12\n    volumes: [\".:/app\"]\n    command: [\"sh\", \"-c\", \"python3 /app/manage.py migrate && exec python3 -m http.server --directory=/app/static 8000 >/app-log\"]\n",
        );
        let spec = native_spec(&dir, &loaded);
        let host = |p: &str| dir.path().join(p).display().to_string();
        assert_eq!(
            spec.services["web"].command[2],
            format!(
                "python3 {} migrate && exec python3 -m http.server --directory={} 8000 >/app-log",
                host("manage.py"),
                host("static")
            )
        );
    }

    #[test]
    fn healthchecks_reach_services_where_they_run_natively() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  cache:\n    image: redis:7\n    ports: [\"26379:6379\"]\n    healthcheck: {test: [\"CMD\", \"redis-cli\", \"ping\"]}\n  web:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\"]\n    healthcheck: {test: [\"CMD\", \"redis-cli\", \"-u\", \"redis://cache:6379\", \"ping\"]}\n  shell:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\", \"8001\"]\n    healthcheck: {test: \"redis-cli -u redis://cache:6379 ping\"}\n  api:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\"]\n    ports: [\"127.0.0.1:32010:8010\"]\n    healthcheck: {test: [\"CMD\", \"wget\", \"http://localhost:8010/\", \"http://cache:6379/\"]}\n",
        );
        let spec = native_spec(&dir, &loaded);
        let probe = |name: &str| spec.services[name].healthcheck.clone().unwrap().probe;
        // Redis's port gets no HTTP route; a program's does.
        assert_eq!(spec.services["cache"].not_http, [6379]);
        assert!(spec.services["web"].not_http.is_empty());
        // The image's own client, pointed at the port the recipe listens on.
        assert_eq!(
            probe("cache"),
            Probe::Exec(
                ["redis-cli", "-p", "26379", "ping"]
                    .map(str::to_owned)
                    .to_vec()
            )
        );
        // Another service named in a probe is reached where it runs.
        assert_eq!(
            probe("web"),
            Probe::Exec(
                ["redis-cli", "-u", "redis://127.0.0.1:26379", "ping"]
                    .map(str::to_owned)
                    .to_vec()
            )
        );
        assert_eq!(
            probe("shell"),
            Probe::Shell("redis-cli -u redis://127.0.0.1:26379 ping".to_owned())
        );
        // A probe of its own port, written for the container, reaches the host port.
        assert_eq!(
            probe("api"),
            Probe::Exec(
                ["wget", "http://127.0.0.1:32010/", "http://127.0.0.1:26379/"]
                    .map(str::to_owned)
                    .to_vec()
            )
        );
    }

    /// The mariadb image's own health script asks the host's client instead; a
    /// check whose program this machine lacks is refused before anything starts.
    #[test]
    fn image_health_scripts_map_to_host_clients_and_missing_programs_are_refused() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  db:\n    image: mariadb:11\n    environment: {MARIADB_ROOT_PASSWORD: p}\n    healthcheck: {test: [\"CMD\", \"healthcheck.sh\", \"--connect\", \"--innodb_initialized\"]}\n  db2:\n    image: mariadb:11\n    ports: [\"23307:3306\"]\n    environment: {MARIADB_ROOT_PASSWORD: p}\n    healthcheck: {test: \"healthcheck.sh --connect\"}\n",
        );
        let spec = native_spec(&dir, &loaded);
        let ping = Probe::Exec(vec!["mariadb-admin".to_owned(), "ping".to_owned()]);
        for name in ["db", "db2"] {
            assert_eq!(
                spec.services[name].healthcheck.as_ref().unwrap().probe,
                ping,
                "{name}"
            );
        }
        let (dir, loaded) = load(
            "name: shop\nservices:\n  web:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\"]\n    healthcheck: {test: [\"CMD\", \"no-such-checker-here\", \"--quick\"]}\n",
        );
        let refused = project_spec(
            &loaded,
            &BTreeMap::new(),
            &dir.path().join("v"),
            &BTreeSet::new(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("web: healthcheck: `no-such-checker-here` is not installed here"),
            "{refused}"
        );
    }

    #[test]
    fn nginx_is_told_only_of_the_services_its_configuration_names() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  front:\n    image: nginx:1.25\n    ports: [\"32080:80\"]\n    volumes: [\"./site.conf:/etc/nginx/conf.d/site.conf:ro\"]\n  web:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\", \"8000\"]\n    ports: [\"8000:8000\"]\n  webhooks:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\", \"8001\"]\n    ports: [\"8001:8001\"]\n",
        );
        std::fs::write(
            dir.path().join("site.conf"),
            "server { listen 80; location / { proxy_pass http://web:8000; } }\n",
        )
        .unwrap();
        let spec = native_spec(&dir, &loaded);
        let command = spec.services["front"].command.join(" ");
        assert!(command.contains("web:8000=8000"), "{command}");
        assert!(!command.contains("webhooks:"), "{command}");
    }

    #[test]
    fn a_user_or_database_named_like_a_service_is_no_host() {
        let (dir, loaded) = load(
            "name: shop\nservices:\n  db:\n    image: redis:7\n    environment: {POSTGRES_USER: app}\n  app:\n    image: python:3.12\n    command: [\"python3\", \"-m\", \"http.server\"]\n    environment: {DB_HOST: db, DB_USER: db, DB_NAME: db}\n    healthcheck: {test: [\"CMD\", \"pg_isready\", \"-h\", \"db\", \"-U\", \"db\"]}\n",
        );
        let spec = native_spec(&dir, &loaded);
        let env = |service: &str, name: &str| spec.services[service].environment[name].clone();
        assert_eq!(env("db", "POSTGRES_USER"), "app");
        assert_eq!(env("app", "DB_HOST"), "127.0.0.1");
        assert_eq!(env("app", "DB_USER"), "db");
        assert_eq!(env("app", "DB_NAME"), "db");
        assert_eq!(
            spec.services["app"].healthcheck.clone().unwrap().probe,
            Probe::Exec(
                ["pg_isready", "-h", "127.0.0.1", "-U", "db"]
                    .map(str::to_owned)
                    .to_vec()
            )
        );
    }

    #[test]
    fn commands_on_the_host_are_told_from_servers_with_registry_and_tag() {
        let (_dir, loaded) = load(
            "name: shop\nservices:\n  py:\n    image: python:3.11-slim\n    command: [python3, app.py]\n  js:\n    image: docker.io/library/node:20@sha256:abc\n    command: [node, app.js]\n  db:\n    image: postgres:15\n    command: [postgres, -c, max_connections=200]\n  tuned:\n    image: redis:7\n    command: [--appendonly, \"yes\"]\n  migrate:\n    image: postgres:15\n    command: [psql, -c, select 1]\n",
        );
        let image_of = |name: &str| command_image(&loaded.project.services[name]);
        assert_eq!(image_of("py"), Some("python"));
        assert_eq!(image_of("js"), Some("node"));
        assert_eq!(image_of("db"), None, "the server, with its options");
        assert_eq!(image_of("tuned"), None, "the server, with options only");
        assert_eq!(image_of("migrate"), Some("postgres"), "the image's client");
        assert!(
            recipes::of_image(&loaded.project.services["migrate"]).is_none(),
            "no database server for `db` commands"
        );
    }
}

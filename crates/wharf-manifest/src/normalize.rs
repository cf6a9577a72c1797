//! The last pass: profiles, defaults, names and cross-references, on the typed model.
//!
//! Applies what `docker compose config` adds (the default network, resource names
//! prefixed with the project, `env_file` read into `environment`) and rejects what it
//! rejects (undefined references, dependency cycles, contradictory settings).

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use wharf_model::{DependsOn, Network, Project, Service, SmallMap};

use crate::dotenv;
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::interpolate::Variables;
use crate::loader::LoadOptions;
use crate::source::{FileRef, Span};
use crate::typing::Written;

pub fn normalize(
    mut project: Project,
    written: &Written,
    active_profiles: &[String],
    env: &Environment,
    project_dir: &Path,
    options: &LoadOptions,
) -> Result<Project> {
    let requested = &options.services;
    let all = active_profiles.iter().any(|p| p == "*");
    let defined: HashSet<String> = project.services.keys().cloned().collect();
    project.services.retain(|name, service| {
        service.profiles.is_empty()
            || all
            || requested.contains(name)
            || service.profiles.iter().any(|p| active_profiles.contains(p))
    });
    for name in requested {
        if !project.services.contains_key(name) {
            return Err(Error::new(format!("no such service: {name}")));
        }
    }
    let names: HashSet<String> = project.services.keys().cloned().collect();
    // Compose's implicit defaults, which `--no-normalize` leaves out.
    let defaults = !options.skip_normalization;
    for (name, service) in &mut project.services {
        let span = written.service(name);
        if defaults {
            add_implicit_dependencies(service);
        }
        if !options.skip_consistency {
            check_dependencies(name, service, &names, &defined, written)?;
        }
        if !options.keep_env_files {
            read_env_files(service, env, project_dir).map_err(|e| e.or_at(&span))?;
            service.env_file.clear();
        }
        read_label_files(service).map_err(|e| e.or_at(&span))?;
        every_device_unless_counted(service);
        dedup_ports(service);
        for (key, value) in service.environment.iter_mut() {
            if value.is_none() {
                *value = env.get(key).map(str::to_owned);
            }
        }
        if let Some(build) = &mut service.build {
            if build.context.is_none() {
                build.context = Some(if options.keep_relative_paths {
                    ".".to_owned()
                } else {
                    project_dir.to_string_lossy().into_owned()
                });
            }
            if defaults && build.dockerfile.is_none() && build.dockerfile_inline.is_none() {
                build.dockerfile = Some("Dockerfile".to_owned());
            }
            // A bare build arg takes the environment's value, and is dropped when unset.
            if defaults {
                build.args.retain(|key, value| {
                    if value.is_none() {
                        *value = env.get(key).map(str::to_owned);
                    }
                    value.is_some()
                });
            }
        }
        if defaults
            && service.network_mode.is_none()
            && service.networks.is_empty()
            && service.provider.is_none()
        {
            service.networks.insert("default".to_owned(), None);
        }
        for secret in &mut service.secrets {
            if secret.target.is_empty() {
                secret.target = format!("/run/secrets/{}", secret.source);
            }
        }
        if !options.skip_consistency {
            check_consistency(name, service, &span)?;
        }
    }
    if !options.skip_consistency {
        check_cycles(&project, written)?;
    }
    if defaults {
        name_resources(&mut project, written);
    }
    if !options.skip_consistency {
        check_references(&project, written)?;
    }
    if !options.all_resources {
        drop_unused_resources(&mut project);
    }
    Ok(project)
}

/// Links, `network_mode`, `ipc` and `pid` of `service:x`, and `volumes_from` need the
/// other service started first, so Compose adds them to `depends_on` where the file
/// did not; one that shares a namespace restarts with it.
fn add_implicit_dependencies(service: &mut Service) {
    let mut implied: Vec<(String, bool)> = Vec::new();
    for link in &service.links {
        let target = link.split_once(':').map_or(link.as_str(), |(name, _)| name);
        implied.push((target.to_owned(), true));
    }
    for shared in [service.network_mode(), &service.ipc, &service.pid] {
        if let Some(target) = shared.strip_prefix("service:") {
            implied.push((target.to_owned(), true));
        }
    }
    for source in &service.volumes_from {
        if !source.starts_with("container:") {
            let target = source
                .split_once(':')
                .map_or(source.as_str(), |(name, _)| name);
            implied.push((target.to_owned(), false));
        }
    }
    if implied.is_empty() {
        return;
    }
    let declared: HashSet<String> = service.depends_on.keys().cloned().collect();
    for (target, restart) in implied {
        if declared.contains(&target) {
            continue;
        }
        let dependency = service.depends_on.get_or_insert_with(target, || DependsOn {
            condition: "service_started".to_owned(),
            required: true,
            ..DependsOn::default()
        });
        dependency.restart |= restart;
    }
}

/// A dependency must be defined; one whose profile is off is allowed only when marked
/// `required: false`, and stays listed (as Compose prints it) for the runtime to skip.
fn check_dependencies(
    name: &str,
    service: &Service,
    enabled: &HashSet<String>,
    defined: &HashSet<String>,
    written: &Written,
) -> Result<()> {
    for (dependency, spec) in &service.depends_on {
        if enabled.contains(dependency) {
            continue;
        }
        // Pointed at where the file names it.
        let span = &written.dependency(name, dependency);
        if !defined.contains(dependency) {
            let names: Vec<&str> = defined
                .iter()
                .map(String::as_str)
                .filter(|other| *other != name)
                .collect();
            let help = match crate::suggest::closest(dependency, &names) {
                Some(near) => format!("did you mean {near:?}?"),
                None => "define that service, or remove the dependency".to_owned(),
            };
            return Err(Error::at(
                span,
                format!("service {name:?} depends on undefined service {dependency:?}"),
            )
            .with_help(help));
        }
        if spec.required {
            return Err(Error::at(span, format!("service {name:?} depends on service {dependency:?}, whose profile is not enabled"))
                .with_help("enable its profile, or mark the dependency `required: false`"));
        }
    }
    Ok(())
}

/// A device request that names neither a count nor devices asks for every device.
fn every_device_unless_counted(service: &mut Service) {
    let reserved = service
        .deploy
        .iter_mut()
        .filter_map(|deploy| deploy.resources.reservations.as_mut())
        .flat_map(|reservations| reservations.devices.iter_mut());
    for device in service.gpus.iter_mut().chain(reserved) {
        if device.count.is_none() && device.device_ids.is_empty() {
            device.count = Some(-1);
        }
    }
}

/// The same port published twice (a range overlapping a single port, say) is one port.
fn dedup_ports(service: &mut Service) {
    for port in std::mem::take(&mut service.ports) {
        if !service.ports.contains(&port) {
            service.ports.push(port);
        }
    }
}

/// `label_file` entries are read into `labels`, without interpolation as Compose does;
/// the service's own `labels` win over a file's.
fn read_label_files(service: &mut Service) -> Result<()> {
    struct NoVariables;
    impl Variables for NoVariables {
        fn get(&self, _: &str) -> Option<&str> {
            None
        }
    }
    for path in std::mem::take(&mut service.label_file) {
        let text = std::fs::read_to_string(&path).map_err(|err| {
            Error::new(format!("label file {path} not found: {err}"))
                .with_help("create it, or remove it from `label_file`")
        })?;
        let file = FileRef::new(path.clone(), text);
        for (key, value) in dotenv::parse(&file, &NoVariables)? {
            service.labels.get_or_insert_with(key, || value);
        }
    }
    Ok(())
}

fn read_env_files(service: &mut Service, env: &Environment, project_dir: &Path) -> Result<()> {
    if service.env_file.is_empty() {
        return Ok(());
    }
    let mut from_files = SmallMap::new();
    for env_file in &service.env_file {
        // An empty path names no file: one that may be missing is skipped, as in Compose.
        if env_file.path.is_empty() && !env_file.required {
            continue;
        }
        let path = project_dir.join(&env_file.path);
        // Checked as the file is read, as Compose does (not when env files are kept).
        if !matches!(env_file.format.as_str(), "" | "raw") {
            return Err(Error::new(format!(
                "unsupported env_file format {:?} for {}",
                env_file.format,
                path.display()
            ))
            .with_help("leave `format` out for Compose's .env rules, or write `raw`"));
        }
        match std::fs::read_to_string(&path) {
            Ok(text) if env_file.format == "raw" => {
                for (key, value) in raw_env(&path, &text)? {
                    from_files.insert(key, Some(value));
                }
            }
            Ok(text) => {
                let file = FileRef::new(path.clone(), text);
                let scope = EnvFileScope {
                    project: env,
                    service: &service.environment,
                };
                // The files read before are as this file's earlier lines.
                let earlier = from_files
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
                    .collect();
                for (key, value) in dotenv::parse_after(&file, &scope, earlier)? {
                    from_files.insert(key, Some(value));
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !env_file.required => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(format!("env file {} not found", path.display()))
                    .with_help("create it, or mark it `required: false`"));
            }
            Err(err) => return Err(Error::io(&path, &err)),
        }
    }
    // The service's own values win over its files'.
    from_files.extend(std::mem::take(&mut service.environment));
    service.environment = from_files;
    Ok(())
}

/// What an env file's `${VAR}` finds before the file's own earlier lines (and the
/// files read before), in Compose's order: the project's environment (the shell and
/// `.env`), then the service's own `environment`.
struct EnvFileScope<'a> {
    project: &'a Environment,
    service: &'a SmallMap<String, Option<String>>,
}

impl Variables for EnvFileScope<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.project
            .get(name)
            .or_else(|| self.service.get(name)?.as_deref())
    }
    fn unset(&self, name: &str) {
        self.project.unset(name);
    }
}

/// `format: raw`: each `KEY=VALUE` line taken as it is — no quotes, escapes, comments
/// or variables — skipping blank lines, `#` lines and lines without `=`.
fn raw_env(path: &Path, text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.contains(char::is_whitespace) {
            return Err(Error::new(format!(
                "failed to parse env_file {}: variable {key:?} contains whitespaces",
                path.display()
            )));
        }
        out.push((key.to_owned(), value.to_owned()));
    }
    Ok(out)
}

fn check_consistency(name: &str, service: &Service, span: &Span) -> Result<()> {
    if service.image.is_empty() && service.build.is_none() && service.provider.is_none() {
        return Err(Error::at(
            span,
            format!("service {name:?} has neither an image nor a build context specified"),
        )
        .with_help("add `image:` to run an existing image, or `build:` to build one"));
    }
    let conflict = |a: &str, b: &str| {
        Error::at(
            span,
            format!("services.{name}: can't set distinct values on '{a}' and '{b}'"),
        )
    };
    if !service.network_mode().is_empty() && !service.networks.is_empty() {
        return Err(Error::at(
            span,
            format!("service {name:?} declares mutually exclusive `network_mode` and `networks`"),
        )
        .with_help("a service joins networks, or shares another's network stack, not both"));
    }
    if !service.container_name.is_empty() && service.replicas() > 1 {
        return Err(Error::at(
            span,
            format!("services.{name}: can't set container_name {:?} with {} replicas, as a container name must be unique", service.container_name, service.replicas()),
        )
        .with_help("remove `container_name`, or run one replica"));
    }
    if let Some(build) = &service.build
        && !service.platform.is_empty()
        && !build.platforms.is_empty()
        && !build.platforms.contains(&service.platform)
    {
        return Err(Error::at(
            span,
            format!(
                "services.{name}: build.platforms must include the service's platform {:?}",
                service.platform
            ),
        )
        .with_help("add it to `build.platforms`, or change `platform`"));
    }
    if let (Some(scale), Some(replicas)) = (
        service.scale,
        service.deploy.as_ref().and_then(|d| d.replicas),
    ) && scale != replicas
    {
        return Err(conflict("scale", "deploy.replicas"));
    }
    let limit = service
        .deploy
        .as_ref()
        .and_then(|d| d.resources.limits.as_ref());
    if let Some(limit) = limit {
        if service.mem_limit.0 != 0 && limit.memory.0 != 0 && service.mem_limit != limit.memory {
            return Err(conflict("mem_limit", "deploy.resources.limits.memory"));
        }
        if service.cpus.0 != 0.0
            && limit.cpus.0 != 0.0
            && (service.cpus.0 - limit.cpus.0).abs() > f32::EPSILON
        {
            return Err(conflict("cpus", "deploy.resources.limits.cpus"));
        }
    }
    Ok(())
}

/// Depth-first over `depends_on`, without recursion (a chain of thousands of services
/// is a real file's shape) and with the services on the current path in a set, so the
/// check stays linear.
fn check_cycles(project: &Project, written: &Written) -> Result<()> {
    let mut done: HashSet<&str> = HashSet::new();
    for start in project.services.keys() {
        if done.contains(start.as_str()) {
            continue;
        }
        // Each frame: a service and the dependencies of it still to visit.
        let mut path: Vec<(&str, Vec<&str>)> = Vec::new();
        let mut on_path: HashSet<&str> = HashSet::new();
        let dependencies = |name: &str| -> Vec<&str> {
            project
                .services
                .get(name)
                // Reversed: popped in name order.
                .map(|s| s.depends_on.keys().rev().map(String::as_str).collect())
                .unwrap_or_default()
        };
        path.push((start, dependencies(start)));
        on_path.insert(start);
        while let Some((name, pending)) = path.last_mut() {
            let Some(next) = pending.pop() else {
                let name = *name;
                on_path.remove(name);
                done.insert(name);
                path.pop();
                continue;
            };
            if done.contains(next) {
                continue;
            }
            if on_path.contains(next) {
                let from = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                let mut cycle: Vec<String> =
                    path[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                cycle.push(next.to_owned());
                let help = if cycle.len() == 2 {
                    "a service cannot depend on itself: remove this depends_on entry"
                } else {
                    "remove one of these depends_on entries"
                };
                return Err(Error::at(
                    &written.dependency(&cycle[0], &cycle[1]),
                    format!("dependency cycle detected: {}", cycle.join(" -> ")),
                )
                .with_help(help));
            }
            on_path.insert(next);
            path.push((next, dependencies(next)));
        }
    }
    Ok(())
}

/// Gives networks, volumes, secrets and configs their engine names (`<project>_<key>`,
/// or the key itself when external), and adds the default network when used. A name
/// written empty stays empty, as Compose's.
fn name_resources(project: &mut Project, written: &Written) {
    // A service with a `network_mode` joins no network, whatever it lists (as
    // Compose's, seen with `--no-consistency`).
    let uses_default = project
        .services
        .values()
        .any(|s| s.network_mode().is_empty() && s.networks.contains_key("default"));
    if uses_default && !project.networks.contains_key("default") {
        project
            .networks
            .insert("default".to_owned(), Network::default());
    }
    let project_name = project.name.clone();
    let engine_name = |section: &'static str, key: &str, name: &mut String, external: bool| {
        if name.is_empty() && !written.has_empty_name(section, key) {
            *name = if external {
                key.to_owned()
            } else {
                format!("{project_name}_{key}")
            };
        }
    };
    for (key, network) in &mut project.networks {
        engine_name("networks", key, &mut network.name, network.external);
    }
    for (key, volume) in &mut project.volumes {
        engine_name("volumes", key, &mut volume.name, volume.external);
    }
    for (section, objects) in [
        ("secrets", &mut project.secrets),
        ("configs", &mut project.configs),
    ] {
        for (key, object) in objects.iter_mut() {
            engine_name(section, key, &mut object.name, object.external);
        }
    }
}

/// The project cut down to `services`, with only the resources they use, as
/// `config SERVICE…` prints it.
#[must_use]
pub fn only_services(project: &Project, services: &BTreeSet<&str>) -> Project {
    let mut cut = project.clone();
    cut.services
        .retain(|name, _| services.contains(name.as_str()));
    drop_unused_resources(&mut cut);
    cut
}

/// Like Compose, keeps only the networks, volumes, secrets and configs that an enabled
/// service uses: a resource of a disabled profile is not created.
fn drop_unused_resources(project: &mut Project) {
    let services = project.services.values();
    let mut networks = BTreeSet::new();
    let mut volumes = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    let mut configs = BTreeSet::new();
    let mut models = BTreeSet::new();
    for service in services {
        networks.extend(service.networks.keys().cloned());
        volumes.extend(
            service
                .volumes
                .iter()
                .filter(|mount| mount.kind == "volume")
                .map(|mount| mount.source.clone()),
        );
        let build_secrets = service.build.iter().flat_map(|build| &build.secrets);
        secrets.extend(
            service
                .secrets
                .iter()
                .chain(build_secrets)
                .map(|s| s.source.clone()),
        );
        configs.extend(service.configs.iter().map(|c| c.source.clone()));
        models.extend(service_models(service).map(str::to_owned));
    }
    project.networks.retain(|key, _| networks.contains(key));
    project.volumes.retain(|key, _| volumes.contains(key));
    project.secrets.retain(|key, _| secrets.contains(key));
    project.configs.retain(|key, _| configs.contains(key));
    project.models.retain(|key, _| models.contains(key));
}

/// The names of the models a service uses.
fn service_models(service: &Service) -> impl Iterator<Item = &str> {
    service.models.keys().map(String::as_str)
}

fn check_references(project: &Project, written: &Written) -> Result<()> {
    for (name, service) in &project.services {
        let span = written.service(name);
        let undefined = |kind: &str, what: &str| {
            Error::at(
                &span,
                format!("service {name:?} refers to undefined {kind} {what}"),
            )
            .with_help(format!("declare it under the top-level `{kind}s:` key"))
        };
        // Checked here too for `--no-normalize`, which adds no dependency on it.
        if let Some(other) = service.network_mode().strip_prefix("service:")
            && !project.services.contains_key(other)
        {
            return Err(Error::at(
                &span,
                format!("service {other:?} not found for network_mode 'service:{other}'"),
            ));
        }
        // A build context that is another service's image needs that service built.
        let contexts = service.build.iter().flat_map(|b| &b.additional_contexts);
        for (context, value) in contexts {
            let Some(other) = value.strip_prefix("service:") else {
                continue;
            };
            let problem = match project.services.get(other) {
                None => "unknown",
                Some(other) if other.build.is_none() => "non-buildable",
                Some(_) => continue,
            };
            return Err(Error::at(
                &span,
                format!("service {name:?} declares {problem} service {other:?} as additional context {context}"),
            )
            .with_help("name a service of the project that has a `build` section"));
        }
        for network in service.networks.keys() {
            if !project.networks.contains_key(network) {
                return Err(undefined("network", network));
            }
        }
        for mount in &service.volumes {
            if mount.kind == "volume"
                && !mount.source.is_empty()
                && !project.volumes.contains_key(&mount.source)
            {
                return Err(undefined("volume", &mount.source));
            }
        }
        for secret in &service.secrets {
            if !project.secrets.contains_key(&secret.source) {
                return Err(undefined("secret", &secret.source));
            }
        }
        let build_secrets = service.build.iter().flat_map(|build| &build.secrets);
        for secret in build_secrets {
            if !project.secrets.contains_key(&secret.source) {
                return Err(undefined("secret", &secret.source));
            }
        }
        for config in &service.configs {
            if !project.configs.contains_key(&config.source) {
                return Err(undefined("config", &config.source));
            }
        }
        for model in service_models(service) {
            if !project.models.contains_key(model) {
                return Err(undefined("model", model));
            }
        }
    }
    Ok(())
}

//! Which project a runtime command means: `-p NAME`, else the name of the project the
//! compose files in this directory define.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use wharf_api::{Client, ClientError, InstanceStatus};
use wharf_manifest::{LoadOptions, Loaded};

use crate::daemon_client;
use crate::remote_project;
use crate::settings::Settings;

/// Loads the project from its files, printing the loader's warnings.
pub fn load(settings: &Settings) -> anyhow::Result<Loaded> {
    load_naming(settings, &[])
}

/// As `load`, with `services` named on the command line enabled whatever their
/// profiles, as Compose's `up`, `run`, `build`, `pull` and `push` enable the services
/// they name (`docker compose run --rm migrate` of a `tools` profile).
pub fn load_naming(settings: &Settings, services: &[String]) -> anyhow::Result<Loaded> {
    let options = load_options(settings, true, services)?;
    let loaded = wharf_manifest::load(&options)?;
    for warning in &loaded.warnings {
        settings.printer.warn(warning);
    }
    Ok(loaded)
}

/// As `load`; when no files load here and `-p NAME` names a project wharfd runs, that
/// project's own files (a `db` command from another directory).
pub fn load_named(settings: &Settings) -> anyhow::Result<Loaded> {
    let err = match load(settings) {
        Ok(loaded) => return Ok(loaded),
        Err(err) => err,
    };
    let Some(name) = settings
        .global
        .project_name
        .as_ref()
        .filter(|_| settings.global.files.is_empty())
    else {
        return Err(err);
    };
    let recorded = running_projects(&settings.paths)
        .and_then(|projects| projects.into_iter().find(|p| &p.name == name))
        .map(|project| project.config_files)
        .filter(|files| !files.is_empty());
    let Some(files) = recorded else {
        return Err(anyhow::anyhow!(
            "{err}\nwharfd runs no project `{name}` either: `wharf ls -a` lists those it runs"
        ));
    };
    let mut options = load_options(settings, true, &[])?;
    options.project_directory = files[0].parent().map(std::path::Path::to_path_buf);
    options.files = files;
    let loaded = wharf_manifest::load(&options).map_err(|from_files| {
        anyhow::anyhow!("{from_files}\n(the files project {name} was started from)")
    })?;
    for warning in &loaded.warnings {
        settings.printer.warn(warning);
    }
    Ok(loaded)
}

/// The project's name: `-p NAME`, else the files'. When the files do not load (a
/// YAML error mid-edit), the project wharfd runs from them is still reachable, so
/// `ps`, `logs` and `down` keep working on what was recorded.
pub fn name(settings: &Settings) -> anyhow::Result<String> {
    name_defining(settings, &[])
}

/// As `name`, and fails naming the first of `services` the compose file does not
/// define (enabled or not), as Compose does; the file is read once for both. When it
/// does not load, the daemon is the judge of the names.
pub fn name_defining(settings: &Settings, services: &[String]) -> anyhow::Result<String> {
    name_and_reachable(settings, services).map(|(name, _)| name)
}

/// As `name_defining`, with those of `services` that can have instances: the ones
/// whose profiles are enabled, and one under a profile not enabled that wharfd runs
/// all the same (an `up --profile` started it). Another runs nowhere, so there is
/// nothing to stop or signal of it (Compose's `stop debug` does nothing and exits 0).
pub fn name_and_reachable(
    settings: &Settings,
    services: &[String],
) -> anyhow::Result<(String, Vec<String>)> {
    if let Some(name) = settings
        .global
        .project_name
        .as_ref()
        .filter(|_| services.is_empty())
    {
        // A file named with `-f` must be there, even when `-p` names the project: a
        // typo in a script is an error, as Compose's, not an empty answer.
        let missing = settings.global.files.iter().find(|file| {
            file.as_os_str() != "-" && !remote_project::is_remote(file) && !file.exists()
        });
        if let Some(missing) = missing {
            bail!(
                "cannot read {}: no such file or directory",
                missing.display()
            );
        }
        return Ok((name.clone(), Vec::new()));
    }
    let options = load_options(settings, true, &[])?;
    // With no service to check, the name of a project wharfd runs is enough: the files
    // are read, not loaded. One it does not run is loaded, so a file that cannot be is
    // said, as Compose says it.
    let running = services
        .is_empty()
        .then(|| wharf_manifest::load_name(&options).ok())
        .flatten()
        .filter(|name| settings.paths.desired_state(name).exists());
    if let Some(name) = running {
        return Ok((name, Vec::new()));
    }
    let err = match wharf_manifest::load(&options) {
        Ok(loaded) => {
            let defined = |name: &&String| {
                loaded.project.services.contains_key(*name) || loaded.disabled.contains(*name)
            };
            if let Some(unknown) = services.iter().find(|name| !defined(name)) {
                bail!("no such service: {unknown}");
            }
            let name = settings
                .global
                .project_name
                .clone()
                .unwrap_or(loaded.project.name);
            // One under a profile not enabled now still runs when an `up --profile`
            // started it: Compose's `stop debug` reaches it then. Only a daemon that
            // already runs can run it: none is started to ask.
            let profiled_running: std::collections::BTreeSet<String> =
                if services.iter().any(|s| loaded.disabled.contains(s)) {
                    daemon_client::existing(&settings.paths)
                        .and_then(|client| instances(&client, &name).ok())
                        .unwrap_or_default()
                        .into_iter()
                        .map(|instance| instance.service)
                        .collect()
                } else {
                    std::collections::BTreeSet::new()
                };
            let reachable = services
                .iter()
                .filter(|name| {
                    loaded.project.services.contains_key(*name) || profiled_running.contains(*name)
                })
                .cloned()
                .collect();
            return Ok((name, reachable));
        }
        Err(err) => err,
    };
    if let Some(name) = &settings.global.project_name {
        return Ok((name.clone(), services.to_vec()));
    }
    // Only a file that is there and fails at a place in it (an edit in progress) falls
    // back to what wharfd runs from it: no file at all (a mistyped directory, an unset
    // COMPOSE_FILE) means no project, not the one this directory's files define.
    let recorded = err
        .location()
        .and_then(|_| recorded_name(&settings.paths, &options));
    let Some(recorded) = recorded else {
        bail!(
            "{err}\nhint: `-p NAME` reaches a project without its files (`wharf -p NAME \
             ps`); `wharf ls` lists the projects wharf runs"
        );
    };
    let at = err
        .location()
        .map(|span| format!(" at {span}"))
        .unwrap_or_default();
    eprintln!(
        "warning: the compose file does not load ({}{at}); using project {recorded}, \
         which wharf runs from it",
        err.message()
    );
    Ok((recorded, services.to_vec()))
}

/// The instances wharfd runs for project `name`; none when it runs none.
pub fn instances(client: &Client, name: &str) -> anyhow::Result<Vec<InstanceStatus>> {
    match client.get(&endpoint(name, "ps")) {
        Err(ClientError::Api { status: 404, .. }) => Ok(Vec::new()),
        other => Ok(other?),
    }
}

/// `service`'s instance `index` (`--index`); an error that says how to get it when
/// there is none.
pub fn instance_of<'a>(
    instances: &'a [InstanceStatus],
    service: &str,
    index: u32,
) -> anyhow::Result<&'a InstanceStatus> {
    if let Some(instance) = instances
        .iter()
        .find(|i| i.service == service && i.replica == index)
    {
        return Ok(instance);
    }
    let has = instances.iter().filter(|i| i.service == service).count();
    if index == 0 {
        bail!("instances are numbered from 1: {service} has {has}");
    }
    if has > 0 {
        bail!(
            "{service} has no instance {index}: it has {has} (`wharf scale {service}={index}` adds more)"
        );
    }
    bail!("{service} has no instance {index} (`wharf up -d {service}` starts it)");
}

/// The engine's id of the container of `service`'s instance `index`; an error that
/// says why when there is none (not running, or run natively: `what` needs a
/// container).
pub fn container_of(
    client: &Client,
    project: &str,
    service: &str,
    index: u32,
    what: &str,
) -> anyhow::Result<String> {
    let instances = instances(client, project)?;
    let instance = instance_of(&instances, service, index)?;
    if instance.container_id.is_empty() {
        bail!(
            "{what} needs a container, and {} runs natively",
            instance.name
        );
    }
    Ok(instance.container_id.clone())
}

/// The project, and its running instance, that publishes `port` on this machine, of
/// every project wharfd runs; `None` when none does (or wharfd is not running).
pub fn instance_publishing(
    paths: &wharf_api::Paths,
    port: u16,
) -> Option<(String, InstanceStatus)> {
    let client = crate::daemon_client::existing(paths)?;
    projects_of(&client)?.into_iter().find_map(|project| {
        let found = instances(&client, &project.name)
            .ok()?
            .into_iter()
            .find(|i| i.state.is_active() && i.ports.iter().any(|p| p.published == port))?;
        Some((project.name, found))
    })
}

/// The projects wharfd runs, when it is running.
fn running_projects(paths: &wharf_api::Paths) -> Option<Vec<wharf_api::ProjectSummary>> {
    projects_of(&crate::daemon_client::existing(paths)?)
}

fn projects_of(client: &Client) -> Option<Vec<wharf_api::ProjectSummary>> {
    client
        .get(&format!("{}/projects", wharf_api::API_PREFIX))
        .ok()
}

/// The project wharfd runs from the files `options` name (or, with none named, from a
/// compose file in the working directory).
fn recorded_name(paths: &wharf_api::Paths, options: &LoadOptions) -> Option<String> {
    let projects = running_projects(paths)?;
    let here = &options.working_dir;
    // Found by name in the project's directory, else as named from here.
    let project_dir = options
        .project_directory
        .as_ref()
        .map_or_else(|| here.clone(), |dir| here.join(dir));
    let from_here = |file: &std::path::PathBuf| {
        if options.files.is_empty() {
            file.parent() == Some(project_dir.as_path())
        } else {
            options.files.iter().any(|named| here.join(named) == *file)
        }
    };
    projects
        .into_iter()
        .find(|p| p.config_files.iter().any(from_here))
        .map(|p| p.name)
}

/// `/v1/projects/<name>/<action>`; project names are `[a-z0-9_-]`, safe in a path.
pub fn endpoint(name: &str, action: &str) -> String {
    format!("{}/projects/{name}/{action}", wharf_api::API_PREFIX)
}

/// Settings every project-reading command shares, from the flags and the shell.
pub fn load_options(
    settings: &Settings,
    interpolate: bool,
    services: &[String],
) -> anyhow::Result<LoadOptions> {
    let stdin = if settings.global.files.iter().any(|f| f.as_os_str() == "-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the compose file from standard input")?;
        Some(text)
    } else {
        None
    };
    let working_dir = std::env::current_dir().context("cannot read the current directory")?;
    let mut files = settings.global.files.clone();
    let mut self_relative = Vec::new();
    for file in &mut files {
        if remote_project::is_remote(file) {
            *file = remote_project::local_copy(&settings.paths, &settings.printer, file)?;
            self_relative.push(file.clone());
        }
    }
    // A fetched project lives where it was started from, as Compose has it: named after
    // that directory, with its `.env`; only the fetched files' paths are the copy's.
    let project_directory = settings.global.project_directory.clone().or_else(|| {
        settings
            .global
            .files
            .first()
            .filter(|first| remote_project::is_remote(first))
            .map(|_| working_dir.clone())
    });
    Ok(LoadOptions {
        files,
        project_name: settings.global.project_name.clone(),
        project_directory,
        profiles: settings.global.profiles.clone(),
        env_files: settings.global.env_files.clone(),
        working_dir,
        shell: std::env::vars().collect(),
        interpolate,
        stdin,
        services: services.to_vec(),
        keep_env_files: false,
        collect_variables: false,
        all_resources: settings.global.all_resources,
        skip_consistency: false,
        keep_relative_paths: false,
        skip_normalization: false,
        compatibility: settings.global.compatibility,
        self_relative,
        remote_files: Some(remote_project::fetcher(settings)),
    })
}

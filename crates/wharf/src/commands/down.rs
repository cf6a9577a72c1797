//! `wharf down`: stop the project and forget it; with `-v`, delete its volumes too,
//! after saying which and asking (or `--yes`). `down SERVICE…` removes just those.

use std::path::PathBuf;
use std::process::ExitCode;

use wharf_api::{ClientError, DownRequest, DownResponse, Paths, ServicesRequest};

use wharf_engine::BlockingEngine;

use crate::cli::DownArgs;
use crate::confirm::confirm;
use crate::daemon_client;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &DownArgs) -> anyhow::Result<ExitCode> {
    if !args.services.is_empty() {
        return down_services(settings, args);
    }
    let name = project_ref::name(settings)?;
    let paths = &settings.paths;
    // What `-v` deletes: the native volumes' directories and the engine's volumes of
    // the project (found by its label, when an engine answers).
    let engine = args
        .volumes
        .then(|| BlockingEngine::connect().ok())
        .flatten();
    // The project's labelled volumes, and the anonymous ones its containers mount.
    let engine_volumes: Vec<String> = match &engine {
        Some(engine) => {
            let mut all: Vec<String> = engine
                .project_volumes(&name)?
                .into_iter()
                .map(|v| v.name)
                .collect();
            for container in engine.project_containers(&name)? {
                all.extend(container.anonymous_volumes().map(str::to_owned));
            }
            all
        }
        None => Vec::new(),
    };
    let volumes = if args.volumes {
        volume_dirs(paths, &name)
    } else {
        Vec::new()
    };
    if args.volumes {
        // An empty directory holds nothing to lose (one made for a native run that
        // never wrote to it): deleted, not asked about.
        let listed: Vec<String> = volumes
            .iter()
            .filter(|dir| std::fs::read_dir(dir).map_or(true, |mut e| e.next().is_some()))
            .map(|dir| dir.display().to_string())
            .chain(
                engine_volumes
                    .iter()
                    .map(|v| format!("{v} (an engine volume)")),
            )
            .chain(snapshots_note(paths, &name))
            .collect();
        if !listed.is_empty()
            && !args.yes
            && !confirm(
                &format!("This deletes the data of project {name}'s volumes:"),
                &listed,
                "Delete them?",
                "deleting volumes needs confirmation: run again with --yes",
            )?
        {
            settings.printer.info("nothing was stopped or deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let client = daemon_client::connect(paths)?;
    let response: DownResponse = match client.post(
        &endpoint(&name, "down"),
        &DownRequest {
            volumes: args.volumes,
            timeout_s: args.timeout,
        },
    ) {
        Ok(response) => response,
        Err(ClientError::Api { status: 404, .. }) => {
            settings
                .printer
                .info(&format!("project {name} is not running"));
            // Its volumes outlive it, as Compose's do, until `down -v` says otherwise.
            for dir in &volumes {
                std::fs::remove_dir_all(dir)?;
                settings.printer.info(&format!("deleted {}", dir.display()));
            }
            if let Some(engine) = &engine {
                for volume in &engine_volumes {
                    engine.remove_volume(volume);
                    settings.printer.info(&format!("deleted {volume}"));
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    for service in &response.stopped {
        settings.printer.info(&format!("{service:<10} stopped"));
    }
    for note in &response.notes {
        settings.printer.warn(note);
    }
    for dir in &response.deleted_volumes {
        settings.printer.info(&format!("deleted {dir}"));
    }
    if let Some(which) = &args.rmi {
        remove_images(settings, which == "all")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `down SERVICE…`, as Compose's: stops and removes those services' instances only
/// (with `-v`, their containers' anonymous volumes), leaving the others running; the
/// project itself goes, networks and all, once nothing of it is left.
fn down_services(settings: &Settings, args: &DownArgs) -> anyhow::Result<ExitCode> {
    let (name, services) = project_ref::name_and_reachable(settings, &args.services)?;
    if services.is_empty() {
        // Only services of profiles not enabled that run nowhere.
        return Ok(ExitCode::SUCCESS);
    }
    let client = daemon_client::connect(&settings.paths)?;
    let instances = project_ref::instances(&client, &name)?;
    if instances.is_empty() {
        settings
            .printer
            .info(&format!("project {name} is not running"));
        return Ok(ExitCode::SUCCESS);
    }
    if args.volumes {
        // Asked of the engine, which alone knows them (no engine: no containers).
        let containers = match BlockingEngine::connect() {
            Ok(engine) => engine.project_containers(&name)?,
            Err(_) => Vec::new(),
        };
        let anonymous: Vec<String> = containers
            .iter()
            .filter(|c| !c.one_off && services.contains(&c.service))
            .flat_map(|c| {
                c.anonymous_volumes()
                    .map(|m| format!("{m} (mounted by {})", c.name))
            })
            .collect();
        if !anonymous.is_empty()
            && !args.yes
            && !confirm(
                "This deletes the data of these anonymous volumes:",
                &anonymous,
                "Delete them?",
                "deleting volumes needs confirmation: run again with --yes",
            )?
        {
            settings.printer.info("nothing was stopped or deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let request = ServicesRequest {
        services,
        timeout_s: args.timeout,
        volumes: args.volumes,
        ..ServicesRequest::default()
    };
    let stopped: ServicesResponse = client.post(&endpoint(&name, "stop"), &request)?;
    for note in &stopped.notes {
        settings.printer.warn(note);
    }
    let removed: ServicesResponse = client.post(&endpoint(&name, "rm"), &request)?;
    for instance in &removed.removed {
        settings.printer.info(&format!("removed {instance}"));
    }
    if project_ref::instances(&client, &name)?.is_empty() {
        let _: DownResponse = client.post(
            &endpoint(&name, "down"),
            &DownRequest {
                volumes: false,
                timeout_s: args.timeout,
            },
        )?;
        settings
            .printer
            .info(&format!("project {name} is down: nothing of it was left"));
    }
    Ok(ExitCode::SUCCESS)
}

/// What `stop` and `rm` answer: what the user should hear, and what went.
#[derive(serde::Deserialize)]
struct ServicesResponse {
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

/// `--rmi`: the images of the file's services, after the containers are gone; without
/// `all`, only those built under the project's own name (no `image:` of their own).
fn remove_images(settings: &Settings, all: bool) -> anyhow::Result<()> {
    let loaded = project_ref::load(settings)?;
    let containers = crate::service_backends::containers(settings, &loaded, settings.backend);
    if containers.is_empty() {
        return Ok(());
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let mut images: Vec<String> = loaded
        .project
        .services
        .iter()
        .filter(|(_, service)| all || service.image.is_empty())
        .map(|(name, service)| wharf_runtime::image_name(&loaded.project, name, service))
        .collect();
    images.sort();
    images.dedup();
    for image in images {
        if engine.remove_image(&image)? {
            settings.printer.info(&format!("removed image {image}"));
        }
    }
    Ok(())
}

/// Database snapshots live in their server's data: a volume's deletion takes them.
fn snapshots_note(paths: &Paths, project: &str) -> Option<String> {
    let recorded = wharf_databases::SnapshotStore::new(&paths.project_data(project))
        .list()
        .map_or(0, |snapshots| snapshots.len());
    (recorded > 0).then(|| {
        format!(
            "with them, the database snapshots kept in them ({recorded} recorded: wharf db snapshots)"
        )
    })
}

fn volume_dirs(paths: &Paths, project: &str) -> Vec<PathBuf> {
    let root = paths.project_data(project).join("volumes");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

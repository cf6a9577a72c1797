//! `wharf build`, `pull`, `push` and `images`: the project's images, through the
//! engine's API. Built images get Compose's name (`<project>-<service>` when the
//! service names none) and labels (`image_build`).

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::bail;
use wharf_engine::BlockingEngine;
use wharf_manifest::Loaded;
use wharf_model::Service;

use crate::cli::{BuildArgs, ComposeFormat, ImagesArgs, PullArgs, PushArgs};
use crate::image_build::{BuildOptions, build_service};
use crate::output::aligned_table;
use crate::printer::Printer;
use crate::project_ref;
use crate::settings::Settings;
use wharf_runtime::image_name;

/// The named services (all when none are), with what they depend on when asked.
fn chosen<'a>(
    loaded: &'a Loaded,
    services: &[String],
    with_dependencies: bool,
) -> anyhow::Result<Vec<(&'a String, &'a Service)>> {
    for name in services {
        if !loaded.project.services.contains_key(name) {
            bail!("no such service: {name}");
        }
    }
    let wanted: BTreeSet<&str> = if with_dependencies {
        loaded.project.with_dependencies(services)
    } else {
        services.iter().map(String::as_str).collect()
    };
    Ok(loaded
        .project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || wanted.contains(name.as_str()))
        .map(|(name, service)| (name, &**service))
        .collect())
}

pub fn build(settings: &Settings, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load_naming(settings, &args.services)?;
    let built: Vec<_> = chosen(&loaded, &args.services, args.with_dependencies)?
        .into_iter()
        .filter(|(_, service)| service.build.is_some())
        .collect();
    let options = BuildOptions {
        no_cache: args.no_cache,
        pull: args.pull,
        args: args.arguments.clone(),
        memory: args.memory.clone(),
    };
    if args.print {
        let names: Vec<String> = built.iter().map(|(name, _)| (*name).clone()).collect();
        let bake = crate::bake_file::bake_file(&loaded.project, &names, &options, args.push);
        println!("{}", serde_json::to_string_pretty(&bake)?);
        return Ok(ExitCode::SUCCESS);
    }
    if built.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let quiet = Printer::new(0, true);
    let printer = if args.quiet {
        &quiet
    } else {
        &settings.printer
    };
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    for (name, service) in &built {
        build_service(&engine, &loaded, name, service, &options, printer)?;
    }
    if args.push {
        push_each(&engine, &built, false, printer)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `wharf pull`: each service's image through the engine's API, its progress shown
/// as the engine reports it.
pub fn pull(settings: &Settings, args: &PullArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load_naming(settings, &args.services)?;
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let quiet = Printer::new(0, true);
    let printer = if args.quiet {
        &quiet
    } else {
        &settings.printer
    };
    let only_missing = args.policy.as_deref() == Some("missing");
    let mut failed = Vec::new();
    for (name, service) in chosen(&loaded, &args.services, args.include_deps)? {
        // Built here, nothing to pull; or left to its build when asked.
        if service.image.is_empty() || (args.ignore_buildable && service.build.is_some()) {
            continue;
        }
        if only_missing && engine.inspect_image(&service.image)?.is_some() {
            continue;
        }
        printer.info(&format!("pulling {name} ({})", service.image));
        if let Err(err) = engine.pull(&service.image, |line| {
            printer.info(&format!("  {line}"));
        }) {
            failed.push(format!("{}: {err}", service.image));
        }
    }
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let said = format!("could not pull:\n  {}", failed.join("\n  "));
    if args.ignore_pull_failures {
        settings.printer.warn(&said);
        return Ok(ExitCode::SUCCESS);
    }
    bail!("{said}")
}

/// `wharf push`: each built service's image to its registry, through the engine's API.
pub fn push(settings: &Settings, args: &PushArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load_naming(settings, &args.services)?;
    let pushed = chosen(&loaded, &args.services, args.include_deps)?;
    let quiet = Printer::new(0, true);
    let printer = if args.quiet {
        &quiet
    } else {
        &settings.printer
    };
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    push_each(&engine, &pushed, args.ignore_push_failures, printer)?;
    Ok(ExitCode::SUCCESS)
}

/// Pushes the images of those of `services` that build one and name it; with
/// `keep_going`, a failure is said and the others are still pushed.
pub fn push_each(
    engine: &BlockingEngine,
    services: &[(&String, &Service)],
    keep_going: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    for (name, service) in services {
        if service.build.is_none() || service.image.is_empty() {
            continue;
        }
        printer.info(&format!("pushing {name} ({})", service.image));
        if let Err(err) = engine.push(&service.image, |line| {
            printer.info(&format!("  {line}"));
        }) {
            if !keep_going {
                return Err(err.into());
            }
            printer.warn(&format!("could not push {}: {err}", service.image));
        }
    }
    Ok(())
}

pub fn images(settings: &Settings, args: &ImagesArgs) -> anyhow::Result<ExitCode> {
    let format = &args.format.format;
    let loaded = project_ref::load(settings)?;
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    // Compose's columns.
    let mut rows = vec![
        [
            "CONTAINER",
            "REPOSITORY",
            "TAG",
            "PLATFORM",
            "IMAGE ID",
            "SIZE",
            "CREATED",
        ]
        .map(str::to_owned),
    ];
    let mut listed = Vec::new();
    for (name, service) in chosen(&loaded, &args.services, false)? {
        let image = image_name(&loaded.project, name, service);
        let Some(found) = engine.inspect_image(&image)? else {
            continue;
        };
        let id = found
            .id
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("sha256:");
        let size = found.size.unwrap_or(0);
        // Compose's fields, as its `images --format json` prints them; wharf's under `wharf`.
        let (repository, tag) = match image.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((repository, tag)) => (repository, tag),
            None => (image.as_str(), "latest"),
        };
        let container = if service.container_name.is_empty() {
            format!("{}-{name}-1", loaded.project.name)
        } else {
            service.container_name.clone()
        };
        let platform = format!(
            "{}/{}",
            found.os.as_deref().unwrap_or_default(),
            found.architecture.as_deref().unwrap_or_default()
        );
        // As Compose's column dates it: when the image was last tagged here.
        let tagged = found
            .metadata
            .as_ref()
            .and_then(|m| m.last_tag_time.clone())
            .filter(|time| !time.starts_with("0001-"));
        let created = tagged
            .as_deref()
            .or(found.created.as_deref())
            .and_then(wharf_api::rfc3339_ms)
            .map(|at| {
                format!(
                    "{} ago",
                    wharf_api::human_duration(wharf_api::now_ms().saturating_sub(at))
                )
            })
            .unwrap_or_default();
        rows.push([
            container.clone(),
            repository.to_owned(),
            tag.to_owned(),
            platform.clone(),
            id.chars().take(12).collect(),
            crate::output::image_size(size.try_into().unwrap_or(0)),
            created,
        ]);
        listed.push(serde_json::json!({
            "ID": found.id.clone().unwrap_or_default(),
            "ContainerName": container,
            "Repository": repository,
            "Tag": tag,
            "Platform": platform,
            "Size": size,
            // As the engine dates it; Go's zero time for an image never tagged here.
            "LastTagTime": found
                .metadata
                .as_ref()
                .and_then(|m| m.last_tag_time.clone())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_owned()),
            "wharf": {"service": name, "image": image, "id": id, "size": size},
        }));
    }
    if args.quiet {
        // Each image once, as Compose's, however many services use it.
        let mut ids: Vec<&str> = listed
            .iter()
            .filter_map(|i| i["wharf"]["id"].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            println!("{id}");
        }
    } else if let ComposeFormat::Template(template) = format {
        print!(
            "{}",
            template.render_headed(&listed, &[("ID", "IMAGE ID")])?
        );
    } else if *format == ComposeFormat::Json {
        println!("{}", serde_json::to_string(&listed)?);
    } else {
        print!("{}", aligned_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

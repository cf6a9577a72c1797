//! `wharf build`, `pull`, `push` and `images`: the project's images, through the
//! engine's API. Built images get Compose's name (`<project>-<service>` when the
//! service names none) and labels (`image_build`).

use std::process::ExitCode;

use anyhow::bail;
use wharf_engine::BlockingEngine;
use wharf_manifest::Loaded;
use wharf_model::Service;

use crate::cli::{BuildArgs, ImagesArgs, ListFormat, ServicesArgs};
use crate::image_build::build_service;
use crate::output::aligned_table;
use crate::project_ref;
use crate::settings::Settings;
use wharf_runtime::image_name;

fn chosen<'a>(
    loaded: &'a Loaded,
    services: &[String],
) -> anyhow::Result<Vec<(&'a String, &'a Service)>> {
    for name in services {
        if !loaded.project.services.contains_key(name) {
            bail!("no such service: {name}");
        }
    }
    Ok(loaded
        .project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .collect())
}

pub fn build(settings: &Settings, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let built: Vec<_> = chosen(&loaded, &args.services)?
        .into_iter()
        .filter(|(_, service)| service.build.is_some())
        .collect();
    if built.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    for (name, service) in built {
        build_service(
            &engine,
            &loaded,
            name,
            service,
            args.no_cache,
            args.pull,
            &settings.printer,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `wharf pull`: each service's image through the engine's API, its progress shown
/// as the engine reports it.
pub fn pull(settings: &Settings, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let mut failed = Vec::new();
    for (name, service) in chosen(&loaded, &args.services)? {
        if service.image.is_empty() {
            continue; // built here, nothing to pull
        }
        settings
            .printer
            .info(&format!("pulling {name} ({})", service.image));
        if let Err(err) = engine.pull(&service.image, |line| {
            settings.printer.info(&format!("  {line}"));
        }) {
            failed.push(format!("{}: {err}", service.image));
        }
    }
    if !failed.is_empty() {
        bail!("could not pull:\n  {}", failed.join("\n  "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `wharf push`: each built service's image to its registry, through the engine's API.
pub fn push(settings: &Settings, args: &ServicesArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let pushed: Vec<_> = chosen(&loaded, &args.services)?
        .into_iter()
        .filter(|(_, service)| service.build.is_some() && !service.image.is_empty())
        .collect();
    if pushed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    for (name, service) in pushed {
        settings
            .printer
            .info(&format!("pushing {name} ({})", service.image));
        engine.push(&service.image, |line| {
            settings.printer.info(&format!("  {line}"));
        })?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn images(settings: &Settings, args: &ImagesArgs) -> anyhow::Result<ExitCode> {
    let format = args.format.format;
    let loaded = project_ref::load(settings)?;
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let mut rows = vec![["SERVICE", "IMAGE", "IMAGE ID", "SIZE"].map(str::to_owned)];
    let mut listed = Vec::new();
    for (name, service) in chosen(&loaded, &args.services)? {
        let image = image_name(&loaded.project.name, name, service);
        let Some(found) = engine.inspect_image(&image)? else {
            continue;
        };
        let id = found
            .id
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches("sha256:");
        let size = found.size.unwrap_or(0);
        listed.push(serde_json::json!({"service": name, "image": image, "id": id, "size": size}));
        rows.push([
            name.clone(),
            image,
            id.chars().take(12).collect(),
            format!("{:.1}MB", size as f64 / 1e6),
        ]);
    }
    if args.quiet {
        for image in &listed {
            println!("{}", image["id"].as_str().unwrap_or_default());
        }
    } else if format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else {
        print!("{}", aligned_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

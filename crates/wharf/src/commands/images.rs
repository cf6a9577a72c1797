//! `wharf build`, `pull`, `push` and `images`: the project's images, through the
//! Docker CLI, which streams the engine's progress as it comes. Built images get
//! Compose's name (`<project>-<service>` when the service names none) and labels.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use wharf_engine::BlockingEngine;
use wharf_manifest::Loaded;
use wharf_model::Service;

use crate::cli::{BuildArgs, GlobalArgs, ImagesArgs, ListFormat, ServicesArgs};
use crate::output::aligned_table;
use crate::printer::Printer;
use crate::project_ref;
use wharf_runtime::{COMPOSE_VERSION, image_name};

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

fn docker(args: &[String], what: &str) -> anyhow::Result<()> {
    let status = Command::new("docker")
        .args(args)
        .status()
        .context("this needs the docker CLI (Debian: apt-get install docker.io)")?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

pub fn build(global: &GlobalArgs, args: &BuildArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(global, printer)?;
    for (name, service) in chosen(&loaded, &args.services)? {
        if service.build.is_some() {
            build_service(&loaded, name, service, args.no_cache, args.pull, printer)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds one service's image as `docker compose build` would.
pub fn build_service(
    loaded: &Loaded,
    name: &str,
    service: &Service,
    no_cache: bool,
    pull: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    let Some(build) = &service.build else {
        return Ok(());
    };
    let project = &loaded.project.name;
    let image = image_name(project, name, service);
    printer.info(&format!("building {name} as {image}"));
    let mut argv: Vec<String> = vec!["build".into(), "-t".into(), image];
    for tag in &build.tags {
        argv.extend(["-t".into(), tag.clone()]);
    }
    // An inline Dockerfile is written beside the build, as Compose hands it to the builder.
    let inline = tempfile::NamedTempFile::new()?;
    if build.dockerfile_inline.is_empty() {
        let dockerfile = Path::new(&build.context).join(&build.dockerfile);
        argv.extend(["-f".into(), dockerfile.display().to_string()]);
    } else {
        std::fs::write(inline.path(), &build.dockerfile_inline)?;
        argv.extend(["-f".into(), inline.path().display().to_string()]);
    }
    for (key, value) in &build.args {
        if let Some(value) = value {
            argv.extend(["--build-arg".into(), format!("{key}={value}")]);
        }
    }
    let mut labels = build.labels.clone();
    labels.insert("com.docker.compose.project".into(), project.clone());
    labels.insert("com.docker.compose.service".into(), name.to_owned());
    labels.insert(
        "com.docker.compose.version".into(),
        COMPOSE_VERSION.to_owned(),
    );
    if let Some(hash) = crate::requirements::hash(loaded, service)? {
        labels.insert(crate::requirements::IMAGE_LABEL.into(), hash);
    }
    for (key, value) in labels {
        argv.extend(["--label".into(), format!("{key}={value}")]);
    }
    if !build.target.is_empty() {
        argv.extend(["--target".into(), build.target.clone()]);
    }
    if !build.network.is_empty() {
        argv.extend(["--network".into(), build.network.clone()]);
    }
    for (host, addresses) in &build.extra_hosts {
        for address in addresses {
            argv.extend(["--add-host".into(), format!("{host}:{address}")]);
        }
    }
    if no_cache || build.no_cache {
        argv.push("--no-cache".into());
    }
    if pull || build.pull {
        argv.push("--pull".into());
    }
    argv.push(build.context.clone());
    docker(&argv, &format!("building {name}"))
}

pub fn pull(
    global: &GlobalArgs,
    args: &ServicesArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(global, printer)?;
    let mut failed = Vec::new();
    for (name, service) in chosen(&loaded, &args.services)? {
        if service.image.is_empty() {
            continue; // built here, nothing to pull
        }
        printer.info(&format!("pulling {name} ({})", service.image));
        if docker(&["pull".into(), service.image.clone()], "pull").is_err() {
            failed.push(service.image.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "could not pull {}: no registry answered for them, or they do not exist",
            failed.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn push(
    global: &GlobalArgs,
    args: &ServicesArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(global, printer)?;
    for (name, service) in chosen(&loaded, &args.services)? {
        if service.build.is_some() && !service.image.is_empty() {
            printer.info(&format!("pushing {name} ({})", service.image));
            docker(
                &["push".into(), service.image.clone()],
                &format!("pushing {}", service.image),
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn images(
    global: &GlobalArgs,
    args: &ImagesArgs,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let format = args.format.format;
    let loaded = project_ref::load(global, printer)?;
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
    if format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else {
        print!("{}", aligned_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

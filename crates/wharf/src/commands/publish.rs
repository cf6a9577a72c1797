//! `wharf publish REPOSITORY[:TAG]`: the project's compose files as an OCI artifact in
//! a registry, as `docker compose publish` makes it, so `docker compose -f oci://…`
//! (or a teammate's wharf) runs the same project. The images services build are pushed
//! first. Nothing that could leak goes without a yes: environment needs `--with-env`,
//! bind mounts and values that look secret are asked about (or `-y`). `--app` copies
//! the services' images into the repository beside the project.

use std::process::ExitCode;

use anyhow::bail;
use wharf_manifest::Loaded;
use wharf_registry::{OciVersion, Reference};

use crate::cli::{Format, PublishArgs};
use crate::commands::{config, images};
use crate::confirm::confirm;
use crate::printer::Printer;
use crate::project_ref;
use crate::published_files::{PublishedFiles, published_files};
use crate::secrets::{known_tokens, mask_secret};
use crate::settings::Settings;
use crate::sigpipe;

pub fn run(settings: &Settings, args: &PublishArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.repository)?;
    let mut options = project_ref::load_options(settings, true, &[])?;
    // Every service is published, whatever profile it is in.
    options.profiles = vec!["*".to_owned()];
    let mut loaded = wharf_manifest::load(&options)?;
    for warning in &loaded.warnings {
        settings.printer.warn(warning);
    }
    refuse_build_only(&loaded)?;
    let mut files = published_files(&loaded, args.with_env)?;
    if !ask(
        &loaded,
        &files,
        args,
        settings.global.dry_run,
        &settings.printer,
    )? {
        settings.printer.info("nothing was published");
        return Ok(ExitCode::from(1));
    }
    let built: Vec<_> = loaded
        .project
        .services
        .iter()
        .filter(|(_, service)| service.build.is_some())
        .map(|(name, service)| (name, &**service))
        .collect();
    // The images copied with the project are the ones its file pins, as Compose does.
    let pin = args.resolve_image_digests || args.app;
    if settings.global.dry_run {
        say_plan(settings, &reference, &files, &built, pin);
        if args.app {
            for (name, service) in &loaded.project.services {
                settings.printer.info(&format!(
                    "dry run: would copy {name}'s image ({}) into {}/{}",
                    service.image, reference.registry, reference.repository
                ));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // As Compose: an image that cannot be pushed is said, and the project published.
    if !built.is_empty() {
        match wharf_engine::BlockingEngine::connect() {
            Ok(engine) => images::push_each(&engine, &built, true, &settings.printer)?,
            Err(err) => settings.printer.warn(&format!(
                "the images services build were not pushed: {}",
                wharf_engine::EngineError::from(err)
            )),
        }
    }
    if pin {
        config::pin_image_digests(&mut loaded.project)?;
        let pinned = config::image_lock(&loaded.project, Format::Yaml)?;
        files.layers.push(wharf_registry::Layer::compose_file(
            "image-digests.yaml",
            pinned.into_bytes(),
        ));
    }
    let version = match args.oci_version.as_deref() {
        Some("1.0") => Some(OciVersion::V1_0),
        Some(_) => Some(OciVersion::V1_1),
        None => None,
    };
    settings.printer.info(&format!("publishing {reference}"));
    let created = format!("{}Z", &wharf_api::utc_text(wharf_api::now_ms())[..19]);
    let published = sigpipe::as_errors_while(|| {
        wharf_registry::publish(&reference, &files.layers, version, &created)
    })?;
    let version = match published.version {
        OciVersion::V1_0 => "OCI 1.0",
        OciVersion::V1_1 => "OCI 1.1",
    };
    let count = files.layers.len();
    settings.printer.info(&format!(
        "published {reference} ({}): {count} file{}, {version}",
        published.digest,
        crate::output::plural(count)
    ));
    if args.app {
        publish_images(settings, &reference, &loaded, &published)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--app`: each service's image (as pinned) copied into the repository, and the index
/// of them that names the project.
fn publish_images(
    settings: &Settings,
    reference: &Reference,
    loaded: &Loaded,
    published: &wharf_registry::Published,
) -> anyhow::Result<()> {
    let services: Vec<(&String, &String)> = loaded
        .project
        .services
        .iter()
        .map(|(name, service)| (name, &service.image))
        .collect();
    let images = loaded
        .project
        .services
        .values()
        .map(|service| Reference::parse(&service.image))
        .collect::<Result<Vec<_>, _>>()?;
    settings.printer.info(&format!(
        "copying the services' images into {}/{}",
        reference.registry, reference.repository
    ));
    let index = sigpipe::as_errors_while(|| {
        wharf_registry::publish_images(reference, &images, published, |place, took| {
            let (service, image) = services[place];
            settings
                .printer
                .info(&format!("  {service}: {image}: {}", image_copy_text(took)));
        })
    })?;
    let count = images.len();
    settings.printer.info(&format!(
        "published the index of {count} image{} as {}/{}@{index}",
        crate::output::plural(count),
        reference.registry,
        reference.repository
    ));
    Ok(())
}

/// `12.3MiB copied in 2 blobs, 1 blob mounted from the same registry`: what copying
/// an image took.
fn image_copy_text(took: &wharf_registry::ImageCopy) -> String {
    let blobs = |count: usize| format!("{count} blob{}", crate::output::plural(count));
    let mut parts = Vec::new();
    if took.copied > 0 {
        parts.push(format!(
            "{} copied in {}",
            crate::output::human_size(took.copied_bytes),
            blobs(took.copied)
        ));
    }
    if took.mounted > 0 {
        parts.push(format!(
            "{} mounted from the same registry",
            blobs(took.mounted)
        ));
    }
    if took.present > 0 {
        parts.push(format!("{} there already", blobs(took.present)));
    }
    parts.join(", ")
}

/// A service that only builds has no image to name in the artifact.
fn refuse_build_only(loaded: &Loaded) -> anyhow::Result<()> {
    let build_only: Vec<&str> = loaded
        .project
        .services
        .iter()
        .filter(|(_, service)| service.build.is_some() && service.image.is_empty())
        .map(|(name, _)| name.as_str())
        .collect();
    if !build_only.is_empty() {
        bail!(
            "cannot publish: {} only build{} an image and name{} none; give each an `image:` to push it under",
            build_only.join(", "),
            if build_only.len() == 1 { "s" } else { "" },
            if build_only.len() == 1 { "s" } else { "" },
        );
    }
    Ok(())
}

/// The environment goes only with `--with-env`; with it, and for bind mounts and what
/// looks like a key, the user says yes (or `-y` does). False when the user says no.
fn ask(
    loaded: &Loaded,
    files: &PublishedFiles,
    args: &PublishArgs,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<bool> {
    let mut declared = Vec::new();
    for (name, service) in &loaded.project.services {
        if files.env_files.contains_key(name) {
            declared.push(format!("service {name:?} has env_file declared"));
        }
        if !service.environment.is_empty() {
            declared.push(format!(
                "service {name:?} has environment variable(s) declared"
            ));
        }
    }
    for (name, config) in &loaded.project.configs {
        if !config.environment.is_empty() {
            declared.push(format!(
                "config {name:?} is declared from an environment variable"
            ));
        }
    }
    if !declared.is_empty() && !args.with_env {
        bail!(
            "{}\nthe artifact would carry them: publish them with --with-env, or take them out of the compose files",
            declared.join("\n")
        );
    }
    // (what is asked about, the items, the question): asked when there are items.
    let mut questions: Vec<(&str, Vec<String>, &str)> = Vec::new();
    let binds: Vec<String> = loaded
        .project
        .services
        .iter()
        .flat_map(|(name, service)| {
            service
                .volumes
                .iter()
                .filter(|mount| mount.kind == "bind")
                .map(move |mount| format!("{name}: {} → {}", mount.source, mount.target))
        })
        .collect();
    questions.push((
        "the artifact declares these bind mounts (the paths, not their contents): make sure none is a user's private directory",
        binds,
        "Publish these bind mounts?",
    ));
    let environment: Vec<String> = loaded
        .project
        .services
        .iter()
        .filter(|(_, service)| !service.environment.is_empty())
        .map(|(name, service)| {
            let names: Vec<String> = service
                .environment
                .iter()
                .map(|(key, value)| {
                    let value = value.as_deref().unwrap_or_default();
                    if mask_secret(key, value) == value {
                        key.clone()
                    } else {
                        format!("{key} (looks secret)")
                    }
                })
                .collect();
            format!("{name}: {}", names.join(", "))
        })
        .collect();
    questions.push((
        "the artifact carries this environment, values included:",
        environment,
        "Publish this environment?",
    ));
    let tokens: Vec<String> = files
        .layers
        .iter()
        .zip(&files.origins)
        .flat_map(|(layer, origin)| {
            let shown = origin.strip_prefix(&loaded.project_dir).unwrap_or(origin);
            known_tokens(&String::from_utf8_lossy(&layer.data))
                .into_iter()
                .map(move |(line, what)| format!("{}:{line}: {what}", shown.display()))
        })
        .collect();
    questions.push((
        "these files hold what looks like a credential:",
        tokens,
        "Publish them?",
    ));
    for (heading, items, question) in questions {
        if items.is_empty() {
            continue;
        }
        // A dry run says what it would ask, and goes on as if the answer were yes.
        if dry_run {
            printer.info(&format!("dry run: {heading}"));
            for item in &items {
                printer.info(&format!("  {item}"));
            }
            printer.info(&format!("dry run: would ask {question:?}"));
            continue;
        }
        if !args.yes
            && !confirm(
                heading,
                &items,
                question,
                "nothing was published: answer yes with -y",
            )?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

fn say_plan(
    settings: &Settings,
    reference: &Reference,
    files: &PublishedFiles,
    built: &[(&String, &wharf_model::Service)],
    pinned: bool,
) {
    for (name, service) in built {
        settings
            .printer
            .info(&format!("dry run: would push {name} ({})", service.image));
    }
    settings
        .printer
        .info(&format!("dry run: would publish {reference} with:"));
    for layer in &files.layers {
        settings.printer.info(&format!(
            "  {} ({} bytes, {})",
            layer.name(),
            layer.data.len(),
            layer.media_type
        ));
    }
    if pinned {
        settings.printer.info(
            "  image-digests.yaml (each image pinned to its digest in its registry at the time)",
        );
    }
}

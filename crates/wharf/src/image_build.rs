//! Building a service's image as `docker compose build` does (Compose's name, labels
//! and build options), through the Docker CLI, which streams the engine's progress.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use wharf_manifest::Loaded;
use wharf_model::Service;

use crate::printer::Printer;
use wharf_runtime::{COMPOSE_VERSION, image_name};

pub fn docker(args: &[String], what: &str) -> anyhow::Result<()> {
    let status = Command::new("docker")
        .args(args)
        .status()
        .context("this needs the docker CLI (Debian: apt-get install docker.io)")?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
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

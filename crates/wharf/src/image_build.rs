//! Building a service's image as `docker compose build` does (Compose's name, labels
//! and build options), through the engine's API, its progress shown as the engine
//! prints it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::bail;
use wharf_engine::{BlockingEngine, BuildContext, BuildRequest, Dockerfile};
use wharf_manifest::Loaded;
use wharf_model::{Build, Service};

use crate::printer::Printer;
use wharf_runtime::{COMPOSE_VERSION, image_name};

/// What the command line adds to the file's `build` sections.
#[derive(Debug, Default)]
pub struct BuildOptions {
    pub no_cache: bool,
    pub pull: bool,
    /// `KEY=VALUE`, or `KEY` for the value in this environment (`--build-arg`).
    pub args: Vec<String>,
    /// The build's memory limit (`-m 512m`).
    pub memory: Option<String>,
}

/// The labels Compose gives a service's image: the file's, and whose it is.
pub fn image_labels(project: &str, service: &str, build: &Build) -> BTreeMap<String, String> {
    let mut labels = build.labels.clone();
    labels.insert("com.docker.compose.project".into(), project.to_owned());
    labels.insert("com.docker.compose.service".into(), service.to_owned());
    labels.insert(
        "com.docker.compose.version".into(),
        COMPOSE_VERSION.to_owned(),
    );
    labels
}

/// The build's arguments: the file's that have a value, then `--build-arg`'s.
pub fn build_arguments(build: &Build, options: &BuildOptions) -> BTreeMap<String, String> {
    build
        .args
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), value.clone()?)))
        .chain(
            options
                .args
                .iter()
                .filter_map(|arg| match arg.split_once('=') {
                    Some((key, value)) => Some((key.to_owned(), value.to_owned())),
                    // As Compose: a bare KEY takes this environment's value, if any.
                    None => std::env::var(arg).ok().map(|value| (arg.clone(), value)),
                }),
        )
        .collect()
}

/// Builds one service's image as `docker compose build` would, on `engine`.
pub fn build_service(
    engine: &BlockingEngine,
    loaded: &Loaded,
    name: &str,
    service: &Service,
    options: &BuildOptions,
    printer: &Printer,
) -> anyhow::Result<()> {
    let Some(build) = &service.build else {
        return Ok(());
    };
    let context_dir = build.context_dir();
    if context_dir.contains("://") || context_dir.starts_with("git@") {
        bail!(
            "building {name}: a remote build context ({context_dir}) is not supported; clone it and point `build.context` at the clone"
        );
    }
    let project = &loaded.project.name;
    let image = image_name(&loaded.project, name, service);
    printer.info(&format!("building {name} as {image}"));
    let dockerfile = match build.inline_dockerfile() {
        Some(text) => Dockerfile::Inline(text.to_owned()),
        None => Dockerfile::File(build.dockerfile_path().into()),
    };
    let context = BuildContext::new(Path::new(context_dir), dockerfile)
        .map_err(|err| anyhow::anyhow!("building {name}: {err}"))?;
    let mut labels: HashMap<String, String> =
        image_labels(project, name, build).into_iter().collect();
    if let Some(hash) = crate::requirements::hash(loaded, service)? {
        labels.insert(crate::requirements::IMAGE_LABEL.into(), hash);
    }
    let request = BuildRequest {
        tags: std::iter::once(image)
            .chain(build.tags.iter().cloned())
            .collect(),
        args: build_arguments(build, options).into_iter().collect(),
        labels,
        target: build.target.clone(),
        network: build.network.clone(),
        extra_hosts: build
            .extra_hosts
            .iter()
            .flat_map(|(host, addresses)| addresses.iter().map(move |a| format!("{host}:{a}")))
            .collect(),
        no_cache: options.no_cache || build.no_cache,
        pull: options.pull || build.pull,
        memory: options
            .memory
            .as_deref()
            .map(|text| {
                let bytes = wharf_model::UnitBytes::parse(text)
                    .map_err(|err| anyhow::anyhow!("--memory {text}: {err}"))?;
                i32::try_from(bytes.0).map_err(|_| {
                    anyhow::anyhow!("--memory {text}: the engine's build API takes at most 2 GiB")
                })
            })
            .transpose()?,
    };
    let image = request.tags[0].clone();
    match engine.build(context, &request, |line| printer.info(&format!("  {line}"))) {
        Ok(_) => Ok(()),
        // The engine's classic builder is what its API offers without a BuildKit session.
        Err(err) if err.to_string().contains("BuildKit") => bail!(
            "building {name}: {err}\nhint: this Dockerfile needs BuildKit, which wharf's builds do not speak yet; `DOCKER_BUILDKIT=1 docker build -t {image} {}` builds it, and `wharf up` then uses that image",
            build.context_dir()
        ),
        Err(err) => bail!("building {name}: {err}"),
    }
}

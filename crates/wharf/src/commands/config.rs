//! `wharf config`: load the project and print it normalized, or one listing of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use wharf_manifest::Loaded;

use crate::cli::{ConfigArgs, Format};
use crate::output;
use crate::project_ref::load_options;
use crate::secrets::mask_secret;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    // The variables are listed as written, unset or not, as Compose lists them.
    let interpolate = !args.no_interpolate && !args.variables;
    let mut options = load_options(settings, interpolate, &args.services)?;
    options.keep_env_files = args.hash.is_some();
    options.collect_variables = args.variables;
    // As Compose's: what is not interpolated is not checked for consistency either.
    options.skip_consistency = args.no_consistency || !interpolate;
    options.keep_relative_paths = args.no_path_resolution;
    options.skip_normalization = args.no_normalize || settings.global.compatibility;
    let mut loaded = wharf_manifest::load(&options)?;
    if args.resolve_image_digests || args.lock_image_digests {
        pin_image_digests(&mut loaded.project)?;
    }
    for warning in &loaded.warnings {
        settings.printer.warn(warning);
    }
    if (args.quiet || settings.global.quiet) && args.output.is_none() {
        std::mem::forget(loaded);
        return Ok(ExitCode::SUCCESS);
    }
    let text = if args.resolved {
        resolved(settings, &loaded, args)?
    } else if args.lock_image_digests {
        image_lock(&loaded.project, args.format)?
    } else {
        render(&loaded, args)?
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    // The process ends here: freeing a large project piece by piece is time spent on
    // nothing (a tenth of a 20,000-service `config`).
    std::mem::forget(loaded);
    Ok(ExitCode::SUCCESS)
}

/// `--resolve-image-digests`: each image as its registry has it now, through the
/// engine (which holds the credentials' use), as Compose pins them.
pub fn pin_image_digests(project: &mut wharf_model::Project) -> anyhow::Result<()> {
    let engine =
        wharf_engine::BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    for service in project.services.values_mut() {
        if !service.image.is_empty() {
            service.image = engine.pin_digest(&service.image)?;
        }
    }
    Ok(())
}

/// `--lock-image-digests`: an override file that pins every service's image, in
/// Compose's shape (a service without an image is there, empty).
pub fn image_lock(project: &wharf_model::Project, format: Format) -> anyhow::Result<String> {
    let services: serde_json::Map<String, serde_json::Value> = project
        .services
        .iter()
        .map(|(name, service)| {
            let mut pinned = serde_json::Map::new();
            if format == Format::Json {
                // Compose writes its whole service type: these two are never omitted.
                pinned.insert("command".to_owned(), serde_json::Value::Null);
                pinned.insert("entrypoint".to_owned(), serde_json::Value::Null);
            }
            if !service.image.is_empty() {
                pinned.insert("image".to_owned(), service.image.clone().into());
            }
            (name.clone(), pinned.into())
        })
        .collect();
    match format {
        Format::Json => output::to_json(&serde_json::json!({"name": "", "services": services})),
        Format::Yaml => Ok(wharf_manifest::to_yaml(
            &serde_json::json!({"services": services}),
        )?),
    }
}

/// What `wharf up` would run natively, service by service.
fn resolved(settings: &Settings, loaded: &Loaded, args: &ConfigArgs) -> anyhow::Result<String> {
    let volumes = settings
        .paths
        .project_data(&loaded.project.name)
        .join("volumes");
    let containers = crate::service_backends::containers(settings, loaded, settings.backend);
    let spec = wharf_runtime::project_spec(loaded, &BTreeMap::new(), &volumes, &containers)
        .map_err(|refused| anyhow::anyhow!(refused.as_read()))?;
    let mut services = serde_json::Map::new();
    for (name, service) in &spec.services {
        let shown = |environment: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            environment
                .iter()
                .map(|(key, value)| {
                    let shown = if args.show_secrets {
                        value.clone()
                    } else {
                        mask_secret(key, value)
                    };
                    (key.clone(), shown)
                })
                .collect()
        };
        // A password in a URL among the words (`psql postgres://app:…@db/app`).
        let words = |command: &[String]| -> Vec<String> {
            command
                .iter()
                .map(|word| {
                    if args.show_secrets {
                        word.clone()
                    } else {
                        mask_secret("", word)
                    }
                })
                .collect()
        };
        let hooks = |hooks: &[wharf_plan::HookSpec]| -> Vec<serde_json::Value> {
            hooks
                .iter()
                .map(|hook| {
                    serde_json::json!({"command": words(&hook.command), "user": hook.user,
                        "working_dir": hook.working_dir, "environment": shown(&hook.environment)})
                })
                .collect()
        };
        let ports: Vec<String> = service
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{}->{}", p.published, p.target))
            .collect();
        services.insert(
            name.clone(),
            serde_json::json!({
                "runs": service.origin,
                "command": words(&service.command),
                "working_dir": service.working_dir,
                "environment": shown(&service.environment),
                "ports": ports,
                "replicas": service.replicas,
                "depends_on": service.depends_on,
                "healthcheck": service.healthcheck.as_ref().map(|h| &h.probe),
                "post_start": hooks(&service.post_start),
                "pre_stop": hooks(&service.pre_stop),
            }),
        );
    }
    let value = serde_json::json!({ "name": spec.name, "services": services });
    match args.format {
        Format::Json => output::to_json(&value),
        Format::Yaml => Ok(wharf_manifest::to_yaml(&value)?),
    }
}

fn render(loaded: &Loaded, args: &ConfigArgs) -> anyhow::Result<String> {
    let project = &loaded.project;
    let lines = |items: Vec<String>| items.into_iter().map(|i| i + "\n").collect::<String>();
    if args.list_services {
        let names = project.services_in_dependency_order();
        return Ok(lines(names.into_iter().map(str::to_owned).collect()));
    }
    if args.volumes {
        return Ok(lines(project.volumes.keys().cloned().collect()));
    }
    if args.networks {
        return Ok(lines(project.networks.keys().cloned().collect()));
    }
    if args.models {
        return Ok(lines(
            project
                .models
                .values()
                .map(|model| model.model.clone())
                .collect(),
        ));
    }
    if args.profiles {
        return Ok(lines(loaded.profiles.iter().cloned().collect()));
    }
    if args.images {
        return Ok(lines(
            project
                .services
                .iter()
                .map(|(name, service)| wharf_runtime::image_name(project, name, service))
                .collect(),
        ));
    }
    if args.environment {
        let mut environment = loaded.environment.clone();
        environment.insert("COMPOSE_PROJECT_NAME".to_owned(), project.name.clone());
        return Ok(environment.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k}={v}");
            out
        }));
    }
    if args.variables {
        let rows = variable_rows(loaded);
        if args.format == Format::Json {
            return variables_json(&rows);
        }
        return Ok(variables_table(rows));
    }
    if let Some(wanted) = &args.hash {
        return hashes(project, wanted);
    }
    // The services asked for, what they depend on and what they use, as Compose
    // prints them.
    let cut;
    let project = if args.services.is_empty() {
        project
    } else {
        cut = wharf_manifest::only_services(project, &project.with_dependencies(&args.services));
        &cut
    };
    if args.format == Format::Json {
        return Ok(wharf_manifest::project_json(project, !args.no_interpolate)?);
    }
    Ok(wharf_manifest::project_yaml(project, !args.no_interpolate)?)
}

/// `name hash` per service, sorted by name.
fn hashes(project: &wharf_model::Project, wanted: &str) -> anyhow::Result<String> {
    let value = wharf_manifest::project_value(project, false)?;
    let services = value
        .get("services")
        .and_then(|s| s.as_object())
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = if wanted == "*" {
        services.keys().map(String::as_str).collect()
    } else {
        wanted.split(',').map(str::trim).collect()
    };
    let mut lines = Vec::new();
    for name in names {
        let service = services
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no such service: {name}"))?;
        lines.push(format!("{name} {}\n", wharf_runtime::config_hash(service)));
    }
    lines.sort();
    Ok(lines.concat())
}

/// Each variable the files use, by name: (required, default value, alternate value).
fn variable_rows(loaded: &Loaded) -> BTreeMap<&str, (bool, String, String)> {
    let mut rows: BTreeMap<&str, (bool, String, String)> = BTreeMap::new();
    for usage in &loaded.variables {
        let row = rows.entry(&usage.name).or_default();
        row.0 |= usage.required;
        if let Some(default) = &usage.default {
            row.1.clone_from(default);
        }
        if let Some(alternate) = &usage.alternate {
            row.2.clone_from(alternate);
        }
    }
    rows
}

/// `--variables --format json`, as Compose prints it: an object by name, indented by
/// four spaces.
fn variables_json(rows: &BTreeMap<&str, (bool, String, String)>) -> anyhow::Result<String> {
    let value: serde_json::Map<String, serde_json::Value> = rows
        .iter()
        .map(|(name, (required, default, alternate))| {
            let row = serde_json::json!({"Name": name, "DefaultValue": default,
                "PresenceValue": alternate, "Required": required});
            ((*name).to_owned(), row)
        })
        .collect();
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&value, &mut serializer)?;
    // Compose ends it with an empty line.
    Ok(String::from_utf8(out)? + "\n\n")
}

fn variables_table(rows: BTreeMap<&str, (bool, String, String)>) -> String {
    let mut table =
        vec![["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"].map(str::to_owned)];
    for (name, (required, default, alternate)) in rows {
        table.push([name.to_owned(), required.to_string(), default, alternate]);
    }
    output::aligned_table(&table)
}

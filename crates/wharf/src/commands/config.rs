//! `wharf config`: load the project and print it normalized, or one listing of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::process::ExitCode;

use anyhow::Context as _;
use wharf_manifest::{LoadOptions, Loaded};

use crate::cli::{ConfigArgs, Format, GlobalArgs};
use crate::output;
use crate::printer::Printer;

pub fn run(global: &GlobalArgs, args: &ConfigArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let mut options = load_options(global, !args.no_interpolate, &args.services)?;
    options.keep_env_files = args.hash.is_some();
    let loaded = wharf_manifest::load(&options)?;
    for warning in &loaded.warnings {
        printer.warn(warning);
    }
    if (args.quiet || global.quiet) && args.output.is_none() {
        return Ok(ExitCode::SUCCESS);
    }
    let text = if args.resolved {
        resolved(&loaded, args)?
    } else {
        render(&loaded, args)?
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Settings every project-reading command shares, from the flags and the shell.
pub fn load_options(
    global: &GlobalArgs,
    interpolate: bool,
    services: &[String],
) -> anyhow::Result<LoadOptions> {
    let stdin = if global.files.iter().any(|f| f.as_os_str() == "-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the compose file from standard input")?;
        Some(text)
    } else {
        None
    };
    Ok(LoadOptions {
        files: global.files.clone(),
        project_name: global.project_name.clone(),
        project_directory: global.project_directory.clone(),
        profiles: global.profiles.clone(),
        env_files: global.env_files.clone(),
        working_dir: std::env::current_dir().context("cannot read the current directory")?,
        shell: std::env::vars().collect(),
        interpolate,
        stdin,
        services: services.to_vec(),
        keep_env_files: false,
    })
}

/// What `wharf up` would run natively, service by service.
fn resolved(loaded: &Loaded, args: &ConfigArgs) -> anyhow::Result<String> {
    let volumes = wharf_api::Paths::from_env()
        .project_data(&loaded.project.name)
        .join("volumes");
    let containers = wharf_runtime::backend::containers(loaded, wharf_runtime::BackendChoice::Auto);
    let spec = wharf_runtime::project_spec(loaded, &BTreeMap::new(), &volumes, &containers)?;
    let mut services = serde_json::Map::new();
    for (name, service) in &spec.services {
        let environment: serde_json::Map<String, serde_json::Value> = service
            .environment
            .iter()
            .map(|(key, value)| {
                let shown = if args.show_secrets {
                    value.clone()
                } else {
                    mask_secret(key, value)
                };
                (key.clone(), serde_json::Value::String(shown))
            })
            .collect();
        let ports: Vec<String> = service
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{}->{}", p.published, p.target))
            .collect();
        services.insert(
            name.clone(),
            serde_json::json!({
                "runs": service.origin,
                "command": service.command,
                "working_dir": service.working_dir,
                "environment": environment,
                "ports": ports,
                "replicas": service.replicas,
                "depends_on": service.depends_on,
                "healthcheck": service.healthcheck.as_ref().map(|h| &h.probe),
            }),
        );
    }
    let value = serde_json::json!({ "name": spec.name, "services": services });
    match args.format {
        Format::Json => output::to_json(&value),
        Format::Yaml => Ok(output::to_yaml(&value)),
    }
}

/// Hides values that look secret: variables named like a password, token or key, and
/// the password in a URL (`postgres://user:…@db`).
pub fn mask_secret(key: &str, value: &str) -> String {
    const HIDDEN: &str = "********";
    let upper = key.to_ascii_uppercase();
    if ["PASSWORD", "SECRET", "TOKEN", "KEY", "PASS"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return HIDDEN.to_owned();
    }
    if let Some(scheme_end) = value.find("://") {
        let rest = &value[scheme_end + 3..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let start = scheme_end + 3 + colon + 1;
            let end = scheme_end + 3 + at;
            return format!("{}{HIDDEN}{}", &value[..start], &value[end..]);
        }
    }
    value.to_owned()
}

fn render(loaded: &Loaded, args: &ConfigArgs) -> anyhow::Result<String> {
    let project = &loaded.project;
    let lines = |items: Vec<String>| items.into_iter().map(|i| i + "\n").collect::<String>();
    if args.list_services {
        return Ok(lines(project.services.keys().cloned().collect()));
    }
    if args.volumes {
        return Ok(lines(project.volumes.keys().cloned().collect()));
    }
    if args.networks {
        return Ok(lines(project.networks.keys().cloned().collect()));
    }
    if args.profiles {
        return Ok(lines(loaded.profiles.iter().cloned().collect()));
    }
    if args.images {
        return Ok(lines(
            project
                .services
                .iter()
                .map(|(name, s)| {
                    if s.image.is_empty() {
                        format!("{}-{name}", project.name)
                    } else {
                        s.image.clone()
                    }
                })
                .collect(),
        ));
    }
    if args.environment {
        return Ok(loaded
            .environment
            .iter()
            .fold(String::new(), |mut out, (k, v)| {
                let _ = writeln!(out, "{k}={v}");
                out
            }));
    }
    if args.variables {
        return Ok(variables_table(loaded));
    }
    if let Some(wanted) = &args.hash {
        return hashes(project, wanted);
    }
    let mut value =
        wharf_manifest::project_value(project, !args.no_interpolate, args.format == Format::Json)?;
    if !args.services.is_empty()
        && let Some(services) = value.get_mut("services").and_then(|s| s.as_object_mut())
    {
        services.retain(|name, _| args.services.contains(name));
    }
    match args.format {
        Format::Json => output::to_json(&value),
        Format::Yaml => {
            output::yaml_shape(&mut value);
            Ok(output::to_yaml(&value))
        }
    }
}

/// `name hash` per service, sorted by name.
fn hashes(project: &wharf_model::Project, wanted: &str) -> anyhow::Result<String> {
    let value = wharf_manifest::project_value(project, false, true)?;
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

fn variables_table(loaded: &Loaded) -> String {
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
    let mut table =
        vec![["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"].map(str::to_owned)];
    for (name, (required, default, alternate)) in rows {
        table.push([name.to_owned(), required.to_string(), default, alternate]);
    }
    output::aligned_table(&table)
}

#[cfg(test)]
mod secret_tests {
    use super::mask_secret;

    #[test]
    fn secrets_are_masked_by_name_and_in_urls() {
        assert_eq!(mask_secret("POSTGRES_PASSWORD", "hunter2"), "********");
        assert_eq!(mask_secret("API_TOKEN", "abc"), "********");
        assert_eq!(
            mask_secret("DATABASE_URL", "postgres://shop:s3cret@127.0.0.1:5432/shop"),
            "postgres://shop:********@127.0.0.1:5432/shop"
        );
        assert_eq!(
            mask_secret("API_URL", "http://127.0.0.1:8010"),
            "http://127.0.0.1:8010"
        );
        assert_eq!(mask_secret("NOTE", "user@example.org"), "user@example.org");
    }
}

//! The project's documented variables (`x-wharf.env`), each with its value and where
//! that value comes from: what `env` lists and `check` checks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use wharf_manifest::Environment;

use crate::printer::Printer;
use crate::project_ref::load_options;
use crate::settings::Settings;

/// One documented variable as it stands.
pub struct Documented {
    pub name: String,
    pub value: Option<String>,
    /// `shell`, `.env`, `--env-file PATH`, `environment of SERVICE`, `env_file PATH`,
    /// `default`; `None` when unset.
    pub source: Option<String>,
    /// As `x-wharf.env` says it: `None` when unsaid.
    pub secret: Option<bool>,
    pub description: String,
    pub used_by: Vec<String>,
}

/// Every documented variable with its value and source, first source winning: the
/// shell, the project's `.env` (or `--env-file`s), a using service's `environment`,
/// its `env_file`s, the documented default.
/// The loader's warnings go to `printer`.
pub fn documented(settings: &Settings, printer: &Printer) -> anyhow::Result<Vec<Documented>> {
    let mut options = load_options(settings, true, &[])?;
    // Keep env_file unread, to tell its values from `environment`'s.
    options.keep_env_files = true;
    let loaded = wharf_manifest::load(&options)?;
    for warning in &loaded.warnings {
        printer.warn(warning);
    }
    let project_files: Vec<(String, PathBuf)> = if settings.global.env_files.is_empty() {
        Environment::default_env_files(&loaded.project_dir)
            .into_iter()
            .map(|path| (".env".to_owned(), path))
            .collect()
    } else {
        settings
            .global
            .env_files
            .iter()
            .map(|path| (format!("--env-file {}", path.display()), path.clone()))
            .collect()
    };
    let empty = BTreeMap::new();
    let mut project_values: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (label, path) in &project_files {
        for (key, value) in Environment::read_file(path, &empty)? {
            project_values.insert(key, (value, label.clone()));
        }
    }
    // What each using service sets, read once: its env_files (later ones win), then its
    // `environment`, which wins over them as in Compose. A variable that names no
    // `used_by` is looked for in every service.
    let documented = &loaded.project.wharf.env;
    let every_service: Vec<String> = loaded.project.services.keys().cloned().collect();
    let users = |doc: &wharf_model::x_wharf::EnvVar| -> Vec<String> {
        if doc.used_by.is_empty() {
            every_service.clone()
        } else {
            doc.used_by.clone()
        }
    };
    let mut service_values: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for service_name in documented.values().flat_map(&users) {
        let Some(service) = loaded.project.services.get(&service_name) else {
            continue;
        };
        if service_values.contains_key(&service_name) {
            continue;
        }
        let mut values = BTreeMap::new();
        for env_file in &service.env_file {
            let path = loaded.project_dir.join(&env_file.path);
            if !path.is_file() {
                continue;
            }
            let shown = path.strip_prefix(&loaded.project_dir).unwrap_or(&path);
            let label = format!("env_file {}", shown.display());
            for (key, value) in Environment::read_file(&path, &loaded.environment)? {
                values.insert(key, (value, label.clone()));
            }
        }
        for (key, value) in &service.environment {
            if let Some(value) = value {
                values.insert(
                    key.clone(),
                    (value.clone(), format!("environment of {service_name}")),
                );
            }
        }
        service_values.insert(service_name, values);
    }
    let mut out = Vec::new();
    for (name, doc) in documented {
        let found: Option<(String, String)> = options
            .shell
            .get(name)
            .map(|value| (value.clone(), "shell".to_owned()))
            .or_else(|| project_values.get(name).cloned())
            .or_else(|| {
                users(doc)
                    .iter()
                    .find_map(|service| service_values.get(service)?.get(name).cloned())
            });
        let found = found.or_else(|| {
            doc.default
                .clone()
                .map(|value| (value, "default".to_owned()))
        });
        let (value, source) = found.unzip();
        out.push(Documented {
            name: name.clone(),
            value,
            source,
            secret: doc.secret,
            description: doc.description.clone().unwrap_or_default(),
            used_by: doc.used_by.clone(),
        });
    }
    Ok(out)
}

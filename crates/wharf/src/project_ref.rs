//! Which project a runtime command means: `-p NAME`, else the name of the project the
//! compose files in this directory define.

use wharf_manifest::Loaded;

use crate::cli::GlobalArgs;
use crate::commands::config::load_options;
use crate::printer::Printer;

/// Loads the project from its files, printing the loader's warnings.
pub fn load(global: &GlobalArgs, printer: &Printer) -> anyhow::Result<Loaded> {
    let options = load_options(global, true, &[])?;
    let loaded = wharf_manifest::load(&options)?;
    for warning in &loaded.warnings {
        printer.warn(warning);
    }
    Ok(loaded)
}

pub fn name(global: &GlobalArgs) -> anyhow::Result<String> {
    if let Some(name) = &global.project_name {
        return Ok(name.clone());
    }
    let options = load_options(global, true, &[])?;
    Ok(wharf_manifest::load(&options)?.project.name)
}

/// `/v1/projects/<name>/<action>`; project names are `[a-z0-9_-]`, safe in a path.
pub fn endpoint(name: &str, action: &str) -> String {
    format!("{}/projects/{name}/{action}", wharf_api::API_PREFIX)
}

//! `wharf exec` and `wharf run`: a command in a service's environment and directory,
//! in the foreground, with the terminal passed through and its exit code returned.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::{ExecArgs, RunArgs};
use crate::project_ref;
use crate::service_exec::{exec_in, run_loaded};
use crate::settings::Settings;

pub fn exec(settings: &Settings, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    // A service the file defines under a profile not enabled is said not to run.
    let name = project_ref::name_defining(settings, std::slice::from_ref(&args.service))?;
    let mapped = native_workdir(settings, &name, args);
    exec_in(&settings.paths, &name, args, mapped.as_ref())
}

/// `-w` for a service that runs natively: a container path this machine lacks is the
/// directory behind the mount that holds it (`-w /app` beside `.:/app`), as `cp` and
/// the service's own `working_dir` map it.
fn native_workdir(settings: &Settings, name: &str, args: &ExecArgs) -> Option<PathBuf> {
    let dir = args
        .workdir
        .as_ref()
        .filter(|dir| dir.is_absolute() && !dir.exists())?;
    let loaded = project_ref::load(settings).ok()?;
    let service = loaded.project.services.get(&args.service)?;
    let volumes = settings.paths.project_data(name).join("volumes");
    wharf_runtime::recipes::mounted_path(service, &volumes, &dir.to_string_lossy())
}

pub fn run(settings: &Settings, args: &RunArgs) -> anyhow::Result<ExitCode> {
    run_loaded(
        settings,
        &project_ref::load_naming(settings, std::slice::from_ref(&args.service))?,
        args,
    )
}

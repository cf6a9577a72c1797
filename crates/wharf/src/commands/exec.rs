//! `wharf exec` and `wharf run`: a command in a service's environment and directory,
//! in the foreground, with the terminal passed through and its exit code returned.

use std::process::ExitCode;

use crate::cli::{ExecArgs, RunArgs};
use crate::project_ref;
use crate::service_exec::{exec_in, run_loaded};
use crate::settings::Settings;

pub fn exec(settings: &Settings, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    // A service the file defines under a profile not enabled is said not to run.
    let name = project_ref::name_defining(settings, std::slice::from_ref(&args.service))?;
    exec_in(&settings.paths, &name, args)
}

pub fn run(settings: &Settings, args: &RunArgs) -> anyhow::Result<ExitCode> {
    run_loaded(
        settings,
        &project_ref::load_naming(settings, std::slice::from_ref(&args.service))?,
        args,
    )
}

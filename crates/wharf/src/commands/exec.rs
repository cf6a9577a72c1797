//! `wharf exec` and `wharf run`: a command in a service's environment and directory,
//! in the foreground, with the terminal passed through and its exit code returned.

use std::process::ExitCode;

use crate::cli::{ExecArgs, GlobalArgs, RunArgs};
use crate::printer::Printer;
use crate::project_ref;
use crate::service_exec::{exec_in, run_loaded};

pub fn exec(global: &GlobalArgs, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    exec_in(&project_ref::name(global)?, args)
}

pub fn run(global: &GlobalArgs, args: &RunArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    run_loaded(&project_ref::load(global, printer)?, args)
}

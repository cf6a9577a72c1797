//! `wharf down`: stop the project and forget it; with `-v`, delete its volumes too,
//! after saying which and asking (or `--yes`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use wharf_api::{ClientError, DownRequest, DownResponse, Paths};

use crate::cli::{DownArgs, GlobalArgs};
use crate::daemon_client;
use crate::printer::Printer;
use crate::project_ref::{self, endpoint};

pub fn run(global: &GlobalArgs, args: &DownArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(global)?;
    let paths = Paths::from_env();
    if args.volumes {
        let volumes = volume_dirs(&paths, &name);
        if !volumes.is_empty() && !args.yes && !confirm(&name, &volumes)? {
            printer.info("nothing was stopped or deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let client = daemon_client::connect(&paths)?;
    let response: DownResponse = match client.post(
        &endpoint(&name, "down"),
        &DownRequest {
            volumes: args.volumes,
        },
    ) {
        Ok(response) => response,
        Err(ClientError::Api { status: 404, .. }) => {
            printer.info(&format!("project {name} is not running"));
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    for service in &response.stopped {
        printer.info(&format!("{service:<10} stopped"));
    }
    for note in &response.notes {
        printer.warn(note);
    }
    for dir in &response.deleted_volumes {
        printer.info(&format!("deleted {dir}"));
    }
    Ok(ExitCode::SUCCESS)
}

fn volume_dirs(paths: &Paths, project: &str) -> Vec<PathBuf> {
    let root = paths.project_data(project).join("volumes");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn confirm(project: &str, volumes: &[PathBuf]) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    writeln!(
        stderr,
        "This deletes the data of project {project}'s volumes:"
    )?;
    for dir in volumes {
        writeln!(stderr, "  {}", dir.display())?;
    }
    if !std::io::stdin().is_terminal() {
        bail!("deleting volumes needs confirmation: run again with --yes");
    }
    write!(stderr, "Delete them? [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

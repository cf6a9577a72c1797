//! `wharf export` and `wharf commit`: a service container's file system, kept as a tar
//! archive or as a new image. Containers only: a native service has no file system of
//! its own.

use std::io::{IsTerminal as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use wharf_engine::{BlockingEngine, CommitRequest};

use crate::cli::{CommitArgs, ExportArgs};
use crate::daemon_client;
use crate::project_ref::{self, container_of};
use crate::settings::Settings;

pub fn export(settings: &Settings, args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let container = container(settings, &args.service, args.index, "export")?;
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let Some(path) = &args.output else {
        if std::io::stdout().is_terminal() {
            bail!("export writes a tar archive: redirect it to a file, or give -o FILE");
        }
        let mut stdout = std::io::stdout().lock();
        engine.export(&container, &mut stdout)?;
        return Ok(ExitCode::SUCCESS);
    };
    // Written beside the target and renamed once whole, so a failed export leaves no
    // partial archive under the name; private, as a file system holds secrets.
    let partial = path.with_file_name(format!(
        ".{}.partial",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let written = (|| -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        engine.export(&container, &mut file)?;
        file.flush()?;
        file.sync_all()?;
        std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written?;
    Ok(ExitCode::SUCCESS)
}

pub fn commit(settings: &Settings, args: &CommitArgs) -> anyhow::Result<ExitCode> {
    let container = container(settings, &args.service, args.index, "commit")?;
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let id = engine.commit(
        &container,
        &CommitRequest {
            reference: args.reference.as_deref().unwrap_or_default(),
            author: args.author.as_deref().unwrap_or_default(),
            message: args.message.as_deref().unwrap_or_default(),
            changes: &args.changes,
            pause: args.pause,
        },
    )?;
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}

fn container(settings: &Settings, service: &str, index: u32, what: &str) -> anyhow::Result<String> {
    let name = project_ref::name_defining(settings, std::slice::from_ref(&service.to_owned()))?;
    let client = daemon_client::connect(&settings.paths)?;
    container_of(&client, &name, service, index, what)
}

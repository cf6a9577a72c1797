//! `wharf share`: the project on this machine's local network, for a phone or another
//! computer, for as long as the command runs. Opt-in only: nothing else wharf runs
//! listens beyond loopback.

use std::process::ExitCode;

use anyhow::Context as _;
use wharf_api::Paths;

use crate::cli::{GlobalArgs, ShareArgs};
use crate::daemon_client;
use crate::printer::Printer;
use crate::project_ref::{self, endpoint};

pub fn run(global: &GlobalArgs, args: &ShareArgs, printer: &Printer) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(global)?;
    let client = daemon_client::connect(&Paths::from_env())?;
    let mut stream = client.stream::<serde_json::Value>(&format!(
        "{}?port={}",
        endpoint(&name, "share"),
        args.port
    ))?;
    let announcement = stream.next().context("wharfd ended the share at once")??;
    let url = announcement["url"].as_str().unwrap_or_default();
    printer.warn(&format!(
        "{name} is now reachable by anyone on your network at {url} (Ctrl-C stops sharing)"
    ));
    println!("{url}");
    // The daemon shares while this connection lives; it says so every second.
    for beat in stream {
        beat?;
    }
    Ok(ExitCode::SUCCESS)
}

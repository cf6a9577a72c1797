//! `wharf share`: the project on this machine's local network, for a phone or another
//! computer, for as long as the command runs. Opt-in only: nothing else wharf runs
//! listens beyond loopback.

use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::ShareArgs;
use crate::daemon_client;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &ShareArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(settings)?;
    let client = daemon_client::connect(&settings.paths)?;
    let mut stream = client.stream::<serde_json::Value>(&format!(
        "{}?port={}",
        endpoint(&name, "share"),
        args.port
    ))?;
    let announcement = stream.next().context("wharfd ended the share at once")??;
    let url = announcement["url"].as_str().unwrap_or_default();
    settings.printer.warn(&format!(
        "{name} is now reachable by anyone on your network at {url} (Ctrl-C stops sharing)"
    ));
    println!("{url}");
    // The daemon shares while this connection lives; it says so every second.
    for beat in stream {
        beat?;
    }
    Ok(ExitCode::SUCCESS)
}

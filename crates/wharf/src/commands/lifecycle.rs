//! `wharf start|stop|restart|kill`: act on services of a project wharfd runs.

use std::process::ExitCode;

use wharf_api::{Paths, ServicesRequest};

use crate::cli::GlobalArgs;
use crate::daemon_client;
use crate::printer::Printer;
use crate::project_ref::{self, endpoint};

pub fn run(
    global: &GlobalArgs,
    action: &str,
    services: &[String],
    signal: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(global)?;
    let client = daemon_client::connect(&Paths::from_env())?;
    let _: serde_json::Value = client.post(
        &endpoint(&name, action),
        &ServicesRequest {
            services: services.to_vec(),
            signal: signal.map(str::to_owned),
            force: false,
        },
    )?;
    let what = if services.is_empty() {
        "all services".to_owned()
    } else {
        services.join(", ")
    };
    printer.info(&format!("{action}: {what}"));
    Ok(ExitCode::SUCCESS)
}

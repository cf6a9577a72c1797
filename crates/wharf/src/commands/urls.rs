//! `wharf urls`: every route of the project in the proxy, with where it leads and
//! whether something is ready there.

use std::process::ExitCode;

use wharf_api::RouteInfo;

use crate::cli::{ListFormat, ListFormatArgs};
use crate::daemon_client;
use crate::output::aligned_table;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name(settings)?;
    let client = daemon_client::connect(&settings.paths)?;
    let routes: Vec<RouteInfo> = client.get(&endpoint(&name, "urls"))?;
    if args.format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&routes)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["URL", "SERVICE", "PORT", "READY"].map(str::to_owned)];
    for route in routes {
        let ready = if route.waiting > 0 {
            format!("{} ({} starting)", route.backends.len(), route.waiting)
        } else {
            route.backends.len().to_string()
        };
        rows.push([route.url, route.service, route.port.to_string(), ready]);
    }
    print!("{}", aligned_table(&rows));
    Ok(ExitCode::SUCCESS)
}

//! `wharf wait SERVICE…`: blocks until every instance of the services has ended, says
//! how each ended as Compose's does, and exits with the last one's code.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use wharf_api::{DownRequest, DownResponse, InstanceStatus};

use crate::cli::WaitArgs;
use crate::daemon_client;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;
use wharf_api::ProjectWatch;

pub fn run(settings: &Settings, args: &WaitArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let client = daemon_client::connect(&settings.paths)?;
    let mut watch = ProjectWatch::open(&client, &name)?;
    let mut told: Vec<String> = Vec::new();
    let mut last_code = 0;
    loop {
        let chosen: Vec<&InstanceStatus> = watch
            .instances()
            .into_iter()
            .filter(|i| args.services.contains(&i.service))
            .collect();
        if chosen.is_empty() {
            bail!(
                "{} has no instance to wait for (`wharf up -d` starts it)",
                args.services.join(", ")
            );
        }
        let newly_ended: Vec<&&InstanceStatus> = chosen
            .iter()
            .filter(|i| !i.state.is_active() && !told.contains(&i.name))
            .collect();
        for ended in newly_ended {
            let code = ended.exit_code.unwrap_or(0);
            // As Compose says it, with a native instance's name for a missing id.
            let id = if ended.container_id.is_empty() {
                &ended.name
            } else {
                &ended.container_id
            };
            println!("container {id:?} exited with status code {code}");
            told.push(ended.name.clone());
            last_code = code;
        }
        let all_ended = chosen.iter().all(|i| !i.state.is_active());
        if all_ended || (args.down_project && !told.is_empty()) {
            break;
        }
        if watch.down || watch.daemon_gone {
            bail!("the project went down before its services ended");
        }
        watch.next(Duration::from_hours(1));
    }
    if args.down_project {
        let _: DownResponse = client.post(&endpoint(&name, "down"), &DownRequest::default())?;
    }
    Ok(ExitCode::from(u8::try_from(last_code).unwrap_or(1)))
}

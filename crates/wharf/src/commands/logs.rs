//! `wharf logs`.

use std::process::ExitCode;

use wharf_api::{ClientError, LogLine};

use crate::cli::{Ansi, LogsArgs};
use crate::daemon_client;
use crate::log_printer::{LogPrinter, logs_path};
use crate::project_ref;
use crate::settings::Settings;
use wharf_api::window;

pub fn run(settings: &Settings, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    // As Compose's: an instance's number names one of one service's.
    if args.index.is_some() && args.services.len() != 1 {
        anyhow::bail!("--index requires one service to be selected");
    }
    let name = project_ref::name_defining(settings, &args.services)?;
    let (since, until) =
        window(args.since.as_deref(), args.until.as_deref()).map_err(anyhow::Error::msg)?;
    let client = daemon_client::connect(&settings.paths)?;
    let instances = project_ref::instances(&client, &name)?;
    if let Some(index) = args.index {
        // As Compose: an instance that is not there is an error, not silence.
        for service in &args.services {
            if !instances
                .iter()
                .any(|i| &i.service == service && i.replica == index)
            {
                anyhow::bail!("service {service} has no instance {index}");
            }
        }
    }
    let path = logs_path(&name, &args.services, args.tail, since, args.follow);
    let ansi = if args.no_color {
        Ansi::Never
    } else {
        settings.global.ansi
    };
    let mut lines = LogPrinter::new(
        ansi,
        !args.no_log_prefix,
        args.timestamps,
        // Compose's logs are the programs' output alone, which scripts count and
        // compare (`logs job | tail -1`): wharf's own notes only when asked for.
        args.notes,
    );
    lines.fit(&instances, &args.services);
    let stream = match client.stream::<LogLine>(&path) {
        // A project that never ran here, nor in the engine: nothing to show, as Compose.
        Err(ClientError::Api { status: 404, .. }) => return Ok(ExitCode::SUCCESS),
        other => other?,
    };
    for line in stream {
        let line = match line {
            Err(ClientError::Io(_) | ClientError::Unanswered) if args.follow => {
                anyhow::bail!(crate::daemon_client::DAEMON_GONE)
            }
            other => other?,
        };
        if until.is_some_and(|until| line.time_ms > until) {
            // Lines come in time order: nothing later is wanted, followed or not.
            break;
        }
        if args.index.is_some_and(|index| index != line.replica) {
            continue;
        }
        if lines.print(&line).is_err() {
            break; // the reader went away (a closed pipe): not an error
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_each_service() {
        assert_eq!(
            logs_path("shop", &["web".into(), "db".into()], Some(5), None, true),
            "/v1/projects/shop/logs?service=web&service=db&tail=5&follow=1"
        );
        // `--tail all` asks for every line, wharf's notes too: no tail at all.
        assert_eq!(
            logs_path("shop", &["web".into()], Some(usize::MAX), None, false),
            "/v1/projects/shop/logs?service=web"
        );
    }
}

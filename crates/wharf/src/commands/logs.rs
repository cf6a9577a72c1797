//! `wharf logs`.

use std::process::ExitCode;

use anyhow::bail;
use wharf_api::{LogLine, now_ms};

use crate::cli::LogsArgs;
use crate::daemon_client;
use crate::log_printer::{LogPrinter, logs_path};
use crate::project_ref;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let client = daemon_client::connect(&settings.paths)?;
    let path = logs_path(&name, &args.services, args.tail, since, args.follow);
    let mut lines = LogPrinter::new(args.no_color, !args.no_log_prefix, args.timestamps);
    for line in client.stream::<LogLine>(&path)? {
        if lines.print(&line?).is_err() {
            break; // the reader went away (a closed pipe): not an error
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `30s`, `10m`, `2h`, `1d` ago, or a bare number of seconds since the Unix epoch.
fn parse_since(text: &str) -> anyhow::Result<u64> {
    if let Ok(epoch_seconds) = text.parse::<u64>() {
        return Ok(epoch_seconds * 1000);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        bail!("--since {text:?}: expected a duration such as 10m or a Unix time in seconds");
    };
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("--since {text:?}: the unit must be ms, s, m, h or d"),
    };
    Ok(now_ms().saturating_sub(number * unit_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_durations_and_epoch_seconds() {
        assert_eq!(parse_since("1700000000").unwrap(), 1_700_000_000_000);
        let ten_minutes_ago = parse_since("10m").unwrap();
        assert!(now_ms() - ten_minutes_ago >= 600_000);
        assert!(parse_since("10x").is_err());
    }

    #[test]
    fn the_query_names_each_service() {
        assert_eq!(
            logs_path("shop", &["web".into(), "db".into()], Some(5), None, true),
            "/v1/projects/shop/logs?service=web&service=db&tail=5&follow=1"
        );
    }
}

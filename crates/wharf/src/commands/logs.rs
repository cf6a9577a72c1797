//! `wharf logs`, and the log printing `wharf up` shares with it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use wharf_api::{LogLine, LogStream, Paths, now_ms};

use crate::cli::{GlobalArgs, LogsArgs};
use crate::daemon_client;
use crate::project_ref;

const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prints lines as `web-1  | text`, one colour per instance on a terminal.
pub struct LogPrinter {
    color: bool,
    prefix: bool,
    timestamps: bool,
    width: usize,
    colors: HashMap<String, &'static str>,
}

impl LogPrinter {
    pub fn new(no_color: bool, prefix: bool, timestamps: bool) -> Self {
        let color = !no_color
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self {
            color,
            prefix,
            timestamps,
            width: 0,
            colors: HashMap::new(),
        }
    }

    pub fn print(&mut self, line: &LogLine) -> std::io::Result<()> {
        let mut out = String::new();
        if self.prefix {
            let name = format!("{}-{}", line.service, line.replica);
            self.width = self.width.max(name.len());
            let next = COLORS[self.colors.len() % COLORS.len()];
            let color = *self.colors.entry(name.clone()).or_insert(next);
            let padded = format!("{name:<width$} |", width = self.width);
            if self.color {
                let _ = write!(out, "\x1b[{color}m{padded}\x1b[0m ");
            } else {
                out.push_str(&padded);
                out.push(' ');
            }
        }
        if self.timestamps {
            out.push_str(&format_time(line.time_ms));
            out.push(' ');
        }
        if line.stream == LogStream::Wharf {
            let _ = write!(out, "[wharf] {}", line.line);
        } else {
            out.push_str(&line.line);
        }
        out.push('\n');
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()
    }
}

/// `HH:MM:SS.mmm` in UTC: enough to order lines without a time-zone database.
fn format_time(ms: u64) -> String {
    let seconds = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        (seconds / 3600) % 24,
        (seconds / 60) % 60,
        seconds % 60,
        ms % 1000
    )
}

pub fn run(global: &GlobalArgs, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(global, &args.services)?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let client = daemon_client::connect(&Paths::from_env())?;
    let path = logs_path(&name, &args.services, args.tail, since, args.follow);
    let mut printer = LogPrinter::new(args.no_color, !args.no_log_prefix, args.timestamps);
    for line in client.stream::<LogLine>(&path)? {
        if printer.print(&line?).is_err() {
            break; // the reader went away (a closed pipe): not an error
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn logs_path(
    project: &str,
    services: &[String],
    tail: Option<usize>,
    since_ms: Option<u64>,
    follow: bool,
) -> String {
    let mut query: Vec<String> = services.iter().map(|s| format!("service={s}")).collect();
    if let Some(tail) = tail {
        query.push(format!("tail={tail}"));
    }
    if let Some(since) = since_ms {
        query.push(format!("since_ms={since}"));
    }
    if follow {
        query.push("follow=1".to_owned());
    }
    format!(
        "{}?{}",
        project_ref::endpoint(project, "logs"),
        query.join("&")
    )
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

//! `wharf logs`.

use std::process::ExitCode;

use anyhow::bail;
use wharf_api::{LogLine, now_ms};

use crate::cli::{Ansi, LogsArgs};
use crate::daemon_client;
use crate::log_printer::{LogPrinter, logs_path};
use crate::project_ref;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, &args.services)?;
    let since = args
        .since
        .as_deref()
        .map(|t| parse_when("--since", t))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_when("--until", t))
        .transpose()?;
    let client = daemon_client::connect(&settings.paths)?;
    let path = logs_path(&name, &args.services, args.tail, since, args.follow);
    let ansi = if args.no_color {
        Ansi::Never
    } else {
        settings.global.ansi
    };
    let mut lines = LogPrinter::new(ansi, !args.no_log_prefix, args.timestamps);
    for line in client.stream::<LogLine>(&path)? {
        let line = line?;
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

/// `30s`, `10m`, `2h`, `1d` ago, a number of seconds since the Unix epoch, or an RFC
/// 3339 time (`2026-12-01T13:23:37Z`), as Compose's `--since` and `--until` take.
fn parse_when(flag: &str, text: &str) -> anyhow::Result<u64> {
    if let Ok(epoch_seconds) = text.parse::<u64>() {
        return Ok(epoch_seconds * 1000);
    }
    if let Some(ms) = rfc3339_ms(text) {
        return Ok(ms);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        bail!(
            "{flag} {text:?}: expected a duration such as 10m, a Unix time in seconds or a time such as 2026-12-01T13:23:37Z"
        );
    };
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => bail!("{flag} {text:?}: the unit must be ms, s, m, h or d"),
    };
    Ok(now_ms().saturating_sub(number * unit_ms))
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
fn rfc3339_ms(text: &str) -> Option<u64> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (
        date_parts.next()?.ok()?,
        date_parts.next()?.ok()?,
        date_parts.next()?.ok()?,
    );
    let (clock, offset_s) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(at);
        let (hours, minutes) = zone[1..].split_once(':')?;
        let offset = hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60;
        (
            clock,
            if zone.starts_with('-') {
                -offset
            } else {
                offset
            },
        )
    };
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut clock_parts = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute, second) = (
        clock_parts.next()?.ok()?,
        clock_parts.next()?.ok()?,
        clock_parts.next()?.ok()?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let millis: i64 = format!("{fraction:0<3}").get(..3)?.parse().ok()?;
    // Days since the epoch of a civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    u64::try_from(seconds * 1000 + millis).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_rfc_3339() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_ms("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            rfc3339_ms("2023-11-14T23:13:20.5+01:00"),
            Some(1_700_000_000_500)
        );
        assert_eq!(rfc3339_ms("2023-13-14T22:13:20Z"), None);
        assert_eq!(rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn since_reads_durations_and_epoch_seconds() {
        assert_eq!(
            parse_when("--since", "1700000000").unwrap(),
            1_700_000_000_000
        );
        let ten_minutes_ago = parse_when("--since", "10m").unwrap();
        assert!(now_ms() - ten_minutes_ago >= 600_000);
        assert!(parse_when("--since", "10x").is_err());
    }

    #[test]
    fn the_query_names_each_service() {
        assert_eq!(
            logs_path("shop", &["web".into(), "db".into()], Some(5), None, true),
            "/v1/projects/shop/logs?service=web&service=db&tail=5&follow=1"
        );
    }
}

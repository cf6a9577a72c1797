//! Times as `--since` and `--until` take them: a duration ago (`10m`), Unix seconds,
//! or an RFC 3339 time; and the RFC 3339 times wharfd's events carry.

use crate::now_ms;

/// `--since` and `--until`, read as `when` reads each.
pub fn window(
    since: Option<&str>,
    until: Option<&str>,
) -> Result<(Option<u64>, Option<u64>), String> {
    Ok((
        since.map(|t| when("--since", t)).transpose()?,
        until.map(|t| when("--until", t)).transpose()?,
    ))
}

/// `30s`, `10m`, `2h`, `1d` ago, a number of seconds since the Unix epoch, or an RFC
/// 3339 time (`2026-12-01T13:23:37Z`), as Compose's `--since` and `--until` take.
pub fn when(flag: &str, text: &str) -> Result<u64, String> {
    if let Ok(epoch_seconds) = text.parse::<u64>() {
        return Ok(epoch_seconds * 1000);
    }
    if let Some(ms) = rfc3339_ms(text).or_else(|| rfc3339_ms(&completed(text)?)) {
        return Ok(ms);
    }
    if text.contains(['-', ':']) {
        return Err(format!(
            "{flag} {text:?}: expected a date (2026-12-01), a time on it (2026-12-01T13:23:37, UTC) or a time with its zone (2026-12-01T13:23:37+01:00)"
        ));
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        return Err(format!(
            "{flag} {text:?}: expected a duration such as 10m, a Unix time in seconds or a time such as 2026-12-01T13:23:37Z"
        ));
    };
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "{flag} {text:?}: the unit must be ms, s, m, h or d"
            ));
        }
    };
    Ok(now_ms().saturating_sub(number * unit_ms))
}

/// A date, or a date and a clock cut short, as Docker's `--since` takes them, made
/// whole: `2026-12-01` is its midnight, `2026-12-01T13` and `…T13:23` have zero minutes
/// and seconds, and a time without a zone is UTC.
fn completed(text: &str) -> Option<String> {
    let (date, clock) = text.split_once('T').unwrap_or((text, "00"));
    if date.len() != 10 || clock.contains(['Z', 'z', '+', '-']) {
        return None;
    }
    let clock = match clock.matches(':').count() {
        0 => format!("{clock}:00:00"),
        1 => format!("{clock}:00"),
        _ => clock.to_owned(),
    };
    Some(format!("{date}T{clock}Z"))
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
pub fn rfc3339_ms(text: &str) -> Option<u64> {
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
    fn a_date_or_a_time_without_its_zone_reads_as_utc() {
        let midnight = rfc3339_ms("2026-12-02T00:00:00Z");
        assert_eq!(when("--since", "2026-12-02").ok(), midnight);
        assert_eq!(when("--since", "2026-12-02T00:00:00").ok(), midnight);
        assert_eq!(when("--since", "2026-12-02T00:00").ok(), midnight);
        assert_eq!(when("--since", "2026-12-02T00").ok(), midnight);
        assert!(when("--since", "2026-12-02T25:00").is_err());
        assert!(when("--since", "2026-12").is_err());
    }

    #[test]
    fn since_reads_durations_and_epoch_seconds() {
        assert_eq!(when("--since", "1700000000").unwrap(), 1_700_000_000_000);
        let ten_minutes_ago = when("--since", "10m").unwrap();
        assert!(now_ms() - ten_minutes_ago >= 600_000);
        assert!(when("--since", "10x").is_err());
        let garbled = when("--since", "2026-1201T13:12:00").unwrap_err();
        assert!(garbled.contains("expected a date"), "{garbled}");
    }
}

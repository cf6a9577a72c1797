//! The wharfd control API: the one door every surface (CLI, TUI, web, proxy) uses.
//!
//! HTTP/1.1 with JSON bodies over a unix socket, versioned by path (`/v1/...`),
//! documented in `docs/api.md`. This crate holds the wire types, where the daemon's
//! files live, and a small blocking client: the CLI needs no async runtime, which keeps
//! `wharf ps` fast.

mod build_id;
mod client;
mod columns;
mod compose_event;
mod compose_json;
mod dependency_condition;
mod go_template;
mod paths;
mod probe_said;
mod template_functions;
mod template_syntax;
mod watch;
mod when;
mod wire;

pub use build_id::build_id;
pub use client::{Client, ClientError, LineStream};
pub use columns::aligned_columns;
pub use compose_event::ComposeEvents;
pub use compose_json::{
    COMPOSE_STATES, compose_state, compose_state_of, duration_of_words, ellipsis, human_duration,
    ls_entry, ps_line, with_listed_fields, with_spec_fields,
};
pub use dependency_condition::{Verdict, judge};
pub use go_template::{Template, TemplateError};
pub use paths::{DESIRED_FILE, Paths, create_private_dir, write_private};
pub use probe_said::probe_said;
pub use watch::ProjectWatch;
pub use when::{rfc3339_ms, when, window};
pub use wire::*;

/// The path prefix of this version of the API.
pub const API_PREFIX: &str = "/v1";

/// Milliseconds since the Unix epoch: the time base of every timestamp in the API.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-12-01T05:25:01.123Z`: a Unix time in milliseconds as UTC, for logs people read
/// (days to a civil date by Howard Hinnant's algorithm; no time-zone database needed).
pub fn utc_text(ms: u64) -> String {
    let days = i64::try_from(ms / 86_400_000).unwrap_or(i64::MAX) + 719_468;
    let of_day = ms % 86_400_000;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

/// `20261201-052501`: a Unix time in milliseconds as a UTC date and time for names of
/// files and snapshots.
pub fn utc_stamp(ms: u64) -> String {
    let digits: String = utc_text(ms)
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .collect();
    format!("{}-{}", &digits[..8], &digits[8..])
}

#[cfg(test)]
mod tests {
    use super::{utc_stamp, utc_text};

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc_text(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(utc_text(1_796_102_701_123), "2026-12-01T05:25:01.123Z");
        assert_eq!(utc_stamp(1_796_102_701_123), "20261201-052501");
    }
}

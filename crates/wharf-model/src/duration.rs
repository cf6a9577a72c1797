//! Durations as Compose writes them (`1m30s`, `500ms`), printed the way Go prints them.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl Duration {
    #[must_use]
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.0.max(0) as u64)
    }

    /// Parses Go duration syntax (`1h2m3.5s`, `100ms`, `2us`) plus `d` and `w`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid duration {text:?}");
        let (negative, mut rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if rest == "0" {
            return Ok(Self(0));
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: f64 = 0.0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if number_len == 0 {
                return Err(invalid());
            }
            let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
            rest = &rest[number_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let nanos_per_unit: f64 = match &rest[..unit_len] {
                "ns" => 1.0,
                "us" | "µs" | "μs" => 1e3,
                "ms" => 1e6,
                "s" => 1e9,
                "m" => 60e9,
                "h" => 3600e9,
                "d" => 86400e9,
                "w" => 604_800e9,
                _ => return Err(invalid()),
            };
            rest = &rest[unit_len..];
            total += number * nanos_per_unit;
        }
        if total > i64::MAX as f64 {
            return Err(invalid());
        }
        let nanos = total.round() as i64;
        Ok(Self(if negative { -nanos } else { nanos }))
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000_000_000 {
            let (unit, scale) = match nanos {
                n if n < 1_000 => ("ns", 1),
                n if n < 1_000_000 => ("µs", 1_000),
                _ => ("ms", 1_000_000),
            };
            return write!(f, "{sign}{}{unit}", fraction(nanos, scale));
        }
        let hours = nanos / 3_600_000_000_000;
        let minutes = nanos / 60_000_000_000 % 60;
        let seconds = fraction(nanos % 60_000_000_000, 1_000_000_000);
        f.write_str(sign)?;
        if hours > 0 {
            write!(f, "{hours}h{minutes}m")?;
        } else if minutes > 0 {
            write!(f, "{minutes}m")?;
        }
        write!(f, "{seconds}s")
    }
}

/// `value / scale` with the fraction's trailing zeros dropped.
fn fraction(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let rest = value % scale;
    if rest == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A bare number where a duration must be: what to write instead.
fn unitless<E: de::Error>(seconds: impl fmt::Display) -> E {
    E::custom(format!(
        "a duration needs its unit, as Compose requires: write \"{seconds}s\""
    ))
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s or 1m30s")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            // Text only: Compose's schema refuses a bare number (`interval: 30`).
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                Err(unitless(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Err(unitless(v))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::Duration;

    fn round_trip(text: &str) -> String {
        Duration::parse(text).unwrap().to_string()
    }

    #[test]
    fn prints_like_go() {
        assert_eq!(round_trip("90s"), "1m30s");
        assert_eq!(round_trip("1m30s"), "1m30s");
        assert_eq!(round_trip("2h"), "2h0m0s");
        assert_eq!(round_trip("1.5s"), "1.5s");
        assert_eq!(round_trip("500ms"), "500ms");
        assert_eq!(round_trip("0"), "0s");
        assert_eq!(round_trip("1d"), "24h0m0s");
        assert_eq!(round_trip("10us"), "10µs");
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "s", "10", "1x", "--1s"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }
}

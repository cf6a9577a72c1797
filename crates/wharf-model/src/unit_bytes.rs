//! Byte sizes (`512m`, `1.5GB`, `1024`), printed as a plain byte count like Compose.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnitBytes(pub i64);

impl UnitBytes {
    /// Parses a size with binary units (k = 1024), an optional `b`/`ib` suffix, any case.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "invalid size {text:?}: expected a number with an optional unit (b, k, m, g, t, p)"
            )
        };
        let lower = text.trim().to_ascii_lowercase();
        let number_len = lower
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(lower.len());
        if number_len == 0 {
            return Err(invalid());
        }
        let number: f64 = lower[..number_len].parse().map_err(|_| invalid())?;
        let unit = lower[number_len..].trim_start();
        let unit = unit.strip_suffix('b').unwrap_or(unit);
        let unit = unit.strip_suffix('i').unwrap_or(unit);
        let multiplier: f64 = match unit {
            "" => 1.0,
            "k" => 1024.0,
            "m" => 1024.0 * 1024.0,
            "g" => 1024.0 * 1024.0 * 1024.0,
            "t" => 1024f64.powi(4),
            "p" => 1024f64.powi(5),
            _ => return Err(invalid()),
        };
        Ok(Self((number * multiplier) as i64))
    }
}

impl Serialize for UnitBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UnitBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = UnitBytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 512m or 1g")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UnitBytes, E> {
                UnitBytes::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnitBytes, E> {
                Ok(UnitBytes(v))
            }
            // Compose's size reads a Go `int` or text and leaves anything else at zero:
            // a float (`1e9`, `512.0`) or an integer past int64 is dropped, not read.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnitBytes, E> {
                Ok(UnitBytes(i64::try_from(v).unwrap_or(0)))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<UnitBytes, E> {
                Ok(UnitBytes(0))
            }
        }
        deserializer.deserialize_any(BytesVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::UnitBytes;

    #[test]
    fn units_are_binary_and_case_insensitive() {
        assert_eq!(UnitBytes::parse("512M").unwrap().0, 536_870_912);
        assert_eq!(UnitBytes::parse("1gb").unwrap().0, 1_073_741_824);
        assert_eq!(UnitBytes::parse("1.5k").unwrap().0, 1536);
        assert_eq!(UnitBytes::parse("100").unwrap().0, 100);
        assert!(UnitBytes::parse("12q").is_err());
        assert!(UnitBytes::parse("m").is_err());
    }
}

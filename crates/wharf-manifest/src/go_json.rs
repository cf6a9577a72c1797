//! JSON written as Go's `encoding/json` writes it, so Compose's JSON and wharf's are the
//! same bytes: `<`, `>`, `&`, U+2028 and U+2029 escaped (Go's HTML-safe default), and
//! negative zero as `-0`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// `value` as Go's `json.MarshalIndent(value, "", "  ")` writes it.
pub fn to_go_json<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    written(value, GoFormatter(PrettyFormatter::with_indent(b"  ")))
}

/// `value` on one line, as Go's `json.Marshal` writes it (Compose's `ps --format json`).
pub fn to_go_json_line<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    written(value, GoFormatter(CompactFormatter))
}

fn written<T: ?Sized + Serialize, F: Formatter>(
    value: &T,
    formatter: F,
) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(4096);
    let mut writer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut writer)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// serde_json's formatter `F`, with Go's escapes and negative zero.
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // By bytes: the three are ASCII, and U+2028/U+2029 are E2 80 A8/A9 in UTF-8.
        let bytes = fragment.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let (escaped, width) = match &bytes[i..] {
                [b'<', ..] => ("\\u003c", 1),
                [b'>', ..] => ("\\u003e", 1),
                [b'&', ..] => ("\\u0026", 1),
                [0xE2, 0x80, 0xA8, ..] => ("\\u2028", 3),
                [0xE2, 0x80, 0xA9, ..] => ("\\u2029", 3),
                _ => {
                    i += 1;
                    continue;
                }
            };
            writer.write_all(&bytes[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            i += width;
            start = i;
        }
        writer.write_all(&bytes[start..])
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        if value == 0.0 && value.is_sign_negative() {
            return writer.write_all(b"-0");
        }
        // Go writes a whole float below 1e21 as digits, the shortest ones padded with
        // zeros: `1500`, not `1500.0`; 2^64 as `18446744073709552000`.
        if value.fract() == 0.0 && value.abs() < 1e21 {
            return write!(writer, "{value}");
        }
        self.0.write_f64(writer, value)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_array(writer)
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array(writer)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_array_value(writer)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object(writer)
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object(writer)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.begin_object_value(writer)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.0.end_object_value(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_zeros_read_as_gos() {
        let value = serde_json::json!({"a": "x && y <b> \u{2028}\u{2029}…", "z": -0.0, "n": [1.5]});
        assert_eq!(
            to_go_json(&value).unwrap(),
            "{\n  \"a\": \"x \\u0026\\u0026 y \\u003cb\\u003e \\u2028\\u2029…\",\n  \"z\": -0,\n  \"n\": [\n    1.5\n  ]\n}"
        );
        assert_eq!(
            to_go_json_line(&value).unwrap(),
            "{\"a\":\"x \\u0026\\u0026 y \\u003cb\\u003e \\u2028\\u2029…\",\"z\":-0,\"n\":[1.5]}"
        );
    }
}

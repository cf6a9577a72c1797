//! JSON written as Go's `encoding/json` writes it, so Compose's JSON and wharf's are the
//! same bytes: `<`, `>`, `&`, U+2028 and U+2029 escaped (Go's HTML-safe default), and
//! negative zero as `-0`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// `value` as Go's `json.MarshalIndent(value, "", "  ")` writes it.
pub fn to_go_json<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    written(value, GoFormatter::new(true), 4096)
}

/// [`to_go_json`] into room for about `expected` bytes from the start: a buffer grown
/// by doubling copies what it holds at each step and touches fresh pages each time.
pub fn to_go_json_sized<T: ?Sized + Serialize>(
    value: &T,
    expected: usize,
) -> serde_json::Result<String> {
    written(value, GoFormatter::new(true), expected)
}

/// `value` on one line, as Go's `json.Marshal` writes it (Compose's `ps --format json`).
pub fn to_go_json_line<T: ?Sized + Serialize>(value: &T) -> serde_json::Result<String> {
    written(value, GoFormatter::new(false), 4096)
}

fn written<T: ?Sized + Serialize>(
    value: &T,
    formatter: GoFormatter,
    capacity: usize,
) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(capacity);
    let mut writer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut writer)?;
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// A line break and the indent of the deepest lines written in one piece; deeper ones
/// are finished a space at a time. serde_json's pretty formatter writes an indent a
/// level at a time, and writing is most of what `config --format json` does.
const LINE_BREAK: &[u8; 65] = b"\n                                                                ";

/// serde_json's formatter with Go's escapes and negative zero, laid out as Go lays out
/// its JSON: two-space indents, or all on one line.
struct GoFormatter {
    pretty: bool,
    depth: usize,
    /// Whether the innermost open array or object has an entry yet.
    has_value: bool,
}

impl GoFormatter {
    fn new(pretty: bool) -> Self {
        Self {
            pretty,
            depth: 0,
            has_value: false,
        }
    }

    fn line_break<W: ?Sized + Write>(&self, writer: &mut W) -> io::Result<()> {
        if !self.pretty {
            return Ok(());
        }
        let width = 1 + 2 * self.depth;
        writer.write_all(&LINE_BREAK[..width.min(LINE_BREAK.len())])?;
        (LINE_BREAK.len()..width).try_for_each(|_| writer.write_all(b" "))
    }

    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line_break(writer)?;
        }
        writer.write_all(bracket)
    }

    fn entry<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if !first {
            writer.write_all(b",")?;
        }
        self.line_break(writer)
    }
}

/// The bytes that start what Go escapes and serde_json does not: one look-up a byte.
const MAY_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[0xE2] = true;
    table
};

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // By bytes: the three are ASCII, and U+2028/U+2029 are E2 80 A8/A9 in UTF-8.
        let bytes = fragment.as_bytes();
        let mut written = 0;
        let mut from = 0;
        while let Some(offset) = bytes[from..]
            .iter()
            .position(|b| MAY_ESCAPE[usize::from(*b)])
        {
            let at = from + offset;
            let (escaped, width) = match &bytes[at..] {
                [b'<', ..] => ("\\u003c", 1),
                [b'>', ..] => ("\\u003e", 1),
                [b'&', ..] => ("\\u0026", 1),
                [0xE2, 0x80, 0xA8, ..] => ("\\u2028", 3),
                [0xE2, 0x80, 0xA9, ..] => ("\\u2029", 3),
                _ => {
                    from = at + 1;
                    continue;
                }
            };
            writer.write_all(&bytes[written..at])?;
            writer.write_all(escaped.as_bytes())?;
            written = at + width;
            from = written;
        }
        writer.write_all(&bytes[written..])
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
        serde_json::ser::CompactFormatter.write_f64(writer, value)
    }

    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.entry(writer, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.entry(writer, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(if self.pretty { b": " } else { b":" })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
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

    #[test]
    fn layout_is_serde_jsons_pretty_and_compact_at_any_depth() {
        let mut deep = serde_json::json!({"leaf": [1, {}, [], [[]], {"k": null}]});
        for level in 0..40 {
            deep = serde_json::json!({"level": level, "inner": [deep, "x"], "empty": {}});
        }
        assert_eq!(
            to_go_json(&deep).unwrap(),
            serde_json::to_string_pretty(&deep).unwrap()
        );
        assert_eq!(
            to_go_json_line(&deep).unwrap(),
            serde_json::to_string(&deep).unwrap()
        );
    }
}

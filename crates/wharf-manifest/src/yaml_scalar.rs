//! How Compose's YAML writer (Go's yaml.v3, after libyaml) writes a string: plain when
//! it reads back as the same string, double-quoted when it would read back as another
//! type or holds characters only escapes carry, a literal block when it has line
//! breaks, single-quoted otherwise.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` as a value at `indent` (where a literal block's lines go), with its line
/// break.
pub fn write_value(out: &mut String, text: &str, indent: usize) {
    let facts = Facts::of(text);
    if text.contains('\n') && facts.block_allowed() {
        write_literal(out, text, indent);
    } else {
        out.push_str(&flow_with(text, &facts, indent));
        out.push('\n');
    }
}

/// `text` as a key, on one line.
pub fn flow(text: &str) -> Cow<'_, str> {
    flow_with(text, &Facts::of(text), 0)
}

/// `text` in flow style, as `facts` allow; `indent` is where a line continues after a
/// line separator in single quotes.
fn flow_with<'a>(text: &'a str, facts: &Facts, indent: usize) -> Cow<'a, str> {
    // A line break in a flow scalar would need folding: escaped instead.
    if resolves_to_other_type(text)
        || facts.special
        || facts.tabs
        || facts.space_break
        || text.contains('\n')
    {
        Cow::Owned(double_quoted(text))
    } else if facts.plain_allowed(text) {
        Cow::Borrowed(text)
    } else if facts.break_space {
        Cow::Owned(double_quoted(text))
    } else {
        let continued = format!("\u{2028}{}", " ".repeat(indent));
        let quoted = text
            .replace('\'', "''")
            .replace('\u{2028}', &continued)
            .replace('\u{2029}', &continued.replace('\u{2028}', "\u{2029}"));
        Cow::Owned(format!("'{quoted}'"))
    }
}

/// What libyaml's analysis of a scalar finds, as far as the choice of style needs.
#[derive(Default)]
struct Facts {
    /// A character that only an escape can carry.
    special: bool,
    line_breaks: bool,
    leading_space: bool,
    leading_break: bool,
    trailing_space: bool,
    trailing_break: bool,
    /// A space right before a line break.
    space_break: bool,
    /// A tab: escaped in flow style, but a literal block may hold it.
    tabs: bool,
    /// A line break right before a space.
    break_space: bool,
}

impl Facts {
    fn of(text: &str) -> Self {
        let mut facts = Self::default();
        if text.bytes().all(|b| b.is_ascii_graphic()) {
            // No spaces, breaks, tabs or specials: the common case, at a glance.
            return facts;
        }
        let (mut previous_space, mut previous_break) = (false, false);
        let count = text.chars().count();
        for (i, c) in text.chars().enumerate() {
            let last = i + 1 == count;
            if c == '\t' {
                facts.tabs = true;
            } else if !is_printable(c) || c == '\u{feff}' {
                facts.special = true;
            }
            if c == ' ' {
                facts.leading_space |= i == 0;
                facts.trailing_space |= last;
                facts.break_space |= previous_break;
                (previous_space, previous_break) = (true, false);
            } else if is_break(c) {
                facts.line_breaks = true;
                facts.leading_break |= i == 0;
                facts.trailing_break |= last;
                facts.space_break |= previous_space;
                (previous_space, previous_break) = (false, true);
            } else {
                (previous_space, previous_break) = (false, false);
            }
        }
        facts
    }

    fn block_allowed(&self) -> bool {
        !(self.special || self.space_break || self.trailing_space)
    }

    fn plain_allowed(&self, text: &str) -> bool {
        !(text.is_empty()
            || self.leading_space
            || self.leading_break
            || self.trailing_space
            || self.trailing_break
            || self.line_breaks
            || self.break_space
            || has_indicator(text))
    }
}

/// libyaml's printable characters; the others (tabs and other controls, DEL, C1
/// controls, surrogates, and everything beyond the Basic Multilingual Plane) are
/// escaped.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// An indicator where a plain scalar cannot have one: first, as `: ` or ` #` inside,
/// as a trailing `:`, or a document marker.
fn has_indicator(text: &str) -> bool {
    let mut chars = text.chars();
    let first = chars.next().unwrap_or(' ');
    let second = chars.next();
    let leading = match first {
        '-' | '?' | ':' => second.is_none_or(|c| c == ' '),
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => true,
        _ => false,
    };
    leading
        || text.starts_with("---")
        || text.starts_with("...")
        || text
            .as_bytes()
            .windows(2)
            .any(|pair| pair == b": " || pair == b" #")
        || text.ends_with(':')
}

fn write_literal(out: &mut String, text: &str, indent: usize) {
    out.push('|');
    // Text that starts with a space or a break needs its indentation given.
    if text.starts_with([' ', '\n']) {
        out.push('2');
    }
    let body = text.trim_end_matches('\n');
    // Kept (`+`) when more than the last line break ends it, or when it is only breaks.
    out.push_str(match text.len() - body.len() {
        0 => "-",
        1 if !body.is_empty() => "",
        _ => "+",
    });
    out.push('\n');
    let kept = if text.len() - body.len() > 1 {
        text
    } else {
        body
    };
    for line in kept.strip_suffix('\n').unwrap_or(kept).split('\n') {
        if !line.is_empty() {
            crate::yaml_writer::indent_line(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn double_quoted(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        let escape = match c {
            '\0' => "0",
            '\u{7}' => "a",
            '\u{8}' => "b",
            '\t' => "t",
            '\n' => "n",
            '\u{b}' => "v",
            '\u{c}' => "f",
            '\r' => "r",
            '\u{1b}' => "e",
            '"' => "\"",
            '\\' => "\\",
            '\u{85}' => "N",
            '\u{a0}' => "_",
            '\u{2028}' => "L",
            '\u{2029}' => "P",
            c if is_printable(c) && c != '\u{feff}' => {
                quoted.push(c);
                continue;
            }
            c => {
                let code = u32::from(c);
                let _ = match code {
                    0..=0xff => write!(quoted, "\\x{code:02X}"),
                    0x100..=0xffff => write!(quoted, "\\u{code:04X}"),
                    _ => write!(quoted, "\\U{code:08X}"),
                };
                continue;
            }
        };
        quoted.push('\\');
        quoted.push_str(escape);
    }
    quoted.push('"');
    quoted
}

/// What a YAML reader would take for something else than a string: null, a boolean
/// (YAML 1.1's words too, which yaml.v3 still quotes), a number, a timestamp.
fn resolves_to_other_type(text: &str) -> bool {
    const WORDS: [&str; 27] = [
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "y",
        "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    // Every word above, number and timestamp starts with one of these.
    let maybe = text.bytes().next().is_none_or(|first| {
        matches!(
            first,
            b'0'..=b'9'
                | b'+'
                | b'-'
                | b'.'
                | b'~'
                | b'n'
                | b'N'
                | b't'
                | b'T'
                | b'f'
                | b'F'
                | b'y'
                | b'Y'
                | b'o'
                | b'O'
        )
    });
    if !maybe {
        return false;
    }
    WORDS.contains(&text) || is_number(text) || is_base60(text) || is_timestamp(text)
}

/// As yaml.v3 resolves a plain scalar: Go's integers in any base (underscores
/// dropped), its float pattern, and the special floats.
fn is_number(text: &str) -> bool {
    let plain = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    let unsigned = plain.trim_start_matches(['-', '+']);
    if plain.len() - unsigned.len() > 1 {
        return false;
    }
    if matches!(
        unsigned,
        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
    ) {
        return true;
    }
    let radix = |prefix: &str, radix: u32| {
        unsigned
            .strip_prefix(prefix)
            .is_some_and(|digits| !digits.is_empty() && u128::from_str_radix(digits, radix).is_ok())
    };
    radix("0x", 16)
        || radix("0X", 16)
        || radix("0o", 8)
        || radix("0O", 8)
        || radix("0b", 2)
        || radix("0B", 2)
        // Too large for a float (`1e400`), Go's parser gives up: it reads as text.
        || (is_float_pattern(unsigned) && plain.parse::<f64>().is_ok_and(f64::is_finite))
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, unsigned.
fn is_float_pattern(text: &str) -> bool {
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            digits(whole) == whole.len()
                && digits(fraction) == fraction.len()
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => !mantissa.is_empty() && digits(mantissa) == mantissa.len(),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e) == e.len()
    });
    mantissa_ok && exponent_ok
}

/// YAML 1.1's sexagesimal numbers (`1:20`, `190:20:30.15`), which yaml.v3 quotes.
fn is_base60(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let Some((head, rest)) = text.split_once(':') else {
        return false;
    };
    let (rest, _fraction) = rest.split_once('.').unwrap_or((rest, ""));
    head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_')
        && rest.split(':').all(|part| {
            (1..=2).contains(&part.len())
                && part.chars().all(|c| c.is_ascii_digit())
                && part.parse::<u8>().is_ok_and(|n| n < 60)
        })
}

/// yaml.v3's timestamps (Go layouts `2006-1-2`, `2006-1-2 15:4:5.999999999`, and
/// `2006-1-2T15:4:5.999999999Z07:00` with `T` or `t`).
fn is_timestamp(text: &str) -> bool {
    let Some((date, time)) = split_date(text) else {
        return false;
    };
    let _ = date;
    let mut chars = time.chars();
    match chars.next() {
        None => true,
        Some(' ') => clock(chars.as_str()).is_some_and(str::is_empty),
        Some('T' | 't') => clock(chars.as_str()).is_some_and(|zone| {
            zone == "Z" || {
                let b = zone.as_bytes();
                b.len() == 6
                    && matches!(b[0], b'+' | b'-')
                    && b[1..3].iter().all(u8::is_ascii_digit)
                    && b[3] == b':'
                    && b[4..].iter().all(u8::is_ascii_digit)
            }
        }),
        _ => false,
    }
}

/// `YYYY-M-D` at the start of `text`: the date, and what follows it.
fn split_date(text: &str) -> Option<(&str, &str)> {
    let b = text.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let (month, rest) = small_number(&text[5..])?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = small_number(rest)?;
    let _ = (month, day);
    Some((&text[..text.len() - rest.len()], rest))
}

/// `H:M:S` with an optional fraction: what follows it.
fn clock(text: &str) -> Option<&str> {
    let (_, rest) = small_number(text)?;
    let (_, rest) = small_number(rest.strip_prefix(':')?)?;
    let (_, rest) = small_number(rest.strip_prefix(':')?)?;
    match rest.strip_prefix('.') {
        Some(fraction) => {
            let digits = fraction.len()
                - fraction
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            (digits > 0).then(|| &fraction[digits..])
        }
        None => Some(rest),
    }
}

/// One or two digits at the start of `text`, and the rest.
fn small_number(text: &str) -> Option<(&str, &str)> {
    let digits = text.len() - text.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    (1..=2).contains(&digits).then(|| text.split_at(digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> String {
        let mut out = String::new();
        write_value(&mut out, text, 2);
        out
    }

    #[test]
    fn strings_are_quoted_as_yaml_v3_quotes_them() {
        for (text, shown) in [
            ("8080", "\"8080\""),
            ("1.5", "\"1.5\""),
            ("0x1F", "\"0x1F\""),
            ("1e3", "\"1e3\""),
            ("0o", "0o"),
            ("1e", "1e"),
            ("yes", "\"yes\""),
            ("", "\"\""),
            ("2024-01-01", "\"2024-01-01\""),
            ("2024-01-01T10:00:00Z", "\"2024-01-01T10:00:00Z\""),
            ("1:20", "\"1:20\""),
            (
                "2001-12-14t21:59:43.10-05:00",
                "\"2001-12-14t21:59:43.10-05:00\"",
            ),
            ("2024-01-01 10:00:00", "\"2024-01-01 10:00:00\""),
            ("2024-01-01x", "2024-01-01x"),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{7}", "\"bell\\a\""),
            ("nul\0x", "\"nul\\0x\""),
            ("del\u{7f}x", "\"del\\x7Fx\""),
            ("\u{85}nel", "\"\\Nnel\""),
            ("emoji \u{1F600}", "\"emoji \\U0001F600\""),
            ("a\u{2028}b", "'a\u{2028}b'"),
            ("it's", "it's"),
            ("a: b", "'a: b'"),
            ("#x", "'#x'"),
            ("it's: x", "'it''s: x'"),
            ("trail ", "'trail '"),
            ("- dash", "'- dash'"),
            ("nginx:1.25", "nginx:1.25"),
            ("-c", "-c"),
            ("a b", "a b"),
            ("127.0.0.1", "127.0.0.1"),
        ] {
            assert_eq!(flow(text), shown, "{text:?}");
        }
    }

    #[test]
    fn text_over_several_lines_is_a_literal_block() {
        assert_eq!(value("one\ntwo\n"), "|\n  one\n  two\n");
        assert_eq!(value("one\ntwo"), "|-\n  one\n  two\n");
        assert_eq!(value("one\n\n"), "|+\n  one\n\n");
        assert_eq!(value("\n\nleading"), "|2-\n\n\n  leading\n");
        assert_eq!(value("tab\tand\nbreak"), "|-\n  tab\tand\n  break\n");
        assert_eq!(value("\n"), "|2+\n\n");
        assert_eq!(value("space \nbreak"), "\"space \\nbreak\"\n");
    }
}

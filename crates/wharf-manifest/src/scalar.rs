//! How plain YAML scalars resolve to types, and how numbers print, as Compose does it.
//!
//! Compose reads YAML with Go's yaml library into untyped maps, so `0x10` is the
//! integer 16, `yes` stays a string, and a float prints like Go's `%v`. wharf matches
//! those rules so `wharf config` prints the same values.

use crate::node::Value;

/// Resolves an unquoted scalar to its YAML 1.2 core-schema value.
pub fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    // A timestamp or a number starts with a digit, a sign or a dot: anything else is
    // text, without trying each reading (most scalars of a file).
    if !matches!(text.as_bytes()[0], b'0'..=b'9' | b'+' | b'-' | b'.') {
        return Value::Str(text.to_owned());
    }
    // Go's YAML tries a timestamp first.
    if let Some(time) = crate::timestamp::yaml_timestamp(text) {
        return Value::Time(time);
    }
    if let Some(int) = parse_int(text) {
        if let Ok(int) = i64::try_from(int) {
            return Value::Int(int);
        }
        if let Ok(int) = u64::try_from(int) {
            return Value::Uint(int);
        }
    }
    // A number too large for a float (`1e400`) stays text, as Go's parser leaves it.
    if looks_like_float(text)
        && let Ok(float) = text.parse::<f64>()
        && float.is_finite()
    {
        return Value::Float(float);
    }
    Value::Str(text.to_owned())
}

/// Parses an integer with Go's base-prefix rules (`0x`, `0o`, `0b`, a leading `0` for
/// octal, `_` separators); one past `i128` is none.
fn parse_int(text: &str) -> Option<i128> {
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(rest) = strip_prefix_ci(unsigned, "0x") {
        (16, rest)
    } else if let Some(rest) = strip_prefix_ci(unsigned, "0o") {
        (8, rest)
    } else if let Some(rest) = strip_prefix_ci(unsigned, "0b") {
        (2, rest)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (8, &unsigned[1..])
    } else {
        (10, unsigned)
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let cleaned: String = digits.chars().filter(|&c| c != '_').collect();
    if !cleaned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(&cleaned, radix).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn looks_like_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - frac_start;
        if int_digits == 0 && frac_digits == 0 {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == bytes.len() && (int_digits > 0 || frac_digits > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(text: &str) -> Option<i64> {
        match resolve_plain(text) {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }

    #[test]
    fn integers_follow_go_base_prefixes() {
        assert_eq!(int("42"), Some(42));
        assert_eq!(int("-7"), Some(-7));
        assert_eq!(int("0x10"), Some(16));
        assert_eq!(int("0o17"), Some(15));
        assert_eq!(int("017"), Some(15));
        assert_eq!(int("0b101"), Some(5));
        assert_eq!(int("1_000"), Some(1000));
        assert_eq!(int("08"), None);
        assert_eq!(int("1__0"), None);
    }

    #[test]
    fn words_that_yaml_1_1_called_booleans_stay_strings() {
        assert!(matches!(resolve_plain("yes"), Value::Str(_)));
        assert!(matches!(resolve_plain("on"), Value::Str(_)));
        assert!(matches!(resolve_plain("True"), Value::Bool(true)));
    }

    #[test]
    fn floats_and_nulls_resolve() {
        assert!(matches!(resolve_plain("1.5"), Value::Float(f) if (f - 1.5).abs() < 1e-12));
        assert!(matches!(resolve_plain(".5"), Value::Float(_)));
        assert!(matches!(resolve_plain("1e3"), Value::Float(_)));
        assert!(matches!(resolve_plain("1.2.3"), Value::Str(_)));
        assert!(matches!(resolve_plain("~"), Value::Null));
        assert!(matches!(resolve_plain(""), Value::Null));
    }
}

//! Text read as a number the way Go's `strconv` reads it: Compose casts a string at a
//! numeric attribute (`cpu_shares: "${SHARES}"`) with `ParseInt(s, 10, 64)` or
//! `ParseFloat`, so `010` is ten, and `0x10`, ` 5` and `1_000` are no integers.

/// `strconv.ParseInt(text, 10, 64)`: an optional sign, then decimal digits only.
#[must_use]
pub fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Rust's parser takes the same sign and digits; it only adds nothing Go refuses.
    text.parse().ok()
}

/// `strconv.ParseFloat(text, 64)`, but for hexadecimal mantissas (`0x1p-2`), which no
/// compose file writes: decimal with an optional fraction and exponent, `inf`,
/// `infinity` and `nan` in any case, and `_` between digits. A value beyond a float's
/// range is refused, as Go refuses it.
#[must_use]
pub fn parse_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let word = unsigned.to_ascii_lowercase();
    if matches!(word.as_str(), "inf" | "infinity" | "nan") {
        return text.parse().ok();
    }
    let well_formed = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'));
    if !well_formed || (text.contains('_') && !underscores_between_digits(unsigned)) {
        return None;
    }
    let value: f64 = text.replace('_', "").parse().ok()?;
    value.is_finite().then_some(value)
}

/// Go takes `_` in a number only with a digit on each side.
fn underscores_between_digits(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(at, &b)| {
        b != b'_'
            || (at > 0
                && bytes[at - 1].is_ascii_digit()
                && bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_float, parse_int};

    #[test]
    fn integers_are_decimal_with_an_optional_sign() {
        assert_eq!(parse_int("010"), Some(10));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("-5"), Some(-5));
        for refused in [
            "0x10", "0o10", " 5", "5 ", "1_000", "1.5", "1e3", "", "+", "-",
        ] {
            assert_eq!(parse_int(refused), None, "{refused:?}");
        }
        assert_eq!(parse_int("99999999999999999999"), None);
    }

    #[test]
    fn floats_read_as_go_reads_them() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float("1_000"), Some(1000.0));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("+5."), Some(5.0));
        assert_eq!(parse_float("010"), Some(10.0));
        assert!(parse_float("Inf").is_some_and(f64::is_infinite));
        assert!(parse_float("-infinity").is_some_and(|f| f.is_infinite() && f < 0.0));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        for refused in [
            "0x10", "0o10", " 5", "_1", "1_", "1__0", "1._5", ".inf", "1e400", "", "1,5",
        ] {
            assert_eq!(parse_float(refused), None, "{refused:?}");
        }
    }
}

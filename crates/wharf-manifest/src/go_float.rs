//! Numbers printed as Go prints them, so `config` shows what Compose shows.

/// Formats a float as Go's `fmt` `%v` does: shortest digits, exponent form only below
/// 1e-4 or from 1e21 on.
#[must_use]
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // `{:e}` gives the shortest round-trip digits as d.ddde±x.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..21).contains(&exponent) {
        let mut plain = format!("{value}");
        if plain.contains('.') {
            while plain.ends_with('0') {
                plain.pop();
            }
            if plain.ends_with('.') {
                plain.pop();
            }
        }
        plain
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'g', -1, 64)`: shortest digits,
/// exponent form below 1e-4 or from 1e6 on (`1.234567e+06`).
#[must_use]
pub fn format_float_g(value: f64) -> String {
    // Only where the two differ: `%v` keeps plain digits up to 1e21.
    let scientific = format!("{value:e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) if value.is_finite() => match exponent.parse::<i32>() {
            Ok(exponent @ 6..21) => format!("{mantissa}e+{exponent:02}"),
            _ => format_float(value),
        },
        _ => format_float(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(1000.0), "1000");
        assert_eq!(format_float(0.5), "0.5");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1e20), "100000000000000000000");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(0.0001), "0.0001");
    }

    #[test]
    fn floats_print_like_gos_g() {
        assert_eq!(format_float_g(123_456.0), "123456");
        assert_eq!(format_float_g(1e6), "1e+06");
        assert_eq!(format_float_g(1_234_567.0), "1.234567e+06");
        assert_eq!(
            format_float_g(1.844_674_407_370_955_2e19),
            "1.8446744073709552e+19"
        );
        assert_eq!(format_float_g(1e21), "1e+21");
        assert_eq!(format_float_g(1.5), "1.5");
    }
}

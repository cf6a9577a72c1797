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
}

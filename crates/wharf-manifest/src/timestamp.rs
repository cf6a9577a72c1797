//! Plain scalars that Go's YAML reads as timestamps (`2001-12-14`,
//! `2001-12-14T21:59:43.10-05:00`). Compose then holds a time, not text: it refuses one
//! wherever its schema wants a string or number, and writes one in an extension in
//! RFC 3339. wharf tells them apart the same way, so it refuses the same files.

/// The timestamp `text` reads as, written as Go writes it (RFC 3339 with nanoseconds,
/// trailing zeros dropped, `Z` for UTC); none when it is not one. The forms are Go's
/// YAML's: a date, or a date and time joined by `T`, `t` (with a zone) or a space
/// (without one); month, day, hour, minute and second may have one digit.
#[must_use]
pub fn yaml_timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(at) => (&text[..at], Some((bytes[at], &text[at + 1..]))),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: u32 = parts.next()?.parse().ok()?;
    let month = short_number(parts.next()?, 1, 12)?;
    let day = short_number(parts.next()?, 1, days_in(year, month))?;
    if parts.next().is_some() {
        return None;
    }
    let day = format!("{year:04}-{month:02}-{day:02}");
    let Some((separator, time)) = time else {
        return Some(format!("{day}T00:00:00Z"));
    };
    let (clock, zone) = if separator == b' ' {
        (time, "Z".to_owned())
    } else {
        let at = time.find(['Z', '+', '-'])?;
        (&time[..at], zone(&time[at..])?)
    };
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, digits))
            if (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (clock, digits.trim_end_matches('0'))
        }
        Some(_) => return None,
        None => (clock, ""),
    };
    let mut fields = clock.split(':');
    let hour = short_number(fields.next()?, 0, 23)?;
    let minute = short_number(fields.next()?, 0, 59)?;
    let second = short_number(fields.next()?, 0, 59)?;
    if fields.next().is_some() {
        return None;
    }
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    Some(format!(
        "{day}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
    ))
}

/// One or two digits between `low` and `high`.
fn short_number(text: &str, low: u32, high: u32) -> Option<u32> {
    if !(1..=2).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| (low..=high).contains(n))
}

/// `Z` or `±hh:mm`, as Go writes it: an offset of zero is `Z`.
fn zone(text: &str) -> Option<String> {
    if text == "Z" {
        return Some("Z".to_owned());
    }
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 6
        && matches!(bytes[0], b'+' | b'-')
        && bytes[3] == b':'
        && [1, 2, 4, 5].iter().all(|&i| bytes[i].is_ascii_digit());
    if !well_formed {
        return None;
    }
    Some(if &text[1..] == "00:00" {
        "Z".to_owned()
    } else {
        text.to_owned()
    })
}

fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_go_reads_as_times() {
        assert_eq!(
            yaml_timestamp("2001-12-14").as_deref(),
            Some("2001-12-14T00:00:00Z")
        );
        assert_eq!(
            yaml_timestamp("2001-2-3").as_deref(),
            Some("2001-02-03T00:00:00Z")
        );
        assert_eq!(
            yaml_timestamp("2001-12-14T21:59:43.10-05:00").as_deref(),
            Some("2001-12-14T21:59:43.1-05:00")
        );
        assert_eq!(
            yaml_timestamp("2001-12-14t1:2:3+00:00").as_deref(),
            Some("2001-12-14T01:02:03Z")
        );
        assert_eq!(
            yaml_timestamp("2001-12-14 21:59:43.000").as_deref(),
            Some("2001-12-14T21:59:43Z")
        );
    }

    #[test]
    fn text_that_only_looks_like_a_date_stays_text() {
        for text in [
            "2001-12-14 21:59:43.10 -5",
            "2001-13-01",
            "2001-02-30",
            "01-12-14",
            "2001-12-14T21:59:43",
            "2001-12",
            "2001-12-14x",
            "12345",
        ] {
            assert_eq!(yaml_timestamp(text), None, "{text}");
        }
        assert!(yaml_timestamp("2000-02-29").is_some());
        assert!(yaml_timestamp("1900-02-29").is_none());
    }
}

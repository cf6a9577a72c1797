//! Ages as the CLI prints them (`running 5m`).

/// How long ago `then_ms` was, in Compose's words: `5 seconds`, `3 minutes`, `2 hours`.
pub fn ago(now_ms: u64, then_ms: u64) -> String {
    let seconds = now_ms.saturating_sub(then_ms) / 1000;
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m", seconds / 60),
        3600..=86_399 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn durations_read_in_the_largest_unit() {
        assert_eq!(ago(10_000, 5_000), "5s");
        assert_eq!(ago(200_000, 0), "3m");
        assert_eq!(ago(7_300_000, 0), "2h");
        assert_eq!(ago(0, 5_000), "0s");
    }
}

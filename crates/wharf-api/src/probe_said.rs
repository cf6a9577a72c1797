//! How a failing healthcheck is said, natively or by the engine: its exit and its
//! output's last line (a traceback ends with its error), short enough for `ps`.

/// How much of the last line is kept.
const SAID_CHARS: usize = 160;

/// `exit code 1: ValueError: bad thing`; `code` is `None` when a signal ended it.
pub fn probe_said(code: Option<i64>, output: &str) -> String {
    let last = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    let last = last.split_whitespace().collect::<Vec<_>>().join(" ");
    let start = last
        .char_indices()
        .rev()
        .nth(SAID_CHARS)
        .map_or(0, |(at, _)| at);
    let code = code.map_or_else(|| "a signal".to_owned(), |c| format!("code {c}"));
    if last.is_empty() {
        return format!("exit {code}");
    }
    format!("exit {code}: {}", &last[start..])
}

#[cfg(test)]
mod tests {
    use super::probe_said;

    #[test]
    fn a_probe_that_said_nothing_is_said_by_its_exit() {
        assert_eq!(probe_said(Some(1), "\n  \n"), "exit code 1");
    }

    #[test]
    fn a_traceback_is_said_by_its_last_line() {
        let output = "Traceback (most recent call last):\n  File \"x\", line 1\n    ^^^^\nValueError: bad   thing\n\n";
        assert_eq!(
            probe_said(Some(1), output),
            "exit code 1: ValueError: bad thing"
        );
        assert_eq!(probe_said(None, ""), "exit a signal");
        let long = "x".repeat(500);
        assert_eq!(
            probe_said(Some(2), &long).len(),
            "exit code 2: ".len() + 161
        );
    }
}

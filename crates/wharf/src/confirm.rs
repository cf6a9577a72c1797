//! Asking before something destructive: what it deletes, on standard error, then a
//! yes/no question on the terminal. Without a terminal nobody can answer: the command
//! fails and says which flag answers yes.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::bail;

/// Prints `heading` and each of `items`, then asks `question`; true on yes. Without a
/// terminal, fails with `unanswered` (which names the flag that answers yes).
pub fn confirm(
    heading: &str,
    items: &[String],
    question: &str,
    unanswered: &str,
) -> anyhow::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{heading}")?;
    for item in items {
        writeln!(stderr, "  {item}")?;
    }
    if !std::io::stdin().is_terminal() {
        bail!("{unanswered}");
    }
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

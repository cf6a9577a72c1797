//! How log lines read: `web-1  | text`, one colour per instance on a terminal, and
//! the daemon query that fetches them (`wharf logs`, attached `wharf up`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};

use wharf_api::{LogLine, LogStream};

use crate::cli::Ansi;
use crate::printer::colors;
use crate::project_ref;

const COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

/// Prints lines as `web-1  | text`, one colour per instance on a terminal.
pub struct LogPrinter {
    color: bool,
    prefix: bool,
    /// Whether wharf's own `[wharf]` notes (started, exited, restarting) are shown.
    notes: bool,
    timestamps: bool,
    width: usize,
    colors: HashMap<String, &'static str>,
}

impl LogPrinter {
    /// `notes`: wharf's notes are shown too, beside the prefix only.
    pub fn new(ansi: Ansi, prefix: bool, timestamps: bool, notes: bool) -> Self {
        Self {
            color: colors(ansi, std::io::stdout().is_terminal()),
            prefix,
            notes: prefix && notes,
            timestamps,
            width: 0,
            colors: HashMap::new(),
        }
    }

    /// Pads every prefix to the longest of `instances`' names from the first line on,
    /// as Compose does, so the column does not move when a longer name first speaks.
    pub fn fit(&mut self, instances: &[wharf_api::InstanceStatus], services: &[String]) {
        let longest = instances
            .iter()
            .filter(|i| services.is_empty() || services.contains(&i.service))
            .map(|i| i.service.len() + 1 + i.replica.to_string().len())
            .max();
        self.width = self.width.max(longest.unwrap_or(0));
    }

    pub fn print(&mut self, line: &LogLine) -> std::io::Result<()> {
        if !self.notes && line.stream == LogStream::Wharf {
            return Ok(());
        }
        let mut out = String::new();
        if self.prefix {
            let name = format!("{}-{}", line.service, line.replica);
            self.width = self.width.max(name.len());
            let next = COLORS[self.colors.len() % COLORS.len()];
            let color = *self.colors.entry(name.clone()).or_insert(next);
            // An end is said on a line of its own, as Compose says it
            // (`job-1 exited with code 3`).
            if line.stream == LogStream::Wharf && line.line.starts_with(wharf_api::EXIT_NOTE) {
                let name = if self.color {
                    format!("\x1b[{color}m{name}\x1b[0m")
                } else {
                    name
                };
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{name} {}", line.line)?;
                return stdout.flush();
            }
            // Compose's column: the longest name and two spaces before the bar.
            let padded = format!("{name:<width$} |", width = self.width + 1);
            if self.color {
                let _ = write!(out, "\x1b[{color}m{padded}\x1b[0m ");
            } else {
                out.push_str(&padded);
                out.push(' ');
            }
        }
        if self.timestamps {
            // RFC 3339 in UTC, as Docker writes its timestamps (to the millisecond).
            out.push_str(&wharf_api::utc_text(line.time_ms));
            out.push(' ');
        }
        if line.stream == LogStream::Wharf {
            let _ = write!(out, "[wharf] {}", line.line);
        } else {
            out.push_str(&line.line);
        }
        out.push('\n');
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()
    }
}

pub fn logs_path(
    project: &str,
    services: &[String],
    tail: Option<usize>,
    since_ms: Option<u64>,
    follow: bool,
) -> String {
    let mut query: Vec<String> = services.iter().map(|s| format!("service={s}")).collect();
    // `--tail all` is no tail: every line, wharf's notes too.
    if let Some(tail) = tail.filter(|t| *t != usize::MAX) {
        query.push(format!("tail={tail}"));
    }
    if let Some(since) = since_ms {
        query.push(format!("since_ms={since}"));
    }
    if follow {
        query.push("follow=1".to_owned());
    }
    format!(
        "{}?{}",
        project_ref::endpoint(project, "logs"),
        query.join("&")
    )
}

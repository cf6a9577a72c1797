//! Snapshot tests of what users read: a command's output, made comparable across runs
//! by filters (temporary paths, ports, pids, times), against a file in
//! `tests/snapshots/`. A change to what users see is then a reviewed diff of that
//! file: `WHARF_UPDATE_SNAPSHOTS=1 cargo nextest run` writes the new output.

use std::path::PathBuf;

/// What varies from run to run, replaced by a placeholder before comparing.
#[derive(Default)]
pub struct Filters {
    replacements: Vec<(String, String)>,
}

impl Filters {
    /// Replaces `text` (a path, a port) with `[placeholder]`.
    #[must_use]
    pub fn text(mut self, text: &impl ToString, placeholder: &str) -> Self {
        self.replacements
            .push((text.to_string(), format!("[{placeholder}]")));
        self
    }

    pub fn apply(&self, output: &str) -> String {
        // Stamps first: a port that happens to be part of one must not split it.
        let mut text = output
            .split('\n')
            .map(|line| {
                line.split(' ')
                    .map(|word| without_stamp(word).unwrap_or_else(|| word.to_owned()))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n");
        // Longest first, so a path is not half replaced by its parent's placeholder.
        let mut replacements: Vec<&(String, String)> = self.replacements.iter().collect();
        replacements.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        for (from, to) in replacements {
            text = text.replace(from.as_str(), to);
        }
        text.lines()
            .map(normalize_line)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Numbers that vary (pids, durations, ages) become placeholders. A table cell keeps
/// its width, so columns stay aligned as they were and alignment is pinned too.
fn normalize_line(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        out.push_str(&rest[..spaces]);
        rest = &rest[spaces..];
        let word_len = rest.find(' ').unwrap_or(rest.len());
        let word = &rest[..word_len];
        rest = &rest[word_len..];
        let Some(replaced) = placeholder(word) else {
            out.push_str(word);
            continue;
        };
        out.push_str(&replaced);
        // Padding after a cell absorbs the difference in width, down to two spaces.
        let padding = rest.len() - rest.trim_start_matches(' ').len();
        if padding >= 2 && rest.len() > padding {
            let width = word.len() + padding;
            let pad = width.saturating_sub(replaced.len()).max(2);
            out.push_str(&" ".repeat(pad));
            rest = &rest[padding..];
        }
    }
    out.trim_end().to_owned()
}

/// `(pid 123)` and `123,` keep their punctuation around the placeholder.
fn placeholder(word: &str) -> Option<String> {
    if let Some(digested) = without_digest(word) {
        return Some(digested);
    }
    let core = word.trim_matches(['(', ')', ',', ':', ';']);
    let replaced = if is_duration(core) {
        "[TIME]"
    } else if is_measure(core, &["B", "KiB", "MiB", "GiB"]) {
        "[SIZE]"
    } else if is_measure(core, &["%"]) {
        "[PCT]"
    } else if core.len() >= 3 && core.bytes().all(|b| b.is_ascii_digit()) {
        "[N]"
    } else if let Some(stamped) = without_stamp(word) {
        return Some(stamped);
    } else if is_shaped(core, "dddd-dd-dd") {
        "[DATE]"
    } else if is_shaped(core, "dd:dd:dd") {
        "[CLOCK]"
    } else {
        return None;
    };
    Some(word.replacen(core, replaced, 1))
}

/// `auto-shop-20261201-175801-2` → `auto-shop-[STAMP]-2`: the date and time wharf puts
/// in the names of snapshots and dumps.
fn without_stamp(word: &str) -> Option<String> {
    let bytes = word.as_bytes();
    (0..bytes.len().saturating_sub(14)).find_map(|start| {
        let candidate = &word.get(start..start + 15)?;
        is_shaped(candidate, "dddddddd-dddddd")
            .then(|| format!("{}[STAMP]{}", &word[..start], &word[start + 15..]))
    })
}

/// `repo@sha256:<64 hex>` → `repo@[DIGEST]`: what a registry names content by, which
/// changes with the time written into it.
fn without_digest(word: &str) -> Option<String> {
    let start = word.find("sha256:")?;
    let hex = word.get(start + 7..start + 71)?;
    hex.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| format!("{}[DIGEST]{}", &word[..start], &word[start + 71..]))
}

/// Whether `word` has the shape `pattern`, where `d` stands for any digit.
fn is_shaped(word: &str, pattern: &str) -> bool {
    word.len() == pattern.len()
        && word.bytes().zip(pattern.bytes()).all(|(b, p)| {
            if p == b'd' {
                b.is_ascii_digit()
            } else {
                b == p
            }
        })
}

/// `0s`, `2.31s`, `15ms`, `3m`, `1h`: how long something took or has run.
fn is_duration(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &word[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && matches!(unit, "s" | "ms" | "m" | "h" | "d")
}

/// `1.4MiB`, `0.00%`: a number with one of `units`.
fn is_measure(word: &str, units: &[&str]) -> bool {
    units.iter().any(|unit| {
        word.strip_suffix(unit).is_some_and(|digits| {
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
    })
}

/// What a user typed and read, step by step.
pub struct Transcript<'a> {
    stack: &'a super::Stack,
    steps: Vec<String>,
}

impl<'a> Transcript<'a> {
    pub fn new(stack: &'a super::Stack) -> Self {
        Self {
            stack,
            steps: Vec::new(),
        }
    }

    pub fn step(&mut self, title: &str, args: &[&str]) {
        let output = self.stack.wharf(args);
        self.steps.push(format!(
            "$ wharf {}  # {title}\n{}",
            args.join(" "),
            shown(&output)
        ));
    }

    /// A step whose table's columns are as wide as their cells (pids of any length),
    /// pinned with each gap as one space: what it says, not how wide.
    pub fn step_unaligned(&mut self, title: &str, args: &[&str]) {
        self.step(title, args);
        if let Some(step) = self.steps.last_mut() {
            while step.contains("  ") {
                *step = step.replace("  ", " ");
            }
        }
    }

    pub fn text(&self) -> String {
        self.steps.join("\n")
    }
}

/// Both streams, as a terminal shows them, with the exit status.
fn shown(output: &std::process::Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Compares `output` (filtered) with `tests/snapshots/<name>.snap`.
pub fn assert_snapshot(name: &str, output: &str, filters: &Filters) {
    let actual = filters.apply(output) + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.snap"));
    if std::env::var_os("WHARF_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; review this output and write it with WHARF_UPDATE_SNAPSHOTS=1:\n{actual}",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name}: the output changed; if the change is wanted, rewrite {} with \
         WHARF_UPDATE_SNAPSHOTS=1 and review the diff\n--- expected\n{expected}--- actual\n{actual}",
        path.display()
    );
}

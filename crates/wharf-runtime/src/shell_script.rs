//! Shell scripts as far as native services need them rewritten: their words, and
//! text quoted to be put back in. Simple commands split at `;`, `&`, `|`, newlines and
//! parentheses, each word with where it stands in the text and its value once its
//! quotes are removed. A word that expands something (`$HOST`, `$(…)`, a backquote)
//! has no plain value. Comments are skipped; anything subtler (here-documents, `case`
//! patterns) reads as more words, which is harmless: only words naming a service change.

use std::ops::Range;

pub struct Word {
    /// Where the word is in the script, quotes included.
    pub at: Range<usize>,
    /// Its value with quotes and backslashes removed; `None` when it expands something.
    pub value: Option<String>,
}

/// The simple commands of `script`, each as its words.
pub fn commands(script: &str) -> Vec<Vec<Word>> {
    let mut commands = Vec::new();
    let mut command = Vec::new();
    let mut at = 0;
    while let Some(c) = script[at..].chars().next() {
        match c {
            ' ' | '\t' => at += 1,
            '#' => at = script[at..].find('\n').map_or(script.len(), |end| at + end),
            c if ends_a_command(c) => {
                if !command.is_empty() {
                    commands.push(std::mem::take(&mut command));
                }
                at += 1;
            }
            _ => {
                let (word, end) = word(script, at);
                command.push(word);
                at = end;
            }
        }
    }
    if !command.is_empty() {
        commands.push(command);
    }
    commands
}

fn ends_a_command(c: char) -> bool {
    matches!(c, '\n' | ';' | '&' | '|' | '(' | ')')
}

/// The word starting at `start`, and where it ends.
fn word(script: &str, start: usize) -> (Word, usize) {
    let mut value = String::new();
    let mut plain = true;
    let mut at = start;
    while let Some(c) = script[at..].chars().next() {
        match c {
            ' ' | '\t' => break,
            c if ends_a_command(c) => break,
            '\'' => {
                let end = script[at + 1..]
                    .find('\'')
                    .map_or(script.len(), |end| at + 1 + end);
                value.push_str(&script[at + 1..end]);
                at = (end + 1).min(script.len());
            }
            '"' => at = double_quoted(script, at + 1, &mut value, &mut plain),
            '\\' => {
                at += 1;
                if let Some(escaped) = script[at..].chars().next() {
                    // A backslash before a newline joins the lines.
                    if escaped != '\n' {
                        value.push(escaped);
                    }
                    at += escaped.len_utf8();
                }
            }
            '$' | '`' => {
                plain = false;
                at = expansion_end(script, at);
            }
            c => {
                value.push(c);
                at += c.len_utf8();
            }
        }
    }
    let word = Word {
        at: start..at,
        value: plain.then_some(value),
    };
    (word, at)
}

/// Reads a double-quoted string's inside from `at` into `value`; where it ends, past
/// its closing quote.
fn double_quoted(script: &str, mut at: usize, value: &mut String, plain: &mut bool) -> usize {
    while let Some(c) = script[at..].chars().next() {
        match c {
            '"' => return at + 1,
            '\\' => match script[at + 1..].chars().next() {
                Some(escaped @ ('"' | '\\' | '$' | '`')) => {
                    value.push(escaped);
                    at += 2;
                }
                Some('\n') => at += 2,
                _ => {
                    value.push('\\');
                    at += 1;
                }
            },
            '$' | '`' => {
                *plain = false;
                at = expansion_end(script, at);
            }
            c => {
                value.push(c);
                at += c.len_utf8();
            }
        }
    }
    at
}

/// `text` as a shell reads it back where `quote` is open (none, `'` or `"`).
pub fn quoted(text: &str, quote: Option<char>) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%=".contains(c);
    match quote {
        None if text.chars().all(plain) => text.to_owned(),
        None => format!("'{}'", text.replace('\'', "'\\''")),
        Some('\'') => text.replace('\'', "'\\''"),
        Some(_) => text.chars().fold(String::new(), |mut out, c| {
            if "\\\"$`".contains(c) {
                out.push('\\');
            }
            out.push(c);
            out
        }),
    }
}

/// Where the expansion at `at` ends: a command substitution (`$(…)`, `` `…` ``) or a
/// braced parameter (`${…}`) to its closing character, else just past the `$`.
fn expansion_end(script: &str, at: usize) -> usize {
    let rest = &script[at..];
    if let Some(quoted) = rest.strip_prefix('`') {
        return quoted.find('`').map_or(script.len(), |end| at + end + 2);
    }
    let (open, close) = if rest.starts_with("$(") {
        ('(', ')')
    } else if rest.starts_with("${") {
        ('{', '}')
    } else {
        return at + 1;
    };
    let mut depth = 0;
    for (offset, c) in rest.char_indices().skip(1) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return at + offset + 1;
            }
        }
    }
    script.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(script: &str) -> Vec<Vec<String>> {
        commands(script)
            .into_iter()
            .map(|command| {
                command
                    .into_iter()
                    .map(|w| w.value.unwrap_or_else(|| format!("<{}>", &script[w.at])))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn commands_split_at_operators_and_words_lose_their_quotes() {
        assert_eq!(
            values("until pg_isready -h db; do sleep 1; done && exec 'my app' \"--x=a b\""),
            [
                vec!["until", "pg_isready", "-h", "db"],
                vec!["do", "sleep", "1"],
                vec!["done"],
                vec!["exec", "my app", "--x=a b"],
            ]
        );
        assert_eq!(
            values("a\\ b|c # a comment; d\n(e)"),
            [vec!["a b"], vec!["c"], vec!["e"]]
        );
    }

    #[test]
    fn words_that_expand_something_have_no_plain_value() {
        assert_eq!(
            values("psql -h \"$HOST\" -c \"$(cat q.sql)\" ${X:-db} `id -u` x\"\\$\""),
            [vec![
                "psql",
                "-h",
                "<\"$HOST\">",
                "-c",
                "<\"$(cat q.sql)\">",
                "<${X:-db}>",
                "<`id -u`>",
                "x$",
            ]]
        );
        // A command substitution's own operators do not end the outer command.
        assert_eq!(values("echo $(a; b) c"), [vec!["echo", "<$(a; b)>", "c"]]);
    }

    #[test]
    fn unclosed_quotes_and_trailing_backslashes_end_with_the_text() {
        assert_eq!(values("echo 'abc"), [vec!["echo", "abc"]]);
        assert_eq!(values("echo \"abc"), [vec!["echo", "abc"]]);
        assert_eq!(values("echo abc\\"), [vec!["echo", "abc"]]);
        assert_eq!(values("echo é'ü'"), [vec!["echo", "éü"]]);
    }
}

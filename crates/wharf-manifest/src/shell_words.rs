//! Splits a command string into argv as Compose does for `command: "python app.py"`
//! (go-shellwords, as Compose 2.40 uses it): blanks separate; `\` takes the next
//! character as it is, outside single quotes; quotes group; `` `…` `` and `$(…)` stay
//! in their word, blanks and all; a `(` elsewhere is an error; and the first unquoted
//! `;`, `&`, `|`, `<` or `>` ends the command (with the digits of a `2>`), so
//! `echo a; echo b` runs `echo a`.

/// Compose's reading: the words before any shell operator.
pub fn split(text: &str) -> Result<Vec<String>, String> {
    words(text).map(|(words, _)| words)
}

/// For wharf's own commands, where dropping what follows an operator would hide it:
/// an operator is an error that says how to run a shell line.
pub fn split_all(text: &str) -> Result<Vec<String>, String> {
    match words(text)? {
        (words, None) => Ok(words),
        (_, Some(operator)) => Err(format!(
            "{text:?} has a `{operator}`, which needs a shell: write it as [\"sh\", \"-c\", \"…\"]"
        )),
    }
}

#[derive(PartialEq)]
enum Got {
    Nothing,
    Word,
    Quoted,
}

/// The words, and the operator that ended the reading early, if one did.
fn words(text: &str) -> Result<(Vec<String>, Option<char>), String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut got = Got::Nothing;
    let (mut escaped, mut single, mut double, mut back, mut dollar) =
        (false, false, false, false, false);
    let mut stopped = None;
    for c in text.chars() {
        if escaped {
            escaped = false;
            got = Got::Word;
            word.push(c);
            continue;
        }
        if c == '\\' {
            if single {
                word.push(c);
            } else {
                escaped = true;
            }
            continue;
        }
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            if single || double || back || dollar {
                word.push(c);
            } else if got != Got::Nothing {
                words.push(std::mem::take(&mut word));
                got = Got::Nothing;
            }
            continue;
        }
        match c {
            '`' if !single && !double && !dollar => back = !back,
            ')' if !single && !double && !back => dollar = !dollar,
            '(' if !single && !double && !back => {
                if dollar || !word.ends_with('$') {
                    return Err(format!(
                        "a `(` outside quotes in {text:?}: quote it, or write the command as a list"
                    ));
                }
                dollar = true;
                word.push(c);
                continue;
            }
            '"' if !single && !dollar => {
                if double {
                    got = Got::Quoted;
                }
                double = !double;
                continue;
            }
            '\'' if !double && !dollar => {
                if single {
                    got = Got::Quoted;
                }
                single = !single;
                continue;
            }
            ';' | '&' | '|' | '<' | '>' if !(single || double || back || dollar) => {
                // `2>`: the digits name a file descriptor, not a word.
                if c == '>' && !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
                    got = Got::Nothing;
                }
                stopped = Some(c);
                break;
            }
            _ => {}
        }
        got = Got::Word;
        word.push(c);
    }
    if got != Got::Nothing {
        words.push(word);
    }
    let open = if escaped {
        Some("a `\\` with nothing after it")
    } else if single {
        Some("an unclosed `'`")
    } else if double {
        Some("an unclosed `\"`")
    } else if back {
        Some("an unclosed `` ` ``")
    } else if dollar {
        Some("an unclosed `$(`, or a `)` without one")
    } else {
        None
    };
    match open {
        Some(what) => Err(format!("{what} in {text:?}")),
        None => Ok((words, stopped)),
    }
}

#[cfg(test)]
mod tests {
    use super::{split, split_all};

    /// Each line as Compose 2.40.3 splits it (`docker compose config`).
    #[test]
    fn lines_split_as_composes_do() {
        for (line, expected) in [
            (
                r#"python app.py "x y" 'a b' c\ d"#,
                &["python", "app.py", "x y", "a b", "c d"][..],
            ),
            (r#"sh -c "echo \"hi\"""#, &["sh", "-c", "echo \"hi\""]),
            ("  ", &[]),
            ("echo a; echo b && c", &["echo", "a"]),
            ("a 2>b", &["a"]),
            ("ab2>c", &["ab2"]),
            ("12> x", &[]),
            (";a", &[]),
            ("a|b", &["a"]),
            (r#"a "x;y" z"#, &["a", "x;y", "z"]),
            (r"a \; b", &["a", ";", "b"]),
            (r"a\tb c\nd", &["atb", "cnd"]),
            (r#""x\y""#, &["xy"]),
            ("a `b c` d", &["a", "`b c`", "d"]),
            ("a $(b c) d", &["a", "$(b c)", "d"]),
            (r#"a $(b "c) d"#, &["a", "$(b \"c)", "d"]),
            ("a ) b )", &["a", ") b )"]),
            (r#"a "" b"#, &["a", "", "b"]),
            ("a '' b", &["a", "", "b"]),
            (r"x \  y", &["x", " ", "y"]),
            (r#""a"b"c""#, &["abc"]),
            ("x #c d", &["x", "#c", "d"]),
            ("a\u{a0}b", &["a\u{a0}b"]),
        ] {
            assert_eq!(split(line).unwrap(), expected, "{line}");
        }
    }

    #[test]
    fn what_compose_refuses_is_refused_with_what_is_open() {
        for (line, said) in [
            ("echo (a)", "a `(` outside quotes"),
            ("$(a", "an unclosed `$(`"),
            ("a )", "an unclosed `$(`"),
            ("a\\", "nothing after it"),
            ("echo 'open", "an unclosed `'`"),
            ("a `\"b` c", "an unclosed `\"`"),
        ] {
            let err = split(line).unwrap_err();
            assert!(err.contains(said), "{line}: {err}");
        }
    }

    #[test]
    fn wharfs_own_commands_refuse_an_operator_rather_than_drop_what_follows() {
        assert_eq!(
            split_all("npm test -- --ci").unwrap(),
            ["npm", "test", "--", "--ci"]
        );
        let err = split_all("npm test && npm run lint").unwrap_err();
        assert!(err.contains("has a `&`, which needs a shell"), "{err}");
    }
}

//! Splits a command string into argv as Compose does for `command: "python app.py"`:
//! whitespace separates, single quotes are literal, double quotes allow `\` escapes.

pub fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err(format!("unterminated single quote in {text:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => return Err(format!("unterminated double quote in {text:?}")),
                        },
                        Some(c) => current.push(c),
                        None => return Err(format!("unterminated double quote in {text:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    current.push(c);
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn quotes_group_words() {
        assert_eq!(
            split(r#"python app.py "x y" 'a b' c\ d"#).unwrap(),
            ["python", "app.py", "x y", "a b", "c d"]
        );
        assert_eq!(
            split(r#"sh -c "echo \"hi\"""#).unwrap(),
            ["sh", "-c", "echo \"hi\""]
        );
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert!(split("echo 'open").is_err());
    }
}

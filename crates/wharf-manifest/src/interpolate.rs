//! `${VAR}` substitution with every operator Compose supports.
//!
//! `$$` is a literal `$`; `$NAME` and `${NAME}` substitute; `${NAME:-d}` / `${NAME-d}`
//! default when unset-or-empty / unset; `${NAME:?e}` / `${NAME?e}` fail; `${NAME:+r}` /
//! `${NAME+r}` substitute `r` when set-and-non-empty / set. Defaults nest and are only
//! evaluated when used. A `$` not followed by a name or `{` is kept as is.

use std::fmt;

use crate::tree_path::TreePath;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${}`, an unterminated `${`, or a name with invalid characters.
    Invalid,
    /// `${NAME:?message}` or `${NAME?message}` with the variable missing.
    Required { name: String, message: String },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid => f.write_str("invalid interpolation format"),
            Self::Required { name, message } if message.is_empty() => {
                write!(f, "required variable {name} is missing a value")
            }
            Self::Required { name, message } => {
                write!(f, "required variable {name} is missing a value: {message}")
            }
        }
    }
}

/// Where substitution reads variables from, and where it reports unset ones.
pub trait Variables {
    fn get(&self, name: &str) -> Option<&str>;
    /// Called for each variable substituted as empty because it is not set.
    fn unset(&self, _name: &str) {}
}

/// One use of a variable in a template, for `wharf config --variables`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableUse {
    pub name: String,
    pub required: bool,
    pub default: Option<String>,
    pub alternate: Option<String>,
}

pub fn substitute(input: &str, vars: &dyn Variables) -> Result<String, TemplateError> {
    if !input.contains('$') {
        return Ok(input.to_owned());
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        match after.as_bytes().first() {
            Some(b'$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some(b'{') => {
                let body_len = braced_len(&after[1..]).ok_or(TemplateError::Invalid)?;
                let body = &after[1..=body_len];
                out.push_str(&expand_braced(body, vars)?);
                rest = &after[body_len + 2..];
            }
            Some(&c) if is_name_start(c) => {
                let len = name_len(after);
                out.push_str(&lookup_or_empty(&after[..len], vars));
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Lists the variables a template uses, without substituting anything.
pub fn variables_used(input: &str, uses: &mut Vec<VariableUse>) -> Result<(), TemplateError> {
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        let after = &rest[pos + 1..];
        match after.as_bytes().first() {
            Some(b'$') => rest = &after[1..],
            Some(b'{') => {
                let body_len = braced_len(&after[1..]).ok_or(TemplateError::Invalid)?;
                let body = &after[1..=body_len];
                let (name, op, arg) = split_braced(body)?;
                let mut usage = VariableUse {
                    name: name.to_owned(),
                    required: matches!(op, Some(":?" | "?")),
                    default: None,
                    alternate: None,
                };
                match op {
                    Some(":-" | "-") => usage.default = Some(arg.to_owned()),
                    Some(":+" | "+") => usage.alternate = Some(arg.to_owned()),
                    _ => {}
                }
                uses.push(usage);
                variables_used(arg, uses)?;
                rest = &after[body_len + 2..];
            }
            Some(&c) if is_name_start(c) => {
                let len = name_len(after);
                uses.push(VariableUse {
                    name: after[..len].to_owned(),
                    required: false,
                    default: None,
                    alternate: None,
                });
                rest = &after[len..];
            }
            _ => rest = after,
        }
    }
    Ok(())
}

fn is_name_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}

fn name_len(text: &str) -> usize {
    text.bytes()
        .take_while(|&c| c == b'_' || c.is_ascii_alphanumeric())
        .count()
}

/// Length of the body of `${...}` (after the `{`), honouring nested `${`.
fn braced_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn split_braced(body: &str) -> Result<(&str, Option<&'static str>, &str), TemplateError> {
    let len = name_len(body);
    if len == 0 || !is_name_start(body.as_bytes()[0]) {
        return Err(TemplateError::Invalid);
    }
    let (name, rest) = body.split_at(len);
    if rest.is_empty() {
        return Ok((name, None, ""));
    }
    for op in [":-", ":?", ":+", "-", "?", "+"] {
        if let Some(arg) = rest.strip_prefix(op) {
            return Ok((name, Some(op), arg));
        }
    }
    Err(TemplateError::Invalid)
}

fn expand_braced(body: &str, vars: &dyn Variables) -> Result<String, TemplateError> {
    let (name, op, arg) = split_braced(body)?;
    let value = vars.get(name);
    let set_non_empty = value.is_some_and(|v| !v.is_empty());
    match op {
        None => Ok(lookup_or_empty(name, vars)),
        Some(":-") if !set_non_empty => substitute(arg, vars),
        Some("-") if value.is_none() => substitute(arg, vars),
        Some(":?") if !set_non_empty => Err(required(name, arg, vars)?),
        Some("?") if value.is_none() => Err(required(name, arg, vars)?),
        Some(":+") => {
            if set_non_empty {
                substitute(arg, vars)
            } else {
                Ok(String::new())
            }
        }
        Some("+") => {
            if value.is_some() {
                substitute(arg, vars)
            } else {
                Ok(String::new())
            }
        }
        Some(_) => Ok(value.unwrap_or_default().to_owned()),
    }
}

fn required(name: &str, arg: &str, vars: &dyn Variables) -> Result<TemplateError, TemplateError> {
    Ok(TemplateError::Required {
        name: name.to_owned(),
        message: substitute(arg, vars)?,
    })
}

fn lookup_or_empty(name: &str, vars: &dyn Variables) -> String {
    if let Some(value) = vars.get(name) {
        value.to_owned()
    } else {
        vars.unset(name);
        String::new()
    }
}

/// Substitutes variables in every string value of a document (keys are left alone, as
/// in Compose).
pub fn interpolate_tree(
    node: &mut crate::node::Node,
    vars: &dyn Variables,
) -> crate::error::Result<()> {
    interpolate_at(node, vars, &TreePath::Root(""))
}

/// Interpolates one part of a file, which `path` names in errors (`name`).
pub fn interpolate_part(
    node: &mut crate::node::Node,
    vars: &dyn Variables,
    path: &str,
) -> crate::error::Result<()> {
    interpolate_at(node, vars, &TreePath::Root(path))
}

/// `path` names the node in errors (`services.web.image`).
fn interpolate_at(
    node: &mut crate::node::Node,
    vars: &dyn Variables,
    path: &TreePath<'_>,
) -> crate::error::Result<()> {
    use crate::node::Value;
    match &mut node.value {
        // Most strings hold no variable: left as they are, not copied.
        Value::Str(text) if text.contains('$') => {
            *text = substitute(text, vars).map_err(|err| match err {
                TemplateError::Invalid => crate::error::Error::at(
                    &node.span,
                    format!("invalid interpolation format for {path}"),
                )
                .with_help(
                    "write $$ for a literal $; variables look like $NAME or ${NAME:-default}",
                ),
                required @ TemplateError::Required { .. } => crate::error::Error::at(
                    &node.span,
                    format!("error while interpolating {path}: {required}"),
                )
                .with_help("set it in the shell or in the project's .env file"),
            })?;
        }
        Value::Seq(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_at(item, vars, &TreePath::Index(path, index))?;
            }
        }
        Value::Map(map) => {
            for (key, value) in map.iter_mut() {
                interpolate_at(value, vars, &TreePath::Key(path, key.name()))?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    struct Env(HashMap<&'static str, &'static str>, RefCell<Vec<String>>);

    impl Variables for Env {
        fn get(&self, name: &str) -> Option<&str> {
            self.0.get(name).copied()
        }
        fn unset(&self, name: &str) {
            self.1.borrow_mut().push(name.to_owned());
        }
    }

    fn env() -> Env {
        Env(
            HashMap::from([("A", "a"), ("EMPTY", "")]),
            RefCell::new(Vec::new()),
        )
    }

    fn sub(input: &str) -> Result<String, TemplateError> {
        substitute(input, &env())
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(sub("$A-${A}!").unwrap(), "a-a!");
        assert_eq!(sub("$$A").unwrap(), "$A");
        assert_eq!(sub("cost $ 5 $1").unwrap(), "cost $ 5 $1");
    }

    #[test]
    fn defaults_distinguish_unset_from_empty() {
        assert_eq!(sub("${EMPTY:-d}|${EMPTY-d}|${NOPE-d}").unwrap(), "d||d");
        assert_eq!(
            sub("${EMPTY:+r}|${EMPTY+r}|${A:+r}|${NOPE+r}").unwrap(),
            "|r|r|"
        );
    }

    #[test]
    fn defaults_nest_and_keep_operator_text() {
        assert_eq!(sub("${NOPE:-${NADA:-deep}}").unwrap(), "deep");
        assert_eq!(sub("${NOPE-b:-c}").unwrap(), "b:-c");
        assert_eq!(sub("${NOPE:-a}b}").unwrap(), "ab}");
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        let err = sub("${NOPE:?set it}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "required variable NOPE is missing a value: set it"
        );
        assert!(sub("${EMPTY?x}").is_ok());
        assert!(sub("${EMPTY:?x}").is_err());
    }

    #[test]
    fn malformed_templates_are_invalid() {
        for bad in ["${}", "${A", "${A.B}", "${1A}"] {
            assert_eq!(sub(bad), Err(TemplateError::Invalid), "{bad}");
        }
    }

    #[test]
    fn unset_variables_are_reported_and_empty() {
        let vars = env();
        assert_eq!(substitute("x${NOPE}y$NADA", &vars).unwrap(), "xy");
        assert_eq!(*vars.1.borrow(), ["NOPE", "NADA"]);
    }

    #[test]
    fn unused_defaults_are_not_evaluated() {
        let vars = env();
        assert_eq!(substitute("${A:-$UNSEEN}", &vars).unwrap(), "a");
        assert!(vars.1.borrow().is_empty());
    }
}

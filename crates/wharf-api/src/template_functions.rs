//! The functions a `--format` template calls: Go's own (`eq`, `printf`, `len`,
//! `index`, `and`…) and those Docker's formatter adds (`json`, `join`, `lower`,
//! `upper`, `title`, `split`, `truncate`, `pad`), over the JSON values the template
//! walks.

use std::fmt::Write as _;

use serde_json::Value;

use crate::go_template::TemplateError;

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let wrong = |wants: &str| TemplateError::Call {
        function: name.to_owned(),
        problem: wants.to_owned(),
    };
    let text = |at: usize| -> Result<String, TemplateError> {
        args.get(at)
            .map(plain)
            .ok_or_else(|| wrong("too few arguments"))
    };
    let count = |at: usize| -> Result<i64, TemplateError> {
        args.get(at)
            .and_then(Value::as_f64)
            .map(|n| n as i64)
            .ok_or_else(|| wrong("a number argument"))
    };
    Ok(match name {
        "json" => Value::String(
            args.first()
                .ok_or_else(|| wrong("one argument"))?
                .to_string(),
        ),
        "lower" => Value::String(text(0)?.to_lowercase()),
        "upper" => Value::String(text(0)?.to_uppercase()),
        "title" => Value::String(title(&text(0)?)),
        "join" => {
            let Some(Value::Array(items)) = args.first() else {
                return Err(wrong("a list and a separator"));
            };
            Value::String(items.iter().map(plain).collect::<Vec<_>>().join(&text(1)?))
        }
        "split" => Value::Array(
            text(0)?
                .split(&text(1)?)
                .map(|part| Value::String(part.to_owned()))
                .collect(),
        ),
        "truncate" => {
            let limit = usize::try_from(count(1)?).unwrap_or(0);
            Value::String(text(0)?.chars().take(limit).collect())
        }
        "pad" => {
            let (before, after) = (count(1)?.max(0), count(2)?.max(0));
            Value::String(format!(
                "{}{}{}",
                " ".repeat(before as usize),
                text(0)?,
                " ".repeat(after as usize)
            ))
        }
        "len" => Value::from(match args.first() {
            Some(Value::Array(items)) => items.len(),
            Some(Value::Object(fields)) => fields.len(),
            Some(Value::String(text)) => text.len(),
            _ => return Err(wrong("a list, a map or a string")),
        }),
        "index" => {
            let mut value = args.first().ok_or_else(|| wrong("a value and keys"))?;
            for key in &args[1..] {
                value = match (value, key) {
                    (Value::Array(items), _) => key
                        .as_f64()
                        .and_then(|n| items.get(n as usize))
                        .ok_or_else(|| wrong("an index in the list's range"))?,
                    (Value::Object(fields), _) => fields.get(&plain(key)).unwrap_or(&Value::Null),
                    _ => return Err(wrong("a list or a map to index")),
                };
            }
            value.clone()
        }
        "not" => Value::Bool(!truthy(args.first().ok_or_else(|| wrong("one argument"))?)),
        // The first false value, or the last; the first true one, or the last.
        "and" => args
            .iter()
            .find(|v| !truthy(v))
            .or(args.last())
            .cloned()
            .ok_or_else(|| wrong("arguments"))?,
        "or" => args
            .iter()
            .find(|v| truthy(v))
            .or(args.last())
            .cloned()
            .ok_or_else(|| wrong("arguments"))?,
        "eq" => {
            let (first, others) = args.split_first().ok_or_else(|| wrong("two arguments"))?;
            Value::Bool(others.iter().any(|other| same(first, other)))
        }
        "ne" => match args {
            [a, b] => Value::Bool(!same(a, b)),
            _ => return Err(wrong("two arguments")),
        },
        "lt" | "le" | "gt" | "ge" => {
            let [a, b] = args else {
                return Err(wrong("two arguments"));
            };
            let order = match (a.as_f64(), b.as_f64(), a, b) {
                (Some(x), Some(y), _, _) => x.partial_cmp(&y),
                (_, _, Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => None,
            }
            .ok_or_else(|| wrong("two numbers or two strings"))?;
            Value::Bool(match name {
                "lt" => order.is_lt(),
                "le" => order.is_le(),
                "gt" => order.is_gt(),
                _ => order.is_ge(),
            })
        }
        "print" => Value::String(sprint(args)),
        "println" => Value::String(args.iter().map(plain).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let (format, rest) = args.split_first().ok_or_else(|| wrong("a format"))?;
            Value::String(printf(&plain(format), rest))
        }
        _ => return Err(TemplateError::Unsupported(name.to_owned())),
    })
}

/// Whether Go's `if` takes `value` as true: not false, 0, null or empty.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(fields) => !fields.is_empty(),
    }
}

/// A value as Go's template prints it: nothing for null, the rest as `%v` does.
pub(crate) fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => go_value(other),
    }
}

/// A value as Go's `%v` prints it: a list as `[a b]`, an object (a struct in Compose's
/// Go, its fields in order) as its values, `{a b}`, a missing one as `<nil>`.
fn go_value(value: &Value) -> String {
    let spaced = |values: &mut dyn Iterator<Item = &Value>| {
        values.map(go_value).collect::<Vec<_>>().join(" ")
    };
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "<nil>".to_owned(),
        Value::Array(items) => format!("[{}]", spaced(&mut items.iter())),
        Value::Object(fields) => format!("{{{}}}", spaced(&mut fields.values())),
        other => other.to_string(),
    }
}

/// Go's `eq`: numbers by value (an integer and a float alike), the rest as they are.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y).is_eq(),
        _ => a == b,
    }
}

fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = c.is_whitespace();
    }
    out
}

/// Go's `fmt.Sprint`: a space between two operands when neither is a string.
fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (at, arg) in args.iter().enumerate() {
        if at > 0 && !args[at - 1].is_string() && !arg.is_string() {
            out.push(' ');
        }
        out.push_str(&plain(arg));
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs a format line uses: `%s %v %d %f %q %t %x %%`,
/// with the flags `-` and `0`, a width and a precision.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let digits = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0) * 10 + d as usize);
                chars.next();
            }
            n
        };
        let width = digits(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(digits(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let numeric = matches!(verb, 'd' | 'f' | 'x') && arg.is_number();
        let text = match verb {
            'd' => arg
                .as_f64()
                .map_or_else(|| plain(arg), |n| format!("{}", n as i64)),
            'f' => arg
                .as_f64()
                .map_or_else(|| plain(arg), |n| format!("{n:.*}", precision.unwrap_or(6))),
            'x' => match arg {
                Value::String(text) => text.bytes().fold(String::new(), |mut hex, b| {
                    let _ = write!(hex, "{b:02x}");
                    hex
                }),
                _ => arg
                    .as_f64()
                    .map_or_else(|| plain(arg), |n| format!("{:x}", n as i64)),
            },
            'q' => Value::String(plain(arg)).to_string(),
            _ => {
                let text = plain(arg);
                match precision {
                    Some(p) => text.chars().take(p).collect(),
                    None => text,
                }
            }
        };
        let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else if zero && numeric {
            let (sign, digits) = text
                .strip_prefix('-')
                .map_or(("", text.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.push_str(&"0".repeat(pad));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    let extra: Vec<String> = args.map(plain).collect();
    if !extra.is_empty() {
        let _ = write!(out, "%!(EXTRA {})", extra.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn called(name: &str, args: &[Value]) -> Value {
        call(name, args).unwrap()
    }

    #[test]
    fn printf_pads_cuts_and_formats_as_gos_does() {
        let line =
            |format: &str, args: &[Value]| called("printf", &[&[json!(format)], args].concat());
        assert_eq!(line("%-6s|", &[json!("web")]), json!("web   |"));
        assert_eq!(
            line("%6s|%05d|%.2f", &[json!("web"), json!(42), json!(1.5)]),
            json!("   web|00042|1.50")
        );
        assert_eq!(
            line(
                "%q %v %t %x %%",
                &[json!("a\"b"), json!(3), json!(true), json!(255)]
            ),
            json!("\"a\\\"b\" 3 true ff %")
        );
        assert_eq!(line("%.3s", &[json!("running")]), json!("run"));
        assert_eq!(line("%s %s", &[json!("one")]), json!("one %!s(MISSING)"));
    }

    #[test]
    fn comparisons_and_logic_follow_gos_rules() {
        assert_eq!(
            called("eq", &[json!("running"), json!("exited"), json!("running")]),
            json!(true)
        );
        assert_eq!(called("eq", &[json!(80), json!(80.0)]), json!(true));
        assert_eq!(called("ne", &[json!(1), json!(2)]), json!(true));
        assert_eq!(called("lt", &[json!(1), json!(2)]), json!(true));
        assert_eq!(called("ge", &[json!("b"), json!("a")]), json!(true));
        assert_eq!(called("and", &[json!(1), json!(""), json!(2)]), json!(""));
        assert_eq!(called("or", &[json!(""), json!(0), json!("x")]), json!("x"));
        assert_eq!(called("not", &[json!([])]), json!(true));
        assert!(call("lt", &[json!(1), json!("a")]).is_err());
    }

    #[test]
    fn dockers_functions_work_on_text_and_lists() {
        assert_eq!(
            called("join", &[json!(["a", "b"]), json!(", ")]),
            json!("a, b")
        );
        assert_eq!(
            called("split", &[json!("a,b"), json!(",")]),
            json!(["a", "b"])
        );
        assert_eq!(called("title", &[json!("shop web")]), json!("Shop Web"));
        assert_eq!(
            called("truncate", &[json!("abcdef"), json!(3)]),
            json!("abc")
        );
        assert_eq!(
            called("pad", &[json!("x"), json!(1), json!(2)]),
            json!(" x  ")
        );
        assert_eq!(called("len", &[json!([1, 2, 3])]), json!(3));
        assert_eq!(
            called("index", &[json!([{"P": 80}]), json!(0)]),
            json!({"P": 80})
        );
        assert_eq!(called("json", &[json!({"a": [1]})]), json!("{\"a\":[1]}"));
        assert_eq!(
            called("print", &[json!(1), json!(2), json!("x")]),
            json!("1 2x")
        );
        assert!(matches!(
            call("nosuch", &[]),
            Err(TemplateError::Unsupported(_))
        ));
    }
}

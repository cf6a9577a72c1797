//! The syntax of the Go templates `--format` takes: text and `{{actions}}`, read into
//! a tree. Actions are pipelines of commands (`{{.Name | printf "%-20s"}}`), and the
//! `if`, `range` and `with` blocks with their `else`; `{{-` and `-}}` trim the space
//! beside them, `{{/* … */}}` is a comment. Variables, `define` and `template` are
//! refused by name.

use crate::go_template::TemplateError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Text(String),
    /// Prints the pipeline's value.
    Print(Pipeline),
    If(Block),
    Range(Block),
    With(Block),
}

/// `{{if|range|with PIPELINE}} body {{else}} otherwise {{end}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub pipeline: Pipeline,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

/// Commands joined by `|`: each one's value is the last argument of the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pipeline(pub Vec<Command>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// A function and its arguments.
    Call(String, Vec<Operand>),
    Operand(Operand),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    /// `.Field.Field`, from the dot (empty: the dot itself).
    Dot(Vec<String>),
    /// `$.Field`, from the value the template was given.
    Root(Vec<String>),
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
    Nil,
    Group(Box<Pipeline>),
    /// `(index .Publishers 0).URL`: a field of a group's value.
    FieldOf(Box<Pipeline>, Vec<String>),
}

/// The tree of `template` (its `table ` prefix already taken off).
pub(crate) fn parse(template: &str) -> Result<Vec<Node>, TemplateError> {
    let mut parser = Parser {
        items: items(template)?.into_iter(),
    };
    let (nodes, end) = parser.nodes()?;
    match end {
        Ending::Eof => Ok(nodes),
        Ending::Else(_) | Ending::End => Err(TemplateError::Syntax(
            "an `else` or `end` without its `if`, `range` or `with`".to_owned(),
        )),
    }
}

/// A piece of the template: text, or the words of an action.
enum Item {
    Text(String),
    Action(Vec<Token>),
}

/// Splits `template` into text and actions, trimming where `{{-` and `-}}` ask.
fn items(template: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut rest = template;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_before =
            after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_before {
            text = text.trim_end();
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_owned()));
        }
        let inside_start = if trim_before { 2 } else { 0 };
        let end = after
            .find("}}")
            .ok_or_else(|| TemplateError::Unclosed(template.to_owned()))?;
        let mut inside = &after[inside_start..end];
        trim_next = inside.ends_with(" -") || inside.ends_with("\t-") || inside.ends_with("\n-");
        if trim_next {
            inside = &inside[..inside.len() - 1];
        }
        let inside = inside.trim();
        if !(inside.starts_with("/*") && inside.ends_with("*/")) {
            items.push(Item::Action(tokens(inside)?));
        }
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        items.push(Item::Text(text.to_owned()));
    }
    Ok(items)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Dot(Vec<String>),
    Root(Vec<String>),
    Word(String),
    Text(String),
    Number(serde_json::Number),
    Open,
    Close,
    /// `.Field` right after a `)`: a field of the group's value.
    FieldOfGroup(Vec<String>),
    Bar,
}

fn tokens(action: &str) -> Result<Vec<Token>, TemplateError> {
    let unsupported = || TemplateError::Syntax(format!("cannot read `{{{{{action}}}}}`"));
    let mut tokens = Vec::new();
    let mut chars = action.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            _ if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '|' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Bar,
                });
            }
            '"' | '`' => {
                let (text, len) = quoted(&action[at..]).ok_or_else(unsupported)?;
                tokens.push(Token::Text(text));
                while chars.peek().is_some_and(|(i, _)| *i < at + len) {
                    chars.next();
                }
            }
            _ => {
                let len = action[at..]
                    .find(|c: char| c.is_whitespace() || "()|".contains(c))
                    .unwrap_or(action.len() - at);
                let word = &action[at..at + len];
                while chars.peek().is_some_and(|(i, _)| *i < at + len) {
                    chars.next();
                }
                let token = match word_token(word).ok_or_else(unsupported)? {
                    Token::Dot(path) if action[..at].ends_with(')') && !path.is_empty() => {
                        Token::FieldOfGroup(path)
                    }
                    token => token,
                };
                tokens.push(token);
            }
        }
    }
    Ok(tokens)
}

fn word_token(word: &str) -> Option<Token> {
    let path = |rest: &str| -> Option<Vec<String>> {
        if rest.is_empty() {
            return Some(Vec::new());
        }
        rest.strip_prefix('.')?
            .split('.')
            .map(|segment| {
                (!segment.is_empty()
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| segment.to_owned())
            })
            .collect()
    };
    if word == "." {
        return Some(Token::Dot(Vec::new()));
    }
    if word.starts_with('.') {
        return path(word).map(Token::Dot);
    }
    if let Some(rest) = word.strip_prefix('$') {
        return path(rest).map(Token::Root);
    }
    if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return serde_json::from_str(word).ok().map(Token::Number);
    }
    word.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then(|| Token::Word(word.to_owned()))
}

/// A string literal at the start of `text`, and the bytes it takes: `"…"` with Go's
/// escapes, or a raw `` `…` ``.
fn quoted(text: &str) -> Option<(String, usize)> {
    if let Some(raw) = text.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw[..end].to_owned(), end + 2));
    }
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Some((value, at + 1)),
            '\\' => value.push(match chars.next()?.1 {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '0' => '\0',
                other @ ('\\' | '"' | '\'') => other,
                _ => return None,
            }),
            other => value.push(other),
        }
    }
    None
}

struct Parser {
    items: std::vec::IntoIter<Item>,
}

/// What ended a list of nodes.
enum Ending {
    Eof,
    End,
    /// `{{else}}`, or the words after `else` (`else if …`).
    Else(Vec<Token>),
}

impl Parser {
    fn nodes(&mut self) -> Result<(Vec<Node>, Ending), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(item) = self.items.next() {
            let tokens = match item {
                Item::Text(text) => {
                    nodes.push(Node::Text(text));
                    continue;
                }
                Item::Action(tokens) => tokens,
            };
            let (keyword, rest) = match tokens.split_first() {
                Some((Token::Word(word), rest)) => (word.as_str(), rest),
                _ => ("", tokens.as_slice()),
            };
            match keyword {
                "end" if rest.is_empty() => return Ok((nodes, Ending::End)),
                "else" => return Ok((nodes, Ending::Else(rest.to_vec()))),
                "if" => nodes.push(Node::If(self.block(rest)?)),
                "range" => nodes.push(Node::Range(self.block(rest)?)),
                "with" => nodes.push(Node::With(self.block(rest)?)),
                "define" | "template" | "block" | "break" | "continue" | "end" => {
                    return Err(TemplateError::Unsupported(keyword.to_owned()));
                }
                _ => nodes.push(Node::Print(pipeline(&tokens)?)),
            }
        }
        Ok((nodes, Ending::Eof))
    }

    /// The rest of a block whose `{{if|range|with` words were `words`.
    fn block(&mut self, words: &[Token]) -> Result<Block, TemplateError> {
        let pipeline = pipeline(words)?;
        let (body, ending) = self.nodes()?;
        let otherwise = match ending {
            Ending::End => Vec::new(),
            Ending::Eof => {
                return Err(TemplateError::Syntax(
                    "a block without its `end`".to_owned(),
                ));
            }
            Ending::Else(rest) if rest.is_empty() => match self.nodes()? {
                (otherwise, Ending::End) => otherwise,
                _ => {
                    return Err(TemplateError::Syntax(
                        "an `else` block without its `end`".to_owned(),
                    ));
                }
            },
            // `else if …`: a block of its own, which takes the `end`.
            Ending::Else(rest) => match rest.split_first() {
                Some((Token::Word(word), condition)) if word == "if" => {
                    vec![Node::If(self.block(condition)?)]
                }
                _ => {
                    return Err(TemplateError::Syntax(
                        "else with words other than `if`".to_owned(),
                    ));
                }
            },
        };
        Ok(Block {
            pipeline,
            body,
            otherwise,
        })
    }
}

fn pipeline(tokens: &[Token]) -> Result<Pipeline, TemplateError> {
    let mut commands = Vec::new();
    let mut rest = tokens;
    loop {
        let (command, after) = command(rest)?;
        commands.push(command);
        match after.split_first() {
            None => return Ok(Pipeline(commands)),
            Some((Token::Bar, more)) => rest = more,
            Some(_) => {
                return Err(TemplateError::Syntax(
                    "words after a closing `)`".to_owned(),
                ));
            }
        }
    }
}

/// A command at the start of `tokens`, and the tokens after it (from a `|` on).
fn command(tokens: &[Token]) -> Result<(Command, &[Token]), TemplateError> {
    let end = outside_groups(tokens, |t| *t == Token::Bar).unwrap_or(tokens.len());
    let (words, after) = tokens.split_at(end);
    let mut operands = Vec::new();
    let mut rest = words;
    let name = match words.first() {
        Some(Token::Word(word)) if !matches!(word.as_str(), "true" | "false" | "nil") => {
            rest = &words[1..];
            Some(word.clone())
        }
        _ => None,
    };
    while !rest.is_empty() {
        let (operand, after) = operand(rest)?;
        operands.push(operand);
        rest = after;
    }
    match name {
        Some(name) => Ok((Command::Call(name, operands), after)),
        None if operands.len() == 1 => Ok((Command::Operand(operands.remove(0)), after)),
        None => Err(TemplateError::Syntax(
            "an action with no function and more than one value".to_owned(),
        )),
    }
}

fn operand(tokens: &[Token]) -> Result<(Operand, &[Token]), TemplateError> {
    let Some((first, rest)) = tokens.split_first() else {
        return Err(TemplateError::Syntax("an empty action".to_owned()));
    };
    let operand = match first {
        Token::Dot(path) => Operand::Dot(path.clone()),
        Token::Root(path) => Operand::Root(path.clone()),
        Token::Text(text) => Operand::Text(text.clone()),
        Token::Number(number) => Operand::Number(number.clone()),
        Token::Word(word) if word == "true" || word == "false" => Operand::Bool(word == "true"),
        Token::Word(word) if word == "nil" => Operand::Nil,
        Token::Open => {
            let close = outside_groups(rest, |t| *t == Token::Close)
                .ok_or_else(|| TemplateError::Syntax("a `(` not closed".to_owned()))?;
            let inner = Box::new(pipeline(&rest[..close])?);
            let after = &rest[close + 1..];
            return Ok(match after.split_first() {
                Some((Token::FieldOfGroup(path), more)) => {
                    (Operand::FieldOf(inner, path.clone()), more)
                }
                _ => (Operand::Group(inner), after),
            });
        }
        Token::Word(word) => {
            return Err(TemplateError::Syntax(format!(
                "{word} as an argument (a function's value goes in parentheses)"
            )));
        }
        Token::Close | Token::Bar | Token::FieldOfGroup(_) => {
            return Err(TemplateError::Syntax("a stray `)` or `|`".to_owned()));
        }
    };
    Ok((operand, rest))
}

/// Where the first of `tokens` outside any parentheses that `wanted` accepts is.
fn outside_groups(tokens: &[Token], wanted: impl Fn(&Token) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    tokens.iter().position(|t| {
        if depth == 0 && wanted(t) {
            return true;
        }
        match t {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        false
    })
}

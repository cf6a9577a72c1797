//! `--format '{{.Name}}\t{{.State}}'`: the Go templates scripts written for `docker
//! compose ps`, `ls` and `images` use, applied to the same JSON objects `--format
//! json` prints: fields (`{{.Name}}`, `{{.wharf.pid}}`), pipelines and functions
//! (`{{.Name | printf "%-20s"}}`, `{{json .Publishers}}`, `{{lower .State}}`), and
//! `if`, `range` and `with` (`template_syntax.rs`, `template_functions.rs`); `\t` and
//! `\n` written as escapes; a leading `table ` prints a header and aligns the
//! columns, as Docker's formatter does.

use serde_json::Value;

use crate::columns::aligned_columns;
use crate::template_functions::{call, plain, truthy};
use crate::template_syntax::{Command, Node, Operand, Pipeline, parse};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    table: bool,
    nodes: Vec<Node>,
}

/// Why a `--format` string is not a template wharf can apply.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("--format {0:?}: a `{{{{` is not closed")]
    Unclosed(String),
    #[error("--format: `{0}` is not supported")]
    Unsupported(String),
    #[error("--format: {0}")]
    Syntax(String),
    #[error("--format: there is no field `{field}` (fields: {known})")]
    NoSuchField { field: String, known: String },
    #[error("--format: `{function}` wants {problem}")]
    Call { function: String, problem: String },
}

impl Template {
    pub fn parse(format: &str) -> Result<Self, TemplateError> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim_start())
            }
            _ => (false, format),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        Ok(Self {
            table,
            nodes: parse(&body)?,
        })
    }

    /// The lines for `objects` (a header first for a table), each ending in a newline.
    pub fn render(&self, objects: &[Value]) -> Result<String, TemplateError> {
        self.render_headed(objects, &[])
    }

    /// `render`, a table's columns headed by `headers` (field, header) where they name
    /// the field, as a command's own table heads them (`images`' `ID` is `IMAGE ID`).
    pub fn render_headed(
        &self,
        objects: &[Value],
        headers: &[(&str, &str)],
    ) -> Result<String, TemplateError> {
        let mut rows: Vec<String> = Vec::with_capacity(objects.len() + 1);
        if self.table {
            rows.push(
                self.nodes
                    .iter()
                    .map(|node| header(node, headers))
                    .collect(),
            );
        }
        for object in objects {
            let mut row = String::new();
            render(&self.nodes, object, object, &mut row)?;
            rows.push(row);
        }
        Ok(if self.table {
            aligned(&rows)
        } else {
            rows.iter().flat_map(|row| [row.as_str(), "\n"]).collect()
        })
    }
}

fn render(
    nodes: &[Node],
    dot: &Value,
    root: &Value,
    out: &mut String,
) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Print(pipeline) => out.push_str(&plain(&value_of(pipeline, dot, root)?)),
            Node::If(block) => {
                let chosen = if truthy(&value_of(&block.pipeline, dot, root)?) {
                    &block.body
                } else {
                    &block.otherwise
                };
                render(chosen, dot, root, out)?;
            }
            Node::With(block) => {
                let value = value_of(&block.pipeline, dot, root)?;
                if truthy(&value) {
                    render(&block.body, &value, root, out)?;
                } else {
                    render(&block.otherwise, dot, root, out)?;
                }
            }
            Node::Range(block) => {
                let items: Vec<Value> = match value_of(&block.pipeline, dot, root)? {
                    Value::Array(items) => items,
                    // A map's values, in the order of its keys, as Go ranges over one.
                    Value::Object(fields) => {
                        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
                        fields.sort_by(|a, b| a.0.cmp(&b.0));
                        fields.into_iter().map(|(_, value)| value).collect()
                    }
                    Value::Null => Vec::new(),
                    other => {
                        return Err(TemplateError::Call {
                            function: "range".to_owned(),
                            problem: format!("a list or a map, not {other}"),
                        });
                    }
                };
                if items.is_empty() {
                    render(&block.otherwise, dot, root, out)?;
                }
                for item in &items {
                    render(&block.body, item, root, out)?;
                }
            }
        }
    }
    Ok(())
}

fn value_of(pipeline: &Pipeline, dot: &Value, root: &Value) -> Result<Value, TemplateError> {
    let mut piped: Option<Value> = None;
    for command in &pipeline.0 {
        let value = match command {
            Command::Operand(operand) if piped.is_none() => operand_value(operand, dot, root)?,
            Command::Operand(_) => {
                return Err(TemplateError::Syntax(
                    "a value after `|` (a function goes there)".to_owned(),
                ));
            }
            Command::Call(name, operands) => {
                let mut args = operands
                    .iter()
                    .map(|operand| operand_value(operand, dot, root))
                    .collect::<Result<Vec<_>, _>>()?;
                args.extend(piped.take());
                call(name, &args)?
            }
        };
        piped = Some(value);
    }
    Ok(piped.unwrap_or(Value::Null))
}

fn operand_value(operand: &Operand, dot: &Value, root: &Value) -> Result<Value, TemplateError> {
    Ok(match operand {
        Operand::Dot(path) => lookup(dot, path)?.clone(),
        Operand::Root(path) => lookup(root, path)?.clone(),
        Operand::Text(text) => Value::String(text.clone()),
        Operand::Number(number) => Value::Number(number.clone()),
        Operand::Bool(b) => Value::Bool(*b),
        Operand::Nil => Value::Null,
        Operand::Group(pipeline) => value_of(pipeline, dot, root)?,
        Operand::FieldOf(pipeline, path) => lookup(&value_of(pipeline, dot, root)?, path)?.clone(),
    })
}

fn lookup<'a>(object: &'a Value, path: &[String]) -> Result<&'a Value, TemplateError> {
    let mut value = object;
    for segment in path {
        value = value
            .get(segment)
            .ok_or_else(|| TemplateError::NoSuchField {
                field: path.join("."),
                known: value.as_object().map_or_else(
                    || format!("none: it is {}", kind(value)),
                    |o| o.keys().cloned().collect::<Vec<_>>().join(", "),
                ),
            })?;
    }
    Ok(value)
}

/// What a value is, for a field asked of what has none.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list (`range` or `index` reaches its items)",
        Value::Object(_) => "a map",
    }
}

/// The header of a table column: the text as it is, and for an action Docker's name
/// for the first field it reads, where it has one.
fn header(node: &Node, headers: &[(&str, &str)]) -> String {
    let pipeline = match node {
        Node::Text(text) => return text.clone(),
        Node::Print(pipeline) => pipeline,
        Node::If(block) | Node::Range(block) | Node::With(block) => &block.pipeline,
    };
    let name = first_field(pipeline).unwrap_or_default();
    if let Some((_, header)) = headers.iter().find(|(field, _)| *field == name) {
        return (*header).to_owned();
    }
    // A field of a field is headed by its own name, as Docker's formatter does.
    match name.as_str() {
        "ID" => "CONTAINER ID".to_owned(),
        "CPUPerc" => "CPU %".to_owned(),
        "MemUsage" => "MEM USAGE / LIMIT".to_owned(),
        "MemPerc" => "MEM %".to_owned(),
        "NetIO" => "NET I/O".to_owned(),
        "BlockIO" => "BLOCK I/O".to_owned(),
        "RunningFor" => "CREATED".to_owned(),
        "ConfigFiles" => "CONFIG FILES".to_owned(),
        "ExitCode" => "EXIT CODE".to_owned(),
        "CreatedAt" => "CREATED AT".to_owned(),
        "ContainerName" => "CONTAINER".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

fn first_field(pipeline: &Pipeline) -> Option<String> {
    let of_operand = |operand: &Operand| match operand {
        Operand::Dot(path) | Operand::Root(path) | Operand::FieldOf(_, path) => {
            path.last().cloned()
        }
        Operand::Group(inner) => first_field(inner),
        _ => None,
    };
    pipeline.0.iter().find_map(|command| match command {
        Command::Operand(operand) => of_operand(operand),
        Command::Call(_, operands) => operands.iter().find_map(of_operand),
    })
}

/// Tab-separated cells in columns, at least ten wide, as Docker's tab writer lays out
/// a table.
fn aligned(rows: &[String]) -> String {
    let cells: Vec<Vec<&str>> = rows.iter().map(|r| r.split('\t').collect()).collect();
    aligned_columns(&cells, 10, 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        vec![
            json!({"Name": "shop-web-1", "State": "running", "ExitCode": 0, "Publishers": []}),
            json!({"Name": "shop-db-1", "State": "exited", "ExitCode": 3, "Publishers": []}),
        ]
    }

    #[test]
    fn fields_and_json_print_as_gos_templates_do() {
        let template =
            Template::parse("{{.Name}}: {{ .State }} ({{.ExitCode}}) {{json .Publishers}}")
                .unwrap();
        assert_eq!(
            template.render(&rows()).unwrap(),
            "shop-web-1: running (0) []\nshop-db-1: exited (3) []\n"
        );
        let whole = Template::parse("{{json .}}")
            .unwrap()
            .render(&rows()[..1])
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(whole.trim()).unwrap(),
            rows()[0]
        );
    }

    /// Compose's `{{.Publishers}}` is a Go slice of structs: `%v` of it, not JSON.
    #[test]
    fn lists_and_objects_print_as_go_prints_slices_and_structs() {
        let line = json!({"Publishers": [
            {"URL": "127.0.0.1", "TargetPort": 80, "PublishedPort": 18081, "Protocol": "tcp"},
            {"URL": "::", "TargetPort": 81, "PublishedPort": null, "Protocol": "udp"},
        ], "Names": []});
        let template = Template::parse("{{.Publishers}} {{.Names}}").unwrap();
        assert_eq!(
            template.render(std::slice::from_ref(&line)).unwrap(),
            "[{127.0.0.1 80 18081 tcp} {:: 81 <nil> udp}] []\n"
        );
    }

    #[test]
    fn a_field_of_a_field_is_reached_as_go_walks_maps() {
        let line = json!({"Name": "shop-web-1", "wharf": {"pid": 42, "backend": "process"}});
        let template = Template::parse("table {{.Name}}\t{{.wharf.pid}}").unwrap();
        assert_eq!(
            template.render(std::slice::from_ref(&line)).unwrap(),
            "NAME         PID\nshop-web-1   42\n"
        );
        let missing = Template::parse("{{.wharf.nope}}").unwrap().render(&[line]);
        assert!(
            matches!(&missing, Err(TemplateError::NoSuchField { known, .. }) if known == "pid, backend"),
            "{missing:?}"
        );
        assert!(Template::parse("{{.wharf..pid}}").is_err());
        let of_text = Template::parse("{{.Name.Foo}}").unwrap().render(&rows());
        assert!(
            matches!(&of_text, Err(TemplateError::NoSuchField { known, .. }) if known == "none: it is a string"),
            "{of_text:?}"
        );
    }

    #[test]
    fn range_if_with_and_pipelines_run_as_gos_do() {
        let line = json!({
            "Name": "shop-web-1",
            "State": "running",
            "Health": "",
            "Publishers": [
                {"URL": "0.0.0.0", "PublishedPort": 8080, "TargetPort": 80},
                {"URL": "::", "PublishedPort": 8080, "TargetPort": 80}
            ],
            "Mounts": [],
            "wharf": {"pid": 42}
        });
        let render = |format: &str| {
            Template::parse(format)
                .unwrap()
                .render(std::slice::from_ref(&line))
                .unwrap()
        };
        assert_eq!(
            render("{{range .Publishers}}{{.PublishedPort}} {{end}}"),
            "8080 8080 \n"
        );
        assert_eq!(
            render(
                "{{if eq .State \"running\"}}up{{else if eq .State \"exited\"}}down{{else}}?{{end}}"
            ),
            "up\n"
        );
        assert_eq!(
            render("{{if .Health}}{{.Health}}{{else}}no check{{end}}"),
            "no check\n"
        );
        assert_eq!(render("{{with .wharf}}{{.pid}}{{end}}"), "42\n");
        assert_eq!(
            render("{{.Name | printf \"%s!\"}} {{lower .State | upper}}"),
            "shop-web-1! RUNNING\n"
        );
        assert_eq!(render("{{printf \"%-12s|\" .Name}}"), "shop-web-1  |\n");
        assert_eq!(render("{{(index .Publishers 0).TargetPort}}"), "80\n");
        assert_eq!(
            render("{{len .Publishers}} {{json (index .Publishers 1)}}"),
            "2 {\"URL\":\"::\",\"PublishedPort\":8080,\"TargetPort\":80}\n"
        );
        assert_eq!(
            render("{{range .Publishers}}{{$.Name}}:{{.URL}} {{end}}"),
            "shop-web-1:0.0.0.0 shop-web-1::: \n"
        );
        assert_eq!(render("a {{- \" b \" -}} c"), "a b c\n");
        assert_eq!(render("{{/* a comment */}}{{.State}}"), "running\n");
        assert_eq!(
            render("{{printf \"%s/%d\" (upper (printf \"%s\" .State)) (len .Publishers) | lower}}"),
            "running/2\n"
        );
        assert_eq!(render("{{range .Mounts}}x{{else}}none{{end}}"), "none\n");
    }

    #[test]
    fn a_table_has_a_header_and_aligned_columns() {
        let template = Template::parse("table {{.Name}}\\t{{.State}}").unwrap();
        assert_eq!(
            template.render(&rows()).unwrap(),
            "NAME         STATE\nshop-web-1   running\nshop-db-1    exited\n"
        );
    }

    #[test]
    fn what_cannot_be_applied_is_said() {
        assert!(matches!(
            Template::parse("{{.Name"),
            Err(TemplateError::Unclosed(_))
        ));
        assert!(matches!(
            Template::parse("{{define \"x\"}}{{end}}"),
            Err(TemplateError::Unsupported(_))
        ));
        assert!(matches!(
            Template::parse("{{if .Name}}no end"),
            Err(TemplateError::Syntax(_))
        ));
        assert!(matches!(
            Template::parse("{{.Name | nosuch}}")
                .unwrap()
                .render(&rows()),
            Err(TemplateError::Unsupported(_))
        ));
        let missing = Template::parse("{{.Nope}}").unwrap().render(&rows());
        assert!(matches!(missing, Err(TemplateError::NoSuchField { .. })));
    }
}

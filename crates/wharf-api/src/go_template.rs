//! `--format '{{.Name}}\t{{.State}}'`: the subset of Go templates scripts written for
//! `docker compose ps`, `ls` and `images` use, applied to the same JSON objects
//! `--format json` prints. Fields (`{{.Name}}`, `{{ .State }}`), `{{json .Field}}` and
//! `{{json .}}`; `\t` and `\n` written as escapes; a leading `table ` prints a header
//! and aligns the columns, as Docker's formatter does.

use serde_json::Value;

use crate::columns::aligned_columns;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    table: bool,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    /// `{{.Field}}`; `None` for `{{.}}`.
    Field(Option<String>),
    /// `{{json .Field}}`; `None` for `{{json .}}`.
    Json(Option<String>),
}

/// Why a `--format` string is not a template wharf can apply.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("--format {0:?}: a `{{{{` is not closed")]
    Unclosed(String),
    #[error(
        "--format: `{{{{{0}}}}}` is not supported (fields as `{{{{.Name}}}}`, and `{{{{json .}}}}`)"
    )]
    Unsupported(String),
    #[error("--format: there is no field `{field}` (fields: {known})")]
    NoSuchField { field: String, known: String },
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
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| TemplateError::Unclosed(format.to_owned()))?;
            parts.push(action(after[..end].trim())?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { table, parts })
    }

    /// The lines for `objects` (a header first for a table), each ending in a newline.
    pub fn render(&self, objects: &[Value]) -> Result<String, TemplateError> {
        let mut rows: Vec<String> = Vec::with_capacity(objects.len() + 1);
        if self.table {
            rows.push(self.parts.iter().map(header).collect());
        }
        for object in objects {
            let mut row = String::new();
            for part in &self.parts {
                match part {
                    Part::Text(text) => row.push_str(text),
                    Part::Field(name) => row.push_str(&plain(lookup(object, name.as_deref())?)),
                    Part::Json(name) => row.push_str(&lookup(object, name.as_deref())?.to_string()),
                }
            }
            rows.push(row);
        }
        Ok(if self.table {
            aligned(&rows)
        } else {
            rows.iter().flat_map(|row| [row.as_str(), "\n"]).collect()
        })
    }
}

fn action(inside: &str) -> Result<Part, TemplateError> {
    let unsupported = || TemplateError::Unsupported(inside.to_owned());
    let field = |path: &str| -> Result<Option<String>, TemplateError> {
        match path.strip_prefix('.') {
            Some("") => Ok(None),
            // A field of a field too (`.wharf.pid`), as Go walks maps.
            Some(name)
                if name.split('.').all(|segment| {
                    !segment.is_empty()
                        && segment
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                }) =>
            {
                Ok(Some(name.to_owned()))
            }
            _ => Err(unsupported()),
        }
    };
    match inside.split_whitespace().collect::<Vec<_>>().as_slice() {
        [path] => field(path).map(Part::Field),
        ["json", path] => field(path).map(Part::Json),
        _ => Err(unsupported()),
    }
}

fn lookup<'a>(object: &'a Value, name: Option<&str>) -> Result<&'a Value, TemplateError> {
    let Some(name) = name else {
        return Ok(object);
    };
    let mut value = object;
    for segment in name.split('.') {
        value = value
            .get(segment)
            .ok_or_else(|| TemplateError::NoSuchField {
                field: name.to_owned(),
                known: value
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
            })?;
    }
    Ok(value)
}

/// A value as Go's template prints it: strings bare, numbers and booleans as written,
/// nothing for null, anything else as JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The header of a table column: Docker's name for the field where it has one.
fn header(part: &Part) -> String {
    let name = match part {
        Part::Text(text) => return text.clone(),
        Part::Field(name) | Part::Json(name) => name.as_deref().unwrap_or(""),
    };
    // A field of a field is headed by its own name, as Docker's formatter does.
    match name.rsplit('.').next().unwrap_or(name) {
        "ID" => "CONTAINER ID".to_owned(),
        "RunningFor" => "CREATED".to_owned(),
        "ConfigFiles" => "CONFIG FILES".to_owned(),
        "ExitCode" => "EXIT CODE".to_owned(),
        "CreatedAt" => "CREATED AT".to_owned(),
        "ContainerName" => "CONTAINER".to_owned(),
        other => other.to_ascii_uppercase(),
    }
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
            Template::parse("{{range .}}{{end}}"),
            Err(TemplateError::Unsupported(_))
        ));
        let missing = Template::parse("{{.Nope}}").unwrap().render(&rows());
        assert!(matches!(missing, Err(TemplateError::NoSuchField { .. })));
    }
}

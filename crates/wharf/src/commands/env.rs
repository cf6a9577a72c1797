//! `wharf env`: the project's documented variables (`x-wharf.env`), each with its
//! current value and where that value comes from, secrets masked.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{EnvArgs, ListFormat};
use crate::documented_env::{Documented, documented};
use crate::output::aligned_table;
use crate::secrets::mask_secret;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &EnvArgs) -> anyhow::Result<ExitCode> {
    let variables = documented(settings, &settings.printer)?;
    let shown = |v: &Documented| {
        v.value
            .as_ref()
            .map(|value| match (args.show_secrets, v.secret) {
                // Nothing to hide, and worth seeing: a secret set to nothing.
                _ if value.is_empty() => String::new(),
                (true, _) | (false, Some(false)) => value.clone(),
                (false, Some(true)) => "********".to_owned(),
                (false, None) => mask_secret(&v.name, value),
            })
    };
    if args.format.format == ListFormat::Json {
        let rows: Vec<_> = variables
            .iter()
            .map(|v| {
                json!({"name": v.name, "value": shown(v), "source": v.source, "secret": v.secret == Some(true),
                       "description": v.description, "used_by": v.used_by})
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["VARIABLE", "VALUE", "FROM", "USED BY", "DESCRIPTION"].map(str::to_owned)];
    for v in &variables {
        rows.push([
            v.name.clone(),
            shown(v).map_or_else(
                || "(unset)".to_owned(),
                |value| {
                    if value.is_empty() {
                        "(empty)".to_owned()
                    } else {
                        value
                    }
                },
            ),
            v.source.clone().unwrap_or_else(|| "-".to_owned()),
            v.used_by.join(","),
            v.description.clone(),
        ]);
    }
    print!("{}", aligned_table(&rows));
    if variables.is_empty() {
        settings.printer.info(
            "the project documents no variables: `x-wharf.env` describes those it reads (docs/x-wharf.md)",
        );
    }
    Ok(ExitCode::SUCCESS)
}

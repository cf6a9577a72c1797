//! `wharf schema`: the JSON schema of the `x-wharf` keys, for editors.

use std::process::ExitCode;

const SCHEMA: &str = include_str!("../../../../docs/x-wharf.schema.json");

pub fn run() -> anyhow::Result<ExitCode> {
    print!("{SCHEMA}");
    Ok(ExitCode::SUCCESS)
}

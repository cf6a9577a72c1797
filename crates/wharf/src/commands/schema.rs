//! `wharf schema`: the JSON schema of the `x-wharf` keys, for editors.

use std::io::Write as _;
use std::process::ExitCode;

const SCHEMA: &str = include_str!("../../../../docs/x-wharf.schema.json");

pub fn run() -> anyhow::Result<ExitCode> {
    std::io::stdout().write_all(SCHEMA.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

//! `wharf version`, as `docker compose version` prints its own.

use std::process::ExitCode;

use crate::cli::{VersionArgs, VersionFormat};

pub fn run(args: &VersionArgs) -> ExitCode {
    let version = env!("CARGO_PKG_VERSION");
    match (args.format, args.short) {
        (VersionFormat::Json, _) => println!("{}", serde_json::json!({ "version": version })),
        (VersionFormat::Pretty, true) => println!("{version}"),
        (VersionFormat::Pretty, false) => println!("wharf version {version}"),
    }
    ExitCode::SUCCESS
}

//! The `wharf` command: parses arguments once into settings, then runs one command.

mod cli;
mod commands;
mod output;
mod printer;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.global.verbose, cli.global.quiet);
    let result = match &cli.command {
        Command::Config(args) => commands::config::run(&cli.global, args, &printer),
        Command::Completion(args) => commands::completion::run(args),
        Command::Man => commands::completion::man(),
        Command::Schema => commands::schema::run(),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err);
            ExitCode::FAILURE
        }
    }
}

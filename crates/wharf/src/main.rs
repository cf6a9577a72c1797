//! The `wharf` command: parses arguments once into settings, then runs one command.

mod age;
mod cli;
mod commands;
mod daemon_client;
mod documented_env;
mod glob;
mod image_build;
mod listening;
mod log_printer;
mod monitor;
mod output;
mod printer;
mod proc_table;
mod project_ref;
mod project_repos;
mod project_tasks;
mod project_watch;
mod readiness;
mod requirements;
mod secrets;
mod service_exec;
mod status_text;
mod user_settings;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// `wharf recipe NAME …` is the entrypoint wharfd runs for a recipe, written by
/// wharf_runtime and read back by it whole: no user types it, so clap (which would
/// take the `--` before the server's arguments) never sees it.
fn recipe_entrypoint() -> Option<ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    let [_, command, recipe, options @ ..] = argv.as_slice() else {
        return None;
    };
    if command != "recipe" {
        return None;
    }
    Some(
        match wharf_runtime::recipes::run_entrypoint(recipe, options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                Printer::new(0, false).error(&err);
                ExitCode::FAILURE
            }
        },
    )
}

fn main() -> ExitCode {
    if let Some(code) = recipe_entrypoint() {
        return code;
    }
    let cli = Cli::parse();
    // Output piped into `head` ends quietly, as with other command-line tools. The
    // daemon keeps ignoring SIGPIPE: a client that goes away must not end it.
    if !matches!(cli.command, Command::Daemon(cli::DaemonCommand::Run)) {
        // SAFETY: restoring the default disposition installs no handler code.
        #[allow(unsafe_code)]
        let _ = unsafe {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            )
        };
    }
    let printer = Printer::new(cli.global.verbose, cli.global.quiet);
    let result = match &cli.command {
        Command::Config(args) => commands::config::run(&cli.global, args, &printer),
        Command::Completion(args) => commands::completion::run(args),
        Command::Man => commands::completion::man(),
        Command::Schema => commands::schema::run(),
        Command::Up(args) => commands::up::run(&cli.global, args, &printer),
        Command::Down(args) => commands::down::run(&cli.global, args, &printer),
        Command::Start(args) => {
            commands::lifecycle::run(&cli.global, "start", &args.services, None, &printer)
        }
        Command::Stop(args) => {
            commands::lifecycle::run(&cli.global, "stop", &args.services, None, &printer)
        }
        Command::Restart(args) => {
            commands::lifecycle::run(&cli.global, "restart", &args.services, None, &printer)
        }
        Command::Kill(args) => commands::lifecycle::run(
            &cli.global,
            "kill",
            &args.services,
            Some(&args.signal),
            &printer,
        ),
        Command::Ps(args) => commands::ps::run(&cli.global, args),
        Command::Logs(args) => commands::logs::run(&cli.global, args),
        Command::Ls(args) => commands::ps::list(args),
        Command::Exec(args) => commands::exec::exec(&cli.global, args),
        Command::Run(args) => commands::exec::run(&cli.global, args, &printer),
        Command::Top(args) => commands::top::run(&cli.global, args),
        Command::Build(args) => commands::images::build(&cli.global, args, &printer),
        Command::Pull(args) => commands::images::pull(&cli.global, args, &printer),
        Command::Push(args) => commands::images::push(&cli.global, args, &printer),
        Command::Images(args) => commands::images::images(&cli.global, args, &printer),
        Command::Stats(args) => commands::stats::stats(&cli.global, args),
        Command::Port(args) => commands::stats::port(&cli.global, args),
        Command::Scale(args) => commands::up::scale(&cli.global, args, &printer),
        Command::Urls(args) => commands::urls::run(&cli.global, args),
        Command::Share(args) => commands::share::run(&cli.global, args, &printer),
        Command::Proxy(cli::ProxyCommand::Trust(args)) => commands::proxy::trust(args, &printer),
        Command::Root(args) => commands::settings::root(args),
        Command::Whoami(args) => commands::settings::whoami(&cli.global, args, &printer),
        Command::Checkout(args) => commands::repos::checkout(&cli.global, args, &printer),
        Command::Update(args) => commands::repos::update(&cli.global, args, &printer),
        Command::Revs(args) => commands::repos::revs(&cli.global, args, &printer),
        Command::Gitconfig(args) => commands::repos::gitconfig(&cli.global, args, &printer),
        Command::Repos(cli::ReposCommand::Ls(args)) => {
            commands::repos::list(&cli.global, args, &printer)
        }
        Command::Repos(cli::ReposCommand::Exec(args)) => {
            commands::repos::exec(&cli.global, args, &printer)
        }
        Command::Task(args) => commands::tasks::task(&cli.global, args, &printer),
        Command::Tasks(args) => commands::tasks::list(&cli.global, args, &printer),
        Command::Shell(args) => commands::tasks::shell(&cli.global, args, &printer),
        Command::Env(args) => commands::env::run(&cli.global, args, &printer),
        Command::Check(args) => commands::check::run(&cli.global, args, &printer),
        Command::Daemon(command) => commands::daemon::run(command, &printer),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            printer.error(&err);
            ExitCode::FAILURE
        }
    }
}

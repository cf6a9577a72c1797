//! The `wharf` command: parses arguments once into settings, then runs one command.

#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

mod age;
mod allocator;
mod arena;
mod bake_file;
mod builtin_lookups;
mod cli;
mod commands;
mod confirm;
mod daemon_client;
mod documented_env;
mod dry_run;
mod glob;
mod image_build;
mod image_pull;
mod listening;
mod log_printer;
mod monitor;
mod output;
mod printer;
mod project_databases;
mod project_ref;
mod project_repos;
mod project_tasks;
mod published_files;
mod readiness;
mod remote_project;
mod requirements;
mod secrets;
mod service_backends;
mod service_exec;
mod settings;
mod sigpipe;
mod status_text;
mod user_settings;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::printer::Printer;
use crate::settings::Settings;

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
    allocator::leave_heap_to_exit();
    builtin_lookups::only_builtin_sources();
    if let Some(code) = recipe_entrypoint() {
        return code;
    }
    // A bare `wharf` asks for help, as a bare `docker compose` does: on stdout, exit 0.
    if std::env::args_os().len() == 1 {
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::SUCCESS;
    }
    // `-v` alone is Compose's version flag; before a command it is wharf's verbosity.
    if std::env::args_os().skip(1).eq(["-v"]) {
        println!("wharf {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    // Usage errors exit 1, as Compose's do (clap's own would be 2); help is not one.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The daemon keeps ignoring SIGPIPE: a client that goes away must not end it; so
    // does `db`, which pipes dumps into clients that may stop reading at an error and
    // must then clean up.
    if !matches!(
        cli.command,
        Command::Daemon(cli::DaemonCommand::Run) | Command::Db(_)
    ) {
        sigpipe::end_on_closed_output();
    }
    if !reads_and_exits(&cli.command) {
        arena::close();
    }
    let Cli { global, command } = cli;
    let settings = Settings::new(global);
    // `-p` goes into wharfd's paths: checked once for every command, as `up` checks it.
    if let Some(name) = &settings.global.project_name
        && let Err(err) = wharf_manifest::validate_project_name(name)
    {
        settings.printer.error(&err.into());
        return ExitCode::FAILURE;
    }
    let planned = if settings.global.dry_run {
        dry_run::plan(&settings, &command)
    } else {
        None
    };
    let result = planned.unwrap_or_else(|| run(&settings, &command));
    match result {
        Ok(code) => code,
        Err(err) => {
            settings.printer.error(&err);
            ExitCode::FAILURE
        }
    }
}

/// The commands that read, print and exit, for which the arena's unfreed blocks are
/// cheaper than freeing (`arena.rs`); every other one may run on, or stream.
fn reads_and_exits(command: &Command) -> bool {
    matches!(
        command,
        Command::Config(_)
            | Command::Version(_)
            | Command::Ps(_)
            | Command::Ls(_)
            | Command::Port(_)
            | Command::Images(_)
            | Command::Urls(_)
            | Command::Schema
            | Command::Completion(_)
            | Command::Man(_)
    )
}

fn run(settings: &Settings, command: &Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Config(args) => commands::config::run(settings, args),
        Command::Completion(args) => commands::completion::run(args),
        Command::Man(args) => commands::completion::man(args),
        Command::Schema => commands::schema::run(),
        Command::Up(args) => commands::up::run(settings, args),
        Command::Create(args) => commands::up::run(settings, &args.as_up()),
        Command::Down(args) => commands::down::run(settings, args),
        Command::Start(args) => {
            commands::lifecycle::run(settings, "start", &args.services, None, None)
        }
        Command::Stop(args) => {
            commands::lifecycle::run(settings, "stop", &args.services, None, args.timeout)
        }
        Command::Restart(args) => commands::lifecycle::restart(settings, args),
        Command::Pause(args) => {
            commands::lifecycle::run(settings, "pause", &args.services, None, None)
        }
        Command::Unpause(args) => {
            commands::lifecycle::run(settings, "unpause", &args.services, None, None)
        }
        Command::Version(args) => Ok(commands::version::run(args)),
        Command::Events(args) => commands::events::run(settings, args),
        Command::Wait(args) => commands::wait::run(settings, args),
        Command::Watch { .. } => anyhow::bail!(
            "wharf has no `watch` yet (syncing files into services as they change): run `wharf up`, and restart a service with `wharf restart SERVICE` after a change"
        ),
        Command::Export(args) => commands::container_image::export(settings, args),
        Command::Commit(args) => commands::container_image::commit(settings, args),
        Command::Volumes(args) => commands::volumes::run(settings, args),
        Command::Rm(args) => commands::rm::run(settings, args),
        Command::Cp(args) => commands::cp::run(settings, args),
        Command::Db(args) => commands::db::run(settings, args),
        Command::Kill(args) => {
            commands::lifecycle::run(settings, "kill", &args.services, Some(&args.signal), None)
        }
        Command::Ps(args) => commands::ps::run(settings, args),
        Command::Logs(args) => commands::logs::run(settings, args),
        Command::Ls(args) => commands::ps::list(settings, args),
        Command::Exec(args) => commands::exec::exec(settings, args),
        Command::Run(args) => commands::exec::run(settings, args),
        Command::Attach(args) => commands::attach::run(settings, args),
        Command::Top(args) => commands::top::run(settings, args),
        Command::Build(args) => commands::images::build(settings, args),
        Command::Pull(args) => commands::images::pull(settings, args),
        Command::Push(args) => commands::images::push(settings, args),
        Command::Publish(args) => commands::publish::run(settings, args),
        Command::Images(args) => commands::images::images(settings, args),
        Command::Stats(args) => commands::stats::stats(settings, args),
        Command::Port(args) => commands::stats::port(settings, args),
        Command::Scale(args) => commands::up::scale(settings, args),
        Command::Urls(args) => commands::urls::run(settings, args),
        Command::Share(args) => commands::share::run(settings, args),
        Command::Proxy(cli::ProxyCommand::Trust(args)) => commands::proxy::trust(settings, args),
        Command::Root(args) => commands::user::root(settings, args),
        Command::Whoami(args) => commands::user::whoami(settings, args),
        Command::Checkout(args) => commands::repos::checkout(settings, args),
        Command::Update(args) => commands::repos::update(settings, args),
        Command::Revs(args) => commands::repos::revs(settings, args),
        Command::Gitconfig(args) => commands::repos::gitconfig(settings, args),
        Command::Repos(cli::ReposCommand::Ls(args)) => commands::repos::list(settings, args),
        Command::Repos(cli::ReposCommand::Exec(args)) => commands::repos::exec(settings, args),
        Command::Task(args) => commands::tasks::task(settings, args),
        Command::Tasks(args) => commands::tasks::list(settings, args),
        Command::Shell(args) => commands::tasks::shell(settings, args),
        Command::Env(args) => commands::env::run(settings, args),
        Command::Check(args) => commands::check::run(settings, args),
        Command::Daemon(command) => commands::daemon::run(settings, command),
    }
}

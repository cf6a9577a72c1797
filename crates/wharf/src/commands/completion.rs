//! `wharf completion SHELL` and `wharf man [COMMAND]`: generated from the clap
//! definitions. Bash and fish also complete service names, asked of `wharf config
//! --services` as the user types, after the commands that take services.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::bail;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionArgs, ManArgs};

/// The commands whose arguments are service names.
const TAKE_SERVICES: [&str; 25] = [
    "up", "down", "start", "stop", "restart", "kill", "ps", "logs", "exec", "run", "top", "build",
    "pull", "push", "images", "stats", "port", "events", "wait", "rm", "volumes", "export",
    "commit", "shell", "scale",
];

pub fn run(args: &CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut command = expanded_command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "wharf", &mut script);
    let commands = TAKE_SERVICES.join(" ");
    match args.shell {
        Shell::Bash => {
            // After clap's own completions: the project's services, for a word that is
            // not a flag, once a command that takes them has been typed.
            let _ = write!(
                script,
                r#"
_wharf_services() {{
    _wharf "$@"
    local cur="${{COMP_WORDS[COMP_CWORD]}}" word
    [[ "$cur" == -* ]] && return
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        case " {commands} " in
            *" $word "*)
                COMPREPLY+=($(compgen -W "$(wharf config --services 2>/dev/null)" -- "$cur"))
                return ;;
        esac
    done
}}
complete -F _wharf_services -o bashdefault -o default wharf
"#
            );
        }
        Shell::Fish => {
            let _ = writeln!(
                script,
                "complete -c wharf -n '__fish_seen_subcommand_from {commands}' -f -a '(wharf config --services 2>/dev/null)'"
            );
        }
        _ => {}
    }
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let wharf = expanded_command();
    let page = match &args.command {
        None => clap_mangen::Man::new(wharf),
        Some(name) => {
            let Some(command) = wharf.find_subcommand(name) else {
                bail!("no such command: {name} (`wharf --help` lists them)");
            };
            let command = command
                .clone()
                .bin_name(format!("wharf {name}"))
                .display_name(format!("wharf-{name}"));
            clap_mangen::Man::new(command).title(format!("wharf-{name}"))
        }
    };
    page.render(&mut std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}

/// The whole command tree with every command's flags in place: each command's flags are
/// deferred, built only for the command that runs.
fn expanded_command() -> clap::Command {
    let mut command = Cli::command();
    command.build();
    command
}

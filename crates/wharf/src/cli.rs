//! Command-line definitions. Completions and the man page are generated from these.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "One command for a whole multi-service development environment"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes: where the project is and how to read it.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Compose file(s) to read (repeatable; `-` reads standard input)
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: `name:` in the file, else the directory's name)
    #[arg(short = 'p', long, global = true, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Directory relative paths are resolved from (default: the first file's)
    #[arg(long, global = true, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Enable a profile (repeatable; also `COMPOSE_PROFILES`)
    #[arg(long = "profile", global = true, value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Read variables from this file instead of .env (repeatable)
    #[arg(long = "env-file", global = true, value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Say more about what happens (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the normalized project, as `docker compose config` does
    Config(ConfigArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
    /// Print the man page (roff)
    Man,
    /// Print the JSON schema of wharf's `x-wharf` extensions
    Schema,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Services to include (default: all enabled)
    pub services: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
    /// Print the service names, one per line
    #[arg(long = "services", conflicts_with_all = ["volumes", "list_profiles", "images", "networks", "variables", "environment"])]
    pub list_services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the profile names, one per line
    #[arg(long = "profiles", id = "list_profiles")]
    pub profiles: bool,
    /// Print the image of each service, one per line
    #[arg(long)]
    pub images: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the variables the files use, with their defaults
    #[arg(long)]
    pub variables: bool,
    /// Print the environment used for interpolation
    #[arg(long)]
    pub environment: bool,
    /// Leave `${VAR}` references as written
    #[arg(long)]
    pub no_interpolate: bool,
    /// Write the output to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

//! Command-line definitions. Completions and the man page are generated from these.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use wharf_runtime::BackendChoice;

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
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name (default: `name:` in the file, else the directory's name)
    #[arg(short = 'p', long, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Directory relative paths are resolved from (default: the first file's)
    #[arg(long, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Enable a profile (repeatable; also `COMPOSE_PROFILES`)
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Read variables from this file instead of .env (repeatable)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Say more about what happens (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors
    #[arg(short, long)]
    pub quiet: bool,
    /// Keep the networks, volumes, secrets and configs no service uses
    #[arg(long)]
    pub all_resources: bool,
    /// Say what a command would change, and change nothing
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Compose v1's ways: names joined by `_` (`project_service_1`), and `config`
    /// prints the project unnormalized
    #[arg(long, env = "COMPOSE_COMPATIBILITY")]
    pub compatibility: bool,
    /// When to colour the output
    #[arg(long, value_enum, default_value_t = Ansi::Auto, env = "COMPOSE_ANSI")]
    pub ansi: Ansi,
    /// How progress shows: redrawn in place (`tty`), line by line (`plain`), or not at all
    #[arg(long, value_enum, default_value_t = Progress::Auto, env = "COMPOSE_PROGRESS")]
    pub progress: Progress,
    /// At most N pulls and builds at once (wharf does them one at a time, within any limit)
    #[arg(
        long,
        value_name = "N",
        env = "COMPOSE_PARALLEL_LIMIT",
        allow_negative_numbers = true
    )]
    pub parallel: Option<i64>,
}

/// `--ansi`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Ansi {
    Never,
    Always,
    /// On a terminal, unless `NO_COLOR` is set
    #[default]
    Auto,
}

/// `--progress`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// Redrawn in place on a terminal, line by line elsewhere
    #[default]
    Auto,
    Tty,
    Plain,
    Quiet,
}

#[derive(Debug, Subcommand)]
// Each command's flags are built only when that command runs: building all of them
// took a millisecond of every invocation.
#[command(defer = true)]
pub enum Command {
    /// Print the normalized project, as `docker compose config` does
    Config(ConfigArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
    /// Print the man page (roff) of wharf, or of one of its commands
    Man(ManArgs),
    /// Print the JSON schema of wharf's `x-wharf` extensions
    Schema,
    /// Start the project's services (all, or the named ones with their dependencies)
    Up(UpArgs),
    /// Make the services' containers (and a native service's place) without starting
    /// them: `up --no-start`
    Create(CreateArgs),
    /// Stop the project's services and forget them
    Down(DownArgs),
    /// Start services that were stopped
    Start(ServicesArgs),
    /// Stop services, keeping them in the project
    Stop(StopArgs),
    /// Stop and start services
    Restart(RestartArgs),
    /// Send a signal to services (default SIGKILL)
    Kill(KillArgs),
    /// Freeze the running services' processes (a container's, or a native cgroup's)
    Pause(ServicesArgs),
    /// Thaw paused services
    Unpause(ServicesArgs),
    /// List the project's service instances
    Ps(PsArgs),
    /// Show the project's logs
    Logs(LogsArgs),
    /// List the projects wharfd runs
    Ls(LsArgs),
    /// Run a command in a running service's environment and directory
    Exec(ExecArgs),
    /// Run a one-off command for a service, with its dependencies started
    Run(RunArgs),
    /// Join this terminal to a service's running instance: its output, your input
    Attach(AttachArgs),
    /// Show the processes of the project's instances
    Top(ServicesArgs),
    /// Build the images of services that have a `build` section
    Build(BuildArgs),
    /// Pull the images of services
    Pull(PullArgs),
    /// Push the images services build
    Push(PushArgs),
    /// Publish the project to a registry as an OCI artifact, as Compose does
    Publish(PublishArgs),
    /// List the images the project's services use
    Images(ImagesArgs),
    /// Show CPU and memory use of running instances
    Stats(StatsArgs),
    /// Print the host address of a service's port
    Port(PortArgs),
    /// Set the number of instances of services (SERVICE=N)
    Scale(ScaleArgs),
    /// List the project's URLs in the proxy, with their services and readiness
    Urls(ListFormatArgs),
    /// The proxy's HTTPS
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// Make the project reachable on the local network while this runs
    Share(ShareArgs),
    /// Print or set where repos are checked out (your setting, for every project)
    Root(RootArgs),
    /// Print or set the account repos are cloned from (your setting)
    Whoami(WhoamiArgs),
    /// Clone the project's repos that are missing; leave the others alone
    Checkout(ReposArgs),
    /// Pull each repo (fast-forward only), then run its migration task
    Update(UpdateArgs),
    /// Show each repo's revision, branch, changes and distance from upstream
    Revs(RevsArgs),
    /// Show each repo's git identity and remotes
    Gitconfig(RevsArgs),
    /// Work with the project's repos
    #[command(subcommand)]
    Repos(ReposCommand),
    /// Run one of the project's tasks (x-wharf.tasks) in its service
    Task(TaskArgs),
    /// List the project's tasks
    Tasks(ListFormatArgs),
    /// Open a shell in a service (default: the one whose directory you are in)
    Shell(ShellArgs),
    /// Show the project's documented variables: value, origin, users
    Env(EnvArgs),
    /// Check that this machine can run the project, with a fix for each problem
    Check(CheckArgs),
    /// Manage wharfd, the background daemon
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print wharf's version
    Version(VersionArgs),
    /// Print what happens to the project's instances as it happens
    Events(EventsArgs),
    /// Wait until the services' instances have ended; exit with the last one's code
    Wait(WaitArgs),
    /// Compose's `watch`, which wharf does not have yet: said so, not "no such command"
    #[command(hide = true)]
    Watch {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Write a service container's file system as a tar archive
    Export(ExportArgs),
    /// Make a new image of a service container's changes
    Commit(CommitArgs),
    /// List the project's volumes
    Volumes(VolumesArgs),
    /// Remove the instances of services that have ended (stopped or exited)
    Rm(RmArgs),
    /// Copy files between a service and this machine
    Cp(CpArgs),
    /// The project's databases: list, shell, dump, load, snapshot, restore, reset
    Db(DbArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database server's service, when the project has several
    #[arg(long, global = true, value_name = "SERVICE")]
    pub service: Option<String>,
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// List each server's databases with their sizes and snapshots
    Ls(ListFormatArgs),
    /// Create an empty database
    Create { name: String },
    /// Delete a database (kept as an automatic snapshot: `db restore --undo`)
    Drop {
        name: String,
        #[command(flatten)]
        yes: YesArgs,
    },
    /// Open the server's client (psql, mariadb) on a database as its superuser; SQL
    /// from standard input when it is not a terminal
    Shell {
        /// The database (default: the project's)
        name: Option<String>,
        /// Arguments for the client, after `--`
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Write a logical dump: to standard output, or to a file whose extension says
    /// the format (.sql, .sql.gz, .sql.zst)
    Dump {
        /// The database (default: the project's)
        name: Option<String>,
        /// The file (default on a terminal: NAME-DATE.sql.zst here)
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Replace a database with a dump (plain, gzip or zstd; `-` reads standard input);
    /// the old one is kept as an automatic snapshot
    Load {
        /// [NAME] FILE: the database (default: the project's) and the dump
        #[arg(value_name = "NAME_OR_FILE", num_args = 1..=2, required = true)]
        args: Vec<String>,
        #[command(flatten)]
        yes: YesArgs,
    },
    /// Take a snapshot of a database (`db snapshot rm TAG` removes one)
    Snapshot {
        #[command(subcommand)]
        command: Option<SnapshotCommand>,
        /// The database (default: the project's)
        name: Option<String>,
        /// The snapshot's name (default: NAME-DATE-TIME)
        #[arg(long)]
        tag: Option<String>,
    },
    /// List the snapshots, newest last
    Snapshots(ListFormatArgs),
    /// Put a snapshot back in its database's place; the database it replaces is kept
    /// as an automatic snapshot
    Restore {
        #[arg(required_unless_present = "undo")]
        tag: Option<String>,
        /// Undo the last drop, load, reset or restore (again: the one before it)
        #[arg(long, conflicts_with = "tag")]
        undo: bool,
        #[command(flatten)]
        yes: YesArgs,
    },
    /// Drop and create a database, run its migrate task, then load its seed
    Reset {
        /// The database (default: the project's)
        name: Option<String>,
        #[command(flatten)]
        yes: YesArgs,
    },
    /// Copy a database under a new name (for a branch, a test run)
    Clone { name: String, new: String },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Remove a snapshot (asks; it cannot be undone)
    Rm {
        tag: String,
        #[command(flatten)]
        yes: YesArgs,
    },
}

#[derive(Debug, Args)]
pub struct YesArgs {
    /// Do not ask before replacing or deleting
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct TaskArgs {
    pub name: String,
    /// Arguments appended to the task's command
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Show secret values instead of masking them
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    pub format: ListFormatArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also call each running service's monitor endpoint (x-wharf.monitor)
    #[arg(long)]
    pub services: bool,
    /// Also name the services whose requirements files changed since they were built
    #[arg(long)]
    pub requirements: bool,
    /// Where services would run (a service's `x-wharf.backend` wins over this)
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = "WHARF_BACKEND")]
    pub backend: BackendArg,
    #[command(flatten)]
    pub format: ListFormatArgs,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    pub service: Option<String>,
}

#[derive(Debug, Args)]
pub struct RootArgs {
    /// The directory (`~` and `$VARS` expanded; relative to the current one)
    pub dir: Option<String>,
    /// Forget the root: each project's repos go under its own directory again
    #[arg(long, conflicts_with = "dir")]
    pub unset: bool,
}

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// The account name that fills `{user}` in repo URLs
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReposArgs {
    /// Repos to act on (default: all)
    pub repos: Vec<String>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Only pull (no migrations)
    #[arg(long)]
    pub git: bool,
    /// Only run the migration tasks (no pull)
    #[arg(long)]
    pub migrations: bool,
    #[command(flatten)]
    pub repos: ReposArgs,
}

#[derive(Debug, Args)]
pub struct RevsArgs {
    #[command(flatten)]
    pub repos: ReposArgs,
    #[command(flatten)]
    pub format: ListFormatArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReposCommand {
    /// List the project's repos and where they are checked out
    Ls(ListFormatArgs),
    /// Run a command in every checked-out repo at once, output grouped per repo
    Exec(ReposExecArgs),
}

#[derive(Debug, Args)]
pub struct ReposExecArgs {
    /// Only in these repos (repeatable; default: all)
    #[arg(long = "repo", value_name = "REPO")]
    pub repos: Vec<String>,
    /// The command and its arguments (after `--`)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `--backend`, as `wharf_runtime::BackendChoice` on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// Docker when an engine answers and has (or builds) the image, or no native way
    /// runs it; else native
    #[default]
    Auto,
    /// Native processes
    Process,
    /// Containers of the Docker engine
    Docker,
}

impl From<BackendArg> for BackendChoice {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Auto => Self::Auto,
            BackendArg::Process => Self::Process,
            BackendArg::Docker => Self::Docker,
        }
    }
}

#[derive(Debug, Default, Args)]
pub struct UpArgs {
    /// Services to start (default: all enabled), with what they depend on
    pub services: Vec<String>,
    /// Start in the background; return once what it started runs
    #[arg(short, long)]
    pub detach: bool,
    /// Wait until the services are running and healthy (implies --detach)
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (default 120; 0: never)
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    pub wait_timeout: Option<u64>,
    /// Don't start the services the named ones depend on
    #[arg(long)]
    pub no_deps: bool,
    /// Recreate services even if they did not change
    #[arg(long)]
    pub force_recreate: bool,
    /// Run N instances of SERVICE (SERVICE=N; repeatable)
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// Stop everything when any service exits
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Exit with this service's exit code (implies --abort-on-container-exit)
    #[arg(long, value_name = "SERVICE")]
    pub exit_code_from: Option<String>,
    /// Build images before starting (else only those missing are built)
    #[arg(long)]
    pub build: bool,
    /// Where services run (a service's `x-wharf.backend` wins over this)
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = "WHARF_BACKEND")]
    pub backend: BackendArg,
    /// Seconds to wait before killing what is stopped (recreated, or on Ctrl-C; -1: as
    /// long as it takes), instead of each service's `stop_grace_period`
    #[arg(short, long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = parse_timeout)]
    pub timeout: Option<u64>,
    /// Don't build an image, even a missing one
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Stop everything when a service exits with a failure (a code other than 0)
    #[arg(long)]
    pub abort_on_container_failure: bool,
    /// Show only these services' logs (repeatable)
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Don't show these services' logs (repeatable)
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Show the logs of the named services' dependencies too
    #[arg(long)]
    pub attach_dependencies: bool,
    /// Don't prefix log lines with the instance name
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show timestamps in the logs
    #[arg(long)]
    pub timestamps: bool,
    /// Plain logs, no colours
    #[arg(long)]
    pub no_color: bool,
    /// Don't show the builds' progress
    #[arg(long)]
    pub quiet_build: bool,
    /// Answer yes to every question (up asks none; accepted as Compose accepts it)
    #[arg(short, long)]
    pub yes: bool,
    /// Remove what runs of services no longer in the file (left running and named otherwise)
    #[arg(long)]
    pub remove_orphans: bool,
    /// Leave running services as they are, even where the file changed them
    #[arg(long, conflicts_with_all = ["force_recreate", "always_recreate_deps"])]
    pub no_recreate: bool,
    /// Recreate the services the named ones depend on, even unchanged
    #[arg(long)]
    pub always_recreate_deps: bool,
    /// Pull images first: `always`, `missing` (the default), `never`, or `build` (build them)
    #[arg(long, value_parser = ["always", "missing", "never", "build"])]
    pub pull: Option<String>,
    /// Don't show the pulls' progress
    #[arg(long)]
    pub quiet_pull: bool,
    /// Recreate containers with new anonymous volumes, not the previous ones' data
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Make what is missing (containers) and start nothing: `wharf start` runs it
    #[arg(long, conflicts_with_all = ["wait", "abort_on_container_exit", "exit_code_from"])]
    pub no_start: bool,
}

impl UpArgs {
    /// `up -d SERVICE…`, nothing else asked.
    pub fn detached(services: Vec<String>) -> Self {
        Self {
            services,
            detach: true,
            ..Self::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub service: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Set a variable, KEY=VALUE, or KEY to pass this shell's value (repeatable)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Run in this directory instead of the service's
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Run it in the background and return at once
    #[arg(short, long)]
    pub detach: bool,
    /// No terminal for the command, even when this is one
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Run as this user (natively: a user of this machine, which needs root)
    #[arg(short, long)]
    pub user: Option<String>,
    /// Give the command extended privileges (a container's; natively, nothing changes)
    #[arg(long)]
    pub privileged: bool,
    /// Which instance of the service, when it has several
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub index: u32,
}

impl ExecArgs {
    /// `COMMAND` in `service`'s first instance, with nothing else changed.
    pub fn plain(service: &str, command: Vec<String>) -> Self {
        Self {
            service: service.to_owned(),
            command,
            env: Vec::new(),
            workdir: None,
            detach: false,
            no_tty: false,
            user: None,
            privileged: false,
            index: 1,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    pub service: String,
    /// The command (default: the service's own)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Set a variable, KEY=VALUE, or KEY to pass this shell's value (repeatable)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    pub env: Vec<String>,
    /// Run in this directory instead of the service's
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Don't start the services it depends on
    #[arg(long)]
    pub no_deps: bool,
    /// Remove the container when it exits (a native one-off keeps nothing behind)
    #[arg(long)]
    pub rm: bool,
    /// Publish the service's ports from the container (a native process listens where it says)
    #[arg(short = 'P', long)]
    pub service_ports: bool,
    /// Read variables from this file, as `env_file` does (repeatable; `-e` wins)
    #[arg(long, value_name = "FILE")]
    pub env_from_file: Vec<PathBuf>,
    /// Add a Linux capability (containers only; repeatable)
    #[arg(long, value_name = "CAPABILITY")]
    pub cap_add: Vec<String>,
    /// Drop a Linux capability (containers only; repeatable)
    #[arg(long, value_name = "CAPABILITY")]
    pub cap_drop: Vec<String>,
    /// Pull the image first: `always`, `missing` (the default) or `never`
    #[arg(long, value_parser = ["always", "missing", "never"])]
    pub pull: Option<String>,
    /// Don't show progress (pulls, builds, dependencies)
    #[arg(short, long)]
    pub quiet: bool,
    /// Don't show the build's progress
    #[arg(long)]
    pub quiet_build: bool,
    /// Don't show the pull's progress
    #[arg(long)]
    pub quiet_pull: bool,
    /// Run the container in the background and print its name (containers only)
    #[arg(short, long)]
    pub detach: bool,
    /// No terminal for the command, even when this is one
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep standard input open (the default; accepted as Compose accepts it)
    #[arg(short, long)]
    pub interactive: bool,
    /// Run as this user (natively: a user of this machine, which needs root)
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's entrypoint (natively: put before the command)
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Mount a volume or a host path, SOURCE:TARGET[:ro] (repeatable; containers only)
    #[arg(short, long = "volume", value_name = "SOURCE:TARGET")]
    pub volumes: Vec<String>,
    /// Publish a port, [HOST:]CONTAINER (repeatable; containers only)
    #[arg(short, long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Name the one-off container
    #[arg(long)]
    pub name: Option<String>,
    /// Add or override a label, KEY=VALUE (repeatable; containers only)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Build the service's image before running it
    #[arg(long)]
    pub build: bool,
    /// Keep the service's network aliases on the one-off container
    #[arg(long)]
    pub use_aliases: bool,
    /// Remove what runs of services no longer in the file (left running otherwise)
    #[arg(long)]
    pub remove_orphans: bool,
}

impl RunArgs {
    /// `COMMAND` as a one-off of `service`, removed when it ends, nothing else changed.
    pub fn plain(service: &str, command: Vec<String>) -> Self {
        Self {
            service: service.to_owned(),
            command,
            env: Vec::new(),
            workdir: None,
            no_deps: false,
            rm: true,
            service_ports: false,
            detach: false,
            no_tty: false,
            interactive: false,
            user: None,
            entrypoint: None,
            volumes: Vec::new(),
            publish: Vec::new(),
            name: None,
            labels: Vec::new(),
            build: false,
            use_aliases: false,
            remove_orphans: false,
            env_from_file: Vec::new(),
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            pull: None,
            quiet: false,
            quiet_build: false,
            quiet_pull: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Services to build (default: all that build)
    pub services: Vec<String>,
    /// Build without the cache
    #[arg(long)]
    pub no_cache: bool,
    /// Pull newer versions of base images
    #[arg(long)]
    pub pull: bool,
    /// Set a build argument, KEY=VALUE, or KEY for this environment's value (repeatable)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub arguments: Vec<String>,
    /// The build's memory limit (`512m`, `1g`)
    #[arg(short, long, value_name = "BYTES")]
    pub memory: Option<String>,
    /// Don't show the build's progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Push the images once built
    #[arg(long)]
    pub push: bool,
    /// Also build the images of the services they depend on
    #[arg(long)]
    pub with_dependencies: bool,
    /// Print the builds as a BuildKit bake file (for `docker buildx bake -f -`) and
    /// build nothing
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// Services (default: all)
    pub services: Vec<String>,
    /// Don't show the pulls' progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Say which images could not be pulled, but don't fail
    #[arg(long)]
    pub ignore_pull_failures: bool,
    /// Also pull the images of the services they depend on
    #[arg(long)]
    pub include_deps: bool,
    /// Leave alone the services that build their image
    #[arg(long)]
    pub ignore_buildable: bool,
    /// `missing`: only images not on this machine; `always` (the default): all
    #[arg(long, value_parser = ["missing", "always"])]
    pub policy: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Services (default: all that build)
    pub services: Vec<String>,
    /// Don't show the pushes' progress
    #[arg(short, long)]
    pub quiet: bool,
    /// Say which images could not be pushed, but don't fail
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Also push the images of the services they depend on
    #[arg(long)]
    pub include_deps: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Where to publish: REPOSITORY[:TAG]
    pub repository: String,
    /// Copy the services' images into the repository too, and pin them to their digests
    #[arg(long)]
    pub app: bool,
    /// Publish the images pinned to the digests their registries have now
    #[arg(long)]
    pub resolve_image_digests: bool,
    /// Publish the env files too, and the environment the files declare
    #[arg(long)]
    pub with_env: bool,
    /// OCI version of the artifact (default: 1.1, else 1.0 where the registry refuses it)
    #[arg(long, value_name = "VERSION", value_parser = ["1.0", "1.1"])]
    pub oci_version: Option<String>,
    /// Answer yes to the questions about bind mounts and secrets
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Services (default: all)
    pub services: Vec<String>,
    /// Print only image ids
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub format: ListingFormatArgs,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Services (default: all)
    pub services: Vec<String>,
    /// Print one sample and return (the default is a new one each second until Ctrl-C)
    #[arg(long)]
    pub no_stream: bool,
    /// Include instances that are not running
    #[arg(short, long)]
    pub all: bool,
    /// Don't truncate (wharf never does; accepted as Compose accepts it)
    #[arg(long)]
    pub no_trunc: bool,
    #[command(flatten)]
    pub format: ComposeFormatArgs,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    pub service: String,
    /// The port inside the service
    pub private_port: u16,
    /// Which instance (from 1)
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// The port's protocol
    #[arg(long, value_parser = ["tcp", "udp"], default_value = "tcp")]
    pub protocol: String,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    pub service: String,
    /// Which instance of the service, when it has several
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub index: u32,
    /// Don't pass this terminal's input on
    #[arg(long)]
    pub no_stdin: bool,
    /// Pass SIGINT and SIGTERM on to the instance (`--sig-proxy=false`: they end only
    /// this command)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// The keys that leave a container running (default ctrl-p,ctrl-q)
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Services to make (default: all enabled), with what they depend on
    pub services: Vec<String>,
    /// Build images first (else only those missing are built)
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even a missing one
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Recreate services even if they did not change
    #[arg(long)]
    pub force_recreate: bool,
    /// Leave existing services as they are, even where the file changed them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Pull images first: `always`, `missing` (the default), `never`, or `build` (build them)
    #[arg(long, value_parser = ["always", "missing", "never", "build"])]
    pub pull: Option<String>,
    /// Don't show the pulls' progress
    #[arg(long)]
    pub quiet_pull: bool,
    /// Remove what runs of services no longer in the file (left running and named otherwise)
    #[arg(long)]
    pub remove_orphans: bool,
    /// Make N instances of SERVICE (SERVICE=N; repeatable)
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// Answer yes to every question (create asks none; accepted as Compose accepts it)
    #[arg(short, long)]
    pub yes: bool,
    /// Where services run (a service's `x-wharf.backend` wins over this)
    #[arg(long, value_enum, default_value_t = BackendArg::Auto, env = "WHARF_BACKEND")]
    pub backend: BackendArg,
}

impl CreateArgs {
    /// The `up --no-start` it is.
    pub fn as_up(&self) -> UpArgs {
        UpArgs {
            services: self.services.clone(),
            build: self.build,
            no_build: self.no_build,
            force_recreate: self.force_recreate,
            no_recreate: self.no_recreate,
            pull: self.pull.clone(),
            quiet_pull: self.quiet_pull,
            remove_orphans: self.remove_orphans,
            scale: self.scale.clone(),
            yes: self.yes,
            backend: self.backend,
            no_start: true,
            ..UpArgs::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// SERVICE=N pairs
    #[arg(required = true, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// Don't start the services they depend on
    #[arg(long)]
    pub no_deps: bool,
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The port to open on every interface
    #[arg(long, default_value_t = 7090)]
    pub port: u16,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Make this machine trust the proxy's local certificate authority
    Trust(TrustArgs),
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Only print how to trust it
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Only these services: their instances are stopped and removed, the rest runs on
    /// (default: the whole project)
    pub services: Vec<String>,
    /// Also delete the project's named volumes (their data is lost); with services
    /// named, the anonymous volumes of their containers
    #[arg(short, long)]
    pub volumes: bool,
    /// Don't ask before deleting volumes
    #[arg(short, long)]
    pub yes: bool,
    /// Seconds to wait before killing (-1: as long as it takes), instead of each
    /// service's `stop_grace_period`
    #[arg(short, long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = parse_timeout)]
    pub timeout: Option<u64>,
    /// Accepted: `down` removes what runs of services no longer in the file too
    #[arg(long)]
    pub remove_orphans: bool,
    /// Also remove the services' images: `local`, those built under the project's
    /// own name; `all`, every one
    #[arg(long, value_parser = ["local", "all"])]
    pub rmi: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Services (default: all)
    pub services: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Services (default: all)
    pub services: Vec<String>,
    /// Seconds to wait before killing (-1: as long as it takes), instead of each
    /// service's `stop_grace_period`
    #[arg(short, long, value_name = "SECONDS", allow_negative_numbers = true, value_parser = parse_timeout)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub stop: StopArgs,
    /// Don't restart the dependents that ask for it (`depends_on: {restart: true}`)
    #[arg(long)]
    pub no_deps: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only these services' (default: all)
    pub services: Vec<String>,
    /// The events as wharfd sends them, one JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Only events from this time on (wharfd keeps no past events: a time to come waits)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Stop at this time
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The services to wait for
    #[arg(required = true)]
    pub services: Vec<String>,
    /// Take the project down once the first instance has ended
    #[arg(long)]
    pub down_project: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    pub service: String,
    /// Write to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which instance of the service, when it has several
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub index: u32,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    pub service: String,
    /// The new image's name, REPOSITORY[:TAG]
    pub reference: Option<String>,
    /// Its author ("Name <email>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// A Dockerfile instruction to apply to it (repeatable)
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Its commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause the container while committing
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    /// Which instance of the service, when it has several
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub index: u32,
}

#[derive(Debug, Args)]
pub struct VolumesArgs {
    /// Only the volumes these services mount (default: all the project's)
    pub services: Vec<String>,
    /// Print only the volumes' names
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub format: ListFormatArgs,
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// SERVICE:PATH, or a path here (`-`: a tar archive on standard input)
    #[arg(value_name = "SRC")]
    pub source: String,
    /// A path here (`-`: a tar archive on standard output), or SERVICE:PATH
    #[arg(value_name = "DEST")]
    pub destination: String,
    /// Which instance of the service (default: the first to copy from, every one to
    /// copy into)
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Copying into a service: its `wharf run` containers too
    #[arg(long)]
    pub all: bool,
    /// Keep the files' owners (uid and gid) as they are in SRC
    #[arg(short, long)]
    pub archive: bool,
    /// Copy what a symbolic link SRC points to, not the link
    #[arg(short = 'L', long)]
    pub follow_link: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Services (default: all)
    pub services: Vec<String>,
    /// Don't ask
    #[arg(short, long)]
    pub force: bool,
    /// Stop the services first
    #[arg(short, long)]
    pub stop: bool,
    /// Also remove the containers' anonymous volumes (named volumes stay)
    #[arg(short, long)]
    pub volumes: bool,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print only the version number
    #[arg(long)]
    pub short: bool,
    /// Output format
    #[arg(short, long, value_enum, default_value_t = VersionFormat::Pretty)]
    pub format: VersionFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionFormat {
    Pretty,
    Json,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Services (default: all)
    pub services: Vec<String>,
    /// The signal to send
    #[arg(short, long, default_value = "SIGKILL")]
    pub signal: String,
    /// Accepted: `kill` signals what runs of services no longer in the file too
    #[arg(long)]
    pub remove_orphans: bool,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Services to show (default: all)
    pub services: Vec<String>,
    /// Show stopped and exited instances too
    #[arg(short, long)]
    pub all: bool,
    /// Print only ids: a container's id, a native instance's name
    #[arg(short, long)]
    pub quiet: bool,
    /// Print only the services' names
    #[arg(long = "services")]
    pub services_only: bool,
    /// Only instances in this state, as Compose names them (repeatable)
    #[arg(long, value_name = "STATE", value_parser = clap::builder::PossibleValuesParser::new(wharf_api::COMPOSE_STATES))]
    pub status: Vec<String>,
    /// Filter by a property: `status=STATE`, as Compose's
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Don't truncate the command (cut to 20 characters, as Compose cuts it)
    #[arg(long)]
    pub no_trunc: bool,
    /// Include instances of services the file no longer has (`--orphans=false`: don't)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub orphans: bool,
    #[command(flatten)]
    pub format: ComposeFormatArgs,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Show stopped projects too
    #[arg(short, long)]
    pub all: bool,
    /// Print only project names
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter by a property: `name=PATTERN` (a regular expression found in the name;
    /// several: any of them)
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub format: ListingFormatArgs,
}

#[derive(Debug, Args)]
pub struct ListFormatArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

// `--format` of the commands Compose has too (`ps`, `ls`, `images`): a table, JSON,
// or a Go template applied to each JSON object. Not a doc comment: a flattened struct's
// would become the `about` of each command that takes it.
#[derive(Debug, Args)]
pub struct ComposeFormatArgs {
    /// Output format: table, json, or a Go template such as '{{.Name}}\t{{.State}}'
    #[arg(long, value_parser = parse_compose_format, default_value = "table")]
    pub format: ComposeFormat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposeFormat {
    Table,
    Json,
    Template(wharf_api::Template),
}

// `--format` of `ls` and `images`: Compose takes `table` (or `pretty`) and `json` in
// any case and refuses anything else; wharf takes a Go template too.
#[derive(Debug, Args)]
pub struct ListingFormatArgs {
    /// Output format: table, json, or a Go template such as '{{.Name}}'
    #[arg(long, value_parser = parse_listing_format, default_value = "table")]
    pub format: ComposeFormat,
}

fn parse_listing_format(text: &str) -> Result<ComposeFormat, String> {
    match text.to_ascii_lowercase().as_str() {
        "table" | "pretty" | "" => Ok(ComposeFormat::Table),
        "json" => Ok(ComposeFormat::Json),
        _ if text.contains("{{") => parse_compose_format(text),
        _ => Err(format!(
            "format value {text:?} could not be parsed: use table, json or a Go template"
        )),
    }
}

fn parse_compose_format(text: &str) -> Result<ComposeFormat, String> {
    match text {
        // An empty format is the default, as Docker's.
        "table" | "" => Ok(ComposeFormat::Table),
        "json" => Ok(ComposeFormat::Json),
        _ => wharf_api::Template::parse(text)
            .map(ComposeFormat::Template)
            .map_err(|e| e.to_string()),
    }
}

/// `--tail N`, or `all` (no limit), as Compose takes it.
fn parse_tail(text: &str) -> Result<usize, String> {
    // A negative count means every line, as in Compose.
    if text == "all" || text.parse::<i64>().is_ok_and(i64::is_negative) {
        return Ok(usize::MAX);
    }
    text.parse()
        .map_err(|_| format!("{text:?}: expected a number of lines or `all`"))
}

/// Seconds to wait before killing; a negative number (Docker's `-1`) waits as long as
/// it takes.
fn parse_timeout(text: &str) -> Result<u64, String> {
    match text.parse::<i64>() {
        Ok(seconds) => Ok(u64::try_from(seconds).unwrap_or(u64::MAX)),
        Err(_) => Err(format!("{text:?}: expected a number of seconds")),
    }
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Services to show (default: all)
    pub services: Vec<String>,
    /// Keep printing new lines
    #[arg(short, long)]
    pub follow: bool,
    /// Show only the last N lines (`all`: every one, the default)
    #[arg(short = 'n', long, value_name = "N", allow_negative_numbers = true, value_parser = parse_tail)]
    pub tail: Option<usize>,
    /// Show lines since this time: a duration ago (`10m`, `2h`), Unix seconds, or
    /// `2026-12-01T13:23:37Z`
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Show lines before this time (as --since)
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this instance of each service (from 1)
    #[arg(long, value_name = "N")]
    pub index: Option<u32>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Plain text, no colours
    #[arg(long)]
    pub no_color: bool,
    /// Don't prefix lines with the instance name
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Show wharf's own notes too (`[wharf] exited with code 1`, restarts…)
    #[arg(long, conflicts_with = "no_log_prefix")]
    pub notes: bool,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Show whether wharfd runs, and what it runs
    Status(ListFormatArgs),
    /// Stop wharfd and every service it runs (they come back with the next command)
    Stop,
    /// Print wharfd's own log
    Logs,
    /// Run wharfd in the foreground (the CLI starts it on demand)
    #[command(hide = true)]
    Run,
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
    /// Print the model each used model runs, one per line
    #[arg(long)]
    pub models: bool,
    /// Print the variables the files use, with their defaults
    #[arg(long)]
    pub variables: bool,
    /// Print the environment used for interpolation
    #[arg(long)]
    pub environment: bool,
    /// Leave `${VAR}` references as written
    #[arg(long)]
    pub no_interpolate: bool,
    /// Don't check how parts of the project relate (undefined references, dependency
    /// cycles, conflicting settings): the output may not be a valid project
    #[arg(long)]
    pub no_consistency: bool,
    /// Accepted as Compose accepts it: `env_file`s are read into `environment` either
    /// way, as Compose v2.40.3 prints them
    #[arg(long)]
    pub no_env_resolution: bool,
    /// Leave relative paths (build contexts, bind mounts, files) as written
    #[arg(long)]
    pub no_path_resolution: bool,
    /// Add no implicit defaults (the default network, resources' engine names, the
    /// Dockerfile's name, dependencies that links imply)
    #[arg(long)]
    pub no_normalize: bool,
    /// Pin each service's image to the digest its registry gives the tag now
    /// (`name:tag@sha256:…`), asking through the engine
    #[arg(long)]
    pub resolve_image_digests: bool,
    /// Print an override file that pins each service's image to its digest
    #[arg(long)]
    pub lock_image_digests: bool,
    /// Print the config hash of these services (`*` for all, or `web,db`), as Compose
    /// labels their containers with
    #[arg(long, value_name = "SERVICES")]
    pub hash: Option<String>,
    /// Write the output to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only validate the files: print nothing, exit non-zero on an error
    #[arg(short, long)]
    pub quiet: bool,
    /// Print what `wharf up` runs natively: commands, directories, environment with
    /// references to other services resolved, ports
    #[arg(long)]
    pub resolved: bool,
    /// With --resolved, print secret-looking values instead of masking them
    #[arg(long, requires = "resolved")]
    pub show_secrets: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command (default: wharf itself)
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn negative_numbers_mean_without_end_as_in_docker() {
        let parsed = |args: &[&str]| Cli::parse_from([&["wharf"], args].concat()).command;
        let Command::Stop(stop) = parsed(&["stop", "-t", "-1"]) else {
            panic!("stop");
        };
        assert_eq!(stop.timeout, Some(u64::MAX));
        let Command::Logs(logs) = parsed(&["logs", "--tail", "-1"]) else {
            panic!("logs");
        };
        assert_eq!(logs.tail, Some(usize::MAX));
        let Command::Logs(logs) = parsed(&["logs", "-n", "3"]) else {
            panic!("logs");
        };
        assert_eq!(logs.tail, Some(3));
        assert!(Cli::try_parse_from(["wharf", "stop", "-t", "soon"]).is_err());
    }

    #[test]
    fn building_a_commands_deferred_flags_keeps_its_description() {
        use clap::CommandFactory;
        let abouts = |command: &clap::Command| -> Vec<(String, String)> {
            command
                .get_subcommands()
                .filter(|c| c.get_name() != "help")
                .map(|c| (c.get_name().to_owned(), format!("{:?}", c.get_about())))
                .collect()
        };
        let unbuilt = Cli::command();
        let mut built = Cli::command();
        built.build();
        assert_eq!(abouts(&unbuilt), abouts(&built));
        built.debug_assert();
    }
}

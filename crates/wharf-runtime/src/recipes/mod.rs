//! Native recipes: how a service that names a well-known image runs from the host's
//! own binaries, honouring the image's documented settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wharf_model::{Service, VolumeMount};
use wharf_plan::{PortSpec, Probe};

pub use self::facts::{Credentials, DatabaseEngine, DatabaseFacts, of_image};
pub use self::launch::{LaunchError, Options};

mod entrypoint;
mod facts;
mod launch;
mod mariadb;
mod nginx;
mod postgres;
mod rabbitmq;

/// What a recipe decided: the process to run and what to add to its environment.
pub struct Recipe {
    pub command: Vec<String>,
    pub working_dir: PathBuf,
    pub environment: BTreeMap<String, String>,
    pub origin: String,
    /// The image's stop signal, when it is not SIGTERM.
    pub stop_signal: Option<&'static str>,
    /// What it runs, when it runs a database server.
    pub database: Option<DatabaseFacts>,
}

/// The host path behind `container_path` natively, through `service`'s deepest mount
/// that holds it: a bind mount's source, or a named volume's directory under
/// `volumes_dir`. `None` when no mount holds it.
pub fn mounted_path(
    service: &Service,
    volumes_dir: &Path,
    container_path: &str,
) -> Option<PathBuf> {
    holding_mount(service, volumes_dir, container_path).map(|(_, path)| path)
}

/// As [`mounted_path`], with the mount that holds the path (whether it is read-only).
pub fn holding_mount<'s>(
    service: &'s Service,
    volumes_dir: &Path,
    container_path: &str,
) -> Option<(&'s VolumeMount, PathBuf)> {
    let wanted = Path::new(container_path);
    service
        .volumes
        .iter()
        .filter(|m| !m.target.is_empty())
        .filter_map(|mount| {
            let rest = wanted.strip_prefix(&mount.target).ok()?;
            let root = match mount.kind.as_str() {
                "bind" => PathBuf::from(&mount.source),
                "volume" if !mount.source.is_empty() => volumes_dir.join(&mount.source),
                _ => return None,
            };
            let path = if rest.as_os_str().is_empty() {
                root
            } else {
                root.join(rest)
            };
            Some((mount, path))
        })
        .max_by_key(|(mount, _)| mount.target.len())
}

/// What a recipe may look at.
#[derive(Clone, Copy)]
pub struct RecipeContext<'a> {
    pub service_name: &'a str,
    pub service: &'a Service,
    pub project_dir: &'a Path,
    /// Where the project's named volumes live on this machine.
    pub volumes_dir: &'a Path,
    /// The host port for the image's usual port (published, else the target).
    pub port: u16,
    /// This program, which also carries the recipes that need an entrypoint.
    pub wharf: &'a Path,
    /// Every service's ports, for recipes that point at other services.
    pub reachable: &'a BTreeMap<String, Vec<PortSpec>>,
}

impl RecipeContext<'_> {
    /// The host directory behind a container path, through the service's mounts: a
    /// bind mount's source, or a named volume's directory. `None` when not mounted.
    pub fn mounted(&self, container_path: &str) -> Option<PathBuf> {
        mounted_path(self.service, self.volumes_dir, container_path)
    }

    /// A mounted container path, or a directory of the service's own for its data.
    pub fn data_dir(&self, container_path: &str) -> PathBuf {
        self.mounted(container_path)
            .unwrap_or_else(|| self.volumes_dir.join(format!("{}-data", self.service_name)))
    }

    /// A directory of the service's own, beside the volumes (`sockets/db`, `nginx/front`).
    pub fn own_dir(&self, kind: &str) -> PathBuf {
        self.volumes_dir
            .parent()
            .unwrap_or(self.volumes_dir)
            .join(kind)
            .join(self.service_name)
    }

    /// The command of a database recipe: wharf's entrypoint for `recipe` with
    /// `options` of its own, the data and socket directories, the init files, and the
    /// server arguments of the service's `command` (after the program's own name).
    pub fn database_command(
        &self,
        recipe: &str,
        options: Options,
        data: &Path,
        programs: &[&str],
    ) -> Vec<String> {
        let mut options = options
            .with_path("data", data)
            .with("port", self.port)
            .with_path("sockets", &self.own_dir("sockets"));
        if let Some(scripts) = self.mounted("/docker-entrypoint-initdb.d") {
            options = options.with_path("initdb-d", &scripts);
        }
        let server_args: Vec<String> = self
            .command()
            .into_iter()
            .skip_while(|arg| programs.contains(&arg.as_str()))
            .collect();
        options
            .with_server_args(server_args)
            .into_command(self.wharf, recipe)
    }

    pub fn env(&self, name: &str) -> Option<&str> {
        self.service
            .environment
            .get(name)
            .and_then(|v| v.as_deref())
    }

    /// The service's `command` (arguments to the image's program), if it set one.
    pub fn command(&self) -> Vec<String> {
        self.service.command.clone().unwrap_or_default()
    }
}

/// The image's name without registry and digest, and its tag (`latest` when none).
pub fn image_name_and_tag(image: &str) -> (&str, &str) {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    match last.split_once(':') {
        Some((name, tag)) => (name, tag),
        None => (last, "latest"),
    }
}

/// The recipe for the service's image; `None` when there is none, or the service runs
/// another program of the image than its server.
pub fn for_image(context: &RecipeContext<'_>) -> Option<Result<Recipe, String>> {
    if !runs_the_server(context.service) {
        return None;
    }
    let (name, tag) = image_name_and_tag(&context.service.image);
    match name {
        "postgres" => Some(postgres::recipe(context, tag)),
        "redis" => Some(redis(context)),
        "memcached" => Some(memcached(context)),
        "nginx" => Some(nginx::recipe(context)),
        "mariadb" | "mysql" => Some(mariadb::recipe(context, name)),
        "rabbitmq" => Some(rabbitmq::recipe(context)),
        _ => None,
    }
}

/// Whether the service runs its image's server, as the image's entrypoint decides: no
/// `command`, options for the server (`-c max_connections=200`, a redis `.conf`), or
/// the server by name. Anything else (`psql …` in a `postgres` image, a migration's
/// client) the entrypoint runs as it is, so it is a command like any other, not the
/// server; so is an `entrypoint` of the service's own.
pub fn runs_the_server(service: &wharf_model::Service) -> bool {
    if service.entrypoint.as_ref().is_some_and(|e| !e.is_empty()) {
        return false;
    }
    let Some(first) = service.command.as_ref().and_then(|c| c.first()) else {
        return true;
    };
    let program = first.rsplit('/').next().unwrap_or(first);
    let image = image_name_and_tag(&service.image).0;
    // Redis's entrypoint takes a configuration file for its server's.
    let redis_config = image == "redis"
        && std::path::Path::new(first)
            .extension()
            .is_some_and(|e| e == "conf");
    let servers: &[&str] = match image {
        "postgres" => &["postgres"],
        "redis" => &["redis-server"],
        "memcached" => &["memcached"],
        "nginx" => &["nginx", "nginx-debug"],
        "mariadb" | "mysql" => &["mariadbd", "mysqld"],
        "rabbitmq" => &["rabbitmq-server"],
        _ => &[],
    };
    first.starts_with('-') || servers.contains(&program) || redis_config
}

/// The image's own health script, which only its container has, as the host's
/// clients do the same: the mariadb image's `healthcheck.sh` (`--connect`,
/// `--innodb_initialized`…) asks the server whether it answers, as `mariadb-admin
/// ping` does.
pub fn native_probe(image: &str, probe: &mut Probe) {
    if !matches!(image_name_and_tag(image).0, "mariadb" | "mysql") {
        return;
    }
    let ping = || vec!["mariadb-admin".to_owned(), "ping".to_owned()];
    let script = |program: &str| program.rsplit('/').next() == Some("healthcheck.sh");
    match probe {
        Probe::Exec(argv) if argv.first().is_some_and(|p| script(p)) => *argv = ping(),
        Probe::Shell(line) if line.split_whitespace().next().is_some_and(script) => {
            *probe = Probe::Exec(ping());
        }
        _ => {}
    }
}

/// A healthcheck (or an `exec`) running the image's own client with no address of its
/// own (`redis-cli ping`) asks the usual port, which natively is free or someone
/// else's: the arguments that point it at `port`, where the recipe listens. Clients
/// that read their port from the environment (`PGPORT`) need none.
pub fn probe_port_args(image: &str, probe: &[String], port: u16) -> Vec<String> {
    let Some((program, args)) = probe.split_first() else {
        return Vec::new();
    };
    let program = program.rsplit('/').next().unwrap_or(program);
    let addressed = |flags: &[&str]| args.iter().any(|a| flags.iter().any(|f| a.starts_with(f)));
    match (image_name_and_tag(image).0, program) {
        ("redis", "redis-cli") if !addressed(&["-p", "-u", "-h", "-s"]) => {
            vec!["-p".to_owned(), port.to_string()]
        }
        _ => Vec::new(),
    }
}

/// What `wharf exec` adds to a recipe's own program run with no target of its own, so
/// it acts on the service rather than on the machine's server: `redis-cli` gets the
/// service's port (as a healthcheck does), `nginx` the service's configuration and
/// prefix (so `nginx -t` tests it and `nginx -s reload` reloads it). `command` is the
/// service's own, the recipe's entrypoint with its options.
pub fn exec_args(
    recipe: &str,
    argv: &[String],
    command: &[String],
    port: Option<u16>,
) -> Vec<String> {
    let program = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or_default();
    match (recipe, program) {
        ("nginx", "nginx") => nginx::exec_args(argv, command),
        _ => port.map_or_else(Vec::new, |port| probe_port_args(recipe, argv, port)),
    }
}

/// The image's usual port when it speaks something else than HTTP (a database's, a
/// cache's, a broker's), so the proxy gives it no route.
pub fn not_http_port(image: &str) -> Option<u16> {
    match image_name_and_tag(image).0 {
        "nginx" => None,
        _ => usual_port(image),
    }
}

/// The image's usual port, which the recipe listens on (moved to the published one).
pub fn usual_port(image: &str) -> Option<u16> {
    match image_name_and_tag(image).0 {
        "postgres" => Some(5432),
        "redis" => Some(6379),
        "memcached" => Some(11211),
        "nginx" => Some(80),
        "mariadb" | "mysql" => Some(3306),
        "rabbitmq" => Some(5672),
        _ => None,
    }
}

/// `wharf recipe RECIPE ARGS…`: the entrypoint of a recipe, run by wharfd as the
/// service's process; it prepares what the server needs, then becomes the server.
pub fn run_entrypoint(recipe: &str, args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    match recipe {
        "postgres" => postgres::run(&postgres::PostgresArgs::read(&options)?),
        "mariadb" => mariadb::run(&DatabaseArgs::read(&options)?),
        "nginx" => nginx::run(&nginx::NginxArgs::read(&options)?),
        "rabbitmq" => rabbitmq::run(&rabbitmq::RabbitmqArgs::read(&options)?),
        other => Err(LaunchError::UnknownRecipe(other.to_owned()).into()),
    }
}

/// What every database recipe's entrypoint is given (see `database_command`).
#[derive(Debug)]
pub struct DatabaseArgs {
    pub data: PathBuf,
    pub port: u16,
    /// Where the server puts its unix socket.
    pub sockets: PathBuf,
    /// Files to run on the first start (`/docker-entrypoint-initdb.d`).
    pub initdb_d: Option<PathBuf>,
    /// Passed to the server (`-c max_connections=200`).
    pub server_args: Vec<String>,
}

impl DatabaseArgs {
    pub fn read(options: &Options) -> Result<Self, LaunchError> {
        Ok(Self {
            data: options.path("data")?,
            port: options.port("port")?,
            sockets: options.path("sockets")?,
            initdb_d: options.optional("initdb-d").map(PathBuf::from),
            server_args: options.server_args().to_vec(),
        })
    }
}

pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

pub fn missing(program: &str, package: &str) -> String {
    format!(
        "`{program}` is not installed; install it (Debian: apt-get install {package}) or add an x-wharf.process section"
    )
}

/// `redis-server` on loopback, data in `/data`'s volume; the service's own arguments
/// (`--appendonly yes`) come first, so wharf's address and directory win.
fn redis(context: &RecipeContext<'_>) -> Result<Recipe, String> {
    let program =
        find_program("redis-server").ok_or_else(|| missing("redis-server", "redis-server"))?;
    let mut command = vec![program.display().to_string()];
    command.extend(
        context
            .command()
            .into_iter()
            .skip_while(|arg| arg == "redis-server"),
    );
    let data = context.data_dir("/data");
    command.extend(
        [
            "--bind",
            "127.0.0.1",
            "--port",
            &context.port.to_string(),
            "--daemonize",
            "no",
            "--dir",
            &data.display().to_string(),
        ]
        .map(str::to_owned),
    );
    Ok(Recipe {
        command,
        working_dir: data,
        environment: BTreeMap::new(),
        origin: "recipe redis".to_owned(),
        stop_signal: None,
        database: None,
    })
}

/// `memcached` on loopback (as the current user; root needs `-u`).
fn memcached(context: &RecipeContext<'_>) -> Result<Recipe, String> {
    let program = find_program("memcached").ok_or_else(|| missing("memcached", "memcached"))?;
    let mut command = vec![program.display().to_string()];
    command.extend(
        context
            .command()
            .into_iter()
            .skip_while(|arg| arg == "memcached"),
    );
    command.extend(
        [
            "-l",
            "127.0.0.1",
            "-p",
            &context.port.to_string(),
            "-U",
            "0",
        ]
        .map(str::to_owned),
    );
    if nix::unistd::geteuid().is_root() {
        command.extend(["-u".to_owned(), "root".to_owned()]);
    }
    Ok(Recipe {
        command,
        working_dir: context.project_dir.to_owned(),
        environment: BTreeMap::new(),
        origin: "recipe memcached".to_owned(),
        stop_signal: None,
        database: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_into_name_and_tag() {
        assert_eq!(
            image_name_and_tag("postgres:15-alpine"),
            ("postgres", "15-alpine")
        );
        assert_eq!(
            image_name_and_tag("docker.io/library/redis"),
            ("redis", "latest")
        );
        assert_eq!(
            image_name_and_tag("registry:5000/team/memcached:1.6@sha256:ab"),
            ("memcached", "1.6")
        );
    }
}

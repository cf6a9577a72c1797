//! The rabbitmq recipe: the host's RabbitMQ as a node of its own. Everything Erlang
//! would share machine-wide is made the service's: its node name, its cookie (in the
//! data directory, which is its `HOME`), and its own `epmd`, started in the service's
//! process group so nothing outlives it, all on loopback. The entrypoint
//! (`wharf recipe rabbitmq`) writes the configuration from RABBITMQ_DEFAULT_USER,
//! RABBITMQ_DEFAULT_PASS and RABBITMQ_DEFAULT_VHOST, then becomes the server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

use super::entrypoint::prepare_dirs;
use super::{LaunchError, Options, Recipe, RecipeContext};

const INSTALLS: &str = "/usr/lib/rabbitmq/lib";

/// The `sbin` directory of the newest RabbitMQ installed.
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(INSTALLS)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("sbin"))
        .filter(|sbin| sbin.join("rabbitmq-server").is_file())
        .collect();
    found.sort();
    found.pop()
}

/// The Erlang distribution port (RabbitMQ's rule: AMQP port + 20000) and the service's
/// own epmd port just above it; stable, so the spec does not change between runs. Not
/// among the ports the kernel lends outgoing connections (`ephemeral`, inclusive): one
/// of those may be held by any connection when the node starts. Such a pair moves
/// above that range.
fn erlang_ports(amqp: u16, ephemeral: (u16, u16)) -> (u16, u16) {
    let lent = |port: u16| (ephemeral.0..=ephemeral.1).contains(&port);
    let dist = amqp.checked_add(20_000).unwrap_or_else(|| amqp - 20_000);
    if !lent(dist) && !lent(dist + 1) {
        return (dist, dist + 1);
    }
    let above = ephemeral.1.saturating_add(1).max(1024);
    let room = u16::MAX - above - 1;
    let dist = above + amqp % room.max(1);
    (dist, dist + 1)
}

/// The kernel's range of ports for outgoing connections (Linux's default when it
/// cannot be read).
fn ephemeral_ports() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(str::parse::<u16>);
            Some((bounds.next()?.ok()?, bounds.next()?.ok()?))
        })
        .unwrap_or((32768, 60999))
}

pub fn recipe(context: &RecipeContext<'_>) -> Result<Recipe, String> {
    let sbin = server_bin().ok_or(
        "RabbitMQ is not installed; install it (Debian: apt-get install rabbitmq-server) or add an x-wharf.process section",
    )?;
    let data = context.data_dir("/var/lib/rabbitmq");
    let (dist, epmd) = erlang_ports(context.port, ephemeral_ports());
    let command = Options::default()
        .with_path("bin", &sbin)
        .with_path("data", &data)
        .with("port", context.port)
        .with("dist-port", dist)
        .into_command(context.wharf, "rabbitmq");
    // The node's identity, which its CLI tools (`rabbitmq-diagnostics ping` in a
    // healthcheck) need too: they come first on PATH, ahead of the system wrappers.
    let path = std::env::var("PATH").unwrap_or_default();
    let environment = BTreeMap::from([
        ("HOME".to_owned(), data.display().to_string()),
        (
            "RABBITMQ_NODENAME".to_owned(),
            format!("rabbit-{}@localhost", context.service_name),
        ),
        ("ERL_EPMD_PORT".to_owned(), epmd.to_string()),
        ("ERL_EPMD_ADDRESS".to_owned(), "127.0.0.1".to_owned()),
        ("PATH".to_owned(), format!("{}:{path}", sbin.display())),
    ]);
    Ok(Recipe {
        command,
        working_dir: context.project_dir.to_owned(),
        environment,
        origin: "recipe rabbitmq".to_owned(),
        stop_signal: None,
        database: None,
    })
}

/// `wharf recipe rabbitmq`: configuration, the service's epmd, then the server.
/// What `wharf recipe rabbitmq` is given.
#[derive(Debug)]
pub struct RabbitmqArgs {
    /// The directory holding rabbitmq-server.
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// The Erlang distribution port.
    dist_port: u16,
}

impl RabbitmqArgs {
    pub fn read(options: &Options) -> Result<Self, LaunchError> {
        Ok(Self {
            bin: options.path("bin")?,
            data: options.path("data")?,
            port: options.port("port")?,
            dist_port: options.port("dist-port")?,
        })
    }
}

pub fn run(args: &RabbitmqArgs) -> anyhow::Result<()> {
    prepare_dirs(&[&args.data])?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut config = format!("listeners.tcp.default = 127.0.0.1:{}\n", args.port);
    for (key, variable, default) in [
        ("default_user", "RABBITMQ_DEFAULT_USER", "guest"),
        ("default_pass", "RABBITMQ_DEFAULT_PASS", "guest"),
        ("default_vhost", "RABBITMQ_DEFAULT_VHOST", "/"),
    ] {
        let _ = writeln!(
            config,
            "{key} = {}",
            env(variable).unwrap_or_else(|| default.to_owned())
        );
    }
    let base = args.data.join("rabbitmq");
    std::fs::write(base.with_extension("conf"), config).context("cannot write rabbitmq.conf")?;
    // Started before the server, in the same process group: stopping the service stops it.
    let epmd_port: u16 = std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4369);
    let mut epmd = Command::new("epmd")
        .args(["-port", &epmd_port.to_string()])
        .spawn()
        .context("cannot start epmd")?;
    // The node registers with epmd as it boots; one that finds no epmd yet starts
    // without distribution and fails, so the server waits for it to listen.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !wharf_host::ports::accepts(epmd_port) {
        if let Some(status) = epmd.try_wait()? {
            bail!(
                "epmd could not listen on port {epmd_port} ({status}); is the port taken? \
                 RabbitMQ's ports are the AMQP port + 20000 and + 20001 (docs/native.md)"
            );
        }
        if std::time::Instant::now() > deadline {
            bail!("epmd did not listen on port {epmd_port} within 10s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    println!("starting RabbitMQ on 127.0.0.1:{}", args.port);
    let in_data = |name: &str| args.data.join(name).display().to_string();
    let error = Command::new(args.bin.join("rabbitmq-server"))
        .env("RABBITMQ_CONFIG_FILE", &base)
        .env("RABBITMQ_MNESIA_BASE", in_data("mnesia"))
        .env("RABBITMQ_LOG_BASE", in_data("log"))
        .env("RABBITMQ_LOGS", "-")
        .env("RABBITMQ_ENABLED_PLUGINS_FILE", in_data("enabled_plugins"))
        .env("RABBITMQ_PID_FILE", in_data("rabbitmq.pid"))
        .env("RABBITMQ_DIST_PORT", args.dist_port.to_string())
        .env(
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
            "-kernel inet_dist_use_interface {127,0,0,1}",
        )
        .exec();
    Err(error).context("cannot run rabbitmq-server")
}

#[cfg(test)]
mod tests {
    use super::erlang_ports;

    #[test]
    fn erlang_ports_follow_rabbitmqs_rule_and_stay_in_range() {
        let linux = (32768, 60999);
        assert_eq!(erlang_ports(5672, linux), (25672, 25673));
        assert_eq!(erlang_ports(50000, linux), (30000, 30001));
        // + 20000 would be a port the kernel lends out: above the range instead.
        let (dist, epmd) = erlang_ports(25672, linux);
        assert!(dist > 60999 && epmd == dist + 1, "{dist}");
        assert_eq!(erlang_ports(25672, linux), (dist, epmd), "stable");
        // Half in the range (its epmd port would be lent out) moves too.
        let (dist, _) = erlang_ports(12767, linux);
        assert!(dist > 60999, "{dist}");
        let (dist, epmd) = erlang_ports(u16::MAX, linux);
        assert!(dist > 60999 && epmd > dist, "{dist} {epmd}");
    }
}

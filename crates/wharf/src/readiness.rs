//! `--wait`: following a project's events until the chosen services are ready —
//! running and healthy, or answering on their ports (a container's server listening
//! inside it, not only the engine's proxy) — showing what each still waits
//! for, or failing with every laggard and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use wharf_api::{Client, Health, InstanceState, InstanceStatus, now_ms};
use wharf_host::ports::{accepts, listening_in_namespace_of};
use wharf_plan::PortSpec;

use crate::listening::{misdirected, reaches};
use crate::printer::Printer;
use crate::status_text::status_text;
use wharf_api::ProjectWatch;

const POLL: Duration = Duration::from_millis(20);

/// How long `--wait` waits when `--wait-timeout` does not say.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_mins(2);

/// A service with neither a healthcheck nor a port must run this long to count as
/// ready: one that crashes on start would otherwise be ready for an instant.
const SETTLE: Duration = Duration::from_millis(100);

/// The same for a container: the engine says one runs for a while after it ended
/// (170 ms seen on a busy machine), and Compose's `--wait` first looks after 500 ms.
const CONTAINER_SETTLE: Duration = Duration::from_millis(500);

/// After this long, a process that listens, but not on its published port, is taken
/// to have chosen another port: waiting longer for it would be in vain.
const WRONG_PORT_AFTER_MS: u64 = crate::listening::CONTAINER_SETTLE_MS;

/// After this long, a container that listens nowhere is not waited for either: its
/// published port may be one it opens only on demand (a debugger's), and Compose
/// waits for no port; a database's first start is done well before.
const SILENT_CONTAINER_AFTER_MS: u64 = 30_000;

/// What `wait` waits for: the services with how many replicas each, and those of them
/// whose exit 0 is what is waited for.
pub struct Awaited<'a> {
    pub services: &'a BTreeMap<String, u32>,
    pub one_offs: &'a BTreeSet<String>,
}

/// Ready means running and healthy (with a healthcheck) or answering on its ports
/// (without one); a service of `one_offs` is ready once it exited 0, and any other
/// that exits fails the wait, as Compose's (whose one-offs are the services another
/// depends on with `condition: service_completed_successfully`). `begun` is when the
/// command began: the time it says it took is the whole of it (a restore or a build
/// included), the timeout runs from now.
pub fn wait(
    client: &Client,
    name: &str,
    Awaited { services, one_offs }: Awaited<'_>,
    postgres: &PostgresServers,
    begun: Instant,
    timeout: Duration,
    printer: &Printer,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut progress = Progress::new(printer);
    let mut watch = ProjectWatch::open(client, name)?;
    let mut warned = BTreeSet::new();
    let mut looks = NamespaceLooks::default();
    let mut logins = LoginAsks::default();
    loop {
        if watch.down {
            bail!("{name} was taken down (`wharf down`) while waiting for it to be ready");
        }
        if watch.daemon_gone {
            bail!(
                "wharfd stopped while waiting for {name} to be ready; the next wharf \
                 command starts it again and brings the stack back (its log: `wharf daemon logs`)"
            );
        }
        let relevant: Vec<&InstanceStatus> = watch
            .instances()
            .into_iter()
            .filter(|i| services.contains_key(&i.service))
            .collect();
        // A service recreated by another `up` has, for a moment, no instance at all.
        let absent: Vec<String> = services
            .iter()
            .filter(|(service, want)| {
                let have = relevant.iter().filter(|i| &i.service == *service).count();
                have < **want as usize
            })
            .map(|(service, _)| format!("  {service}: not started yet"))
            .collect();
        let now = now_ms();
        let awaited: Vec<(&InstanceStatus, Option<String>)> = relevant
            .iter()
            .map(|i| {
                let login = postgres
                    .0
                    .get(&i.service)
                    .map(|user| (user.as_str(), &mut logins));
                (*i, awaiting(i, now, &mut looks, login))
            })
            .collect();
        progress.show(&awaited, now);
        warn_misdirected(&relevant, now, &mut warned, &mut looks, printer);
        let failed: Vec<&&InstanceStatus> = relevant
            .iter()
            .filter(|i| match i.state {
                InstanceState::Exited => i.exit_code != Some(0) || !one_offs.contains(&i.service),
                InstanceState::CrashLoop => true,
                // Stopped on request; otherwise it is being recreated (another `up`).
                InstanceState::Stopped => watch.was_stopped(&i.service),
                _ => i.health == Health::Unhealthy,
            })
            .collect();
        if let Some(stopped) = failed.iter().find(|i| i.state == InstanceState::Stopped) {
            bail!(
                "{} was stopped (`wharf stop` or `wharf kill`) while waiting for it to be ready",
                stopped.name
            );
        }
        if let Some(first) = failed.first() {
            let each: Vec<String> = failed
                .iter()
                .map(|i| {
                    format!(
                        "{} failed: {}{}",
                        i.name,
                        status_text(i, now),
                        last_words(client, name, i)
                    )
                })
                .collect();
            let ended_well = failed
                .iter()
                .any(|i| i.state == InstanceState::Exited && i.exit_code == Some(0));
            bail!(
                "{}\nhint: `wharf logs --notes {}` shows the rest{}",
                each.join("\n"),
                first.service,
                if ended_well {
                    "; `--wait` waits for services that run, as Compose's: one that ends \
                     is waited for when a service depends on it with `condition: \
                     service_completed_successfully`"
                } else {
                    ""
                }
            );
        }
        // A process listening elsewhere than its published port will not be reached.
        let still: Vec<InstanceStatus> = awaited
            .iter()
            .filter(|(i, what)| {
                what.is_some()
                    && i.started_at_ms
                        .is_some_and(|t| now.saturating_sub(t) >= WRONG_PORT_AFTER_MS)
            })
            .map(|(i, _)| (*i).clone())
            .collect();
        if let Some(wrong) = crate::listening::exposures(&still, now)
            .into_iter()
            .find(|e| e.unreachable)
        {
            bail!("{} {}\nhint: {}", wrong.instance, wrong.problem, wrong.fix);
        }
        if absent.is_empty() && awaited.iter().all(|(_, what)| what.is_none()) {
            printer.info(&format!("ready in {:.2}s", begun.elapsed().as_secs_f64()));
            return Ok(ExitCode::SUCCESS);
        }
        if started.elapsed() > timeout {
            let laggards: Vec<String> = awaited
                .iter()
                .filter(|(_, what)| what.is_some())
                .map(|(i, what)| format!("  {}: {}", i.name, described(i, what.as_ref(), now)))
                .chain(absent)
                .collect();
            let waited: Vec<InstanceStatus> = relevant.iter().map(|i| (*i).clone()).collect();
            let mut why = String::new();
            for exposure in crate::listening::exposures(&waited, now) {
                let _ = write!(
                    why,
                    "\n  {} {}; {}",
                    exposure.instance, exposure.problem, exposure.fix
                );
            }
            bail!(
                "not ready after {}s:\n{}{why}\nhint: `wharf logs --notes SERVICE` shows why; \
                 `--wait-timeout SECONDS` waits longer",
                timeout.as_secs(),
                laggards.join("\n")
            );
        }
        // Changes come as events; a port or a settling process is looked at again soon.
        let polled = awaited
            .iter()
            .any(|(i, what)| what.is_some() && i.state == InstanceState::Running);
        let left = timeout.saturating_sub(started.elapsed()) + POLL;
        watch.next(if polled { POLL } else { left });
    }
}

/// How many of its last lines a failed instance's error shows.
const LAST_WORDS: usize = 5;

/// The last lines `instance` wrote in its last run, each on a line of its own under the failure (none
/// when it wrote nothing, or its log cannot be read).
fn last_words(client: &Client, project: &str, instance: &InstanceStatus) -> String {
    let path = crate::log_printer::logs_path(
        project,
        std::slice::from_ref(&instance.service),
        Some(LAST_WORDS),
        // This run's, not an earlier one's (from a second before its start as wharfd
        // noted it, which can come after its first words).
        instance.started_at_ms.map(|t| t.saturating_sub(1_000)),
        false,
    );
    let Ok(stream) = client.stream::<wharf_api::LogLine>(&path) else {
        return String::new();
    };
    stream
        .map_while(Result::ok)
        .filter(|line| line.replica == instance.replica)
        .fold(String::new(), |mut said, line| {
            let _ = write!(said, "\n  | {}", line.line);
            said
        })
}

/// `run`: returns once each of `dependencies` meets its `depends_on` condition, as
/// Compose's `run` waits (a job that must complete is waited for to end); fails when a
/// required one cannot, saying why. One not required that cannot is only said.
pub fn wait_for_conditions(
    client: &Client,
    name: &str,
    dependencies: &BTreeMap<String, wharf_plan::Dependency>,
    timeout: Duration,
    printer: &Printer,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut watch = ProjectWatch::open(client, name)?;
    let mut said = BTreeSet::new();
    loop {
        if watch.down || watch.daemon_gone {
            bail!("{name} was taken down while its services started");
        }
        let instances = watch.instances();
        let mut pending = Vec::new();
        for (service, dependency) in dependencies {
            let of_service: Vec<&InstanceStatus> = instances
                .iter()
                .copied()
                .filter(|i| &i.service == service)
                .collect();
            let verdict = if of_service.is_empty() {
                wharf_api::Verdict::Pending
            } else {
                wharf_api::judge(of_service, dependency.condition)
            };
            match verdict {
                wharf_api::Verdict::Met => {}
                wharf_api::Verdict::Pending => pending.push(service.as_str()),
                wharf_api::Verdict::Failed(why) if dependency.required => {
                    bail!(
                        "dependency {service} {why}\nhint: `wharf logs --notes {service}` shows why"
                    );
                }
                wharf_api::Verdict::Failed(why) => {
                    if said.insert(service.clone()) {
                        printer.warn(&format!(
                            "optional dependency {service} {why}; running anyway"
                        ));
                    }
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            // Each instance still waited for, with what it is and last said.
            let now = wharf_api::now_ms();
            let laggards: Vec<String> = instances
                .iter()
                .filter(|i| pending.contains(&i.service.as_str()))
                .map(|i| {
                    format!(
                        "  {}: {}",
                        i.name,
                        described(i, Some(&condition_of(dependencies, &i.service)), now)
                    )
                })
                .collect();
            bail!(
                "after {}s, still waiting for {}:\n{}\nhint: `wharf logs --notes SERVICE` shows why",
                timeout.as_secs(),
                pending.join(", "),
                laggards.join("\n")
            );
        }
        watch.next(timeout.saturating_sub(started.elapsed()) + POLL);
    }
}

/// `up -d`, `start`, `restart`: returns once every instance of `services` (all when
/// empty) has started, or could not, as Compose's return once their containers run (so
/// `up -d && exec` works). One that could not start fails the command with why.
pub fn wait_started(client: &Client, name: &str, services: &[String]) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut watch = ProjectWatch::open(client, name)?;
    loop {
        if watch.down || watch.daemon_gone {
            return Ok(());
        }
        let relevant: Vec<&InstanceStatus> = watch
            .instances()
            .into_iter()
            .filter(|i| services.is_empty() || services.contains(&i.service))
            .collect();
        // Exited without ever running: its program, image or port was not there, or
        // a dependency failed. Where a chain of them began is the news.
        let never_ran: Vec<&&InstanceStatus> = relevant.iter().filter(|i| i.never_ran()).collect();
        let blocked_by_another = |i: &InstanceStatus| {
            never_ran.iter().any(|other| {
                i.message
                    .starts_with(&format!("dependency {} ", other.service))
            })
        };
        if let Some(failed) = never_ran
            .iter()
            .find(|i| !blocked_by_another(i))
            .or(never_ran.first())
        {
            // Blocked by a dependency that runs but failed (unhealthy): its logs say why.
            let why_in = failed
                .message
                .strip_prefix("dependency ")
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or(&failed.service);
            bail!(
                "{} could not start: {}
hint: `wharf logs --notes {why_in}` shows why",
                failed.name,
                failed.message,
            );
        }
        let waiting = relevant.iter().any(|i| i.state == InstanceState::Waiting);
        if !waiting || started.elapsed() > DEFAULT_WAIT_TIMEOUT {
            return Ok(());
        }
        watch.next(DEFAULT_WAIT_TIMEOUT.saturating_sub(started.elapsed()) + POLL);
    }
}

/// `running 2s, waiting for 127.0.0.1:8000 to accept connections`; a waiting
/// instance's status (`waiting for api, db`) says it already.
/// What `service`'s dependents wait for, in words.
fn condition_of(dependencies: &BTreeMap<String, wharf_plan::Dependency>, service: &str) -> String {
    match dependencies.get(service).map(|d| d.condition) {
        Some(wharf_plan::Condition::ServiceHealthy) => "its healthcheck to pass",
        Some(wharf_plan::Condition::ServiceCompletedSuccessfully) => "it to complete",
        _ => "it to start",
    }
    .to_owned()
}

fn described(instance: &InstanceStatus, awaited: Option<&String>, now: u64) -> String {
    let status = status_text(instance, now);
    match awaited {
        Some(what) if instance.state != InstanceState::Waiting => {
            // A healthcheck still starting: what its last probe said, the why.
            match instance.message.strip_prefix("healthcheck: ") {
                Some(said) if instance.health == Health::Starting => {
                    format!("{status}, waiting for {what}; it last said: {said}")
                }
                _ => format!("{status}, waiting for {what}"),
            }
        }
        _ => status,
    }
}

/// What an instance is still waited for, in words; `None` when it is ready.
/// `login`: the role a PostgreSQL server's ports are asked to log in, whose accepting
/// a connection says nothing yet.
fn awaiting(
    instance: &InstanceStatus,
    now: u64,
    looks: &mut NamespaceLooks,
    mut login: Option<(&str, &mut LoginAsks)>,
) -> Option<String> {
    match (instance.state, instance.health) {
        // Ready; or done, or failed (said as a failure): waited for no more.
        (InstanceState::Running, Health::Healthy) | (InstanceState::Exited, _) => None,
        (InstanceState::Running, Health::Starting | Health::Unhealthy) => {
            Some("its healthcheck to pass".to_owned())
        }
        (InstanceState::Running, Health::None) => {
            // A UDP (or SCTP) port takes no connection to wait for.
            let mut waited = instance.ports.iter().filter(|p| p.protocol.is_tcp());
            let running_for = instance.started_at_ms.map_or(0, |t| now.saturating_sub(t));
            let inside = Inside::of(instance, running_for, looks);
            let mut answers = |port: u16| match login.as_mut() {
                Some((user, asks)) => asks.takes(port, user),
                None => accepts(port),
            };
            if let Some(port) = waited
                .clone()
                .find(|p| inside.waits_for(p.target) || !answers(p.published))
            {
                if login.is_some() && !inside.waits_for(port.target) {
                    return Some(format!("127.0.0.1:{} to take logins", port.published));
                }
                return Some(inside.awaited(port));
            }
            let settle = if instance.container_id.is_empty() {
                SETTLE
            } else {
                CONTAINER_SETTLE
            };
            (waited.next().is_none() && u128::from(running_for) < settle.as_millis())
                .then(|| "it to keep running".to_owned())
        }
        (InstanceState::Waiting, _) => Some("its dependencies".to_owned()),
        _ => Some("it to run".to_owned()),
    }
}

/// What a container's own network says of its published ports: the engine's proxy
/// accepts on them before the server inside listens, so its server must listen
/// inside, on a port its network address reaches (not only on 127.0.0.1).
enum Inside {
    /// A process, or a container whose network cannot be read: the published port
    /// alone is asked.
    Unknown,
    /// A container the daemon has not looked at yet: its process is not known.
    NotLooked,
    Listening(Vec<SocketAddr>),
    /// Running long enough, but not listening where a published port leads: waited
    /// for no more, as Compose waits for no port, and said (`warn_misdirected`).
    Misdirected(Vec<SocketAddr>),
}

impl Inside {
    fn of(instance: &InstanceStatus, running_for: u64, looks: &mut NamespaceLooks) -> Self {
        if instance.container_id.is_empty() {
            return Self::Unknown;
        }
        let Some(pid) = instance.pid else {
            return Self::NotLooked;
        };
        let Some(found) = looks.listening(pid) else {
            return Self::Unknown;
        };
        let missed = instance
            .ports
            .iter()
            .any(|p| p.protocol.is_tcp() && !reaches(&found, p.target));
        let given_up = if found.is_empty() {
            SILENT_CONTAINER_AFTER_MS
        } else {
            WRONG_PORT_AFTER_MS
        };
        if missed && running_for >= given_up {
            Self::Misdirected(found)
        } else {
            Self::Listening(found)
        }
    }

    /// What `port` still waits for, in words: where the container listens when that
    /// is known, as the engine's proxy accepts either way.
    fn awaited(&self, port: &PortSpec) -> String {
        match self {
            Self::Listening(found) if found.is_empty() => {
                format!("its server to listen on port {} inside", port.target)
            }
            Self::Listening(found) if !reaches(found, port.target) => {
                let listening: Vec<String> = found.iter().map(ToString::to_string).collect();
                format!(
                    "its server to listen on 0.0.0.0:{} inside (it listens on {})",
                    port.target,
                    listening.join(", ")
                )
            }
            _ => format!("127.0.0.1:{} to accept connections", port.published),
        }
    }

    fn waits_for(&self, target: u16) -> bool {
        match self {
            Self::Unknown | Self::Misdirected(_) => false,
            Self::NotLooked => true,
            Self::Listening(found) => !reaches(found, target),
        }
    }
}

/// The services whose servers speak PostgreSQL's protocol, each with the role to ask
/// as: `--wait` asks them for a login, as `pg_isready` does, not only a connection.
#[derive(Default)]
pub struct PostgresServers(BTreeMap<String, String>);

impl PostgresServers {
    pub fn of(project: &wharf_model::Project) -> Self {
        Self(
            project
                .services
                .iter()
                .filter(|(_, service)| service.wharf.process.is_none())
                .filter_map(|(name, service)| {
                    let facts = wharf_runtime::recipes::of_image(service)?;
                    (facts.engine == wharf_runtime::recipes::DatabaseEngine::Postgres)
                        .then(|| (name.clone(), facts.superuser))
                })
                .collect(),
        )
    }
}

/// How often a PostgreSQL server is asked for a login: each refused one is a line
/// in its log.
const LOGIN_ASK: Duration = Duration::from_millis(250);

/// The last answer of each port to a login.
#[derive(Default)]
struct LoginAsks(BTreeMap<u16, (Instant, bool)>);

impl LoginAsks {
    fn takes(&mut self, port: u16, user: &str) -> bool {
        if let Some((at, takes)) = self.0.get(&port)
            && (*takes || at.elapsed() < LOGIN_ASK)
        {
            return *takes;
        }
        let takes = wharf_host::postgres_login::takes_logins(port, user);
        self.0.insert(port, (Instant::now(), takes));
        takes
    }
}

/// How often a container's network is read: reading `/proc/PID/net/tcp` walks the
/// kernel's whole table of connections (a millisecond or more on a large machine).
const NAMESPACE_LOOK: Duration = Duration::from_millis(100);

/// The last reading of each container's listeners, by its process.
#[derive(Default)]
struct NamespaceLooks(BTreeMap<u32, (Instant, Option<Vec<SocketAddr>>)>);

impl NamespaceLooks {
    fn listening(&mut self, pid: u32) -> Option<Vec<SocketAddr>> {
        let (at, found) = self
            .0
            .entry(pid)
            .or_insert_with(|| (Instant::now(), listening_in_namespace_of(pid)));
        if at.elapsed() >= NAMESPACE_LOOK {
            *at = Instant::now();
            *found = listening_in_namespace_of(pid);
        }
        found.clone()
    }
}

/// Says, once per instance, which container listens, but not where its published
/// ports lead.
fn warn_misdirected(
    instances: &[&InstanceStatus],
    now: u64,
    warned: &mut BTreeSet<String>,
    looks: &mut NamespaceLooks,
    printer: &Printer,
) {
    for instance in instances {
        if instance.state != InstanceState::Running
            || instance.health != Health::None
            || warned.contains(&instance.name)
        {
            continue;
        }
        let running_for = instance.started_at_ms.map_or(0, |t| now.saturating_sub(t));
        if running_for < WRONG_PORT_AFTER_MS || instance.container_id.is_empty() {
            continue;
        }
        if let Inside::Misdirected(found) = Inside::of(instance, running_for, looks) {
            for exposure in misdirected(instance, &found) {
                printer.warn(&format!(
                    "{} {}: that port is not waited for any longer; {}",
                    exposure.instance, exposure.problem, exposure.fix
                ));
            }
            warned.insert(instance.name.clone());
        }
    }
}

/// Where `--wait` shows how the start goes: on a terminal, one line per instance
/// redrawn in place; otherwise a line whenever an instance's state changes.
struct Progress<'a> {
    printer: &'a Printer,
    live: bool,
    drawn: Vec<String>,
    shown: BTreeMap<String, (InstanceState, Health, Option<String>)>,
}

impl<'a> Progress<'a> {
    fn new(printer: &'a Printer) -> Self {
        Self {
            printer,
            live: printer.is_interactive(),
            drawn: Vec::new(),
            shown: BTreeMap::new(),
        }
    }

    fn show(&mut self, instances: &[(&InstanceStatus, Option<String>)], now: u64) {
        let width = instances
            .iter()
            .map(|(i, _)| i.name.len())
            .max()
            .unwrap_or(0);
        let line = |i: &InstanceStatus, awaited: &Option<String>| {
            format!(
                "{:<width$}  {}",
                i.name,
                described(i, awaited.as_ref(), now)
            )
        };
        if self.live {
            let lines: Vec<String> = instances.iter().map(|(i, a)| line(i, a)).collect();
            if lines != self.drawn {
                self.printer.redraw(self.drawn.len(), &lines);
                self.drawn = lines;
            }
            return;
        }
        for (instance, awaited) in instances {
            let seen = (instance.state, instance.health, awaited.clone());
            if self.shown.get(&instance.name) != Some(&seen) {
                self.printer.info(&line(instance, awaited));
                self.shown.insert(instance.name.clone(), seen);
            }
        }
    }
}

//! What the supervisor and the instances' drivers share: every project's instances
//! and their statuses, the logs, the engine, the routes and the event bus. An instance
//! changes only through `report`, which applies a lifecycle event (see `lifecycle`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use wharf_api::{Change, InstanceStatus, LogLine, LogStream, Paths, now_ms};
use wharf_plan::ProjectSpec;

use crate::cgroup::Tree;
use crate::engine_nudges::EngineNudges;
use crate::events::EventBus;
use crate::forward::Forwarders;
use crate::lifecycle::{Command, Event, InstanceKey, apply};
use crate::logs::LogBook;
use crate::orphans::{Children, marker};
use crate::process::start_time;
use crate::routes::{ProjectInstances, RouteTable, SharedTable};
use crate::store::{ProcessRecord, Store};
use wharf_engine::{Engine, EngineError};

pub(crate) struct Instance {
    pub(crate) generation: u64,
    pub(crate) status: InstanceStatus,
    /// The running process as the process records keep it, read once per process.
    pub(crate) process: Option<ProcessRecord>,
    pub(crate) command: watch::Sender<Command>,
    pub(crate) task: Option<JoinHandle<()>>,
    /// Its status when it last ended by itself (a finished job, a crash not restarted),
    /// kept through a later stop, or when it was stopped: a restarted daemon shows it
    /// so and runs it not again, as the engine keeps a stopped container.
    pub(crate) ended: Option<InstanceStatus>,
}

/// How long after a process starts or ends the project's records are written.
const RECORDS_DELAY: std::time::Duration = std::time::Duration::from_millis(25);
/// The longest a request waits for the restore (`until_restored`).
const RESTORE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub(crate) struct ProjectRuntime {
    pub(crate) spec: ProjectSpec,
    pub(crate) up: BTreeSet<String>,
    pub(crate) logs: Arc<LogBook>,
    pub(crate) instances: BTreeMap<(String, u32), Instance>,
    pub(crate) forwarders: Forwarders,
}

impl ProjectRuntime {
    /// Where the service's instances listen, as last seen.
    pub(crate) fn listening_of(&self, service: &str) -> Vec<std::net::SocketAddr> {
        self.instances
            .values()
            .filter(|i| i.status.service == service)
            .flat_map(|i| i.status.listening.iter().copied())
            .collect()
    }
}

pub struct Shared {
    pub paths: Paths,
    pub(crate) store: Store,
    pub(crate) projects: Mutex<BTreeMap<String, ProjectRuntime>>,
    /// Bumped on every status change; dependents and `--wait` watch it.
    pub(crate) changed: watch::Sender<u64>,
    /// Serializes the operations that change what runs.
    pub(crate) operations: tokio::sync::Mutex<()>,
    pub(crate) next_generation: Mutex<u64>,
    pub started: Instant,
    /// What wharfd spawned itself; other children are adopted orphans.
    pub children: Children,
    /// The cgroup tree each instance gets a cgroup in, where the machine gives one.
    pub cgroups: Option<Tree>,
    /// The Docker engine, connected when a container first needs it.
    pub(crate) engine: tokio::sync::OnceCell<Arc<Engine>>,
    /// The engine's news of each container, for its driver.
    pub(crate) engine_nudges: Arc<EngineNudges>,
    /// Notes for the user about each project's last stop, handed out by `down`.
    pub(crate) notes: Mutex<BTreeMap<String, Vec<String>>>,
    /// The proxy's routes, rebuilt on every change.
    pub routes: Arc<SharedTable>,
    pub(crate) proxy_port: Mutex<Option<u16>>,
    /// The proxy, once it runs, for `wharf share`.
    pub proxy: std::sync::OnceLock<Arc<crate::proxy::Proxy>>,
    /// Every change, for `GET /v1/events`.
    pub events: EventBus,
    /// Projects whose process records are to be written (`records_due`).
    pub(crate) records_pending: Mutex<BTreeSet<String>>,
    pub(crate) records_wanted: tokio::sync::Notify,
    /// Set once the previous generation's projects are back in the table (`restore`).
    pub(crate) restored: watch::Sender<bool>,
}

impl Shared {
    pub fn new(paths: Paths, cgroups: Option<Tree>) -> Self {
        let store = Store::new(paths.state.join("projects"));
        Self {
            paths,
            cgroups,
            store,
            projects: Mutex::new(BTreeMap::new()),
            changed: watch::channel(0).0,
            operations: tokio::sync::Mutex::new(()),
            next_generation: Mutex::new(1),
            started: Instant::now(),
            children: Children::default(),
            engine: tokio::sync::OnceCell::new(),
            engine_nudges: Arc::default(),
            notes: Mutex::new(BTreeMap::new()),
            routes: Arc::new(SharedTable::default()),
            proxy_port: Mutex::new(None),
            proxy: std::sync::OnceLock::new(),
            events: EventBus::default(),
            records_pending: Mutex::default(),
            records_wanted: tokio::sync::Notify::new(),
            restored: watch::channel(false).0,
        }
    }

    /// Resolves once what the previous wharfd ran is back in the table, so the first
    /// `ps` after a restart lists every service; after `RESTORE_WAIT` at the latest,
    /// should an engine that hangs hold the restore.
    pub async fn until_restored(&self) {
        let mut restored = self.restored.subscribe();
        let _ = tokio::time::timeout(RESTORE_WAIT, restored.wait_for(|done| *done)).await;
    }

    pub(crate) fn projects(&self) -> MutexGuard<'_, BTreeMap<String, ProjectRuntime>> {
        self.projects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a lifecycle event to an instance, if that instance is still the current
    /// one; false when it is not, or when its state does not allow the event.
    pub fn report(&self, key: &InstanceKey, event: Event) -> bool {
        let process_changed = {
            let mut projects = self.projects();
            let Some(project) = projects.get_mut(&key.project) else {
                return false;
            };
            let Some(instance) = project
                .instances
                .get_mut(&(key.service.clone(), key.replica))
                .filter(|i| i.generation == key.generation)
            else {
                return false;
            };
            let pid_before = instance.status.pid;
            // A native process's ports are forwarded to containers as it binds them:
            // whether this event starts it again (true) or says where it listens.
            let forwarding = match event {
                Event::Started { .. } => Some(true),
                Event::Listening { .. } => Some(false),
                _ => None,
            }
            .filter(|_| instance.status.container_id.is_empty());
            // A copy to compare with only when an event may be sent.
            let before = self.events.heard().then(|| instance.status.clone());
            // A look at where a process listens runs on its own clock and may come
            // after the process ended; any other refusal is a driver's bug.
            let look = matches!(event, Event::Listening { .. });
            if let Err(refused) = apply(&mut instance.status, event) {
                if !look {
                    crate::say(&format!(
                        "{}/{}/{}: {refused}",
                        key.project, key.service, key.replica
                    ));
                }
                return false;
            }
            if before.is_some_and(|before| before != instance.status) {
                self.events.emit(
                    &key.project,
                    Change::Instance {
                        instance: Box::new(instance.status.clone()),
                    },
                );
            }
            let process_changed = pid_before != instance.status.pid;
            if process_changed {
                // Only wharf's own processes: a container's belongs to the engine and
                // outlives the daemon, so the next daemon must not end it as a leftover.
                let own = instance.status.container_id.is_empty();
                instance.process = instance.status.pid.filter(|_| own).and_then(|pid| {
                    start_time(pid).map(|start_time| ProcessRecord { pid, start_time })
                });
            }
            // Written at once, not with the process records a moment later: a job
            // that ended as the daemon died must not run again.
            if note_ended(instance) {
                self.save_ended(project);
            }
            match forwarding {
                Some(true) => project.forwarders.started(&key.service),
                Some(false) => {
                    let listening = project.listening_of(&key.service);
                    project.forwarders.seen_listening(&key.service, &listening);
                }
                None => {}
            }
            process_changed
        };
        if process_changed {
            self.records_due(&key.project);
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        true
    }

    /// Asks for the project's process records to be written: a burst of starts or
    /// exits (a stack coming up) is written once, a moment later, not once per process.
    /// The cgroup tree and the instance markers find a process the records miss.
    fn records_due(&self, project: &str) {
        let mut due = self
            .records_pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        due.insert(project.to_owned());
        drop(due);
        self.records_wanted.notify_one();
    }

    /// Writes the process records asked for, as they are when it runs; runs for the
    /// daemon's life.
    pub async fn write_process_records(&self) {
        loop {
            self.records_wanted.notified().await;
            tokio::time::sleep(RECORDS_DELAY).await;
            let due = std::mem::take(
                &mut *self
                    .records_pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            for project in due {
                self.write_records(&project);
            }
        }
    }

    pub(crate) fn write_records(&self, project: &str) {
        let records = self.projects().get(project).map(process_records);
        if let Some(records) = records {
            let _ = self.store.save_processes(project, &records);
        }
    }

    /// Writes which of the project's instances ended by themselves; called with the
    /// projects locked, so two writes never cross.
    pub(crate) fn save_ended(&self, project: &ProjectRuntime) {
        let _ = self
            .store
            .save_ended(&project.spec.name, &ended_instances(project));
    }

    /// Drops an instance whose container was removed behind wharf's back (`docker
    /// compose down`); a project left with no instance is forgotten, as after `down`.
    pub fn instance_removed_externally(&self, key: &InstanceKey) {
        let mut projects = self.projects();
        let Some(project) = projects.get_mut(&key.project) else {
            return;
        };
        let slot = (key.service.clone(), key.replica);
        if project
            .instances
            .get(&slot)
            .is_some_and(|i| i.generation == key.generation)
            && let Some(gone) = project.instances.remove(&slot)
        {
            self.events.emit(&key.project, removed(&gone.status));
        }
        if project.instances.is_empty() {
            projects.remove(&key.project);
            let _ = self.store.forget(&key.project);
        } else {
            self.save_ended(project);
        }
        drop(projects);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Forgets, for as long as the daemon runs, each instance whose container another
    /// tool removed while no driver followed it (a stopped one that `docker compose
    /// down` removed), as a driver forgets its own container's removal.
    pub async fn forget_removed_containers(self: Arc<Self>) {
        loop {
            let ids = self.engine_nudges.unfollowed().await;
            let Some(engine) = self.engine.get() else {
                continue;
            };
            for id in ids {
                let ended = self.projects().iter().find_map(|(project, runtime)| {
                    let ((service, replica), instance) =
                        runtime.instances.iter().find(|(_, i)| {
                            i.status.container_id == id && !i.status.state.is_active()
                        })?;
                    let key = InstanceKey {
                        project: project.clone(),
                        service: service.clone(),
                        replica: *replica,
                        generation: instance.generation,
                    };
                    Some((key, instance.status.name.clone()))
                });
                let Some((key, name)) = ended else { continue };
                if engine.container_gone(&id).await.unwrap_or(false) {
                    let said = format!("container {name} was removed outside wharf");
                    self.log(&key, LogStream::Wharf, said);
                    self.instance_removed_externally(&key);
                }
            }
        }
    }

    /// The number of an instance's next generation, unique for the daemon's life.
    pub(crate) fn next_generation(&self) -> u64 {
        let mut next = self
            .next_generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *next += 1;
        *next
    }

    pub async fn engine(&self) -> Result<Arc<Engine>, EngineError> {
        self.engine
            .get_or_try_init(|| async {
                let engine = Arc::new(Engine::connect().await?);
                tokio::spawn(crate::engine_nudges::relay(
                    Arc::clone(&engine),
                    Arc::clone(&self.engine_nudges),
                ));
                Ok(engine)
            })
            .await
            .cloned()
    }

    /// The marker of an instance's processes (see `orphans`).
    pub fn instance_marker(&self, key: &InstanceKey) -> String {
        marker(
            &self.paths.runtime.display().to_string(),
            &key.project,
            &key.service,
            key.replica,
        )
    }

    /// Keeps a note for the user, handed out by the operation that caused it; said
    /// once however often it happened.
    pub fn note(&self, project: &str, note: String) {
        let mut notes = self.notes.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = notes.entry(project.to_owned()).or_default();
        if !kept.contains(&note) {
            kept.push(note);
        }
    }

    pub(crate) fn take_notes(&self, project: &str) -> Vec<String> {
        self.notes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(project)
            .unwrap_or_default()
    }

    /// The proxy's port, once it listens.
    pub fn set_proxy_port(&self, port: u16) {
        *self
            .proxy_port
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(port);
    }

    /// A project's routes, with the URLs the proxy answers on.
    pub fn urls(&self, project: &str) -> Vec<wharf_api::RouteInfo> {
        let port = *self
            .proxy_port
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let table = self.routes.current();
        table
            .routes_of(Some(project))
            .map(|route| {
                let path = if route.path == "/" {
                    ""
                } else {
                    route.path.as_str()
                };
                wharf_api::RouteInfo {
                    url: match port {
                        Some(port) => format!("http://{}:{port}{path}", route.host),
                        None => format!("(the proxy is not listening) {}{path}", route.host),
                    },
                    service: route.service.clone(),
                    port: route.port,
                    backends: route.backends.iter().map(ToString::to_string).collect(),
                    waiting: route.waiting,
                }
            })
            .collect()
    }

    /// Rebuilds the proxy's table from every project and its instances.
    pub fn rebuild_routes(&self) {
        // Built under the lock from what is there, not from copies.
        let (table, projects) = {
            let projects = self.projects();
            let inputs: Vec<ProjectInstances<'_>> = projects
                .values()
                .map(|p| ProjectInstances::new(&p.spec, p.instances.values().map(|i| &i.status)))
                .collect();
            let names: Vec<String> = projects.keys().cloned().collect();
            (RouteTable::build(&inputs), names)
        };
        self.routes.replace(table);
        if !self.events.heard() {
            return;
        }
        for project in projects {
            let urls = self.urls(&project).into_iter().map(|r| r.url).collect();
            self.events.routes(&project, urls);
        }
    }

    /// Says in the log and the status why an instance did not start (`exit_code`: the
    /// shell's for a program that cannot run, a failed hook's).
    pub fn mark_not_started(&self, key: &InstanceKey, reason: String, exit_code: Option<i32>) {
        self.log(key, LogStream::Wharf, format!("not started: {reason}"));
        self.report(key, Event::NotStarted { reason, exit_code });
    }

    /// Records that an instance stopped on request, with its exit code.
    pub fn mark_stopped(&self, key: &InstanceKey, code: Option<i32>) {
        self.log(key, LogStream::Wharf, "stopped".to_owned());
        self.report(key, Event::Stopped { exit_code: code });
    }

    pub fn log(&self, key: &InstanceKey, stream: LogStream, line: String) {
        self.log_at(key, stream, line, now_ms());
    }

    /// Logs a line said at `time_ms` (by the engine's clock, for a container's output).
    pub fn log_at(&self, key: &InstanceKey, stream: LogStream, line: String, time_ms: u64) {
        if let Some(logs) = self.logs_of(&key.project) {
            logs.write(LogLine {
                service: key.service.clone(),
                replica: key.replica,
                stream,
                time_ms,
                line,
            });
        }
    }

    /// Watches the instance's own output for a line holding `text`, from `since_ms`
    /// on: what is stored is read once, what comes later as it comes.
    pub fn watch_for_line(
        &self,
        key: &InstanceKey,
        text: &str,
        since_ms: u64,
    ) -> crate::logs::LineWatch {
        crate::logs::LineWatch::new(
            self.logs_of(&key.project),
            (&key.service, key.replica),
            text,
            since_ms,
        )
    }

    /// When the newest line of the instance's own output in its log was written.
    pub fn last_output_ms(&self, key: &InstanceKey) -> Option<u64> {
        self.logs_of(&key.project)?
            .last_output_ms(&key.service, key.replica)
    }

    fn logs_of(&self, project: &str) -> Option<Arc<LogBook>> {
        self.projects().get(project).map(|p| Arc::clone(&p.logs))
    }

    /// Resolves once no instance of `services` (all when empty) of `project` has run
    /// (or waited, or restarted) for half a second: they all ended, as `logs -f` ends
    /// then (the pause lets a `restart`'s stop and start pass).
    pub async fn until_none_runs(self: Arc<Self>, project: String, services: Vec<String>) {
        let mut changes = self.subscribe_changes();
        loop {
            if self.runs(&project, &services) {
                if changes.changed().await.is_err() {
                    return;
                }
                continue;
            }
            let quiet =
                tokio::time::timeout(std::time::Duration::from_millis(500), changes.changed())
                    .await;
            if quiet.is_err() {
                return;
            }
        }
    }

    /// Resolves once no instance waits for its dependencies and each running
    /// container has been looked at once (its pid, health, uptime and ports are then
    /// the engine's).
    pub async fn until_settled(self: Arc<Self>) {
        use wharf_api::InstanceState::{Running, Waiting};
        let mut changes = self.subscribe_changes();
        while self.projects().values().any(|p| {
            p.instances.values().any(|i| {
                i.status.state == Waiting
                    || (i.status.state == Running
                        && !i.status.container_id.is_empty()
                        && i.status.pid.is_none())
            })
        }) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Whether an instance of `services` (all when empty) of `project` runs, or will
    /// run again by itself.
    pub fn runs(&self, project: &str, services: &[String]) -> bool {
        self.projects().get(project).is_some_and(|p| {
            p.instances.values().any(|i| {
                (services.is_empty() || services.contains(&i.status.service))
                    && i.status.state.is_active()
            })
        })
    }

    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The statuses of every instance of `service` in `project`.
    pub fn service_statuses(&self, project: &str, service: &str) -> Vec<InstanceStatus> {
        self.projects()
            .get(project)
            .map(|p| {
                // Keyed by (service, replica): a service's instances are one range.
                let from = (service.to_owned(), 0);
                let to = (service.to_owned(), u32::MAX);
                p.instances
                    .range(from..=to)
                    .map(|(_, i)| i.status.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The running instance, of any project but `asking`, that publishes `port`: named
    /// when the port `asking` needs is taken, since the process holding it is often
    /// another project's server of the same kind.
    pub(crate) fn holder_of_port(&self, port: u16, asking: &InstanceKey) -> Option<String> {
        self.projects().iter().find_map(|(project, runtime)| {
            runtime
                .instances
                .iter()
                .find_map(|((service, replica), i)| {
                    let itself = *project == asking.project
                        && *service == asking.service
                        && *replica == asking.replica;
                    let holds = !itself
                        && i.status.state.is_active()
                        && i.status.ports.iter().any(|p| p.published == port);
                    holds.then(|| format!("{} of project {project}", i.status.name))
                })
        })
    }

    pub fn is_up(&self, project: &str, service: &str) -> bool {
        self.projects()
            .get(project)
            .is_some_and(|p| p.up.contains(service))
    }
}

fn process_records(project: &ProjectRuntime) -> Vec<ProcessRecord> {
    project
        .instances
        .values()
        .filter_map(|i| i.process)
        .collect()
}

fn ended_instances(project: &ProjectRuntime) -> Vec<InstanceStatus> {
    project
        .instances
        .values()
        .filter_map(|i| i.ended.clone())
        .collect()
}

/// Keeps or forgets the instance's ended status as its state now says: whether the
/// records change.
fn note_ended(instance: &mut Instance) -> bool {
    use wharf_api::InstanceState::{
        CrashLoop, Created, Exited, Restarting, Running, Stopped, Waiting,
    };
    match instance.status.state {
        Exited => {
            instance.ended = Some(instance.status.clone());
            true
        }
        // Stopped on request: shown so by a later daemon.
        Stopped if instance.ended.is_none() => {
            instance.ended = Some(instance.status.clone());
            true
        }
        Created | Waiting | Running | Restarting | CrashLoop => instance.ended.take().is_some(),
        // Stopped after it ended: it had still ended by itself.
        _ => false,
    }
}

/// The event of an instance leaving the table.
pub(crate) fn removed(status: &InstanceStatus) -> Change {
    Change::Removed {
        service: status.service.clone(),
        replica: status.replica,
        name: status.name.clone(),
    }
}

//! The supervisor: every project's instances (service replicas), what each should be
//! doing, and the operations the control API exposes. Operations that change what runs
//! (`up`, `down`, `start`, `stop`…) take one lock in turn, so two `up`s at once are
//! applied one after the other, never interleaved.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wharf_api::{
    Change, ChangeAction, DownResponse, InstanceState, InstanceStatus, LogLine, LogStream, Orphans,
    Paths, ProjectSummary, ServiceChange, UpMode, UpRequest, UpResponse, now_ms,
};
use wharf_plan::{
    ChangeReason, GraphError, ProjectSpec, diff, start_order, stop_levels, with_dependencies,
};

use crate::cgroup::Tree;
use crate::forward::Forwarders;
use crate::lifecycle::{self, Command, InstanceKey};
use crate::logs::LogBook;
use crate::process::signal_group;
use crate::shared::{Instance, ProjectRuntime, Shared, removed};
use crate::store::Desired;
use crate::{container_instance, instance};
use wharf_engine::{COMPOSE_STOP_GRACE, EngineError};

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("no such project: {0}")]
    UnknownProject(String),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("saving the project's state: {0}")]
    Store(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

#[derive(Clone)]
pub struct Supervisor {
    shared: Arc<Shared>,
}

impl Supervisor {
    pub fn new(paths: Paths, cgroups: Option<Tree>) -> Self {
        Self {
            shared: Arc::new(Shared::new(paths, cgroups)),
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// At daemon start, once the previous generation's processes are gone (see
    /// `generation`): brings back what was up. Returns problems worth logging.
    pub async fn restore(&self) -> Vec<String> {
        let (found, mut problems) = self.shared.store.load_all();
        for desired in found {
            let name = desired.spec.name.clone();
            // A job that finished, or a service that failed for good, stays as it
            // ended: running it again is for the next `up`, as with Compose's containers.
            let ended = self.shared.store.load_ended(&name);
            let finished = finished_services(&desired, &ended);
            let back: BTreeSet<String> = desired.up.difference(&finished).cloned().collect();
            if ended.iter().any(|e| !back.contains(&e.service)) {
                self.keep_ended(&desired, &finished, &back, ended);
            }
            // An empty selection would mean every service: nothing was up, so nothing
            // comes back.
            if back.is_empty() {
                continue;
            }
            // The logs say why each service starts again; a container the engine kept
            // running is followed, not started.
            if let Ok(logs) = self.logs(&name) {
                for service in &back {
                    let contained = desired
                        .spec
                        .services
                        .get(service)
                        .is_some_and(|s| s.container.is_some());
                    let line = if contained {
                        "the previous wharfd ended; its successor takes the service over"
                    } else {
                        "the previous wharfd ended; its successor brings the service back"
                    };
                    logs.write(LogLine {
                        service: service.clone(),
                        replica: 1,
                        stream: LogStream::Wharf,
                        time_ms: now_ms(),
                        line: line.to_owned(),
                    });
                }
            }
            let request = UpRequest {
                spec: desired.spec,
                services: back.into_iter().collect(),
                no_deps: true,
                force_recreate: false,
                dormant: Vec::new(),
                timeout_s: None,
                no_recreate: false,
                recreate_dependencies: false,
                orphans: Orphans::KeepQuietly,
            };
            if let Err(err) = self
                .up_with(request, UpMode::Start, Dependencies::StillUp)
                .await
            {
                problems.push(format!("restoring {name}: {err}"));
            }
        }
        // A container the engine still runs is taken back after a first look at it:
        // the first `ps` waits for that, briefly, to show it as the engine has it
        // (running for an hour and healthy, not waiting or just started).
        let _ =
            tokio::time::timeout(RESTORE_SETTLE, Arc::clone(&self.shared).until_settled()).await;
        self.shared.restored.send_replace(true);
        problems
    }

    /// Shows the instances of the services that do not come back as they ended or
    /// were stopped, running nothing.
    fn keep_ended(
        &self,
        desired: &Desired,
        finished: &BTreeSet<String>,
        back: &BTreeSet<String>,
        ended: Vec<InstanceStatus>,
    ) {
        let mut projects = self.shared.projects();
        let project = self.runtime(&mut projects, &desired.spec);
        // Still up: the `up` that brings the rest back keeps them so, on disk too.
        project.up.extend(finished.iter().cloned());
        for status in ended.into_iter().filter(|s| {
            !back.contains(&s.service) && desired.spec.services.contains_key(&s.service)
        }) {
            let generation = self.shared.next_generation();
            let (command, _) = watch::channel(Command::Run);
            self.add_instance(project, generation, status.clone(), command, None);
            if let Some(instance) = project
                .instances
                .get_mut(&(status.service.clone(), status.replica))
            {
                instance.ended = Some(status);
            }
        }
    }

    /// The project's runtime entry, made for `spec` if it has none yet.
    fn runtime<'p>(
        &self,
        projects: &'p mut BTreeMap<String, ProjectRuntime>,
        spec: &ProjectSpec,
    ) -> &'p mut ProjectRuntime {
        let logs_dir = self.shared.store.project_dir(&spec.name).join("logs");
        projects
            .entry(spec.name.clone())
            .or_insert_with(|| ProjectRuntime {
                spec: spec.clone(),
                up: BTreeSet::new(),
                logs: Arc::new(LogBook::new(logs_dir)),
                instances: BTreeMap::new(),
                forwarders: Forwarders::default(),
            })
    }

    pub async fn up(
        &self,
        request: UpRequest,
        mode: UpMode,
    ) -> Result<UpResponse, SupervisorError> {
        // `--no-deps`, as Compose's: the named services start whatever became of what
        // they depend on.
        let dependencies = if request.no_deps {
            Dependencies::Leave
        } else {
            Dependencies::Start
        };
        self.up_with(request, mode, dependencies).await
    }

    /// `up`, its services waiting for their dependencies as `dependencies` says.
    async fn up_with(
        &self,
        request: UpRequest,
        mode: UpMode,
        dependencies: Dependencies,
    ) -> Result<UpResponse, SupervisorError> {
        let _turn = self.shared.operations.lock().await;
        let forcing = Forcing {
            named: request.services.clone(),
            named_ones: request.force_recreate,
            dependencies: request.recreate_dependencies,
        };
        let mut spec = request.spec;
        if spec.name.is_empty() {
            return Err(SupervisorError::Invalid("the project has no name".into()));
        }
        let (old_spec, running_before, up_before) = {
            let projects = self.shared.projects();
            match projects.get(&spec.name) {
                Some(p) => (
                    Some(p.spec.clone()),
                    p.instances
                        .values()
                        .filter(|i| i.status.state.is_active())
                        .map(|i| i.status.service.clone())
                        .collect::<BTreeSet<_>>(),
                    p.up.clone(),
                ),
                None => (None, BTreeSet::new(), BTreeSet::new()),
            }
        };
        // Compose shares a name between directories the same way; it only warns of
        // the orphans, which wharf stops here: said, so the other checkout knows why.
        let moved = old_spec
            .as_ref()
            .filter(|old| !running_before.is_empty() && old.working_dir != spec.working_dir)
            .map(|old| {
                format!(
                    "project {} was running from {}; it now runs from {} (give one of them \
                     another name, `-p NAME` or `name:`, to run both)",
                    spec.name,
                    old.working_dir.display(),
                    spec.working_dir.display()
                )
            });
        // Two projects on one domain: the proxy sends a host both have to one of them.
        let same_domain = self
            .shared
            .projects()
            .values()
            .find(|p| p.spec.name != spec.name && p.spec.domain == spec.domain)
            .map(|other| {
                format!(
                    "project {} uses the domain {} too: a host both projects have reaches \
                     only one of them; give this one another (`x-wharf.domain`)",
                    other.spec.name, spec.domain
                )
            });
        // Another file's services, or ones the file lost, run on as Compose leaves its
        // orphans; another checkout's are stopped, as said.
        let orphans: Vec<String> = match (&old_spec, request.orphans) {
            (Some(old), Orphans::Keep | Orphans::KeepQuietly) if moved.is_none() => old
                .services
                .keys()
                .filter(|name| !spec.services.contains_key(*name))
                .filter(|name| !request.dormant.contains(*name))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        let mut said: Vec<String> = moved.into_iter().chain(same_domain).collect();
        let kept: Vec<String> = request.dormant.iter().chain(&orphans).cloned().collect();
        let dormant = carry_dormant(&mut spec, old_spec.as_ref(), &kept);
        let kept_orphans: Vec<&str> = orphans
            .iter()
            .filter(|name| dormant.contains(*name))
            .map(String::as_str)
            .collect();
        if request.orphans == Orphans::Keep && !kept_orphans.is_empty() {
            said.push(Orphans::left_note(&kept_orphans, "up"));
        }
        if request.no_recreate
            && let Some(old) = &old_spec
        {
            // What runs keeps its definition, so a later `up` still sees the change.
            for (name, service) in &mut spec.services {
                if running_before.contains(name)
                    && let Some(running) = old.services.get(name)
                {
                    service.clone_from(running);
                }
            }
        }
        start_order(&spec.services)?;
        let selected: BTreeSet<String> = if request.services.is_empty() {
            spec.services
                .keys()
                .filter(|name| !dormant.contains(*name))
                .cloned()
                .collect()
        } else if request.no_deps {
            for name in &request.services {
                if !spec.services.contains_key(name) {
                    return Err(GraphError::UnknownService(name.clone()).into());
                }
            }
            request.services.iter().cloned().collect()
        } else {
            with_dependencies(&spec.services, &request.services)?
        };
        // A running service this `up` does not name runs on as it is, as Compose leaves
        // it: it keeps its definition, so an `up` of it later still sees the change.
        if let Some(old) = &old_spec {
            for (name, service) in &mut spec.services {
                if !selected.contains(name)
                    && running_before.contains(name)
                    && let Some(running) = old.services.get(name)
                {
                    service.clone_from(running);
                }
            }
        }
        self.note_image_ids(&mut spec).await?;
        name_native_hosts(&mut spec, &selected);
        let changes = diff(old_spec.as_ref(), &spec);
        let found = self
            .found_running(&spec, &changes, request.orphans != Orphans::KeepQuietly)
            .await?;
        let (found_running, found_stopped, mut surplus) =
            (found.running, found.stopped, found.surplus);
        match request.orphans {
            Orphans::Remove if !found.orphans.is_empty() => {
                said.push(Orphans::removed_note(
                    &found.orphans.keys().map(String::as_str).collect::<Vec<_>>(),
                ));
                surplus.extend(found.orphans.into_values().flatten());
            }
            Orphans::Keep if !found.orphans.is_empty() => said.push(Orphans::left_note(
                &found.orphans.keys().map(String::as_str).collect::<Vec<_>>(),
                "up",
            )),
            Orphans::Remove | Orphans::Keep | Orphans::KeepQuietly => {}
        }

        // Asked for (not a restarted daemon bringing the stack back, which restores what
        // it can, service by service).
        if mode.starts() && dependencies != Dependencies::StillUp {
            self.ports_are_free(&spec, &selected, old_spec.is_some())?;
        }
        // Stop what is removed, changed, scaled down or forced, dependents first.
        let mut to_stop: Vec<(String, u32)> = Vec::new();
        // Each service recreated unchanged, with the flag that asked for it.
        let mut forced: BTreeMap<String, &'static str> = BTreeMap::new();
        // Whose containers go once stopped, from which replica on: a forced one is made
        // anew, not started again (its definition is the same, so its driver would find
        // and keep it); one of a service no longer in the file, or a replica scaled
        // away, is removed, as `up` says it is. A changed one its driver replaces.
        let mut retired_from: BTreeMap<String, u32> = BTreeMap::new();
        for change in &changes {
            let stop_from = match &change.reason {
                ChangeReason::Removed | ChangeReason::Changed(_) => Some(1),
                ChangeReason::Scaled { to, .. } => Some(to + 1),
                ChangeReason::Unchanged
                    if let Some(flag) = forced_by(&forcing, &selected, &change.service) =>
                {
                    forced.insert(change.service.clone(), flag);
                    Some(1)
                }
                ChangeReason::Added | ChangeReason::Unchanged => None,
            };
            if let Some(from) = stop_from {
                to_stop.push((change.service.clone(), from));
                // A service that now runs as a process has no driver to replace its
                // containers: they go too.
                let now_native = spec
                    .services
                    .get(&change.service)
                    .is_some_and(|s| s.container.is_none());
                if !matches!(change.reason, ChangeReason::Changed(_)) || now_native {
                    retired_from.insert(change.service.clone(), from);
                }
            }
        }
        // Running dependents that ask to restart with a dependency this `up` recreates
        // (`depends_on: {db: {restart: true}}`), as Compose's: stopped, then started
        // again with the rest.
        let recreated: Vec<String> = changes
            .iter()
            .filter(|c| {
                matches!(c.reason, ChangeReason::Changed(_)) || forced.contains_key(&c.service)
            })
            .map(|c| c.service.clone())
            .collect();
        let restarted: BTreeMap<String, String> =
            wharf_plan::with_restart_dependents(&spec.services, &recreated)
                .into_iter()
                .filter(|s| {
                    selected.contains(s)
                        && running_before.contains(s)
                        && changes
                            .iter()
                            .any(|c| &c.service == s && c.reason == ChangeReason::Unchanged)
                        && !forced.contains_key(s)
                })
                .map(|s| {
                    let dependency = spec.services[&s]
                        .depends_on
                        .iter()
                        .find(|(d, dep)| dep.restart && recreated.contains(d))
                        .map_or_else(|| recreated.join(", "), |(d, _)| d.clone());
                    (s, dependency)
                })
                .collect();
        to_stop.extend(restarted.keys().map(|s| (s.clone(), 1)));
        // In waves, dependents first; a wave's services stop together, as Compose's do.
        let stop_waves: Vec<Vec<(String, u32)>> = match &old_spec {
            Some(old) => stop_levels(&old.services)?
                .into_iter()
                .map(|level| {
                    to_stop
                        .iter()
                        .filter(|(name, _)| level.contains(name))
                        .cloned()
                        .collect()
                })
                .collect(),
            None => vec![to_stop],
        };
        if mode.is_plan() {
            // What this `up` would do, and nothing done: no state saved, nothing
            // stopped, created or started.
            let idle: BTreeSet<String> = selected.difference(&running_before).cloned().collect();
            let (started, created) = if mode.starts() {
                (idle, BTreeSet::new())
            } else {
                (BTreeSet::new(), idle)
            };
            let outcome = Outcome {
                started,
                restarted,
                created,
                running_before,
                found_running,
                found_stopped,
            };
            return Ok(UpResponse {
                changes: summarize(changes, &selected, &forced, &outcome),
                notes: said,
            });
        }

        let forwarders = self.prepare_engine(&mut spec).await?;
        // Persist first: when the new state cannot be saved, what runs is left as it was.
        let mut up = up_before;
        up.retain(|s| spec.services.contains_key(s));
        if mode.starts() {
            up.extend(selected.iter().cloned());
        }
        // A project brought up again after a `down` starts its logs afresh, as
        // Compose's new containers do: a wait for a line of them must not find the
        // last run's, which stay beside them.
        if old_spec.is_none()
            && dependencies != Dependencies::StillUp
            && !self.shared.store.has_desired(&spec.name)
            && let Err(err) = self.shared.store.set_logs_aside(&spec.name)
        {
            crate::say(&format!(
                "the last logs of {} stay with the new ones: {err}",
                spec.name
            ));
        }
        let desired = Desired {
            spec: spec.clone(),
            up: up.clone(),
        };
        if let Err(err) = self.shared.store.save_desired(&desired) {
            if let Some(project) = self.shared.projects().get_mut(&spec.name) {
                project.forwarders = forwarders;
            }
            return Err(err.into());
        }
        let chosen: Vec<String> = selected.iter().cloned().collect();
        self.shared
            .events
            .emit(&spec.name, project_change("up", &chosen));
        let retired_containers: Vec<String> = self
            .shared
            .projects()
            .get(&spec.name)
            .map(|project| {
                project
                    .instances
                    .values()
                    .filter(|i| {
                        i.status.backend == "docker"
                            && retired_from
                                .get(&i.status.service)
                                .is_some_and(|from| i.status.replica >= *from)
                    })
                    // One that was created but could not start has no id yet: its
                    // container is known by its name.
                    .map(|i| {
                        if i.status.container_id.is_empty() {
                            i.status.name.clone()
                        } else {
                            i.status.container_id.clone()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let grace = request.timeout_s.map(Duration::from_secs);
        for wave in &stop_waves {
            futures_util::future::join_all(wave.iter().map(|(service, from)| {
                self.stop_instances(&spec.name, service, *from, Command::Stop(grace), true)
            }))
            .await;
        }
        if !retired_containers.is_empty() || !surplus.is_empty() {
            let engine = self.shared.engine().await?;
            for id in &retired_containers {
                engine.remove(id).await?;
            }
            futures_util::future::try_join_all(surplus.iter().map(|name| async {
                engine
                    .stop(name, grace.unwrap_or(COMPOSE_STOP_GRACE))
                    .await?;
                engine.remove(name).await
            }))
            .await?;
        }
        {
            let mut projects = self.shared.projects();
            let project = self.runtime(&mut projects, &spec);
            project.spec = spec.clone();
            project.forwarders = forwarders;
            project.up = up;
        }
        // Routes and the domain come from the spec too: the proxy follows them even
        // when no service changed.
        self.shared.changed.send_modify(|n| *n = n.wrapping_add(1));

        let mut started = BTreeSet::new();
        let mut created = BTreeSet::new();
        for service in start_order(&spec.services)? {
            if !selected.contains(&service) {
                continue;
            }
            if !mode.starts() {
                if self.create_missing(&spec.name, &service).await? {
                    created.insert(service);
                }
            } else if self.start_missing(&spec.name, &service, dependencies) {
                started.insert(service);
            }
        }

        let outcome = Outcome {
            started,
            restarted,
            created,
            running_before,
            found_running,
            found_stopped,
        };
        Ok(UpResponse {
            changes: summarize(changes, &selected, &forced, &outcome),
            notes: said
                .into_iter()
                .chain(self.shared.take_notes(&spec.name))
                .collect(),
        })
    }

    /// What the engine already runs of the services this `up` adds (Docker Compose
    /// started them, or a wharfd whose state is gone), and, with `orphans`, the
    /// containers of services neither the file nor wharfd has (Compose ran them from
    /// another version of the file).
    async fn found_running(
        &self,
        spec: &ProjectSpec,
        changes: &[wharf_plan::Change],
        orphans: bool,
    ) -> Result<Found, SupervisorError> {
        let added: Vec<&str> = changes
            .iter()
            .filter(|c| c.reason == ChangeReason::Added)
            .map(|c| c.service.as_str())
            .filter(|s| spec.services.get(*s).is_some_and(|s| s.container.is_some()))
            .collect();
        let in_containers = spec.services.values().any(|s| s.container.is_some());
        if added.is_empty() && !(orphans && in_containers) {
            return Ok(Found::default());
        }
        let containers = self
            .shared
            .engine()
            .await?
            .project_containers(&spec.name)
            .await?;
        let surplus = containers
            .iter()
            .filter(|c| {
                !c.one_off
                    && added.contains(&c.service.as_str())
                    && c.number > spec.services[&c.service].replicas
            })
            .map(|c| c.name.clone())
            .collect();
        // Each replica's container, made from this definition and image: `Some(true)`
        // when every one runs, `Some(false)` when some have stopped (a one-shot job
        // that ended), `None` when one is missing or made otherwise.
        let kept = |name: &str| -> Option<bool> {
            let service = &spec.services[name];
            let container = service.container.as_ref()?;
            let mut all_running = true;
            for replica in 1..=service.replicas {
                let found = containers.iter().find(|c| {
                    !c.one_off
                        && c.service == name
                        && c.number == replica
                        && c.config_hash == container.config_hash
                        && c.image_id == container.image_id
                })?;
                all_running &= found.running;
            }
            (service.replicas > 0).then_some(all_running)
        };
        let (mut running, mut stopped) = (BTreeSet::new(), BTreeSet::new());
        for name in added {
            match kept(name) {
                Some(true) => running.insert(name.to_owned()),
                Some(false) => stopped.insert(name.to_owned()),
                None => false,
            };
        }
        let mut found_orphans: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for container in containers
            .iter()
            .filter(|c| orphans && c.is_orphan_of(spec))
        {
            found_orphans
                .entry(container.service.clone())
                .or_default()
                .push(container.name.clone());
        }
        Ok(Found {
            running,
            stopped,
            surplus,
            orphans: found_orphans,
        })
    }

    /// Each container service's image id as the engine has it now, so a rebuilt or
    /// newly pulled image shows as a change, whichever command sent the spec.
    async fn note_image_ids(&self, spec: &mut ProjectSpec) -> Result<(), SupervisorError> {
        if spec.services.values().all(|s| s.container.is_none()) {
            return Ok(());
        }
        let engine = self.shared.engine().await?;
        for container in spec
            .services
            .values_mut()
            .filter_map(|s| s.container.as_mut())
        {
            if let Some(found) = engine.inspect_image(&container.image).await? {
                container.image_id = found.id.unwrap_or_default();
                let config = found.config.unwrap_or_default();
                container.image_entrypoint = config.entrypoint.unwrap_or_default();
                container.image_command = config.cmd.unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Creates the project's networks and volumes on the engine. In a stack that mixes
    /// backends, containers also get each native service's name as a host entry for
    /// their network's gateway, where wharfd forwards the service's ports.
    async fn prepare_engine(&self, spec: &mut ProjectSpec) -> Result<Forwarders, SupervisorError> {
        if spec.services.values().all(|s| s.container.is_none()) {
            return Ok(Forwarders::default());
        }
        let engine = self.shared.engine().await?;
        for network in spec.networks.values() {
            engine.ensure_network(network).await?;
        }
        for volume in spec.volumes.values() {
            engine.ensure_volume(volume).await?;
        }
        let native: BTreeMap<String, Vec<(u16, u16)>> = spec
            .services
            .iter()
            .filter(|(_, s)| s.container.is_none())
            .map(|(name, s)| {
                let ports = s.ports.iter().map(|p| (p.target, p.published)).collect();
                (name.clone(), ports)
            })
            .collect();
        let network = spec
            .services
            .values()
            .filter_map(|s| s.container.as_ref())
            .find_map(|c| c.networks.keys().next().cloned());
        let gateway = match network {
            Some(network) if !native.is_empty() => engine.network_gateway(&network).await,
            _ => None,
        };
        let Some(gateway) = gateway else {
            return Ok(Forwarders::default());
        };
        let names: Vec<String> = native.keys().cloned().collect();
        // Forwarders of the previous `up` that are still wanted keep running; a service
        // already running gets its forwarders as it listens.
        let mut forwarders = {
            let mut projects = self.shared.projects();
            let project = projects.get_mut(&spec.name);
            let previous = project
                .map(|p| std::mem::take(&mut p.forwarders))
                .unwrap_or_default();
            Forwarders::new(gateway, native, previous)
        };
        if let Some(project) = self.shared.projects().get(&spec.name) {
            for name in &names {
                forwarders.seen_listening(name, &project.listening_of(name));
            }
        }
        for container in spec
            .services
            .values_mut()
            .filter_map(|s| s.container.as_mut())
        {
            for name in &container.native_hosts {
                let entry = format!("{name}:{gateway}");
                if !container.extra_hosts.contains(&entry) {
                    container.extra_hosts.push(entry);
                }
            }
        }
        Ok(forwarders)
    }

    /// Fails, before anything is stopped, when a port a native service of `selected`
    /// would listen on is held by anything but this project's own instances (whose
    /// ports are theirs to hand over): the running version keeps serving, where
    /// stopping it first would leave the service down.
    fn ports_are_free(
        &self,
        spec: &ProjectSpec,
        selected: &BTreeSet<String>,
        running: bool,
    ) -> Result<(), SupervisorError> {
        let held: BTreeSet<u16> = self
            .shared
            .projects()
            .get(&spec.name)
            .map(|project| {
                project
                    .instances
                    .values()
                    .filter(|i| i.status.state.is_active())
                    .flat_map(|i| i.status.ports.iter().map(|p| p.published))
                    .collect()
            })
            .unwrap_or_default();
        let mut taken = Vec::new();
        let native = spec
            .services
            .iter()
            .filter(|(name, service)| selected.contains(*name) && service.container.is_none());
        for (name, service) in native {
            for replica in 1..=service.replicas {
                let asking = InstanceKey {
                    project: spec.name.clone(),
                    service: name.clone(),
                    replica,
                    generation: 0,
                };
                let ports = service.for_replica(replica).ports;
                for port in ports.iter().filter(|p| p.protocol.is_tcp()) {
                    let published = port.published;
                    if held.contains(&published) {
                        continue;
                    }
                    let holder = || self.shared.holder_of_port(published, &asking);
                    if let Some(problem) = crate::ports::in_use_by(published, holder) {
                        taken.push(format!("{name}: {problem}"));
                    }
                }
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        // A project already up is said to be left as it was; a new one simply fails.
        let unchanged = if running { "nothing was changed: " } else { "" };
        Err(SupervisorError::Invalid(format!(
            "{unchanged}{}",
            taken.join("; ")
        )))
    }

    /// Starts the replicas of `service` that have no active instance; true if any did.
    fn start_missing(&self, project_name: &str, service: &str, dependencies: Dependencies) -> bool {
        let mut projects = self.shared.projects();
        let Some(project) = projects.get_mut(project_name) else {
            return false;
        };
        let Some(mut spec) = project.spec.services.get(service).cloned() else {
            return false;
        };
        match dependencies {
            Dependencies::Start => {}
            // Restarted as Compose restarts: whatever became of what it depends on.
            Dependencies::Leave => spec.depends_on.clear(),
            Dependencies::StillUp => spec.depends_on.retain(|name, _| project.up.contains(name)),
        }
        let mut any = false;
        for replica in 1..=spec.replicas {
            let slot = (service.to_owned(), replica);
            if project
                .instances
                .get(&slot)
                .is_some_and(|i| i.status.state.is_active())
            {
                continue;
            }
            let fresh = self.fresh_instance(project_name, service, replica, &spec);
            let (command, commands) = watch::channel(Command::Run);
            let shared = Arc::clone(&self.shared);
            let task = if fresh.spec.container.is_some() {
                tokio::spawn(container_instance::run(
                    shared, fresh.key, fresh.spec, commands,
                ))
            } else {
                tokio::spawn(instance::run(shared, fresh.key, fresh.spec, commands))
            };
            self.add_instance(project, fresh.generation, fresh.status, command, Some(task));
            any = true;
        }
        if any {
            self.shared.changed.send_modify(|n| *n = n.wrapping_add(1));
        }
        any
    }

    /// `create`, `up --no-start`: makes the replicas of `service` that have no
    /// instance at all, without starting them: a container is created on the engine,
    /// a process waits for `start`.
    async fn create_missing(
        &self,
        project_name: &str,
        service: &str,
    ) -> Result<bool, SupervisorError> {
        let fresh: Vec<FreshInstance> = {
            let projects = self.shared.projects();
            let Some(project) = projects.get(project_name) else {
                return Ok(false);
            };
            let Some(spec) = project.spec.services.get(service) else {
                return Ok(false);
            };
            (1..=spec.replicas)
                .filter(|replica| {
                    !project
                        .instances
                        .contains_key(&(service.to_owned(), *replica))
                })
                .map(|replica| self.fresh_instance(project_name, service, replica, spec))
                .collect()
        };
        let any = !fresh.is_empty();
        for mut instance in fresh {
            if let Some(container) = &instance.spec.container {
                let engine = self.shared.engine().await?;
                let (id, _) = container_instance::prepare(
                    &engine,
                    &instance.status.name,
                    container,
                    &instance.key,
                    &instance.spec,
                )
                .await?;
                instance.status.container_id = id;
            }
            let status = lifecycle::created(instance.status);
            let mut projects = self.shared.projects();
            if let Some(project) = projects.get_mut(project_name) {
                let (command, _) = watch::channel(Command::Run);
                self.add_instance(project, instance.generation, status, command, None);
            }
        }
        Ok(any)
    }

    /// A new generation of one replica: its key, name and first status (waiting).
    fn fresh_instance(
        &self,
        project_name: &str,
        service: &str,
        replica: u32,
        spec: &wharf_plan::ServiceSpec,
    ) -> FreshInstance {
        let generation = self.shared.next_generation();
        let instance_spec = spec.for_replica(replica);
        let key = InstanceKey {
            project: project_name.to_owned(),
            service: service.to_owned(),
            replica,
            generation,
        };
        // A container is known by its `container_name` when it has one, as in Docker.
        let name = instance_spec.instance_name(project_name, service, replica);
        let backend = if instance_spec.container.is_some() {
            "docker"
        } else {
            "process"
        };
        let status = lifecycle::waiting(service, replica, name, backend, &instance_spec);
        FreshInstance {
            generation,
            key,
            spec: instance_spec,
            status,
        }
    }

    /// Puts an instance in its slot (replacing any ended one) and says so.
    fn add_instance(
        &self,
        project: &mut ProjectRuntime,
        generation: u64,
        status: InstanceStatus,
        command: watch::Sender<Command>,
        task: Option<JoinHandle<()>>,
    ) {
        self.shared.events.emit(
            &project.spec.name,
            Change::Instance {
                instance: Box::new(status.clone()),
            },
        );
        let replaced = project.instances.insert(
            (status.service.clone(), status.replica),
            Instance {
                generation,
                status,
                process: None,
                command,
                task,
                ended: None,
            },
        );
        // The new instance is no longer one that ended: a later daemon must bring it
        // back, not show the old end again.
        if replaced.is_some_and(|old| old.ended.is_some()) {
            self.shared.save_ended(project);
        }
    }

    /// Stops the instances of `service` numbered `from_replica` and up, and waits for
    /// them (a kill is sent, not waited for); `remove` drops them from the table
    /// afterwards.
    async fn stop_instances(
        &self,
        project_name: &str,
        service: &str,
        from_replica: u32,
        how: Command,
        remove: bool,
    ) {
        let tasks = {
            let mut projects = self.shared.projects();
            let Some(project) = projects.get_mut(project_name) else {
                return;
            };
            project
                .instances
                .iter_mut()
                .filter(|((name, replica), _)| name == service && *replica >= from_replica)
                .filter_map(|(key, instance)| {
                    let _ = instance.command.send(how);
                    // A signal is delivered, not waited for: what follows is the
                    // process's affair (nginx reloads on SIGHUP; a container the
                    // engine killed stays watched), and waiting would hold every
                    // other operation.
                    if matches!(how, Command::Kill(_)) {
                        None
                    } else {
                        Some((key.clone(), instance.task.take()?))
                    }
                })
                .collect()
        };
        AwaitedTasks {
            shared: Arc::clone(&self.shared),
            project: project_name.to_owned(),
            tasks,
        }
        .wait()
        .await;
        if remove && let Some(project) = self.shared.projects().get_mut(project_name) {
            let mut ends_forgotten = false;
            project.instances.retain(|(name, replica), instance| {
                let keep = name != service || *replica < from_replica;
                if !keep {
                    ends_forgotten |= instance.ended.is_some();
                    self.shared
                        .events
                        .emit(project_name, removed(&instance.status));
                }
                keep
            });
            // A removed instance that had ended is not one a later daemon leaves ended
            // (its successor, after a recreate, runs).
            if ends_forgotten {
                self.shared.save_ended(project);
            }
        }
    }

    pub async fn down(
        &self,
        name: &str,
        volumes: bool,
        grace: Option<Duration>,
    ) -> Result<DownResponse, SupervisorError> {
        let _turn = self.shared.operations.lock().await;
        let spec = match self.spec(name) {
            Ok(spec) => spec,
            // Containers Docker Compose started: take them down as it would.
            Err(unknown) => return self.down_foreign(name, volumes, grace).await.ok_or(unknown),
        };
        let levels = stop_levels(&spec.services)?;
        // What is said to stop: services with instances, not one `rm` took away.
        let present: std::collections::HashSet<String> = self
            .shared
            .projects()
            .get(name)
            .map(|p| {
                p.instances
                    .values()
                    .map(|i| i.status.service.clone())
                    .collect()
            })
            .unwrap_or_default();
        let in_containers = spec.services.values().any(|s| s.container.is_some());
        // With `-v`, as Compose's: the anonymous volumes of its containers too, found
        // while the containers that mount them are there.
        let anonymous: Vec<String> = if volumes && in_containers {
            let engine = self.shared.engine().await?;
            let containers = engine.project_containers(name).await?;
            containers
                .iter()
                .flat_map(|c| c.anonymous_volumes().map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        // Forgotten first: a project whose state cannot be removed keeps running.
        self.shared.store.forget(name)?;
        self.shared.events.emit(name, project_change("down", &[]));
        let mut stopped = Vec::new();
        for level in levels {
            self.stop_services(name, &level, Command::Stop(grace), true)
                .await;
            stopped.extend(level.into_iter().filter(|s| present.contains(s)));
        }
        if let Some(project) = self.shared.projects().remove(name) {
            project.logs.close();
        }
        // The proxy forgets the project's routes now, and subscribers hear so.
        self.shared.changed.send_modify(|n| *n = n.wrapping_add(1));
        self.shared.events.routes(name, Vec::new());
        self.shared.events.forget(name);
        let mut deleted_volumes = Vec::new();
        if in_containers {
            let engine = self.shared.engine().await?;
            let containers = engine.project_containers(name).await?;
            futures_util::future::try_join_all(
                containers
                    .iter()
                    .map(|container| engine.remove(&container.name)),
            )
            .await?;
            for network in spec.networks.values().filter(|n| !n.external) {
                engine.remove_network(&network.name).await;
            }
            if volumes {
                let named = spec.volumes.values().filter(|v| !v.external);
                for volume in named.map(|v| &v.name).chain(&anonymous) {
                    engine.remove_volume(volume).await;
                    deleted_volumes.push(volume.clone());
                }
            }
        } else if volumes {
            deleted_volumes.extend(self.remove_engine_leftovers(name).await);
        }
        if volumes {
            let dir = self.shared.paths.project_data(name).join("volumes");
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
                deleted_volumes.push(dir.display().to_string());
            }
        }
        Ok(DownResponse {
            stopped,
            deleted_volumes,
            notes: self.shared.take_notes(name),
        })
    }

    /// `down -v` of a project that runs natively now but ran in containers before:
    /// what the engine keeps of it (containers, networks, volumes) goes, where an
    /// engine answers. Returns the volumes removed.
    async fn remove_engine_leftovers(&self, name: &str) -> Vec<String> {
        let Ok(engine) = self.shared.engine().await else {
            return Vec::new();
        };
        for container in engine.project_containers(name).await.unwrap_or_default() {
            let _ = engine.remove(&container.name).await;
        }
        for network in engine.project_networks(name).await.unwrap_or_default() {
            engine.remove_network(&network).await;
        }
        // The spec of a native project names no engine volume: the engine's label
        // does (an external volume has none).
        let mut removed = Vec::new();
        for volume in engine.project_volumes(name).await.unwrap_or_default() {
            engine.remove_volume(&volume.name).await;
            removed.push(volume.name);
        }
        removed
    }

    /// Removes a project wharf did not start, found on the engine by its labels.
    async fn down_foreign(
        &self,
        name: &str,
        volumes: bool,
        grace: Option<Duration>,
    ) -> Option<DownResponse> {
        let engine = self.shared.engine().await.ok()?;
        let containers = engine.project_containers(name).await.ok()?;
        let networks = engine.project_networks(name).await.ok()?;
        if containers.is_empty() && networks.is_empty() {
            return None;
        }
        // All at once, as Compose takes its containers down.
        futures_util::future::try_join_all(containers.iter().map(|container| async {
            engine
                .stop(&container.name, grace.unwrap_or(COMPOSE_STOP_GRACE))
                .await?;
            // With `-v`, its anonymous volumes with it.
            engine.remove_with(&container.name, volumes).await
        }))
        .await
        .ok()?;
        let stopped = containers.into_iter().map(|c| c.name).collect();
        for network in networks {
            engine.remove_network(&network).await;
        }
        let mut deleted_volumes = Vec::new();
        if volumes {
            for volume in engine
                .project_volumes(name)
                .await
                .ok()?
                .into_iter()
                .map(|v| v.name)
            {
                engine.remove_volume(&volume).await;
                deleted_volumes.push(volume);
            }
        }
        Some(DownResponse {
            stopped,
            deleted_volumes,
            notes: Vec::new(),
        })
    }

    /// `start`, `stop`, `restart`, `kill`, `pause`, `unpause` or `rm` of a project
    /// wharfd does not run (Docker Compose's containers, say), straight on the engine
    /// as Compose acts on them: the containers acted on (for `rm`, those that had
    /// ended), or `None` when the engine has no container of the project.
    pub async fn act_on_foreign(
        &self,
        name: &str,
        action: &str,
        request: &wharf_api::ServicesRequest,
    ) -> Result<Option<Vec<String>>, SupervisorError> {
        let Ok(engine) = self.shared.engine().await else {
            return Ok(None);
        };
        let containers = engine.project_containers(name).await?;
        if containers.is_empty() {
            return Ok(None);
        }
        if let Some(unknown) = request
            .services
            .iter()
            .find(|s| !containers.iter().any(|c| &c.service == *s))
        {
            return Err(GraphError::UnknownService(unknown.clone()).into());
        }
        let grace = request
            .timeout_s
            .map_or(COMPOSE_STOP_GRACE, Duration::from_secs);
        let signal = request.signal.as_deref().unwrap_or("SIGKILL");
        let chosen: Vec<_> = containers
            .iter()
            .filter(|c| {
                !c.one_off
                    && (request.services.is_empty() || request.services.contains(&c.service))
                    && (action != "rm" || !c.running)
            })
            .collect();
        futures_util::future::try_join_all(chosen.iter().map(|c| {
            let engine = &engine;
            async move {
                match action {
                    "start" => engine.start(&c.name).await,
                    "stop" => engine.stop(&c.name, grace).await,
                    "restart" => {
                        engine.stop(&c.name, grace).await?;
                        engine.start(&c.name).await
                    }
                    "kill" => engine.kill(&c.name, signal).await,
                    "pause" | "unpause" => engine.pause(&c.name, action == "pause").await,
                    "rm" => engine.remove_with(&c.name, request.volumes).await,
                    _ => Ok(()),
                }
            }
        }))
        .await?;
        Ok(Some(chosen.into_iter().map(|c| c.name.clone()).collect()))
    }

    /// Waits, at most `limit`, until no instance of `services` (all when empty) runs
    /// any more: what a SIGKILL does, which `kill` returns after, as Docker's does (so
    /// `kill && rm` finds them ended).
    pub async fn wait_ended(&self, name: &str, services: &[String], limit: Duration) {
        let mut changes = self.shared.subscribe_changes();
        let ended =
            async { while self.shared.runs(name, services) && changes.changed().await.is_ok() {} };
        let _ = tokio::time::timeout(limit, ended).await;
    }

    /// `restart`: the services stop and start again, which the event stream says
    /// first, so its readers tell a restart from a stop and a start.
    pub async fn restart(
        &self,
        name: &str,
        services: &[String],
        stop: Command,
    ) -> Result<(), SupervisorError> {
        self.spec(name)?;
        self.shared
            .events
            .emit(name, project_change("restart", services));
        self.stop(name, services, stop).await?;
        self.start(name, services, Dependencies::Leave).await
    }

    /// `stop`, `kill`: the services leave the desired state, so a daemon restart
    /// does not bring them back.
    pub async fn stop(
        &self,
        name: &str,
        services: &[String],
        how: Command,
    ) -> Result<(), SupervisorError> {
        let _turn = self.shared.operations.lock().await;
        let spec = self.spec(name)?;
        let chosen = choose(&spec, services)?;
        let levels = stop_levels(&spec.services)?;
        // Persisted first: a stop that cannot be saved has stopped nothing.
        self.set_up(name, |up| up.retain(|s| !chosen.contains(s)))?;
        let action = if matches!(how, Command::Kill(_)) {
            "kill"
        } else {
            "stop"
        };
        self.shared
            .events
            .emit(name, project_change(action, services));
        for level in levels {
            let wave: Vec<String> = level.into_iter().filter(|s| chosen.contains(s)).collect();
            self.stop_services(name, &wave, how, false).await;
        }
        Ok(())
    }

    /// `rm`: forgets the instances of `services` (all when empty) that have ended, and
    /// removes their containers; a service with an instance still running is left
    /// alone. The names of the instances removed.
    pub async fn remove_ended(
        &self,
        name: &str,
        services: &[String],
        anonymous_volumes: bool,
    ) -> Result<Vec<String>, SupervisorError> {
        let _turn = self.shared.operations.lock().await;
        let spec = self.spec(name)?;
        let chosen = choose(&spec, services)?;
        let ended: Vec<(String, Vec<String>, bool)> = {
            let projects = self.shared.projects();
            let Some(project) = projects.get(name) else {
                return Ok(Vec::new());
            };
            chosen
                .iter()
                .filter_map(|service| {
                    let instances: Vec<&InstanceStatus> = project
                        .instances
                        .iter()
                        .filter(|((s, _), _)| s == service)
                        .map(|(_, instance)| &instance.status)
                        .collect();
                    let all_ended =
                        !instances.is_empty() && instances.iter().all(|i| !i.state.is_active());
                    all_ended.then(|| {
                        let names = instances.iter().map(|i| i.name.clone()).collect();
                        let in_containers = instances.iter().any(|i| !i.container_id.is_empty());
                        (service.clone(), names, in_containers)
                    })
                })
                .collect()
        };
        // What is removed is no longer up: a later daemon does not run it again.
        let gone: BTreeSet<&String> = ended.iter().map(|(service, _, _)| service).collect();
        if !gone.is_empty() {
            self.set_up(name, |up| up.retain(|s| !gone.contains(s)))?;
        }
        let mut removed = Vec::new();
        for (service, names, in_containers) in ended {
            self.stop_instances(name, &service, 1, Command::Stop(None), true)
                .await;
            if in_containers {
                let engine = self.shared.engine().await?;
                for container in &names {
                    engine.remove_with(container, anonymous_volumes).await?;
                }
            }
            removed.extend(names);
        }
        // What ended and is now removed is not shown again by a later daemon.
        if let Some(project) = self.shared.projects().get(name) {
            self.shared.save_ended(project);
        }
        Ok(removed)
    }

    /// Stops every instance of `services` at once, and waits for them all.
    async fn stop_services(&self, project: &str, services: &[String], how: Command, remove: bool) {
        futures_util::future::join_all(
            services
                .iter()
                .map(|service| self.stop_instances(project, service, 1, how, remove)),
        )
        .await;
    }

    /// `pause` (or `unpause`): freezes (or thaws) the running instances of `services`
    /// (all when empty); they stay up, as far as the desired state goes. A running
    /// instance already so is an error once the others are done, as the engine's
    /// (`is already paused`, `is not paused`) is Compose's.
    pub async fn pause(
        &self,
        name: &str,
        services: &[String],
        paused: bool,
    ) -> Result<(), SupervisorError> {
        let _turn = self.shared.operations.lock().await;
        let spec = self.spec(name)?;
        let chosen = choose(&spec, services)?;
        let action = if paused { "pause" } else { "unpause" };
        let command = if paused { Command::Pause } else { Command::Run };
        let targeted = |status: &InstanceStatus| {
            chosen.contains(&status.service) && status.state == InstanceState::Running
        };
        // The instances still to change.
        let pending = || {
            self.shared.projects().get(name).map_or(0, |p| {
                p.instances
                    .values()
                    .filter(|i| targeted(&i.status) && i.status.paused != paused)
                    .count()
            })
        };
        let mut changes = self.shared.subscribe_changes();
        // Said when something is to change: a pause of what is all paused already is
        // only an error.
        if pending() > 0 {
            self.shared
                .events
                .emit(name, project_change(action, services));
        }
        // Each one told; those already so named once the others are done.
        let mut already = Vec::new();
        if let Some(project) = self.shared.projects().get(name) {
            for instance in project.instances.values().filter(|i| targeted(&i.status)) {
                if instance.status.paused == paused {
                    already.push(instance.status.name.clone());
                } else {
                    let _ = instance.command.send(command);
                }
            }
        }
        // Returned once done, as `docker pause` returns: a driver says so in a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while pending() > 0 {
            if !matches!(
                tokio::time::timeout_at(deadline, changes.changed()).await,
                Ok(Ok(()))
            ) {
                break;
            }
        }
        if already.is_empty() {
            return Ok(());
        }
        let verb = if already.len() == 1 { "is" } else { "are" };
        let state = if paused {
            "already paused"
        } else {
            "not paused"
        };
        Err(SupervisorError::Invalid(format!(
            "{} {verb} {state}",
            already.join(", ")
        )))
    }

    /// SIGKILLs the process groups of `services` (all when empty) at once, without
    /// waiting for the operation in progress: the instances see their processes exit.
    pub fn force_kill(&self, name: &str, services: &[String]) -> Result<(), SupervisorError> {
        let projects = self.shared.projects();
        let project = projects
            .get(name)
            .ok_or_else(|| SupervisorError::UnknownProject(name.to_owned()))?;
        for instance in project.instances.values() {
            if (services.is_empty() || services.contains(&instance.status.service))
                && let Some(pid) = instance.status.pid
            {
                signal_group(pid, Signal::SIGKILL);
            }
        }
        Ok(())
    }

    pub async fn start(
        &self,
        name: &str,
        services: &[String],
        dependencies: Dependencies,
    ) -> Result<(), SupervisorError> {
        let _turn = self.shared.operations.lock().await;
        let spec = self.spec(name)?;
        // As Compose's `start`: what the named services depend on starts first, if it
        // is not running (a `create` left it made, not started). Its `restart` leaves
        // them be: a finished migration is not run again.
        let chosen = if services.is_empty() || dependencies == Dependencies::Leave {
            choose(&spec, services)?
        } else {
            with_dependencies(&spec.services, services)?
        };
        self.set_up(name, |up| up.extend(chosen.iter().cloned()))?;
        self.shared
            .events
            .emit(name, project_change("start", services));
        for service in start_order(&spec.services)? {
            if chosen.contains(&service) {
                self.start_missing(name, &service, dependencies);
            }
        }
        Ok(())
    }

    /// Changes which services should be up: saved first, then applied, so a state
    /// that cannot be saved changes nothing.
    fn set_up(
        &self,
        name: &str,
        change: impl FnOnce(&mut BTreeSet<String>),
    ) -> Result<(), SupervisorError> {
        let mut desired = {
            let projects = self.shared.projects();
            let project = projects
                .get(name)
                .ok_or_else(|| SupervisorError::UnknownProject(name.to_owned()))?;
            Desired {
                spec: project.spec.clone(),
                up: project.up.clone(),
            }
        };
        change(&mut desired.up);
        self.shared.store.save_desired(&desired)?;
        if let Some(project) = self.shared.projects().get_mut(name) {
            project.up = desired.up;
        }
        Ok(())
    }

    /// Stops everything for a daemon shutdown, keeping the desired state for next time.
    pub async fn shutdown(&self) {
        let _turn = self.shared.operations.lock().await;
        let names: Vec<String> = self.shared.projects().keys().cloned().collect();
        // Every project at once: one slow to stop holds up no other.
        futures_util::future::join_all(names.iter().map(|name| async move {
            let Ok(spec) = self.spec(name) else { return };
            // Stopped, not removed: the records of what had ended or was stopped stay
            // as they are, for the next daemon to show.
            for level in stop_levels(&spec.services).unwrap_or_default() {
                self.stop_services(name, &level, Command::Stop(None), false)
                    .await;
            }
            // Now, not a moment later: the daemon is about to end.
            self.shared.write_records(name);
        }))
        .await;
        // Forgotten here (their desired state stays on disk), so no late write of
        // records or logs lands in a home the user removes once `daemon stop` returns.
        self.shared.projects().clear();
    }

    pub fn spec(&self, name: &str) -> Result<ProjectSpec, SupervisorError> {
        self.shared
            .projects()
            .get(name)
            .map(|p| p.spec.clone())
            .ok_or_else(|| SupervisorError::UnknownProject(name.to_owned()))
    }

    /// The instances wharf runs, or, for a project it does not run, the project's
    /// containers on the engine (Docker Compose's, or left by an earlier run).
    pub async fn ps(&self, name: &str) -> Result<Vec<InstanceStatus>, SupervisorError> {
        if let Some(instances) = self.own_instances(name) {
            return Ok(instances);
        }
        let unknown = || SupervisorError::UnknownProject(name.to_owned());
        let Ok(engine) = self.shared.engine().await else {
            return Err(unknown());
        };
        let containers = engine.project_containers(name).await?;
        if containers.is_empty() {
            return Err(unknown());
        }
        let mut found: Vec<InstanceStatus> = containers
            .into_iter()
            .map(|c| {
                c.into_status("not run by wharfd: Docker Compose's, or left by an earlier run")
            })
            .collect();
        // The list does not say when a container stopped; each stopped one is asked.
        for instance in &mut found {
            if instance.state == InstanceState::Exited {
                instance.finished_at_ms = engine
                    .state(&instance.container_id)
                    .await
                    .ok()
                    .and_then(|state| state.finished_ms);
            }
        }
        // In name order, as Compose lists them.
        found.sort_by(|a, b| (&a.service, a.replica).cmp(&(&b.service, b.replica)));
        Ok(found)
    }

    fn own_instances(&self, name: &str) -> Option<Vec<InstanceStatus>> {
        let projects = self.shared.projects();
        let project = projects.get(name)?;
        Some(
            project
                .instances
                .values()
                .map(|i| i.status.clone())
                .collect(),
        )
    }

    /// The instances as they are now, as the opening events of `GET /v1/events`.
    pub fn snapshot(&self, project: Option<&str>) -> Vec<wharf_api::Event> {
        let projects = self
            .shared
            .projects()
            .iter()
            .filter(|(name, _)| project.is_none_or(|p| p == name.as_str()))
            .map(|(name, runtime)| {
                let statuses = runtime.instances.values().map(|i| i.status.clone());
                (name.clone(), statuses.collect())
            })
            .collect();
        crate::events::snapshot(projects, project)
    }

    pub fn logs(&self, name: &str) -> Result<Arc<LogBook>, SupervisorError> {
        if let Some(project) = self.shared.projects().get(name) {
            return Ok(Arc::clone(&project.logs));
        }
        // A project that is down still has its stored logs.
        let dir = self.shared.store.project_dir(name).join("logs");
        if dir.is_dir() {
            return Ok(Arc::new(LogBook::new(dir)));
        }
        Err(SupervisorError::UnknownProject(name.to_owned()))
    }

    pub fn list(&self) -> Vec<ProjectSummary> {
        self.shared
            .projects()
            .values()
            .map(|p| {
                let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
                for instance in p.instances.values() {
                    // Counted as Compose's `ls` counts its containers' states.
                    let state = wharf_api::compose_state_of(&instance.status);
                    *counts.entry(state).or_default() += 1;
                }
                let status = if counts.is_empty() {
                    "created".to_owned()
                } else {
                    counts
                        .iter()
                        .map(|(state, n)| format!("{state}({n})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                ProjectSummary {
                    name: p.spec.name.clone(),
                    status,
                    config_files: p.spec.config_files.clone(),
                }
            })
            .collect()
    }
}

/// Services whose profile is off keep what runs of them, as in Compose: their previous
/// spec is carried into the new one, unless a dependency of theirs left the project.
/// Returns the names carried.
fn carry_dormant(
    spec: &mut ProjectSpec,
    old: Option<&ProjectSpec>,
    dormant: &[String],
) -> BTreeSet<String> {
    let Some(old) = old else {
        return BTreeSet::new();
    };
    let mut carried: BTreeMap<String, wharf_plan::ServiceSpec> = dormant
        .iter()
        .filter(|name| !spec.services.contains_key(*name))
        .filter_map(|name| Some((name.clone(), old.services.get(name)?.clone())))
        .collect();
    loop {
        let dangling: Vec<String> = carried
            .iter()
            .filter(|(_, service)| {
                service.depends_on.keys().any(|dependency| {
                    !spec.services.contains_key(dependency) && !carried.contains_key(dependency)
                })
            })
            .map(|(name, _)| name.clone())
            .collect();
        if dangling.is_empty() {
            break;
        }
        for name in dangling {
            carried.remove(&name);
        }
    }
    let names = carried.keys().cloned().collect();
    spec.services.extend(carried);
    names
}

/// The services meant to be up whose every replica had ended by itself.
fn finished_services(desired: &Desired, ended: &[InstanceStatus]) -> BTreeSet<String> {
    desired
        .up
        .iter()
        .filter(|name| {
            desired.spec.services.get(*name).is_some_and(|service| {
                service.replicas > 0
                    && (1..=service.replicas).all(|replica| {
                        // Stopped while up is a recreate the daemon died in: it runs.
                        ended.iter().any(|e| {
                            &e.service == *name
                                && e.replica == replica
                                && e.state == InstanceState::Exited
                        })
                    })
            })
        })
        .cloned()
        .collect()
}

fn choose(spec: &ProjectSpec, services: &[String]) -> Result<BTreeSet<String>, SupervisorError> {
    if services.is_empty() {
        return Ok(spec.services.keys().cloned().collect());
    }
    for name in services {
        if !spec.services.contains_key(name) {
            return Err(GraphError::UnknownService(name.clone()).into());
        }
    }
    Ok(services.iter().cloned().collect())
}

/// The longest the restore waits for restored instances to leave `waiting` before
/// requests are answered: one that waits longer waits for a dependency, and says so.
const RESTORE_SETTLE: Duration = Duration::from_secs(3);

/// Whether `start` also starts what the named services depend on and waits for them
/// (`start`), or leaves them as they are (`restart`); a restarted daemon bringing the
/// stack back waits only for what is still meant to be up (not a job `rm` removed).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dependencies {
    Start,
    Leave,
    StillUp,
}

/// Which unchanged services `up` recreates: the named ones (every one when none is
/// named) with `--force-recreate`, what they depend on with `--always-recreate-deps`.
struct Forcing {
    named: Vec<String>,
    named_ones: bool,
    dependencies: bool,
}

fn forced_by(
    forcing: &Forcing,
    selected: &BTreeSet<String>,
    service: &String,
) -> Option<&'static str> {
    let named = forcing.named.is_empty() || forcing.named.contains(service);
    if !selected.contains(service) {
        None
    } else if forcing.named_ones && named {
        Some("--force-recreate")
    } else if forcing.dependencies && !named {
        Some("--always-recreate-deps")
    } else {
        None
    }
}

/// One replica about to be made: see [`Supervisor::fresh_instance`].
struct FreshInstance {
    generation: u64,
    key: InstanceKey,
    spec: wharf_plan::ServiceSpec,
    status: InstanceStatus,
}

/// What the engine already has of a project an `up` brings up (see `found_running`).
#[derive(Default)]
struct Found {
    /// The services whose every replica runs, made from this definition and image:
    /// taken over as they run, not created.
    running: BTreeSet<String>,
    /// The services whose every replica has its container, made from this definition
    /// and image, some of them stopped: started again, not made anew, as Compose does.
    stopped: BTreeSet<String>,
    /// Containers beyond a service's replicas (Compose scaled it up), which the `up`
    /// removes, as Compose's scales them back.
    surplus: Vec<String>,
    /// The containers of each service the file lacks, by service.
    orphans: BTreeMap<String, Vec<String>>,
}

/// What an `up` made of the services it chose (or would make, for a plan).
struct Outcome {
    started: BTreeSet<String>,
    /// Restarted with the dependency (named) this `up` recreated.
    restarted: BTreeMap<String, String>,
    created: BTreeSet<String>,
    running_before: BTreeSet<String>,
    /// New to wharfd, but running in the engine as this definition asks (see
    /// `found_running`).
    found_running: BTreeSet<String>,
    /// New to wharfd, with containers in the engine as this definition asks, some
    /// stopped (see `found_running`).
    found_stopped: BTreeSet<String>,
}

/// The changes an `up` answers with: those of the services it chose, and removals.
fn summarize(
    changes: Vec<wharf_plan::Change>,
    selected: &BTreeSet<String>,
    forced: &BTreeMap<String, &'static str>,
    outcome: &Outcome,
) -> Vec<ServiceChange> {
    changes
        .into_iter()
        .filter(|c| selected.contains(&c.service) || c.reason == ChangeReason::Removed)
        .map(|c| {
            let flag = forced.get(&c.service).copied();
            describe(c, outcome, flag)
        })
        .collect()
}

fn describe(change: wharf_plan::Change, outcome: &Outcome, forced: Option<&str>) -> ServiceChange {
    let Outcome {
        started,
        restarted,
        created,
        running_before,
        found_running,
        found_stopped,
    } = outcome;
    let moved_backend = matches!(&change.reason, ChangeReason::Changed(fields) if fields.iter().any(|f| f == "backend"));
    let (action, reason) = match change.reason {
        ChangeReason::Added if found_running.contains(&change.service) => (
            ChangeAction::Keep,
            "its containers were already up, as this file defines them".to_owned(),
        ),
        ChangeReason::Added
            if found_stopped.contains(&change.service) && started.contains(&change.service) =>
        {
            (
                ChangeAction::Start,
                "its containers were there, as this file defines them: started again".to_owned(),
            )
        }
        ChangeReason::Added if found_stopped.contains(&change.service) => (
            ChangeAction::Keep,
            "its containers were there, as this file defines them".to_owned(),
        ),
        ChangeReason::Added => (ChangeAction::Create, "new service".to_owned()),
        ChangeReason::Removed => (ChangeAction::Remove, "no longer in the project".to_owned()),
        ChangeReason::Changed(fields) => (
            ChangeAction::Recreate,
            format!("{} changed", fields.join(", ")),
        ),
        ChangeReason::Scaled { from, to } => {
            (ChangeAction::Scale, format!("replicas {from} -> {to}"))
        }
        ChangeReason::Unchanged if let Some(flag) = forced => {
            (ChangeAction::Recreate, flag.to_owned())
        }
        ChangeReason::Unchanged if let Some(dependency) = restarted.get(&change.service) => (
            ChangeAction::Start,
            format!("restarted with {dependency}, as its depends_on asks (restart: true)"),
        ),
        ChangeReason::Unchanged if started.contains(&change.service) => {
            let why = if running_before.contains(&change.service) {
                "a replica was not running"
            } else {
                "was not running"
            };
            (ChangeAction::Start, why.to_owned())
        }
        ChangeReason::Unchanged if created.contains(&change.service) => {
            (ChangeAction::Create, "was not created".to_owned())
        }
        ChangeReason::Unchanged => (ChangeAction::Keep, "unchanged".to_owned()),
    };
    ServiceChange {
        service: change.service,
        action,
        reason,
        moved_backend,
    }
}

fn project_change(action: &str, services: &[String]) -> Change {
    Change::Project {
        action: action.to_owned(),
        services: services.to_vec(),
    }
}

/// Instance tasks an operation waits for. If the operation is dropped first (its client
/// went away), the unfinished ones go back to their instances, so the next operation
/// (a `down`) still waits for them rather than forgetting a process that still runs.
struct AwaitedTasks {
    shared: Arc<Shared>,
    project: String,
    tasks: Vec<((String, u32), JoinHandle<()>)>,
}

impl AwaitedTasks {
    async fn wait(mut self) {
        while let Some((_, task)) = self.tasks.last_mut() {
            let _ = task.await;
            self.tasks.pop();
        }
    }
}

impl Drop for AwaitedTasks {
    fn drop(&mut self) {
        if self.tasks.is_empty() {
            return;
        }
        let mut projects = self.shared.projects();
        let Some(project) = projects.get_mut(&self.project) else {
            return;
        };
        for (key, task) in self.tasks.drain(..) {
            if let Some(instance) = project.instances.get_mut(&key) {
                instance.task.get_or_insert(task);
            }
        }
    }
}

/// Gives each container this `up` starts the names of the stack's native services, so
/// one made before a service moved between backends (or was added) is made again.
fn name_native_hosts(spec: &mut ProjectSpec, selected: &BTreeSet<String>) {
    let native: Vec<String> = spec
        .services
        .iter()
        .filter(|(_, service)| service.container.is_none())
        .map(|(name, _)| name.clone())
        .collect();
    for (name, service) in &mut spec.services {
        if let Some(container) = service
            .container
            .as_mut()
            .filter(|_| selected.contains(name))
        {
            container.native_hosts.clone_from(&native);
        }
    }
}

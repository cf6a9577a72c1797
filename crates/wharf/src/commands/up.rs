//! `wharf up`: send the project to wharfd, then follow it (attached), wait for it to
//! be ready (`--wait`), or return (`-d`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use nix::sys::signal::{SigSet, Signal};
use wharf_api::{
    ChangeAction, Client, ClientError, InstanceState, InstanceStatus, LogLine, Orphans, Paths,
    ServicesRequest, UpMode, UpRequest, UpResponse, now_ms,
};
use wharf_engine::BlockingEngine;

use crate::cli::{Ansi, ScaleArgs, UpArgs};
use crate::daemon_client;
use crate::log_printer::{LogPrinter, logs_path};
use crate::printer::Printer;
use crate::project_ref::{self, endpoint};
use crate::readiness::{DEFAULT_WAIT_TIMEOUT, wait};
use crate::requirements::{ImageRecord, RecordedHashes, image_record};
use crate::settings::Settings;
use wharf_api::ProjectWatch;

pub fn run(settings: &Settings, args: &UpArgs) -> anyhow::Result<ExitCode> {
    let begun = std::time::Instant::now();
    let dry_run = settings.global.dry_run;
    let loaded = project_ref::load_naming(settings, &args.services)?;
    // As Compose: a file whose services are all profiled out (or none) starts nothing.
    if loaded.project.services.is_empty() {
        bail!("no service selected");
    }
    let paths = &settings.paths;
    let volumes = paths.project_data(&loaded.project.name).join("volumes");
    let containers = crate::service_backends::containers(settings, &loaded, args.backend.into());
    let engine = if containers.is_empty() {
        None
    } else {
        Some(BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?)
    };
    // Build what this `up` starts in Docker and builds: with --build, or when its
    // image is missing.
    let starting = starting_services(&loaded, &args.services, args.no_deps);
    // A file shared with Windows users mounts what this machine does not have: said
    // before anything is built or stopped, not by the engine after.
    if let Some((service, source)) = windows_bind(&loaded, &starting) {
        bail!(
            "{service} mounts {source}, a Windows path, which this machine does not have; \
             an override file (compose.override.yaml) can mount one of this machine's \
             paths on the same target"
        );
    }
    let builds: Vec<&String> = containers
        .iter()
        .filter(|name| starting.contains(*name) && loaded.project.services[*name].build.is_some())
        .filter(|_| !args.no_build)
        .collect();
    let quiet = Printer::new(0, true);
    let build_printer = if args.quiet_build {
        &quiet
    } else {
        &settings.printer
    };
    for name in builds {
        // Containers, so the engine is connected.
        let Some(engine) = &engine else { break };
        let service = &loaded.project.services[name];
        let image = wharf_runtime::image_name(&loaded.project, name, service);
        let record = if args.build || args.pull.as_deref() == Some("build") {
            ImageRecord::Missing
        } else {
            image_record(engine, &image)
        };
        match record {
            ImageRecord::Missing if dry_run => {
                settings
                    .printer
                    .info(&format!("dry run: would build {name} as {image}"));
            }
            ImageRecord::Missing => {
                crate::image_build::build_service(
                    engine,
                    &loaded,
                    name,
                    service,
                    &crate::image_build::BuildOptions::default(),
                    build_printer,
                )?;
            }
            ImageRecord::Recorded(hash)
                if crate::requirements::hash(&loaded, service)?.is_some_and(|now| now != hash) =>
            {
                settings.printer.warn(&format!(
                    "the requirements of {name} changed since its image was built; \
                     `wharf up --build` rebuilds it"
                ));
            }
            ImageRecord::Recorded(_) | ImageRecord::Unrecorded => {}
        }
    }
    if let Some(engine) = &engine {
        let pulled_images: Vec<(&str, &str)> = containers
            .iter()
            .filter(|name| starting.contains(*name))
            .map(|name| &loaded.project.services[name])
            .filter(|service| service.build.is_none() && !service.image.is_empty())
            .map(|service| (service.image.as_str(), service.pull_policy.as_str()))
            .collect();
        let printer = if args.quiet_pull {
            &quiet
        } else {
            &settings.printer
        };
        if !dry_run {
            crate::image_pull::pull_by_policy(
                engine,
                &pulled_images,
                args.pull.as_deref(),
                printer,
            )?;
        } else if args.pull.as_deref() == Some("always") {
            for (image, _) in &pulled_images {
                printer.info(&format!("dry run: would pull {image}"));
            }
        }
    }
    let scale = parse_scale(&args.scale)?;
    if let Some(unknown) = scale.keys().find(|name| {
        !loaded.project.services.contains_key(*name) && !loaded.disabled.contains(*name)
    }) {
        bail!("--scale: no such service: {unknown}");
    }
    let mut spec = wharf_runtime::project_spec(&loaded, &scale, &volumes, &containers)?;
    for container in spec
        .services
        .values_mut()
        .filter_map(|s| s.container.as_mut())
    {
        container.renew_anonymous_volumes = args.renew_anon_volumes;
    }
    // Like Docker creating a project's volumes on `up`: each named volume, and a
    // recipe's data directory, exists before a process starts in it.
    let named = loaded
        .project
        .volumes
        .iter()
        .filter(|(_, volume)| !volume.external)
        .map(|(name, _)| volumes.join(name));
    let working = spec
        .services
        .values()
        .map(|service| service.working_dir.clone())
        .filter(|dir| dir.starts_with(&volumes));
    if !dry_run {
        for dir in named.chain(working) {
            wharf_runtime::create_data_dir(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    for name in args.services.iter().chain(&args.exit_code_from) {
        if !spec.services.contains_key(name) {
            bail!("no such service: {name}");
        }
    }
    // A process cannot start where its directory is not (a repo not checked out):
    // refused before anything running is stopped to make way for it.
    if let Some((service, dir)) = spec
        .services
        .iter()
        .filter(|(name, service)| service.container.is_none() && starting.contains(*name))
        // A volume's directory is made by this `up` (not by a dry run).
        .filter(|(_, service)| !service.working_dir.starts_with(&volumes))
        .find(|(_, service)| !service.working_dir.is_dir())
        .map(|(name, service)| (name, &service.working_dir))
    {
        bail!(
            "{service} would run in {}, which does not exist{}",
            dir.display(),
            if loaded.project.wharf.repos.is_empty() {
                String::new()
            } else {
                "; `wharf checkout` clones the project's repos that are missing".to_owned()
            }
        );
    }
    let name = spec.name.clone();
    let without_replicas: BTreeSet<String> = spec
        .services
        .iter()
        .filter(|(_, service)| service.replicas == 0)
        .map(|(name, _)| name.clone())
        .collect();
    let replicas: BTreeMap<String, u32> = spec
        .services
        .iter()
        .map(|(name, service)| (name.clone(), service.replicas))
        .collect();
    let depends_on: BTreeMap<String, BTreeMap<String, wharf_plan::Dependency>> = spec
        .services
        .iter()
        .map(|(name, service)| (name.clone(), service.depends_on.clone()))
        .collect();
    let client = daemon_client::connect(paths)?;
    let since = now_ms();
    let mode = match (args.no_start, dry_run) {
        (false, false) => UpMode::Start,
        (true, false) => UpMode::Create,
        (false, true) => UpMode::PlanStart,
        (true, true) => UpMode::PlanCreate,
    };
    let response: Result<UpResponse, _> = client.post(
        &endpoint(&name, mode.action()),
        &UpRequest {
            spec,
            services: args.services.clone(),
            no_deps: args.no_deps,
            // New anonymous volumes come with new containers: `-V` recreates, as
            // Compose's does.
            force_recreate: args.force_recreate || (args.renew_anon_volumes && !args.no_recreate),
            dormant: loaded.disabled.iter().cloned().collect(),
            timeout_s: args.timeout,
            no_recreate: args.no_recreate,
            recreate_dependencies: args.always_recreate_deps,
            orphans: orphans(args.remove_orphans, &loaded.environment)?,
        },
    );
    let response = match response {
        // A daemon from before this mode: it must not be sent `up` instead.
        Err(ClientError::Api { status: 404, .. }) if mode != UpMode::Start => bail!(
            "wharfd is older than this wharf and cannot {}: `wharf daemon stop` restarts \
             it (what was up comes back with the next command)",
            if mode.is_plan() {
                "plan (--dry-run)"
            } else {
                "create"
            }
        ),
        other => other?,
    };
    let width = response
        .changes
        .iter()
        .map(|c| c.service.len())
        .max()
        .unwrap_or(0);
    for change in &response.changes {
        let (verb, reason) = match change.action {
            _ if dry_run => (would(change.action, args.no_start), change.reason.as_str()),
            // A service with no replicas runs nothing, whatever else is said of it.
            ChangeAction::Create | ChangeAction::Keep | ChangeAction::Start
                if without_replicas.contains(&change.service) =>
            {
                ("idle", "replicas: 0")
            }
            ChangeAction::Create => ("created", change.reason.as_str()),
            ChangeAction::Recreate => ("recreated", change.reason.as_str()),
            ChangeAction::Scale => ("scaled", change.reason.as_str()),
            ChangeAction::Remove => ("removed", change.reason.as_str()),
            ChangeAction::Start => ("started", change.reason.as_str()),
            ChangeAction::Keep if args.no_start => ("kept", change.reason.as_str()),
            ChangeAction::Keep => ("running", change.reason.as_str()),
        };
        settings
            .printer
            .info(&format!("{:<width$} {verb:<10} {reason}", change.service));
    }
    for note in response
        .notes
        .iter()
        .chain(&moved_data(&loaded, &containers, &volumes, &response))
    {
        settings.printer.warn(note);
    }
    if dry_run {
        settings
            .printer
            .info("dry run: nothing was built, pulled, created, started or stopped");
        return Ok(ExitCode::SUCCESS);
    }
    // What started stays started: a hash that cannot be recorded is only a warning.
    if let Err(err) = record_requirements(&loaded, paths, &containers, &response) {
        settings
            .printer
            .warn(&format!("requirements not recorded: {err:#}"));
    }
    if args.no_start {
        return Ok(ExitCode::SUCCESS);
    }
    let selected: BTreeMap<String, u32> = response
        .changes
        .iter()
        .filter(|c| c.action != ChangeAction::Remove)
        .map(|c| {
            (
                c.service.clone(),
                replicas.get(&c.service).copied().unwrap_or(0),
            )
        })
        .collect();
    // 0 waits as long as it takes, as Compose's.
    let timeout = match args.wait_timeout.filter(|_| args.wait) {
        None => DEFAULT_WAIT_TIMEOUT,
        Some(0) => NO_TIMEOUT,
        Some(seconds) => Duration::from_secs(seconds),
    };
    if args.wait || args.detach {
        wait_for_restarted_dependencies(
            &client,
            &name,
            &response.changes,
            &depends_on,
            timeout,
            &settings.printer,
        )?;
    }
    if args.wait {
        let postgres = crate::readiness::PostgresServers::of(&loaded.project);
        let one_offs: BTreeSet<String> = depends_on
            .values()
            .flatten()
            .filter(|(_, d)| d.condition == wharf_plan::Condition::ServiceCompletedSuccessfully)
            .map(|(dependency, _)| dependency.clone())
            .collect();
        return wait(
            &client,
            &name,
            crate::readiness::Awaited {
                services: &selected,
                one_offs: &one_offs,
            },
            &postgres,
            begun,
            timeout,
            &settings.printer,
        );
    }
    if args.detach {
        let started: Vec<String> = selected.keys().cloned().collect();
        if !started.is_empty() {
            crate::readiness::wait_started(&client, &name, &started)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    attached(&client, &name, since, args, settings)
}

/// As Compose's `up`, which waits on each service's dependencies before it starts it,
/// even one that runs on: a service this `up` left running waits for what it depends
/// on that this `up` started again (a migration run anew) to meet its condition.
fn wait_for_restarted_dependencies(
    client: &Client,
    name: &str,
    changes: &[wharf_api::ServiceChange],
    depends_on: &BTreeMap<String, BTreeMap<String, wharf_plan::Dependency>>,
    timeout: Duration,
    printer: &Printer,
) -> anyhow::Result<()> {
    let restarted: BTreeSet<&str> = changes
        .iter()
        .filter(|c| !matches!(c.action, ChangeAction::Keep | ChangeAction::Remove))
        .map(|c| c.service.as_str())
        .collect();
    for kept in changes.iter().filter(|c| c.action == ChangeAction::Keep) {
        let waited: BTreeMap<String, wharf_plan::Dependency> = depends_on
            .get(&kept.service)
            .into_iter()
            .flatten()
            .filter(|(dependency, _)| restarted.contains(dependency.as_str()))
            .map(|(dependency, condition)| (dependency.clone(), *condition))
            .collect();
        if !waited.is_empty() {
            crate::readiness::wait_for_conditions(client, name, &waited, timeout, printer)?;
        }
    }
    Ok(())
}

/// What `--dry-run` says `up` (or `create`, `no_start`) would do to a service.
fn would(action: ChangeAction, no_start: bool) -> &'static str {
    match action {
        ChangeAction::Create if no_start => "would create",
        ChangeAction::Create => "would create and start",
        ChangeAction::Recreate if no_start => "would recreate",
        ChangeAction::Recreate => "would recreate and start",
        ChangeAction::Scale => "would scale",
        ChangeAction::Remove => "would remove",
        ChangeAction::Start => "would start",
        ChangeAction::Keep => "kept",
    }
}

/// Records the requirements hash of each service just started that has no image
/// built by wharf (whose label carries it instead): its environment is what it
/// started with.
fn record_requirements(
    loaded: &wharf_manifest::Loaded,
    paths: &Paths,
    containers: &BTreeSet<String>,
    response: &UpResponse,
) -> anyhow::Result<()> {
    let mut updates = Vec::new();
    for change in &response.changes {
        let started = matches!(
            change.action,
            ChangeAction::Create | ChangeAction::Recreate | ChangeAction::Start
        );
        // A service just removed from the file has nothing left to record.
        let Some(service) = loaded.project.services.get(&change.service) else {
            continue;
        };
        let built_image = containers.contains(&change.service) && service.build.is_some();
        if started && !built_image && !service.wharf.requirements.is_empty() {
            updates.push((&change.service, crate::requirements::hash(loaded, service)?));
        }
    }
    if updates.is_empty() {
        return Ok(());
    }
    let mut hashes = RecordedHashes::load(paths, &loaded.project.name)?;
    for (service, hash) in updates {
        match hash {
            Some(hash) => hashes.by_service.insert(service.clone(), hash),
            None => hashes.by_service.remove(service),
        };
    }
    hashes.save()
}

/// Without `--backend`, a service that is up stays on the backend it runs on: `auto`
/// decides for the others only (an image that appeared since, or a `scale`, must not
/// move a native service into a container).
/// `wharf scale web=3`: `up -d` of those services with those counts.
pub fn scale(settings: &Settings, args: &ScaleArgs) -> anyhow::Result<ExitCode> {
    let services = parse_scale(&args.scale)?.into_keys().collect();
    let up = UpArgs {
        no_deps: args.no_deps,
        scale: args.scale.clone(),
        ..UpArgs::detached(services)
    };
    run(settings, &up)
}

/// `web=3` pairs from `--scale`.
fn parse_scale(pairs: &[String]) -> anyhow::Result<BTreeMap<String, u32>> {
    pairs
        .iter()
        .map(|pair| {
            let (service, count) = pair
                .split_once('=')
                .with_context(|| format!("--scale {pair:?}: expected SERVICE=N"))?;
            let Ok(count) = count.parse() else {
                anyhow::bail!("--scale {pair:?}: {count:?} is not a number of replicas");
            };
            Ok((service.to_owned(), count))
        })
        .collect()
}

/// The services whose logs an attached `up` shows (empty: all): `--attach`'s, else the
/// named ones (with their dependencies' only with `--attach-dependencies`), as
/// Compose's.
fn attached_services(args: &UpArgs) -> Vec<String> {
    if !args.attach.is_empty() {
        return args.attach.clone();
    }
    if args.attach_dependencies {
        return Vec::new();
    }
    args.services.clone()
}

/// Follows the logs until Ctrl-C (which stops the stack), or until the services have
/// all exited, or (with `--abort-on-container-exit`) until one has.
fn attached(
    client: &Client,
    name: &str,
    since: u64,
    args: &UpArgs,
    settings: &Settings,
) -> anyhow::Result<ExitCode> {
    let (printer, ansi) = (&settings.printer, settings.global.ansi);
    // Block the signals before any thread starts, so only `wait` below receives them.
    let mut signals = SigSet::empty();
    for signal in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        signals.add(signal);
    }
    signals.thread_block().context("cannot block signals")?;

    let shown = attached_services(args);
    let logs = client.stream::<LogLine>(&logs_path(name, &shown, None, Some(since), true))?;
    let hidden = args.no_attach.clone();
    let ansi = if args.no_color { Ansi::Never } else { ansi };
    let mut log_printer = LogPrinter::new(ansi, !args.no_log_prefix, args.timestamps, true);
    let instances = project_ref::instances(client, name)?;
    log_printer.fit(&instances, &shown);
    let mut attached: Vec<String> = instances
        .iter()
        .filter(|i| !i.one_off && (shown.is_empty() || shown.contains(&i.service)))
        .filter(|i| !hidden.contains(&i.service))
        .map(|i| format!("{}-{}", i.service, i.replica))
        .collect();
    attached.sort();
    if !attached.is_empty() {
        println!("Attaching to {}", attached.join(", "));
    }
    // When the last line came, so the end waits for the lines still on their way.
    let last_line = Arc::new(AtomicU64::new(now_ms()));
    let heard = Arc::clone(&last_line);
    let printing = std::thread::spawn(move || {
        for line in logs.map_while(Result::ok) {
            heard.store(now_ms(), Ordering::Relaxed);
            if hidden.contains(&line.service) {
                continue;
            }
            if log_printer.print(&line).is_err() {
                break;
            }
        }
    });
    let abort_on_exit = args.abort_on_container_exit || args.exit_code_from.is_some();
    let abort_on_failure = args.abort_on_container_failure;
    let mut watch = ProjectWatch::open(client, name)?;
    let exit_code_from = args.exit_code_from.clone();
    let outcome = std::thread::spawn(move || -> Followed {
        let ended = |followed: Followed| {
            let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGUSR1);
            followed
        };
        loop {
            if watch.down {
                break ended(Followed::TakenDown);
            }
            if watch.daemon_gone {
                break ended(Followed::DaemonGone);
            }
            let all = watch.instances();
            // One that cannot start for a dependency (a migration that failed) fails
            // the `up`, as Compose's does.
            if let Some(blocked) = all
                .iter()
                .find(|i| i.never_ran() && i.message.starts_with("dependency "))
            {
                break ended(Followed::Blocked(format!(
                    "{} could not start: {}",
                    blocked.name, blocked.message
                )));
            }
            let exited: Vec<&&InstanceStatus> = all
                .iter()
                .filter(|i| i.state == InstanceState::Exited)
                .collect();
            let everything_ended = !all.is_empty() && all.iter().all(|i| !i.state.is_active());
            let failed = exited.iter().any(|i| ended_in_failure(i));
            if (abort_on_exit && !exited.is_empty())
                || (abort_on_failure && failed)
                || everything_ended
            {
                let code = match &exit_code_from {
                    Some(service) => all
                        .iter()
                        .find(|i| &i.service == service)
                        .and_then(|i| i.exit_code),
                    // The first to end, as Compose's; one that never started counts as
                    // a failure, as there.
                    None if abort_on_exit || abort_on_failure => exited
                        .iter()
                        .filter(|i| abort_on_exit || ended_in_failure(i))
                        .min_by_key(|i| i.finished_at_ms)
                        .and_then(|i| i.exit_code.or(i.never_ran().then_some(1))),
                    // Everything ended by itself: Compose's `up` succeeds whatever the
                    // codes, unless one could not start.
                    None => Some(i32::from(exited.iter().any(|i| i.never_ran()))),
                };
                break ended(Followed::Ended(code, everything_ended));
            }
            watch.next(Duration::from_hours(1));
        }
    });
    let received = signals.wait().context("waiting for signals")?;
    let followed = if received == Signal::SIGUSR1 {
        outcome.join().unwrap_or(Followed::Ended(Some(1), false))
    } else {
        Followed::Interrupted
    };
    match &followed {
        // Nothing left to stop: another command took it down, or wharfd is gone.
        Followed::TakenDown => {
            printer.info(&format!("{name} was taken down (`wharf down`)"));
            return Ok(ExitCode::SUCCESS);
        }
        Followed::DaemonGone => anyhow::bail!(daemon_client::DAEMON_GONE),
        Followed::Blocked(why) => printer.error(&anyhow::anyhow!("{why}")),
        Followed::Ended(_, everything_ended) => {
            // What the services said last is shown before the end, as Compose's: all of
            // it when every one ended (wharfd ends the stream after their last lines);
            // after an abort, while others still talk, until the logs fall quiet.
            let deadline = now_ms() + if *everything_ended { 30_000 } else { 2000 };
            while !printing.is_finished()
                && (*everything_ended
                    || now_ms().saturating_sub(last_line.load(Ordering::Relaxed)) < LOGS_QUIET_MS)
                && now_ms() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            printer.info("stopping the stack");
        }
        Followed::Interrupted => {
            printer.info("gracefully stopping... (the services get their stop signal)");
        }
    }
    // Stop in the background, so a second Ctrl-C can still force it.
    let stop = ServicesRequest {
        timeout_s: args.timeout,
        ..ServicesRequest::default()
    };
    let stopper = client.clone();
    let stop_path = endpoint(name, "stop");
    let stopping = std::thread::spawn(move || {
        let result = stopper.post::<_, serde_json::Value>(&stop_path, &stop);
        let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGUSR2);
        result
    });
    loop {
        match signals.wait().context("waiting for signals")? {
            Signal::SIGUSR2 => break,
            Signal::SIGINT | Signal::SIGTERM => {
                printer.info("forcing: killing every process of the stack");
                let force = ServicesRequest {
                    force: true,
                    ..ServicesRequest::default()
                };
                let _: serde_json::Value = client.post(&endpoint(name, "kill"), &force)?;
            }
            _ => {}
        }
    }
    match stopping
        .join()
        .map_err(|_| anyhow::anyhow!("the stop request failed"))?
    {
        // Everything ended because wharfd was stopping (`wharf daemon stop`).
        Err(ClientError::Unanswered | ClientError::Connect { .. }) => {
            anyhow::bail!(daemon_client::DAEMON_GONE)
        }
        other => other?,
    };
    // What the services said just before they stopped (Ctrl-C soon after a start) is
    // still on its way: shown before the end, until the logs fall quiet.
    let stopped_at = now_ms();
    while !printing.is_finished()
        && now_ms().saturating_sub(last_line.load(Ordering::Relaxed).max(stopped_at))
            < LOGS_QUIET_MS
        && now_ms() < stopped_at + 2000
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let code = match followed {
        Followed::Ended(Some(code), _) => code,
        // `--exit-code-from` a service the abort stopped: its code once stopped, as
        // Compose gives it (143 after SIGTERM); one that never started (it waited on a
        // dependency the abort stopped) fails, as Compose's dependency does.
        Followed::Ended(None, _) => {
            let named = args.exit_code_from.as_ref().and_then(|service| {
                project_ref::instances(client, name)
                    .ok()?
                    .into_iter()
                    .find(|i| &i.service == service)
            });
            match named {
                // Stopped (or ended) before it ever started.
                Some(instance) if instance.started_at_ms.is_none() => {
                    printer.error(&anyhow::anyhow!(
                        "{} never started: the stack stopped while it waited for its dependencies",
                        instance.name
                    ));
                    1
                }
                Some(instance) => instance.exit_code.unwrap_or(0),
                None => 0,
            }
        }
        Followed::Interrupted => 130,
        Followed::Blocked(_) | Followed::TakenDown | Followed::DaemonGone => 1,
    };
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}

/// Whether an instance that ended failed: a code other than 0.
fn ended_in_failure(instance: &InstanceStatus) -> bool {
    instance.exit_code.is_some_and(|code| code != 0)
}

/// How long the logs stay quiet before an attached `up` that aborts says so.
const LOGS_QUIET_MS: u64 = 150;

/// How following an attached `up` ended.
enum Followed {
    /// The services ended (or, with `--abort-on-…`, one did): the exit code to give
    /// (`None` when the one `--exit-code-from` names had not ended yet), and whether
    /// every one ended.
    Ended(Option<i32>, bool),
    /// Ctrl-C, or SIGTERM.
    Interrupted,
    /// A service could not start for a dependency: why.
    Blocked(String),
    /// Another command took the project down.
    TakenDown,
    /// wharfd went away.
    DaemonGone,
}

/// The services an `up` of `named` starts: all when none are named, else those and,
/// unless `no_deps`, everything they depend on.
/// A service among `starting` that binds a Windows path, and the path.
fn windows_bind<'a>(
    loaded: &'a wharf_manifest::Loaded,
    starting: &BTreeSet<String>,
) -> Option<(&'a str, &'a str)> {
    loaded
        .project
        .services
        .iter()
        .filter(|(name, _)| starting.contains(*name))
        .find_map(|(name, service)| {
            let mount = service
                .volumes
                .iter()
                .find(|m| m.kind == "bind" && wharf_manifest::is_windows_absolute(&m.source))?;
            Some((name.as_str(), mount.source.as_str()))
        })
}

fn starting_services(
    loaded: &wharf_manifest::Loaded,
    named: &[String],
    no_deps: bool,
) -> BTreeSet<String> {
    if named.is_empty() {
        return loaded.project.services.keys().cloned().collect();
    }
    if no_deps {
        return named.iter().cloned().collect();
    }
    let starting = loaded.project.with_dependencies(named);
    starting.into_iter().map(str::to_owned).collect()
}

/// What a service that changed backend leaves behind: its named volumes are the
/// engine's for a container and directories of wharf's for a process, so it starts
/// without the data the other one wrote.
fn moved_data(
    loaded: &wharf_manifest::Loaded,
    containers: &BTreeSet<String>,
    volumes_dir: &std::path::Path,
    response: &UpResponse,
) -> Vec<String> {
    response
        .changes
        .iter()
        .filter(|c| c.moved_backend)
        .filter_map(|change| {
            let service = loaded.project.services.get(&change.service)?;
            let named: Vec<&str> = service
                .volumes
                .iter()
                .filter(|m| m.kind == "volume" && !m.source.is_empty())
                .map(|m| m.source.as_str())
                .collect();
            if named.is_empty() {
                // Out of a container, what it kept outside named volumes (an anonymous
                // volume, its own files) is left behind, and a container made again
                // later starts without it too.
                return (!containers.contains(&change.service)).then(|| {
                    format!(
                        "{service} now runs as a process: what its container kept outside \
                         named volumes (an anonymous volume, its own files) is not carried \
                         over, nor found by a container made again later; a named volume \
                         (`volumes: [{service}-data:/path/of/its/data]`) keeps data across \
                         backends (`--backend docker` runs it in a container again)",
                        service = change.service
                    )
                });
            }
            let engine_names: Vec<String> = named
                .iter()
                .map(|v| {
                    loaded
                        .project
                        .volumes
                        .get(*v)
                        .map_or_else(|| (*v).to_owned(), |v| v.name.clone())
                })
                .collect();
            let directories = named
                .iter()
                .map(|v| volumes_dir.join(v).display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let directories = format!("the directories {directories}");
            let engine = format!("the engine's volumes {}", engine_names.join(", "));
            let (now, before, kept, back) = if containers.contains(&change.service) {
                ("a container", engine, directories, "process")
            } else {
                ("a process", directories, engine, "docker")
            };
            Some(format!(
                "{service} now runs as {now}: its volumes ({}) are {before}, not the data it \
                 had; that stays in {kept}, untouched (`--backend {back}`, or `x-wharf.backend: \
                 {back}` on {service}, runs it there again; a database carries over with \
                 `wharf db dump` there and `wharf db load` here)",
                named.join(", "),
                service = change.service,
            ))
        })
        .collect()
}

/// `--wait-timeout 0`: a century, which any sum of durations still holds.
const NO_TIMEOUT: Duration = Duration::from_hours(100 * 365 * 24);

/// What the daemon does with the services the project ran and the file no longer
/// has: Compose's `up` leaves them and warns, `--remove-orphans` removes them, and
/// `COMPOSE_IGNORE_ORPHANS` (from the shell or `.env`, true as Go reads it) silences
/// the warning.
pub(crate) fn orphans(
    remove: bool,
    environment: &BTreeMap<String, String>,
) -> anyhow::Result<Orphans> {
    let ignore = environment
        .get("COMPOSE_IGNORE_ORPHANS")
        .is_some_and(|value| matches!(value.to_ascii_lowercase().as_str(), "1" | "t" | "true"));
    Ok(match (remove, ignore) {
        (true, true) => {
            bail!("COMPOSE_IGNORE_ORPHANS and --remove-orphans ask for opposite things: drop one")
        }
        (true, false) => Orphans::Remove,
        (false, true) => Orphans::KeepQuietly,
        (false, false) => Orphans::Keep,
    })
}

//! `wharf check`: whether this machine can run the project, each problem with what
//! fixes it. It reads files and asks git, the engine and the ports; only `--services`
//! needs the project running. Exit status 1 when anything is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::ExitCode;

use serde::Serialize;
use wharf_api::{InstanceState, InstanceStatus, Paths};
use wharf_manifest::Loaded;

use crate::cli::{CheckArgs, ListFormat};
use crate::printer::Printer;
use crate::project_ref::{self, endpoint};
use crate::project_repos::ProjectRepos;
use crate::requirements::{ImageRecord, RecordedHashes, image_record};
use crate::settings::Settings;
use wharf_engine::BlockingEngine;
use wharf_runtime::BackendChoice;
use wharf_runtime::image_name;

/// One thing checked: fine, or a problem with its fix.
#[derive(Serialize)]
struct Finding {
    check: &'static str,
    subject: String,
    ok: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
    /// What a monitor endpoint answered (JSON when it answered JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<serde_json::Value>,
}

#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
}

impl Report {
    fn ok(&mut self, check: &'static str, subject: impl Into<String>, detail: impl Into<String>) {
        self.findings.push(Finding {
            check,
            subject: subject.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
            answer: None,
        });
    }

    fn problem(
        &mut self,
        check: &'static str,
        subject: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.findings.push(Finding {
            check,
            subject: subject.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
            answer: None,
        });
    }

    fn problems(&self) -> usize {
        self.findings.iter().filter(|f| !f.ok).count()
    }
}

pub fn run(settings: &Settings, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let mut report = Report::default();
    match project_ref::load(settings) {
        Ok(loaded) => check_project(settings, args, &loaded, &mut report),
        Err(err) => {
            let mut detail = err.to_string();
            for cause in err.chain().skip(1) {
                let _ = write!(detail, ": {cause}");
            }
            report.problem(
                "manifest",
                "compose files",
                detail,
                "correct the file at the place shown, then check again",
            );
        }
    }
    if args.format.format == ListFormat::Json {
        let json = serde_json::json!({"ok": report.problems() == 0, "findings": report.findings});
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(if report.problems() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn check_project(settings: &Settings, args: &CheckArgs, loaded: &Loaded, report: &mut Report) {
    let files: Vec<String> = loaded
        .files
        .iter()
        .map(|f| {
            f.strip_prefix(&loaded.project_dir)
                .unwrap_or(f)
                .display()
                .to_string()
        })
        .collect();
    let count = loaded.project.services.len();
    report.ok(
        "manifest",
        files.join(", "),
        format!("loads: {count} service{}", crate::output::plural(count)),
    );
    if let Err(err) = check_env(settings, loaded, report) {
        report.problem(
            "env",
            "x-wharf.env",
            format!("{err:#}"),
            "correct the file named",
        );
    }
    check_repos(settings, loaded, report);
    check_tasks(loaded, report);
    check_databases(loaded, report);
    let paths = &settings.paths;
    let containers = wharf_runtime::backend::containers(loaded, args.backend.into());
    let not_native = check_native(loaded, paths, &containers, report);
    let engine = check_engine(args.backend.into(), &containers, not_native, report);
    if let Some(engine) = &engine {
        check_images(loaded, &containers, engine, report);
    }
    let running = running_instances(paths, &loaded.project.name);
    check_ports(paths, loaded, &containers, &running, report);
    for exposure in crate::listening::exposures(&running, wharf_api::now_ms()) {
        report.problem(
            "listening",
            exposure.instance,
            exposure.problem,
            exposure.fix,
        );
    }
    if args.services {
        check_monitors(loaded, &running, report);
    }
    if args.requirements
        && let Err(err) = check_requirements(loaded, paths, &containers, engine.as_ref(), report)
    {
        report.problem(
            "requirements",
            "x-wharf.requirements",
            format!("{err:#}"),
            "make the named file readable, or delete a damaged record",
        );
    }
}

/// `x-wharf.databases`: each names a database server, a task and seed that exist.
fn check_databases(loaded: &Loaded, report: &mut Report) {
    for (name, database) in &loaded.project.wharf.databases {
        let subject = format!("x-wharf.databases.{name}");
        let problems = crate::project_databases::declared_problems(loaded, database);
        for why in &problems {
            report.problem(
                "databases",
                &subject,
                why,
                format!("correct x-wharf.databases.{name} in the compose file"),
            );
        }
        if problems.is_empty() {
            report.ok(
                "databases",
                subject,
                database.service.as_deref().map_or_else(
                    || "on the project's server".to_owned(),
                    |s| format!("on {s}"),
                ),
            );
        }
    }
}

fn check_env(settings: &Settings, loaded: &Loaded, report: &mut Report) -> anyhow::Result<()> {
    // The loader's warnings were shown once already.
    let quiet = Printer::new(0, true);
    for variable in crate::documented_env::documented(settings, &quiet)? {
        let fix = format!(
            "export {name}=… or add `{name}=…` to {}",
            loaded.project_dir.join(".env").display(),
            name = variable.name
        );
        // A secret that is set, but to nothing, is as good as missing.
        if let Some(source) = &variable.source {
            if variable.secret == Some(true) && variable.value.as_deref().is_some_and(str::is_empty)
            {
                report.problem("env", &variable.name, format!("empty ({source})"), fix);
            } else {
                report.ok("env", &variable.name, format!("set ({source})"));
            }
            continue;
        }
        let used_by = if variable.used_by.is_empty() {
            String::new()
        } else {
            format!("; used by {}", variable.used_by.join(", "))
        };
        report.problem("env", &variable.name, format!("not set{used_by}"), fix);
    }
    Ok(())
}

fn check_repos(settings: &Settings, loaded: &Loaded, report: &mut Report) {
    let repos = match ProjectRepos::of(loaded, settings) {
        Ok(repos) => repos,
        Err(err) => {
            let text = err.to_string();
            let (detail, hint) = text.split_once("\nhint: ").unwrap_or((&text, ""));
            report.problem("repos", "x-wharf.repos", detail, hint);
            return;
        }
    };
    for revision in wharf_repos::revisions(&repos.set.repos) {
        let dir = revision.dir.display();
        if revision.present {
            let branch = revision.branch.as_deref().unwrap_or("detached");
            report.ok(
                "repos",
                &revision.name,
                format!("checked out at {dir} ({branch})"),
            );
        } else {
            report.problem(
                "repos",
                &revision.name,
                format!("not checked out at {dir}"),
                format!("wharf checkout {}", revision.name),
            );
        }
    }
    for dir in repos.set.directories.iter().filter(|d| !d.is_dir()) {
        report.problem(
            "repos",
            dir.display().to_string(),
            "directory missing",
            "wharf checkout",
        );
    }
}

/// Reports whether each service that runs natively can; returns whether some cannot.
fn check_native(
    loaded: &Loaded,
    paths: &Paths,
    containers: &BTreeSet<String>,
    report: &mut Report,
) -> bool {
    let volumes = paths.project_data(&loaded.project.name).join("volumes");
    let problems = match wharf_runtime::project_spec(loaded, &BTreeMap::new(), &volumes, containers)
    {
        Ok(spec) => {
            for (name, service) in spec.services.iter().filter(|(_, s)| s.container.is_none()) {
                // A container's user is the image's; natively the service runs as
                // wharf does (a recipe's server as its own user), which is said.
                let user = loaded
                    .project
                    .services
                    .get(name)
                    .map(|s| s.user.as_str())
                    .filter(|user| !user.is_empty())
                    .map(|user| format!("; its `user: {user}` applies in a container only"))
                    .unwrap_or_default();
                report.ok(
                    "native",
                    name,
                    format!("runs natively: {}{user}", service.origin),
                );
            }
            return false;
        }
        Err(wharf_runtime::NotNative(problems)) => problems,
    };
    let failing: BTreeSet<&String> = problems.iter().map(|p| &p.service).collect();
    for name in loaded.project.services.keys() {
        if !containers.contains(name) && !failing.contains(name) {
            report.ok("native", name, "runs natively");
        }
    }
    for problem in &problems {
        let wharf_runtime::Unrunnable {
            service: name,
            why,
            at,
        } = problem;
        let has_process = loaded
            .project
            .services
            .get(name)
            .is_some_and(|s| s.wharf.process.is_some());
        let fix = if !problem.missing_program() {
            "correct the file where it points"
        } else if has_process {
            "install what it runs, correct its x-wharf.process section, or run it in Docker (x-wharf.backend: docker)"
        } else {
            "install what it needs, give it an x-wharf.process section, \
             or run it in Docker (x-wharf.backend: docker)"
        };
        let why = match at {
            Some(at) => format!("{why} (at {at})"),
            None => why.clone(),
        };
        report.problem("native", name, &why, fix);
    }
    true
}

/// Each task that cannot run, said as `wharf task` would say it.
fn check_tasks(loaded: &Loaded, report: &mut Report) {
    for (name, task) in &loaded.project.wharf.tasks {
        if let Some(why) = crate::project_tasks::problem(&loaded.project, task) {
            report.problem(
                "tasks",
                name,
                format!("task `{name}` {why}"),
                "correct it in x-wharf.tasks",
            );
        }
    }
}

/// The engine, when one answers; a problem when a service needs one and none does.
fn check_engine(
    choice: BackendChoice,
    containers: &BTreeSet<String>,
    native_problems: bool,
    report: &mut Report,
) -> Option<BlockingEngine> {
    if choice == BackendChoice::Process && containers.is_empty() {
        return None;
    }
    match BlockingEngine::connect() {
        Ok(engine) => {
            report.ok("engine", engine.socket().display().to_string(), "answers");
            Some(engine)
        }
        // With `auto`, services run natively when no engine answers: fine if they can.
        Err(problem) if containers.is_empty() && !native_problems => {
            report.ok(
                "engine",
                "docker",
                format!("not used, every service runs natively ({problem})"),
            );
            None
        }
        Err(problem) => {
            report.problem("engine", "docker", problem.to_string(), problem.fix());
            None
        }
    }
}

fn check_images(
    loaded: &Loaded,
    containers: &BTreeSet<String>,
    engine: &BlockingEngine,
    report: &mut Report,
) {
    for name in containers {
        let service = &loaded.project.services[name];
        let image = image_name(&loaded.project, name, service);
        if wharf_runtime::backend::has_image(engine, &image) {
            report.ok("images", name, format!("{image} is present"));
        } else if service.build.is_some() {
            report.problem(
                "images",
                name,
                format!("{image} is not built"),
                format!("wharf build {name}"),
            );
        } else {
            report.problem(
                "images",
                name,
                format!("{image} is not on this machine"),
                format!("wharf pull {name}, or docker load it"),
            );
        }
    }
}

/// The project's instances wharfd runs now; none when wharfd is not running.
fn running_instances(paths: &Paths, project: &str) -> Vec<InstanceStatus> {
    crate::daemon_client::existing(paths)
        .and_then(|client| client.get(&endpoint(project, "ps")).ok())
        .unwrap_or_default()
}

/// Each port a service publishes on the host must be free, unless the project's own
/// instance of that service holds it.
fn check_ports(
    paths: &Paths,
    loaded: &Loaded,
    containers: &BTreeSet<String>,
    running: &[InstanceStatus],
    report: &mut Report,
) {
    for (name, service) in &loaded.project.services {
        let in_docker = containers.contains(name);
        let ports = if in_docker {
            wharf_runtime::ports(service)
        } else {
            wharf_runtime::native_ports(service)
        };
        let Ok(ports) = ports else {
            continue; // the native check names the bad port
        };
        for (index, port) in ports.iter().enumerate() {
            // In Docker an unpublished port gets a free one from the engine.
            let unpublished = service
                .ports
                .get(index)
                .is_some_and(|d| d.published.is_empty());
            if port.published == 0 || (in_docker && unpublished) {
                continue;
            }
            let subject = format!("{name}:{}", port.published);
            let ours = running.iter().any(|instance| {
                instance.service == *name
                    && instance.state.is_active()
                    && instance.ports.iter().any(|p| p.published == port.published)
            });
            // Natively the service itself must answer there; in Docker the engine does.
            if ours && (containers.contains(name) || wharf_host::ports::accepts(port.published)) {
                report.ok(
                    "ports",
                    subject,
                    format!("held by {name}, which is running"),
                );
                continue;
            }
            if ours {
                report.problem(
                    "ports",
                    subject,
                    format!("{name} is running, but nothing answers on 127.0.0.1:{}", port.published),
                    format!(
                        "make {name} listen on {} (wharf gives it PORT={}); `wharf logs {name}` may say where it listens",
                        port.published, port.published
                    ),
                );
                continue;
            }
            match wharf_host::ports::check_free(port.published) {
                Ok(()) => report.ok("ports", subject, "free"),
                Err(owner) => {
                    // Often another project's server of the same kind: named as such,
                    // with the command that stops it, rather than by its pid.
                    let instance = project_ref::instance_publishing(paths, port.published);
                    let (by, stop) = match (instance, owner) {
                        (Some((project, instance)), owner) => (
                            format!(
                                " by {} of project {project}{}",
                                instance.name,
                                owner
                                    .map(|o| format!(" ({}, pid {})", o.command, o.pid))
                                    .unwrap_or_default()
                            ),
                            format!("`wharf -p {project} stop {}`", instance.service),
                        ),
                        (None, Some(o)) => (
                            format!(" by {} (pid {})", o.command, o.pid),
                            format!("stop {} (pid {})", o.command, o.pid),
                        ),
                        (None, None) => (String::new(), "stop what listens on it".to_owned()),
                    };
                    report.problem(
                        "ports",
                        subject,
                        format!("port {} is already in use{by}", port.published),
                        format!("{stop}, or publish {name} on another port"),
                    );
                }
            }
        }
    }
}

fn check_monitors(loaded: &Loaded, running: &[InstanceStatus], report: &mut Report) {
    for (name, service) in &loaded.project.services {
        let Some(path) = &service.wharf.monitor else {
            continue;
        };
        let instances: Vec<&InstanceStatus> = running
            .iter()
            .filter(|i| i.service == *name && i.state == InstanceState::Running)
            .collect();
        if instances.is_empty() {
            report.problem(
                "services",
                name,
                "not running, so its monitor cannot be asked",
                format!("wharf up -d {name}"),
            );
        }
        for instance in instances {
            let Some(port) = instance.ports.first() else {
                report.problem(
                    "services",
                    &instance.name,
                    "publishes no port to call its monitor on",
                    format!("give {name} a `ports` entry"),
                );
                continue;
            };
            let logs = format!("see what it logged: wharf logs {name}");
            match crate::monitor::call(port.published, path) {
                Ok(answer) => {
                    let summary = summary(&answer.body);
                    let detail = format!("{path} answered {}: {summary}", answer.status);
                    if (200..300).contains(&answer.status) {
                        report.ok("services", &instance.name, detail);
                    } else {
                        report.problem("services", &instance.name, detail, logs);
                    }
                    let body = answer.body.trim();
                    let parsed = serde_json::from_str(body)
                        .unwrap_or_else(|_| serde_json::Value::String(body.to_owned()));
                    if let Some(finding) = report.findings.last_mut() {
                        finding.answer = Some(parsed);
                    }
                }
                Err(err) => report.problem(
                    "services",
                    &instance.name,
                    format!("{path} on port {} did not answer: {err}", port.published),
                    logs,
                ),
            }
        }
    }
}

/// An answer on one line, cut short.
fn summary(body: &str) -> String {
    const MAX: usize = 160;
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > MAX {
        format!("{}…", line.chars().take(MAX).collect::<String>())
    } else {
        line
    }
}

fn check_requirements(
    loaded: &Loaded,
    paths: &Paths,
    containers: &BTreeSet<String>,
    engine: Option<&BlockingEngine>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let recorded = RecordedHashes::load(paths, &loaded.project.name)?;
    for (name, service) in &loaded.project.services {
        if service.wharf.requirements.is_empty() {
            continue;
        }
        let Some(current) = crate::requirements::hash(loaded, service)? else {
            report.problem(
                "requirements",
                name,
                format!(
                    "{} match no file in {}",
                    service.wharf.requirements.join(", "),
                    crate::requirements::base_dir(loaded, service).display()
                ),
                "correct x-wharf.requirements (globs relative to the build context)",
            );
            continue;
        };
        let built_image = containers.contains(name) && service.build.is_some();
        if built_image {
            let image = image_name(&loaded.project, name, service);
            let Some(engine) = engine else {
                continue; // the engine check says why
            };
            match image_record(engine, &image) {
                // The images check names a missing image.
                ImageRecord::Missing => {}
                ImageRecord::Recorded(hash) if hash == current => {
                    report.ok("requirements", name, "unchanged since its image was built");
                }
                ImageRecord::Recorded(_) => report.problem(
                    "requirements",
                    name,
                    "changed since its image was built: rebuild it",
                    format!("wharf build {name}"),
                ),
                ImageRecord::Unrecorded => report.problem(
                    "requirements",
                    name,
                    format!("{image} was not built by wharf, so nothing records its requirements"),
                    format!("wharf build {name}"),
                ),
            }
            continue;
        }
        match recorded.by_service.get(name) {
            Some(hash) if *hash == current => {
                report.ok("requirements", name, "unchanged since wharf up started it");
            }
            Some(_) => report.problem(
                "requirements",
                name,
                "changed since wharf up started it: its environment needs rebuilding",
                format!("install them, then wharf up -d --force-recreate {name}"),
            ),
            None => report.ok(
                "requirements",
                name,
                "not started by wharf up yet: recorded when it is",
            ),
        }
    }
    Ok(())
}

/// Longer subjects (paths) push their own line's detail along, not every line's.
const MAX_SUBJECT_WIDTH: usize = 24;

/// The report for people: one line per finding, the fix under each problem.
fn text(report: &Report) -> String {
    let check_width = report
        .findings
        .iter()
        .map(|f| f.check.len())
        .max()
        .unwrap_or(0);
    let subject_width = report
        .findings
        .iter()
        .map(|f| f.subject.chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_SUBJECT_WIDTH);
    let indent = 4 + 2 + check_width + 2 + subject_width + 2;
    let mut out = String::new();
    for finding in &report.findings {
        let status = if finding.ok { "ok" } else { "FAIL" };
        let mut lines = finding.detail.lines();
        let _ = writeln!(
            out,
            "{status:<4}  {:<check_width$}  {:<subject_width$}  {}",
            finding.check,
            finding.subject,
            lines.next().unwrap_or_default()
        );
        // A config error's source excerpt stays aligned under its message.
        for line in lines {
            let _ = writeln!(out, "{:indent$}{line}", "");
        }
        if let Some(fix) = &finding.fix {
            let _ = writeln!(out, "{:indent$}fix: {fix}", "");
        }
    }
    let _ = match report.problems() {
        0 => writeln!(out, "everything is in order"),
        n => writeln!(out, "{n} problem{}", crate::output::plural(n)),
    };
    out
}

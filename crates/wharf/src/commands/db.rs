//! `wharf db`: the project's databases. The servers are the services a database
//! recipe runs (PostgreSQL, MariaDB/MySQL); `x-wharf.databases` names the databases,
//! their server, migrate task and seed. What changes a database is done by
//! `wharf_databases`; here: picking the server and the database, asking, printing.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::json;
use wharf_databases::{DumpFormat, RepoRevisions as _, Server, Snapshot, read_dump, write_dump};

use crate::cli::{DbArgs, DbCommand, ListFormat, ListFormatArgs, SnapshotCommand};
use crate::confirm::confirm;
use crate::output::{aligned_table, human_size};
use crate::project_databases::ProjectDatabases;
use crate::project_tasks;
use crate::settings::Settings;

/// `println!` and `print!` that do not panic when standard output is a closed pipe
/// (`wharf db ls | head -1`): what no one reads is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub fn run(settings: &Settings, args: &DbArgs) -> anyhow::Result<ExitCode> {
    // Ctrl-C and SIGTERM are noted, so what runs ends tidily (no half-written dump,
    // no half-loaded database left beside); the command then exits 130.
    wharf_databases::interrupt::catch();
    match run_command(settings, args) {
        // What failed because of the interruption is no news: that it stopped is.
        Err(_) if wharf_databases::interrupt::interrupted() => {
            eprintln!("interrupted: what was half done is undone");
            Ok(ExitCode::from(130))
        }
        // Done before it could stop: done.
        outcome => outcome,
    }
}

fn run_command(settings: &Settings, args: &DbArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectDatabases::load(settings, args.service.as_deref())?;
    match &args.command {
        DbCommand::Ls(format) => list(&project, format),
        DbCommand::Create { name } => {
            let server = project.server_for(Some(name))?;
            project.databases(server.as_ref()).create(name)?;
            say!("created {name} on {}", server.access().service);
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Drop { name, yes } => drop_database(&project, name, yes.yes),
        DbCommand::Shell { name, args } => shell(&project, name.as_deref(), args),
        DbCommand::Dump { name, output } => dump(&project, name.as_deref(), output.as_deref()),
        DbCommand::Load { args, yes } => {
            let (name, file) = match args.as_slice() {
                [file] => (None, file),
                [name, file] => (Some(name.as_str()), file),
                _ => unreachable!("clap takes one or two"),
            };
            load(&project, name, file, yes.yes)
        }
        DbCommand::Snapshot {
            command: Some(SnapshotCommand::Rm { tag, yes }),
            ..
        } => remove_snapshot(&project, tag, yes.yes),
        DbCommand::Snapshot { name, tag, .. } => {
            snapshot(&project, name.as_deref(), tag.as_deref())
        }
        DbCommand::Snapshots(format) => list_snapshots(&project, format),
        DbCommand::Restore { tag, undo, yes } => restore(&project, tag.as_deref(), *undo, yes.yes),
        DbCommand::Reset { name, yes } => reset(settings, &project, name.as_deref(), yes.yes),
        DbCommand::Clone { name, new } => {
            let server = project.server_for(Some(name))?;
            let started = Instant::now();
            project.databases(server.as_ref()).clone_to(name, new)?;
            say!("copied {name} to {new} in {}", seconds(started));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn seconds(since: Instant) -> String {
    format!("{:.1}s", since.elapsed().as_secs_f64())
}

fn list(project: &ProjectDatabases, format: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    let services: Vec<String> = match &project.chosen {
        Some(service) => vec![service.clone()],
        None => project.servers.keys().cloned().collect(),
    };
    // A server that cannot be reached is said, and the others are listed still; one
    // that was stopped is not a failure of the listing.
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for service in &services {
        if project.servers.contains_key(service) && !project.is_up(service) {
            eprintln!(
                "{service} is not running, so its databases are not listed: `wharf up -d {service}` starts it"
            );
            continue;
        }
        let listed = project
            .server(service)
            .and_then(|server| Ok(project.databases(server.as_ref()).list()?));
        match listed {
            Ok(listed) => rows.extend(listed.into_iter().map(|l| (service.clone(), l))),
            Err(err) if services.len() > 1 => failures.push(err),
            Err(err) => return Err(err),
        }
    }
    let code = if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    for failure in &failures {
        eprintln!("error: {failure:#}");
    }
    if format.format == ListFormat::Json {
        let rows: Vec<_> = rows
            .iter()
            .map(|(service, l)| {
                json!({"service": service, "name": l.name, "size": l.size, "snapshots": l.snapshots})
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(code);
    }
    let mut table = vec![["SERVICE", "DATABASE", "SIZE", "SNAPSHOTS"].map(str::to_owned)];
    for (service, l) in rows {
        table.push([service, l.name, human_size(l.size), l.snapshots.to_string()]);
    }
    say_raw!("{}", aligned_table(&table));
    Ok(code)
}

fn drop_database(project: &ProjectDatabases, name: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let server = project.server_for(Some(name))?;
    let databases = project.databases(server.as_ref());
    let size = databases.size_of(name)?;
    let service = &server.access().service;
    if !yes
        && !confirm(
            &format!(
                "This drops database {name} ({}) on {service}.",
                human_size(size)
            ),
            &[
                "wharf keeps it as an automatic snapshot: `wharf db restore --undo` brings it back"
                    .to_owned(),
            ],
            "Drop it?",
            "nothing dropped: there is no terminal to ask on; pass --yes to drop",
        )?
    {
        bail!("nothing dropped");
    }
    let kept = databases.drop(name)?;
    say!(
        "dropped {name}; kept as snapshot {} (`wharf db restore --undo` brings it back)",
        kept.tag
    );
    Ok(ExitCode::SUCCESS)
}

fn shell(
    project: &ProjectDatabases,
    name: Option<&str>,
    args: &[String],
) -> anyhow::Result<ExitCode> {
    let (server, name) = project.target(name)?;
    // Said in wharf's words, not the client's (which name the socket); a system
    // database is the client's to open.
    if let Err(err @ wharf_databases::DbError::NoDatabase { .. }) =
        project.databases(server.as_ref()).size_of(&name)
    {
        return Err(err.into());
    }
    let batch = !std::io::stdin().is_terminal();
    let mut client = server.shell(&name, args, batch);
    let status = client
        .status()
        .with_context(|| format!("cannot run {}", client.get_program().to_string_lossy()))?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}

fn dump(
    project: &ProjectDatabases,
    name: Option<&str>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let (server, name) = project.target(name)?;
    let databases = project.databases(server.as_ref());
    databases.size_of(&name)?;
    // On a terminal, a dump goes to a file of its own rather than the screen.
    let default_file;
    let target = match output {
        Some(path) if path == Path::new("-") => None,
        Some(path) => Some(path),
        None if std::io::stdout().is_terminal() => {
            let stamp = wharf_api::utc_stamp(wharf_api::now_ms());
            default_file = PathBuf::from(format!("{name}-{stamp}.sql.zst"));
            Some(default_file.as_path())
        }
        None => None,
    };
    let format = target.map_or(Ok(DumpFormat::Sql), DumpFormat::of_path)?;
    let started = Instant::now();
    write_dump(server.dump(&name), format, target)?;
    if let Some(target) = target {
        let size = std::fs::metadata(target).map_or(0, |m| m.len());
        eprintln!(
            "dumped {name} to {} ({}) in {}",
            target.display(),
            human_size(size),
            seconds(started)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn load(
    project: &ProjectDatabases,
    name: Option<&str>,
    file: &str,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let (server, name) = project.target(name)?;
    let source = (file != "-").then(|| Path::new(file));
    let file = if source.is_some() {
        file
    } else {
        "standard input"
    };
    if let Some(path) = source
        && !path.is_file()
    {
        bail!("{file}: no such dump file");
    }
    let databases = project.databases(server.as_ref());
    if let Ok(size) = databases.size_of(&name)
        && !yes
        && !confirm(
            &format!(
                "This replaces database {name} ({}) on {} with {file}.",
                human_size(size),
                server.access().service
            ),
            &["wharf keeps the current one as an automatic snapshot: `wharf db restore --undo` brings it back".to_owned()],
            "Replace it?",
            "nothing loaded: there is no terminal to ask on; pass --yes to replace it",
        )?
    {
        bail!("nothing loaded");
    }
    let started = Instant::now();
    let engine = server.access().facts.engine;
    let kept = databases.load(&name, |load| read_dump(source, load, engine))?;
    say!("loaded {file} into {name} in {}", seconds(started));
    if let Some(kept) = kept {
        say!(
            "the previous {name} is snapshot {} (`wharf db restore --undo`)",
            kept.tag
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn snapshot(
    project: &ProjectDatabases,
    name: Option<&str>,
    tag: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (server, name) = project.target(name)?;
    let started = Instant::now();
    let taken = project.databases(server.as_ref()).snapshot(&name, tag)?;
    say!(
        "snapshot {} of {name} ({}) taken in {}",
        taken.tag,
        human_size(taken.size),
        seconds(started)
    );
    Ok(ExitCode::SUCCESS)
}

fn remove_snapshot(project: &ProjectDatabases, tag: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let snapshot = project.store.get(tag)?;
    if let Some(service) = &project.chosen
        && &snapshot.service != service
    {
        bail!(
            "snapshot {tag} is of {}'s {}, not of {service}'s",
            snapshot.service,
            snapshot.database
        );
    }
    let server = project.server(&snapshot.service)?;
    if !yes
        && !confirm(
            &format!(
                "This deletes snapshot {tag} of {} ({}), which cannot be undone.",
                snapshot.database,
                human_size(snapshot.size)
            ),
            &[],
            "Delete it?",
            "nothing deleted: there is no terminal to ask on; pass --yes to delete it",
        )?
    {
        bail!("nothing deleted");
    }
    project
        .databases(server.as_ref())
        .remove_snapshot(&snapshot)?;
    say!("removed snapshot {tag}");
    Ok(ExitCode::SUCCESS)
}

fn list_snapshots(project: &ProjectDatabases, format: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    // Each server that runs forgets the snapshots whose copies it no longer has.
    let mut running_as = BTreeMap::new();
    for service in project.servers.keys() {
        if project.is_up(service)
            && let Ok(server) = project.server(service)
        {
            project.databases(server.as_ref()).snapshots()?;
            running_as.insert(service.clone(), server.access().ran_as());
        }
    }
    let mut snapshots = project.store.list()?;
    if let Some(service) = &project.chosen {
        snapshots.retain(|s| &s.service == service);
    }
    // Those in the data of the server the service no longer runs as wait for it.
    let (shown, waiting): (Vec<_>, Vec<_>) = snapshots.into_iter().partition(|s| {
        running_as
            .get(&s.service)
            .is_none_or(|ran_as| s.taken_as(ran_as))
    });
    let snapshots = shown;
    for s in &waiting {
        eprintln!(
            "snapshot {} was taken while {} ran as a {}: it is kept for when it does again",
            s.tag, s.service, s.ran_as
        );
    }
    if format.format == ListFormat::Json {
        say!("{}", serde_json::to_string_pretty(&snapshots)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![
        [
            "TAG", "DATABASE", "SERVICE", "SIZE", "TAKEN", "ENGINE", "WHY",
        ]
        .map(str::to_owned),
    ];
    for s in snapshots {
        table.push([
            s.tag,
            s.database,
            s.service,
            human_size(s.size),
            wharf_api::utc_text(s.created_ms)[..19].replace('T', " "),
            format!("{} {}", s.engine, s.version),
            s.automatic
                .map_or_else(|| "asked".to_owned(), |why| format!("before {why}")),
        ]);
    }
    say_raw!("{}", aligned_table(&table));
    Ok(ExitCode::SUCCESS)
}

fn restore(
    project: &ProjectDatabases,
    tag: Option<&str>,
    undo: bool,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let snapshot = if let Some(tag) = tag {
        project.store.get(tag)?
    } else {
        debug_assert!(undo);
        project
            .store
            .last_automatic(project.chosen.as_deref())?
            .context(
                "nothing (more) to undo: no drop, load, reset or restore left that an undo has not undone; `wharf db restore TAG` restores any snapshot `wharf db snapshots` lists",
            )?
    };
    // A snapshot goes back to the server it was taken on: `--service` naming another
    // is a mistake, not a wish to restore it there.
    if let Some(chosen) = project.chosen.as_deref().filter(|c| *c != snapshot.service) {
        bail!(
            "snapshot {} was taken on {}, not {chosen}: leave out --service to restore it there, or pick one of {chosen}'s (`wharf db snapshots --service {chosen}`)",
            snapshot.tag,
            snapshot.service
        );
    }
    let server = project.server(&snapshot.service)?;
    let ran_as = server.access().ran_as();
    if !snapshot.taken_as(ran_as) {
        let backend = if snapshot.ran_as == "container" {
            "docker"
        } else {
            "process"
        };
        bail!(
            "snapshot {} was taken while {} ran as a {}, whose data holds it; {} runs as a {ran_as} now: `wharf up -d --backend {backend} {}` brings that server back, and its snapshots with it",
            snapshot.tag,
            snapshot.service,
            snapshot.ran_as,
            snapshot.service,
            snapshot.service
        );
    }
    let databases = project.databases(server.as_ref());
    let differ = differences(&snapshot, server.as_ref(), &project.revisions())?;
    let current = databases.size_of(&snapshot.database).ok();
    let mut notes = differ.clone();
    if let Some(size) = current {
        notes.push(format!(
            "the current {} ({}) is kept as an automatic snapshot: `wharf db restore --undo` brings it back",
            snapshot.database,
            human_size(size)
        ));
    }
    // Replacing data, or restoring what was taken elsewhere, is asked about.
    if !yes
        && (current.is_some() || !differ.is_empty())
        && !confirm(
            &format!(
                "This restores snapshot {} ({}) into database {} on {}.",
                snapshot.tag,
                human_size(snapshot.size),
                snapshot.database,
                snapshot.service
            ),
            &notes,
            "Restore it?",
            "nothing restored: there is no terminal to ask on; pass --yes to restore",
        )?
    {
        bail!("nothing restored");
    }
    let started = Instant::now();
    let kept = databases.restore(&snapshot, undo)?;
    say!(
        "restored {} into {} in {}",
        snapshot.tag,
        snapshot.database,
        seconds(started)
    );
    if let Some(kept) = kept {
        say!(
            "the previous {} is snapshot {}",
            snapshot.database,
            kept.tag
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What differs between when `snapshot` was taken and now: the server's version, the
/// repos' revisions.
fn differences(
    snapshot: &Snapshot,
    server: &dyn Server,
    revisions: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    let version = server.version()?;
    if version != snapshot.version {
        notes.push(format!(
            "it was taken on {} {}; the server is {version} now",
            snapshot.engine, snapshot.version
        ));
    }
    for (repo, then) in &snapshot.revisions {
        match revisions.get(repo) {
            Some(now) if now != then => notes.push(format!(
                "it was taken with {repo} at {}; {repo} is at {} now",
                &then[..then.len().min(12)],
                &now[..now.len().min(12)]
            )),
            _ => {}
        }
    }
    Ok(notes)
}

fn reset(
    settings: &Settings,
    project: &ProjectDatabases,
    name: Option<&str>,
    yes: bool,
) -> anyhow::Result<ExitCode> {
    let (server, name) = project.target(name)?;
    let declared = project.loaded.project.wharf.databases.get(&name);
    let migrate = declared.and_then(|d| d.migrate.as_deref());
    let seed = declared.map_or(&[][..], |d| d.seed.as_slice());
    let tasks = &project.loaded.project.wharf.tasks;
    let problems = declared.map_or_else(Vec::new, |d| {
        crate::project_databases::declared_problems(&project.loaded, d)
    });
    if !problems.is_empty() {
        bail!("x-wharf.databases.{name}: {}", problems.join("; "));
    }
    let databases = project.databases(server.as_ref());
    let existing = match databases.size_of(&name) {
        Ok(size) => Some(size),
        Err(wharf_databases::DbError::NoDatabase { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    if existing.is_none() && !project.is_projects(&name, server.as_ref()) {
        bail!(
            "no database `{name}` on {}: reset makes only the project's databases (x-wharf.databases, or the image's); `wharf db create {name}` makes a new one",
            server.access().service
        );
    }
    let mut steps = Vec::new();
    if let Some(size) = existing {
        steps.push(format!(
            "drop {name} ({}), kept as an automatic snapshot (`wharf db restore --undo`)",
            human_size(size)
        ));
    }
    steps.push(format!("create {name} empty"));
    if let Some(task) = migrate {
        steps.push(format!("run task {task}"));
    }
    steps.extend(seed.iter().map(|s| format!("load {s}")));
    // Nothing to fill it with: said before and after, so an empty database is no
    // surprise.
    let stays_empty = migrate.is_none() && seed.is_empty();
    if stays_empty {
        steps.push(format!(
            "leave it empty: nothing fills it (x-wharf.databases.{name} can name a `migrate` task and `seed` files; an image's /docker-entrypoint-initdb.d scripts run only when a server's data is first made)"
        ));
    }
    if !yes
        && !confirm(
            &format!(
                "This resets database {name} on {}:",
                server.access().service
            ),
            &steps,
            "Reset it?",
            "nothing reset: there is no terminal to ask on; pass --yes to reset",
        )?
    {
        bail!("nothing reset");
    }
    let reset = databases.reset(&name)?;
    let undo = reset.kept.as_ref().map_or(String::new(), |k| {
        format!(
            " (the previous {name} is snapshot {}: `wharf db restore --undo`)",
            k.tag
        )
    });
    say!("created {name} empty{undo}");
    // A step that fails, or is interrupted, puts the previous database back: a reset
    // half filled is no database to work on.
    let back = if let Some(kept) = &reset.kept {
        // The snapshot named above is what comes back: it is a snapshot no more.
        format!(
            "{name} is put back as it was (snapshot {} is {name} again)",
            kept.tag
        )
    } else {
        format!("{name} is removed again")
    };
    let fill = || -> anyhow::Result<()> {
        for step in migrate.into_iter().chain(seed.iter().map(String::as_str)) {
            if tasks.contains_key(step) {
                let code = project_tasks::run_named(settings, step, &[]);
                wharf_databases::interrupt::take_held();
                if wharf_databases::interrupt::interrupted() {
                    bail!("interrupted while task {step} ran");
                }
                if code? != ExitCode::SUCCESS {
                    bail!("task {step} failed");
                }
            } else {
                read_dump(
                    Some(&project.loaded.project_dir.join(step)),
                    server.load(&name)?,
                    server.access().facts.engine,
                )
                .with_context(|| format!("loading {step} failed"))?;
            }
            say!(
                "{} {step}",
                if tasks.contains_key(step) {
                    "ran"
                } else {
                    "loaded"
                }
            );
        }
        Ok(())
    };
    if let Err(err) = fill() {
        databases.unfilled(reset)?;
        bail!("{err:#}; {back}");
    }
    databases.filled(reset);
    if stays_empty {
        say!(
            "reset {name}: it is empty, as nothing fills it (x-wharf.databases.{name} can name a `migrate` task and `seed` files)"
        );
    } else {
        say!("reset {name}");
    }
    Ok(ExitCode::SUCCESS)
}

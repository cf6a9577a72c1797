//! The repo commands: `checkout`, `update`, `revs`, `gitconfig`, `repos ls` and
//! `repos exec`, over the project's `x-wharf.repos` checked out under `wharf root`.

use std::process::ExitCode;
use std::sync::Mutex;

use serde_json::json;
use wharf_repos::{CheckoutOutcome, Progress, RepoSpec, UpdateOutcome};

use crate::cli::{ListFormat, ListFormatArgs, ReposArgs, ReposExecArgs, RevsArgs, UpdateArgs};
use crate::output::aligned_table;
use crate::printer::Printer;
use crate::project_repos::ProjectRepos;
use crate::settings::Settings;

pub fn checkout(settings: &Settings, args: &ReposArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectRepos::load(settings)?;
    let repos = project.select(&args.repos)?;
    let progress = LiveProgress::new(&settings.printer, &repos);
    let outcomes = wharf_repos::checkout(&project.set, &repos, &progress);
    let failed = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, CheckoutOutcome::Failed(_)))
        .count();
    let lines: Vec<(String, String)> = outcomes
        .into_iter()
        .map(|(name, outcome)| {
            let text = match outcome {
                CheckoutOutcome::Cloned => "cloned".to_owned(),
                CheckoutOutcome::Present => "present, left as it is".to_owned(),
                CheckoutOutcome::Failed(why) => format!("failed: {why}"),
            };
            (name, text)
        })
        .collect();
    progress.finish(&lines);
    Ok(exit_code(failed))
}

pub fn update(settings: &Settings, args: &UpdateArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectRepos::load(settings)?;
    let repos = project.select(&args.repos.repos)?;
    // Neither flag: both steps.
    let (pull, migrate) = (args.git || !args.migrations, args.migrations || !args.git);
    let mut failed = 0;
    if pull {
        let progress = LiveProgress::new(&settings.printer, &repos);
        let outcomes = wharf_repos::update(&repos, &progress);
        let lines: Vec<(String, String)> = outcomes
            .into_iter()
            .map(|(name, outcome)| {
                let text = match outcome {
                    UpdateOutcome::Updated { commits } => {
                        format!(
                            "updated ({commits} commit{})",
                            crate::output::plural(commits as usize)
                        )
                    }
                    UpdateOutcome::UpToDate => "up to date".to_owned(),
                    UpdateOutcome::Skipped(why) => format!("skipped: {why}"),
                    UpdateOutcome::Missing => "not checked out (wharf checkout)".to_owned(),
                    UpdateOutcome::Failed(why) => {
                        failed += 1;
                        format!("failed: {why}")
                    }
                };
                (name, text)
            })
            .collect();
        progress.finish(&lines);
    }
    if migrate {
        if repos.iter().any(|r| r.migrate.is_some()) {
            crate::project_databases::ProjectDatabases::load(settings, None)?
                .wait_for_running_servers()?;
        }
        for repo in &repos {
            let Some(task) = &repo.migrate else {
                continue;
            };
            settings
                .printer
                .info(&format!("{}: running task {task}", repo.name));
            let code = crate::project_tasks::run_named(settings, task, &[])?;
            if code != ExitCode::SUCCESS {
                failed += 1;
                settings
                    .printer
                    .warn(&format!("{}: task {task} failed", repo.name));
            }
        }
    }
    Ok(exit_code(failed))
}

pub fn revs(settings: &Settings, args: &RevsArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectRepos::load(settings)?;
    let repos = project.select(&args.repos.repos)?;
    let revisions = wharf_repos::revisions(&repos);
    if args.format.format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&revisions)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["REPO", "REVISION", "BRANCH", "UPSTREAM", "CHANGES"].map(str::to_owned)];
    for r in &revisions {
        if !r.present {
            rows.push([
                r.name.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "not checked out".into(),
            ]);
            continue;
        }
        if let Some(error) = &r.error {
            rows.push([
                r.name.clone(),
                "?".into(),
                "?".into(),
                "?".into(),
                error.clone(),
            ]);
            continue;
        }
        let commit = r
            .commit
            .as_deref()
            .map_or("(no commit)", |c| &c[..c.len().min(12)]);
        let upstream = match &r.upstream {
            None => "-".to_owned(),
            Some(name) if r.ahead == 0 && r.behind == 0 => format!("{name} (even)"),
            Some(name) => format!("{name} (+{} -{})", r.ahead, r.behind),
        };
        let changes = match (r.changed, r.untracked) {
            (0, 0) => "clean".to_owned(),
            (changed, 0) => format!("{changed} changed"),
            (0, untracked) => format!("{untracked} untracked"),
            (changed, untracked) => format!("{changed} changed, {untracked} untracked"),
        };
        rows.push([
            r.name.clone(),
            commit.to_owned(),
            r.branch.clone().unwrap_or_else(|| "(detached)".into()),
            upstream,
            changes,
        ]);
    }
    print!("{}", aligned_table(&rows));
    Ok(ExitCode::SUCCESS)
}

pub fn gitconfig(settings: &Settings, args: &RevsArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectRepos::load(settings)?;
    let repos = project.select(&args.repos.repos)?;
    let trees = wharf_repos::gitconfig(&repos);
    if args.format.format == ListFormat::Json {
        let rows: Vec<_> = trees
            .iter()
            .map(|t| {
                let remotes: serde_json::Map<String, serde_json::Value> = t
                    .remotes
                    .iter()
                    .map(|(name, url)| (name.clone(), json!(url)))
                    .collect();
                json!({
                    "name": t.name, "dir": t.dir, "present": t.present,
                    "user_name": t.user_name, "user_email": t.user_email,
                    "remotes": remotes, "error": t.error,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["REPO", "USER", "EMAIL", "REMOTES"].map(str::to_owned)];
    for t in &trees {
        let remotes = if t.present {
            t.error.clone().unwrap_or_else(|| {
                t.remotes
                    .iter()
                    .map(|(name, url)| format!("{name}={url}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
        } else {
            "not checked out".to_owned()
        };
        rows.push([
            t.name.clone(),
            t.user_name.clone().unwrap_or_else(|| "-".into()),
            t.user_email.clone().unwrap_or_else(|| "-".into()),
            remotes,
        ]);
    }
    print!("{}", aligned_table(&rows));
    Ok(ExitCode::SUCCESS)
}

pub fn list(settings: &Settings, args: &ListFormatArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectRepos::load(settings)?;
    if args.format == ListFormat::Json {
        println!("{}", serde_json::to_string_pretty(&project.set.repos)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = vec![["REPO", "URL", "DIRECTORY"].map(str::to_owned)];
    for r in &project.set.repos {
        rows.push([r.name.clone(), r.url.clone(), r.dir.display().to_string()]);
    }
    print!("{}", aligned_table(&rows));
    Ok(ExitCode::SUCCESS)
}

pub fn exec(settings: &Settings, args: &ReposExecArgs) -> anyhow::Result<ExitCode> {
    let project = ProjectRepos::load(settings)?;
    let repos = project.select(&args.repos)?;
    let mut failed = 0;
    for result in wharf_repos::run_each(&repos, &args.command) {
        let verdict = match (&result.error, result.code) {
            (Some(error), _) => format!("error: {error}"),
            (None, Some(0)) => "ok".to_owned(),
            (None, Some(code)) => format!("exit {code}"),
            (None, None) => "killed by a signal".to_owned(),
        };
        if verdict != "ok" {
            failed += 1;
        }
        println!("== {} ({verdict})", result.name);
        print!("{}", result.output);
        if !result.output.is_empty() && !result.output.ends_with('\n') {
            println!();
        }
    }
    Ok(exit_code(failed))
}

fn exit_code(failed: usize) -> ExitCode {
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Each repo's current step, redrawn in place on a terminal; the outcomes at the end,
/// one line per repo, wherever standard error goes.
struct LiveProgress<'a> {
    printer: &'a Printer,
    live: bool,
    /// Per repo (in order): name and current step; and how many lines are drawn.
    state: Mutex<(Vec<(String, String)>, usize)>,
}

impl<'a> LiveProgress<'a> {
    fn new(printer: &'a Printer, repos: &[RepoSpec]) -> Self {
        Self {
            printer,
            live: printer.is_interactive(),
            state: Mutex::new((
                repos
                    .iter()
                    .map(|r| (r.name.clone(), "waiting".to_owned()))
                    .collect(),
                0,
            )),
        }
    }

    fn lines(steps: &[(String, String)]) -> Vec<String> {
        let width = steps.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        steps
            .iter()
            .map(|(name, step)| format!("{name:<width$}  {}", with_bar(step)))
            .collect()
    }

    fn finish(&self, outcomes: &[(String, String)]) {
        let lines = Self::lines(outcomes);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.live {
            self.printer.redraw(state.1, &lines);
            state.1 = 0;
        } else {
            for line in lines {
                self.printer.info(&line);
            }
        }
    }
}

/// A git progress step (`Receiving objects:  45% (450/1000), 1.2 MiB | 3 MiB/s`) as a
/// bar and the phase; any other step as it is.
fn with_bar(step: &str) -> String {
    const WIDTH: usize = 24;
    let percent = step.split_once('%').and_then(|(before, _)| {
        let (phase, number) = before.rsplit_once(':')?;
        let phase = phase.strip_prefix("remote: ").unwrap_or(phase);
        Some((phase, number.trim().parse::<usize>().ok()?.min(100)))
    });
    let Some((phase, percent)) = percent else {
        return step.to_owned();
    };
    let filled = percent * WIDTH / 100;
    format!(
        "[{}{}] {percent:>3}% {}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        phase.to_lowercase()
    )
}

impl Progress for LiveProgress<'_> {
    fn update(&self, repo: &str, step: &str) {
        if !self.live {
            return;
        }
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = state.0.iter_mut().find(|(name, _)| name == repo) {
            step.clone_into(&mut entry.1);
        }
        let lines = Self::lines(&state.0);
        self.printer.redraw(state.1, &lines);
        state.1 = lines.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_progress_becomes_a_bar() {
        assert_eq!(
            with_bar("Receiving objects:  45% (450/1000), 1.20 MiB | 3.00 MiB/s"),
            "[##########--------------]  45% receiving objects"
        );
        assert_eq!(
            with_bar("Resolving deltas: 100% (7/7), done."),
            "[########################] 100% resolving deltas"
        );
        assert_eq!(
            with_bar("remote: Compressing objects:  50% (1/2)"),
            "[############------------]  50% compressing objects"
        );
        assert_eq!(with_bar("cloning"), "cloning");
        assert_eq!(
            with_bar("remote: Counting objects: 5, done."),
            "remote: Counting objects: 5, done."
        );
    }
}

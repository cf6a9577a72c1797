//! `wharf checkout`: clone the repos that are missing, leave the present ones alone,
//! create the empty directories.

use std::io::Read;
use std::process::Stdio;

use crate::git::{self, GitError};
use crate::parallel::{self, Progress};
use crate::repo_set::{RepoSet, RepoSpec};

#[derive(Debug, PartialEq, Eq)]
pub enum CheckoutOutcome {
    Cloned,
    /// Already checked out: not touched.
    Present,
    Failed(String),
}

/// Clones the missing ones among `repos` (in parallel) and creates `set`'s directories.
pub fn checkout(
    set: &RepoSet,
    repos: &[RepoSpec],
    progress: &dyn Progress,
) -> Vec<(String, CheckoutOutcome)> {
    let mut outcomes: Vec<(String, CheckoutOutcome)> = set
        .directories
        .iter()
        .filter_map(|dir| {
            std::fs::create_dir_all(dir).err().map(|err| {
                (
                    dir.display().to_string(),
                    CheckoutOutcome::Failed(format!("creating the directory: {err}")),
                )
            })
        })
        .collect();
    outcomes.extend(parallel::map(repos, |repo| {
        (repo.name.clone(), checkout_one(repo, progress))
    }));
    outcomes
}

fn checkout_one(repo: &RepoSpec, progress: &dyn Progress) -> CheckoutOutcome {
    if git::is_checkout(&repo.dir) {
        return CheckoutOutcome::Present;
    }
    // git clones into an empty directory only; anything else there is the user's.
    if std::fs::read_dir(&repo.dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return CheckoutOutcome::Failed(format!(
            "{} exists and is not a git checkout: move it away, or set the repo's path",
            repo.dir.display()
        ));
    }
    if let Some(parent) = repo.dir.parent()
        && let Err(err) = std::fs::create_dir_all(parent)
    {
        return CheckoutOutcome::Failed(format!("creating {}: {err}", parent.display()));
    }
    progress.update(&repo.name, "cloning");
    match clone(repo, progress) {
        Ok(()) => CheckoutOutcome::Cloned,
        Err(err) => CheckoutOutcome::Failed(err.to_string()),
    }
}

fn clone(repo: &RepoSpec, progress: &dyn Progress) -> Result<(), GitError> {
    let mut command = git::command(None);
    command.args(["clone", "--progress"]);
    if let Some(branch) = &repo.branch {
        command.args(["--branch", branch]);
    }
    command
        .args(&repo.clone_options)
        .arg("--")
        .arg(&repo.url)
        .arg(&repo.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(git::spawn_error)?;
    let mut said = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stderr.read(&mut buffer) {
            if read == 0 {
                break;
            }
            said.push_str(&String::from_utf8_lossy(&buffer[..read]));
            // git redraws its progress with carriage returns: show the latest step.
            if let Some(step) = said
                .split(['\r', '\n'])
                .rev()
                .find(|step| !step.trim().is_empty())
            {
                progress.update(&repo.name, step.trim());
            }
        }
    }
    let status = child.wait().map_err(GitError::Io)?;
    if status.success() {
        Ok(())
    } else {
        Err(GitError::Failed {
            args: format!("clone {}", repo.url),
            message: git::last_words(&said),
        })
    }
}

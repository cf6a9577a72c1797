//! `wharf update`: bring each checkout up to its upstream, fast-forward only. A tree
//! with uncommitted changes, or a branch that has diverged, is skipped and said so:
//! nothing of the user's is ever overwritten or merged.

use crate::git::{self, GitError};
use crate::parallel::{self, Progress};
use crate::repo_set::RepoSpec;

#[derive(Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Fast-forwarded by `commits` commits.
    Updated {
        commits: u32,
    },
    UpToDate,
    /// Left as it was, and why.
    Skipped(String),
    /// Not checked out yet.
    Missing,
    Failed(String),
}

pub fn update(repos: &[RepoSpec], progress: &dyn Progress) -> Vec<(String, UpdateOutcome)> {
    parallel::map(repos, |repo| {
        let outcome =
            update_one(repo, progress).unwrap_or_else(|err| UpdateOutcome::Failed(err.to_string()));
        (repo.name.clone(), outcome)
    })
}

fn update_one(repo: &RepoSpec, progress: &dyn Progress) -> Result<UpdateOutcome, GitError> {
    if !git::is_checkout(&repo.dir) {
        return Ok(UpdateOutcome::Missing);
    }
    let dir = repo.dir.as_path();
    let Ok(upstream) = git::run(
        dir,
        &[
            "rev-parse",
            "--abbrev-ref",
            "--symbolic-full-name",
            "@{upstream}",
        ],
    ) else {
        return Ok(UpdateOutcome::Skipped(
            "the current branch tracks no upstream (detached, or a local branch)".to_owned(),
        ));
    };
    let upstream = upstream.trim().to_owned();
    // Fetched whatever the tree holds: fetching touches no file of the user's, and
    // `revs` then shows how far behind a skipped checkout is.
    progress.update(&repo.name, "fetching");
    git::run(dir, &["fetch", "--quiet"])?;
    let counts = git::run(
        dir,
        &["rev-list", "--left-right", "--count", "HEAD...@{upstream}"],
    )?;
    let mut numbers = counts
        .split_whitespace()
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (ahead, behind) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    let changes = git::run(dir, &["status", "--porcelain", "--untracked-files=no"])?;
    if !changes.trim().is_empty() {
        let count = changes.lines().count();
        let behind = if behind > 0 {
            format!(" ({behind} behind {upstream})")
        } else {
            String::new()
        };
        return Ok(UpdateOutcome::Skipped(format!(
            "{count} uncommitted change{}{behind}: commit or stash, then update again",
            if count == 1 { "" } else { "s" }
        )));
    }
    if behind == 0 {
        return Ok(UpdateOutcome::UpToDate);
    }
    if ahead > 0 {
        return Ok(UpdateOutcome::Skipped(format!(
            "diverged from {upstream} ({ahead} ahead, {behind} behind): merge or rebase it yourself"
        )));
    }
    progress.update(&repo.name, "fast-forwarding");
    git::run(dir, &["merge", "--ff-only", "--quiet", "@{upstream}"])?;
    Ok(UpdateOutcome::Updated { commits: behind })
}

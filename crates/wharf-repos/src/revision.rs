//! `wharf revs`: where each checkout stands — commit, branch, uncommitted changes,
//! ahead/behind its upstream as last fetched — without touching the network. One git
//! process per repo (`status --porcelain=v2 --branch` says it all), all at once.

use std::path::PathBuf;

use crate::git;
use crate::parallel;
use crate::repo_set::RepoSpec;

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Revision {
    pub name: String,
    pub dir: PathBuf,
    /// False when the repo is not checked out.
    pub present: bool,
    /// The full commit id; `None` on a branch with no commit yet.
    pub commit: Option<String>,
    /// `None` when detached.
    pub branch: Option<String>,
    pub upstream: Option<String>,
    pub ahead: u32,
    pub behind: u32,
    /// Tracked files changed, staged or not.
    pub changed: usize,
    pub untracked: usize,
    /// What went wrong reading it.
    pub error: Option<String>,
}

pub fn revisions(repos: &[RepoSpec]) -> Vec<Revision> {
    parallel::map(repos, |repo| {
        let mut revision = Revision {
            name: repo.name.clone(),
            dir: repo.dir.clone(),
            ..Revision::default()
        };
        if !git::is_checkout(&repo.dir) {
            return revision;
        }
        revision.present = true;
        match git::run(&repo.dir, &["status", "--porcelain=v2", "--branch"]) {
            Ok(status) => parse_status(&status, &mut revision),
            Err(err) => revision.error = Some(err.to_string()),
        }
        revision
    })
}

fn parse_status(status: &str, revision: &mut Revision) {
    for line in status.lines() {
        if let Some(header) = line.strip_prefix("# ") {
            let (key, value) = header.split_once(' ').unwrap_or((header, ""));
            match key {
                "branch.oid" if value != "(initial)" => revision.commit = Some(value.to_owned()),
                "branch.head" if value != "(detached)" => revision.branch = Some(value.to_owned()),
                "branch.upstream" => revision.upstream = Some(value.to_owned()),
                "branch.ab" => {
                    let mut counts = value
                        .split_whitespace()
                        .map(|n| n.trim_start_matches(['+', '-']).parse().unwrap_or(0));
                    revision.ahead = counts.next().unwrap_or(0);
                    revision.behind = counts.next().unwrap_or(0);
                }
                _ => {}
            }
        } else if line.starts_with("? ") {
            revision.untracked += 1;
        } else if !line.starts_with("! ") && !line.is_empty() {
            revision.changed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_v2_gives_commit_branch_distance_and_changes() {
        let status = "# branch.oid 1234abcd\n# branch.head main\n# branch.upstream origin/main\n# branch.ab +2 -3\n1 .M N... 100644 100644 100644 a b file.py\n? new.txt\n? other.txt\n";
        let mut revision = Revision::default();
        parse_status(status, &mut revision);
        assert_eq!(revision.commit.as_deref(), Some("1234abcd"));
        assert_eq!(revision.branch.as_deref(), Some("main"));
        assert_eq!(revision.upstream.as_deref(), Some("origin/main"));
        assert_eq!((revision.ahead, revision.behind), (2, 3));
        assert_eq!((revision.changed, revision.untracked), (1, 2));
    }

    #[test]
    fn detached_and_initial_are_no_branch_and_no_commit() {
        let mut revision = Revision::default();
        parse_status(
            "# branch.oid (initial)\n# branch.head (detached)\n",
            &mut revision,
        );
        assert_eq!((revision.commit, revision.branch), (None, None));
    }
}

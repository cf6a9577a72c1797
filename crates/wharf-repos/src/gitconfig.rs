//! `wharf gitconfig`: who each checkout commits as, and where its remotes point — the
//! settings that go wrong when a tree was cloned on another machine or as someone else.

use std::path::PathBuf;

use crate::git::{self, GitError};
use crate::parallel;
use crate::repo_set::RepoSpec;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeConfig {
    pub name: String,
    pub dir: PathBuf,
    pub present: bool,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
    /// Remote name and URL, in git's order.
    pub remotes: Vec<(String, String)>,
    pub error: Option<String>,
}

pub fn gitconfig(repos: &[RepoSpec]) -> Vec<TreeConfig> {
    parallel::map(repos, |repo| {
        let mut tree = TreeConfig {
            name: repo.name.clone(),
            dir: repo.dir.clone(),
            present: git::is_checkout(&repo.dir),
            ..TreeConfig::default()
        };
        if tree.present {
            match read(repo) {
                Ok(config) => parse(&config, &mut tree),
                Err(err) => tree.error = Some(err.to_string()),
            }
        }
        tree
    })
}

/// The effective values (this tree's, else the user's global ones) in one call.
fn read(repo: &RepoSpec) -> Result<String, GitError> {
    match git::run(
        &repo.dir,
        &[
            "config",
            "--get-regexp",
            r"^(user\.name|user\.email|remote\..*\.url)$",
        ],
    ) {
        // Exit status 1: none of them is set.
        Err(GitError::Failed { message, .. }) if message.is_empty() => Ok(String::new()),
        other => other,
    }
}

fn parse(config: &str, tree: &mut TreeConfig) {
    for line in config.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "user.name" => tree.user_name = Some(value.to_owned()),
            "user.email" => tree.user_email = Some(value.to_owned()),
            _ => {
                if let Some(remote) = key
                    .strip_prefix("remote.")
                    .and_then(|rest| rest.strip_suffix(".url"))
                {
                    tree.remotes.push((remote.to_owned(), value.to_owned()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_value_wins_and_remotes_keep_their_names() {
        let mut tree = super::TreeConfig::default();
        super::parse(
            "user.name Global Name\nuser.email g@example.org\nuser.name Local Name\nremote.origin.url /srv/a.git\nremote.my.fork.url /srv/b.git\n",
            &mut tree,
        );
        assert_eq!(tree.user_name.as_deref(), Some("Local Name"));
        assert_eq!(
            tree.remotes[1],
            ("my.fork".to_owned(), "/srv/b.git".to_owned())
        );
    }
}

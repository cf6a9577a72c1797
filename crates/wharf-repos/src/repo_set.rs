//! The project's repos resolved for this user: `{user}` filled in, paths made absolute
//! under the checkout root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use wharf_model::x_wharf::Repo;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RepoSpec {
    pub name: String,
    pub url: String,
    pub dir: PathBuf,
    pub branch: Option<String>,
    pub clone_options: Vec<String>,
    /// The task to run after an update.
    pub migrate: Option<String>,
}

/// Every repo of a project, and the directories to create empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoSet {
    pub repos: Vec<RepoSpec>,
    pub directories: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("repo `{repo}`: its url uses {{user}}, and no user is set")]
    NoUser { repo: String },
    #[error("repo `{repo}`: path `{path}` leaves the checkout root")]
    OutsideRoot { repo: String, path: String },
}

impl RepoSet {
    /// Resolves `repos` under `root` for `user` (`wharf whoami`, else the manifest's
    /// owner).
    pub fn resolve(
        repos: &BTreeMap<String, Repo>,
        directories: &[String],
        root: &Path,
        user: Option<&str>,
    ) -> Result<Self, ResolveError> {
        let mut resolved = Vec::with_capacity(repos.len());
        for (name, repo) in repos {
            let url = if repo.url.contains("{user}") {
                let user = user.ok_or_else(|| ResolveError::NoUser { repo: name.clone() })?;
                repo.url.replace("{user}", user)
            } else {
                repo.url.clone()
            };
            let path = repo.path.as_deref().unwrap_or(name);
            resolved.push(RepoSpec {
                name: name.clone(),
                url,
                dir: under_root(root, path).ok_or_else(|| ResolveError::OutsideRoot {
                    repo: name.clone(),
                    path: path.to_owned(),
                })?,
                branch: repo.branch.clone(),
                clone_options: repo.clone_options.clone(),
                migrate: repo.migrate.clone(),
            });
        }
        let directories = directories
            .iter()
            .map(|path| {
                under_root(root, path).ok_or_else(|| ResolveError::OutsideRoot {
                    repo: "directories".to_owned(),
                    path: path.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            repos: resolved,
            directories,
        })
    }

    /// The repos named in `names`, or all when it is empty; an unknown name is returned.
    pub fn select(&self, names: &[String]) -> Result<Vec<RepoSpec>, String> {
        if names.is_empty() {
            return Ok(self.repos.clone());
        }
        names
            .iter()
            .map(|name| {
                self.repos
                    .iter()
                    .find(|repo| &repo.name == name)
                    .cloned()
                    .ok_or_else(|| name.clone())
            })
            .collect()
    }
}

/// `path` under `root`, unless it is absolute or climbs out with `..`.
fn under_root(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    let climbs = relative.components().any(|part| {
        !matches!(
            part,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    (!climbs).then(|| root.join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(url: &str, path: Option<&str>) -> Repo {
        Repo {
            url: url.to_owned(),
            path: path.map(str::to_owned),
            ..Repo::default()
        }
    }

    #[test]
    fn user_fills_the_url_and_paths_sit_under_the_root() {
        let repos = BTreeMap::from([
            (
                "api".to_owned(),
                repo("https://git.example/{user}/api.git", None),
            ),
            ("web".to_owned(), repo("/srv/web.git", Some("trees/web"))),
        ]);
        let set = RepoSet::resolve(
            &repos,
            &["media".to_owned()],
            Path::new("/src"),
            Some("ann"),
        )
        .unwrap();
        assert_eq!(set.repos[0].url, "https://git.example/ann/api.git");
        assert_eq!(set.repos[0].dir, Path::new("/src/api"));
        assert_eq!(set.repos[1].dir, Path::new("/src/trees/web"));
        assert_eq!(set.directories, [PathBuf::from("/src/media")]);
    }

    #[test]
    fn a_user_template_without_a_user_and_escaping_paths_are_refused() {
        let repos = BTreeMap::from([("api".to_owned(), repo("{user}/api", None))]);
        let err = RepoSet::resolve(&repos, &[], Path::new("/src"), None).unwrap_err();
        assert!(err.to_string().contains("no user is set"), "{err}");
        let repos = BTreeMap::from([("api".to_owned(), repo("/x", Some("../elsewhere")))]);
        let err = RepoSet::resolve(&repos, &[], Path::new("/src"), None).unwrap_err();
        assert!(
            err.to_string().contains("leaves the checkout root"),
            "{err}"
        );
    }
}

//! The project's repositories for this user: `x-wharf.repos` placed under `wharf root`
//! (else the project directory) and named with `wharf whoami`.

use anyhow::bail;
use wharf_repos::{RepoSet, RepoSpec};

use crate::settings::Settings;

/// The project's repos for this user: under `wharf root`, else the project directory.
pub struct ProjectRepos {
    pub set: RepoSet,
}

impl ProjectRepos {
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        Self::of(&crate::project_ref::load(settings)?, settings)
    }

    pub fn of(loaded: &wharf_manifest::Loaded, settings: &Settings) -> anyhow::Result<Self> {
        let own = settings.user()?;
        let root = own.root().unwrap_or_else(|| loaded.project_dir.clone());
        let wharf = &loaded.project.wharf;
        let user = own.user().or(wharf.owner.as_deref());
        let set = RepoSet::resolve(&wharf.repos, &wharf.directories, &root, user)
            .map_err(|err| anyhow::anyhow!("{err}\nhint: wharf whoami NAME"))?;
        Ok(Self { set })
    }

    /// The repos `names` picks (all when empty), or an error naming the unknown one.
    pub fn select(&self, names: &[String]) -> anyhow::Result<Vec<RepoSpec>> {
        if self.set.repos.is_empty() {
            bail!("the project has no repos (x-wharf.repos)");
        }
        self.set.select(names).map_err(|unknown| {
            let known: Vec<&str> = self.set.repos.iter().map(|r| r.name.as_str()).collect();
            anyhow::anyhow!(
                "no repo `{unknown}` (the project has: {})",
                known.join(", ")
            )
        })
    }
}

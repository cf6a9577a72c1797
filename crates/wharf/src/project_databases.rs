//! The project's database servers as `wharf db` and `wharf update --migrations` reach
//! them: the services a database recipe runs, with the superuser's password from the
//! service's environment, the snapshots' store, and which server and database a
//! command means.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::bail;
use wharf_api::{InstanceState, InstanceStatus};
use wharf_databases::{
    Databases, DumpFormat, Place, RepoRevisions, Server, ServerAccess, SnapshotStore,
};
use wharf_manifest::Loaded;
use wharf_model::x_wharf::DatabaseSettings;
use wharf_runtime::recipes::{self, Credentials};

use crate::project_ref;
use crate::settings::Settings;

/// How long a command waits for a server that is starting to accept connections.
const ACCEPT_TIMEOUT: Duration = Duration::from_mins(1);

/// The project, its database servers, and where its snapshots are kept.
pub struct ProjectDatabases {
    pub loaded: Loaded,
    pub servers: BTreeMap<String, ServerAccess>,
    /// `--service`.
    pub chosen: Option<String>,
    pub store: SnapshotStore,
    /// The project's checkouts, and their commits once asked for.
    repos: Vec<wharf_repos::RepoSpec>,
    revisions: OnceLock<BTreeMap<String, String>>,
    /// What wharfd runs of the project (none when it does not run).
    instances: Vec<InstanceStatus>,
}

impl RepoRevisions for ProjectDatabases {
    fn revisions(&self) -> BTreeMap<String, String> {
        self.revisions
            .get_or_init(|| {
                wharf_repos::revisions(&self.repos)
                    .into_iter()
                    .filter_map(|r| Some((r.name, r.commit?)))
                    .collect()
            })
            .clone()
    }
}

/// The project's database servers: in a container when wharfd runs the service in
/// one, else on this machine when a recipe runs it, else where the image puts it.
fn servers(
    loaded: &Loaded,
    volumes: &std::path::Path,
    instances: &[InstanceStatus],
) -> BTreeMap<String, ServerAccess> {
    let native = wharf_runtime::databases(loaded, volumes);
    let in_container = |service: &str| {
        instances
            .iter()
            .any(|i| i.service == service && !i.container_id.is_empty())
    };
    let wharf = std::env::current_exe().unwrap_or_else(|_| "wharf".into());
    loaded
        .project
        .services
        .iter()
        .filter_map(|(name, service)| {
            let (facts, place) = match native.get(name) {
                Some(facts) if !in_container(name) => (facts.clone(), Place::Host),
                _ => (
                    recipes::of_image(service)?,
                    Place::Container {
                        wharf: wharf.clone(),
                        project: loaded.project.name.clone(),
                    },
                ),
            };
            let password = match &facts.credentials {
                Credentials::Variable(variable) => {
                    service.environment.get(variable).cloned().flatten()
                }
                Credentials::NotNeeded => None,
            };
            let access = ServerAccess {
                service: name.clone(),
                facts,
                password,
                place,
            };
            Some((name.clone(), access))
        })
        .collect()
}

impl ProjectDatabases {
    pub fn load(settings: &Settings, chosen: Option<&str>) -> anyhow::Result<Self> {
        let loaded = project_ref::load_named(settings)?;
        let data = settings.paths.project_data(&loaded.project.name);
        // Started when it is not running, as every command does: it brings back what
        // was up, so a server wharfd ran is not taken for one that is down.
        let instances = crate::daemon_client::connect(&settings.paths)
            .ok()
            .and_then(|client| project_ref::instances(&client, &loaded.project.name).ok())
            .unwrap_or_default();
        let servers = servers(&loaded, &data.join("volumes"), &instances);
        let repos = crate::project_repos::ProjectRepos::of(&loaded, settings)
            .map(|repos| repos.set.repos)
            .unwrap_or_default();
        Ok(Self {
            store: SnapshotStore::new(&data),
            loaded,
            servers,
            chosen: chosen.map(str::to_owned),
            repos,
            revisions: OnceLock::new(),
            instances,
        })
    }

    pub fn databases<'a>(&'a self, server: &'a dyn Server) -> Databases<'a> {
        Databases {
            server,
            store: &self.store,
            revisions: self,
            now_ms: wharf_api::now_ms(),
        }
    }

    /// The server of database `name` (`--service`, else the one `x-wharf.databases`
    /// names, else the project's only one), once it accepts connections.
    pub fn server_for(&self, name: Option<&str>) -> anyhow::Result<Box<dyn Server>> {
        let named = name
            .and_then(|n| self.loaded.project.wharf.databases.get(n))
            .and_then(|d| d.service.as_deref());
        if let (Some(name), Some(service)) = (name, named)
            && !self.servers.contains_key(service)
        {
            bail!(
                "x-wharf.databases.{name}.service: `{service}` runs no database server wharf knows (the project's: {})",
                join(&self.servers.keys().collect::<Vec<_>>())
            );
        }
        let service = match (self.chosen.as_deref(), named) {
            (Some(service), _) | (None, Some(service)) => service.to_owned(),
            (None, None) => match self.servers.keys().collect::<Vec<_>>().as_slice() {
                [only] => (*only).clone(),
                [] => bail!(
                    "the project runs no database server wharf knows: a service with a postgres, mariadb or mysql image"
                ),
                several => match name {
                    Some(name) if self.loaded.project.wharf.databases.contains_key(name) => bail!(
                        "x-wharf.databases.{name} names no service, and the project has several database servers ({}): set its service, or pick one with --service",
                        join(several)
                    ),
                    // A database only one of them has is that one's.
                    Some(name) => {
                        let holding = self.holding(several, name);
                        match holding.as_slice() {
                            [one] => (*one).clone(),
                            [] => bail!(
                                "the project has several database servers ({}), and none has a database {name}: pick one with --service",
                                join(several)
                            ),
                            _ => bail!(
                                "several of the project's database servers have a database {name} ({}): pick one with --service",
                                join(&holding)
                            ),
                        }
                    }
                    None => bail!(
                        "the project has several database servers ({}): pick one with --service",
                        join(several)
                    ),
                },
            },
        };
        self.server(&service)
    }

    /// Which of `services` have a database `name` (a server that does not answer has
    /// none).
    fn holding<'a>(&self, services: &[&'a String], name: &str) -> Vec<&'a String> {
        services
            .iter()
            .copied()
            .filter(|service| {
                self.server(service)
                    .and_then(|server| Ok(server.databases()?))
                    .is_ok_and(|databases| databases.iter().any(|(n, _)| n == name))
            })
            .collect()
    }

    pub fn server(&self, service: &str) -> anyhow::Result<Box<dyn Server>> {
        if !self.loaded.project.services.contains_key(service)
            && !self.loaded.disabled.contains(service)
        {
            bail!("no such service: {service}");
        }
        let Some(access) = self.servers.get(service) else {
            bail!(
                "`{service}` runs no database server wharf knows (the project's: {})",
                if self.servers.is_empty() {
                    "none".to_owned()
                } else {
                    join(&self.servers.keys().collect::<Vec<_>>())
                }
            );
        };
        let server = wharf_databases::connect(access.clone());
        // A paused server would take the connection and never answer.
        if self
            .instances
            .iter()
            .any(|i| i.service == service && i.paused)
        {
            bail!("{service} is paused: `wharf unpause {service}` lets it answer");
        }
        // One that is not up fails at once; one that is starting gets time.
        if !self.is_up(service) {
            // An instance that ended says more than a refused connection would.
            if let Some(ended) = self.instances.iter().find(|i| {
                i.service == service
                    && matches!(i.state, InstanceState::Exited | InstanceState::Stopped)
            }) {
                // In `ps`'s words.
                bail!(
                    "{service} is not running ({}): `wharf up -d {service}` starts it",
                    crate::status_text::status_text(ended, wharf_api::now_ms())
                );
            }
            bail!("{service} is not running: `wharf up -d {service}` starts it");
        }
        if let Err(err) = server.wait_until_accepting(ACCEPT_TIMEOUT) {
            let said = err.to_string();
            if said.contains("Access denied") || said.contains("password authentication failed") {
                bail!(
                    "{said}\nhint: a server keeps the password its data was first made with, as the images do, and a later change to the service's password variable does not reach it: put the first one back (and change it with ALTER USER in `wharf db shell` before changing the file), or start over with `wharf down -v`, which deletes the data"
                );
            }
            return Err(err.into());
        }
        self.databases(server.as_ref()).undo_abandoned_copies()?;
        Ok(server)
    }

    /// Whether wharfd runs `service` (or is starting it), not on its way down.
    pub fn is_up(&self, service: &str) -> bool {
        self.instances.iter().any(|i| {
            i.service == service && i.state.is_active() && i.state != InstanceState::Stopping
        })
    }

    /// Waits until every server wharfd runs accepts connections (before migrations:
    /// no wait loop in anyone's entrypoint).
    pub fn wait_for_running_servers(&self) -> anyhow::Result<()> {
        for service in self.servers.keys() {
            if self.is_up(service) {
                self.server(service)?;
            }
        }
        Ok(())
    }

    /// `name`, else the server's database: the one `x-wharf.databases` puts there, or
    /// the one its image creates.
    pub fn database(&self, name: Option<&str>, server: &dyn Server) -> anyhow::Result<String> {
        if let Some(name) = name {
            return Ok(name.to_owned());
        }
        let service = &server.access().service;
        let only = self.servers.len() == 1;
        let declared: Vec<&String> = self
            .loaded
            .project
            .wharf
            .databases
            .iter()
            .filter(|(_, d)| d.service.as_ref().map_or(only, |s| s == service))
            .map(|(name, _)| name)
            .collect();
        match declared.as_slice() {
            [one] => Ok((*one).clone()),
            [] if !server.access().facts.database.is_empty() => {
                Ok(server.access().facts.database.clone())
            }
            [] => bail!("{service} has no database of the project's: name one"),
            several => bail!(
                "{service} has several of the project's databases ({}): name one",
                join(several)
            ),
        }
    }

    /// The server and database a command without `--service` means by `name`.
    pub fn target(&self, name: Option<&str>) -> anyhow::Result<(Box<dyn Server>, String)> {
        // Without a name, the project's only declared database, wherever it is (unless
        // --service points at another server).
        let declared = &self.loaded.project.wharf.databases;
        let only_declared = match declared.iter().collect::<Vec<_>>().as_slice() {
            [(only, settings)]
                if self.chosen.is_none()
                    || settings.service.is_none()
                    || settings.service == self.chosen =>
            {
                Some(only.as_str())
            }
            _ => None,
        };
        let name = name.or(only_declared);
        let server = self.server_for(name)?;
        let name = self.database(name, server.as_ref())?;
        Ok((server, name))
    }

    /// Whether `reset` may create `name`: one of the project's databases (declared,
    /// or the one the image creates), not a typo.
    pub fn is_projects(&self, name: &str, server: &dyn Server) -> bool {
        self.loaded.project.wharf.databases.contains_key(name)
            || server.access().facts.database == name
    }
}

/// What is wrong with a database `x-wharf.databases` declares, each thing once: the
/// service it names, its migrate task, each of its seeds; empty when nothing is.
pub fn declared_problems(loaded: &Loaded, declared: &DatabaseSettings) -> Vec<String> {
    let project = &loaded.project;
    let mut problems = Vec::new();
    if let Some(service) = &declared.service {
        match project.services.get(service) {
            None => problems.push(format!("service `{service}` is not in the file")),
            Some(found) if recipes::of_image(found).is_none() => {
                problems.push(format!(
                    "`{service}` runs no postgres, mariadb or mysql image"
                ));
            }
            Some(_) => {}
        }
    }
    let task = |name: &str| project.wharf.tasks.contains_key(name);
    if let Some(migrate) = &declared.migrate
        && !task(migrate)
    {
        problems.push(format!(
            "its migrate task `{migrate}` is not in x-wharf.tasks"
        ));
    }
    problems.extend(
        declared
            .seed
            .iter()
            .filter(|seed| !task(seed))
            .filter_map(|seed| {
                if loaded.project_dir.join(seed).is_file() {
                    DumpFormat::of_path(Path::new(seed))
                        .err()
                        .map(|err| format!("its seed: {err}"))
                } else {
                    Some(format!("its seed `{seed}` is neither a task nor a file"))
                }
            }),
    );
    problems
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

//! The projects the engine has containers of, as Compose's `ls` lists them: by the
//! `com.docker.compose.project` label, so another tool's (Compose's own) are there too.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use wharf_api::ProjectSummary;

use crate::{Engine, EngineError};

const PROJECT: &str = "com.docker.compose.project";
const CONFIG_FILES: &str = "com.docker.compose.project.config_files";

impl Engine {
    /// Each project with a container (a running one, unless `all`), its containers
    /// counted by state (`exited(1), running(2)`, states in order, as Compose counts
    /// them) and the files its containers' labels name.
    pub async fn compose_projects(&self, all: bool) -> Result<Vec<ProjectSummary>, EngineError> {
        let options = bollard::query_parameters::ListContainersOptions {
            all,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![PROJECT.to_owned()],
            )])),
            ..Default::default()
        };
        let containers = self.docker.list_containers(Some(options)).await?;
        let mut projects: BTreeMap<String, (BTreeMap<String, usize>, Vec<PathBuf>)> =
            BTreeMap::new();
        for container in containers {
            let labels = container.labels.unwrap_or_default();
            let Some(name) = labels.get(PROJECT) else {
                continue;
            };
            let (states, files) = projects.entry(name.clone()).or_default();
            let state = container
                .state
                .map_or_else(|| "unknown".to_owned(), |state| state.as_ref().to_owned());
            *states.entry(state).or_default() += 1;
            // Every file any container names, once, in the order first seen: a
            // service brought up later with another `-f` adds its file.
            for file in labels
                .get(CONFIG_FILES)
                .into_iter()
                .flat_map(|named| named.split(','))
            {
                let file = PathBuf::from(file);
                if !files.contains(&file) {
                    files.push(file);
                }
            }
        }
        Ok(projects
            .into_iter()
            .map(|(name, (states, config_files))| ProjectSummary {
                name,
                status: states
                    .iter()
                    .map(|(state, count)| format!("{state}({count})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                config_files,
            })
            .collect())
    }
}

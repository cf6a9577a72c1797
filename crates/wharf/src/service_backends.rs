//! Where each service runs, for every command that starts one or reaches it: the
//! choice (`--backend`, else `WHARF_BACKEND`), and under `auto`, where the project
//! that runs already runs it, so a one-off, a task or a shell goes where its service
//! is and an `up` does not move a running service between backends.

use std::collections::BTreeSet;

use wharf_manifest::Loaded;
use wharf_runtime::BackendChoice;

use crate::project_ref::endpoint;
use crate::settings::Settings;

/// The services that run as containers.
pub fn containers(settings: &Settings, loaded: &Loaded, choice: BackendChoice) -> BTreeSet<String> {
    let mut containers = wharf_runtime::backend::containers(loaded, choice);
    if choice == BackendChoice::Auto {
        keep_running_backends(settings, loaded, &mut containers);
    }
    containers
}

fn keep_running_backends(settings: &Settings, loaded: &Loaded, containers: &mut BTreeSet<String>) {
    // Asked of a daemon already running (none: nothing runs), in one request.
    let Ok(running) = wharf_api::Client::new(settings.paths.socket())
        .get::<wharf_plan::ProjectSpec>(&endpoint(&loaded.project.name, "spec"))
    else {
        return;
    };
    for (name, spec) in running.services {
        let Some(service) = loaded.project.services.get(&name) else {
            continue;
        };
        if service.wharf.backend != wharf_model::x_wharf::Backend::Auto {
            continue;
        }
        if spec.container.is_some() {
            containers.insert(name);
        } else {
            containers.remove(&name);
        }
    }
}

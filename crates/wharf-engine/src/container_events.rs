//! The engine's news of Compose-labelled containers (started, died, paused, health
//! changed, destroyed…), so a watcher learns of a change made outside wharf (`docker
//! kill`, the restart policy) as it happens rather than at its next look.

use std::collections::HashMap;

use futures_util::{Stream, StreamExt};

use crate::engine::{Engine, EngineError};

impl Engine {
    /// The id of each container of any Compose project, once per change the engine
    /// reports of it, until the connection ends.
    pub fn container_changes(&self) -> impl Stream<Item = Result<String, EngineError>> + use<> {
        let options = bollard::query_parameters::EventsOptions {
            filters: Some(HashMap::from([
                ("type".to_owned(), vec!["container".to_owned()]),
                (
                    "label".to_owned(),
                    vec!["com.docker.compose.project".to_owned()],
                ),
            ])),
            ..Default::default()
        };
        self.docker.events(Some(options)).filter_map(|event| {
            std::future::ready(match event {
                Ok(event) => event.actor.and_then(|actor| actor.id).map(Ok),
                Err(err) => Some(Err(err.into())),
            })
        })
    }
}

//! What `GET /v1/events` streams: every change of an instance, project or route,
//! numbered, stamped and sent to each subscriber as it happens. A subscriber that
//! falls too far behind misses events and is told so by the gap in `seq`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;
use wharf_api::{Change, Event, now_ms, utc_text};

/// Events kept for a subscriber that is momentarily behind.
const BACKLOG: usize = 4096;

pub struct EventBus {
    sender: broadcast::Sender<Event>,
    seq: AtomicU64,
    /// Each project's URLs as last announced, so only changes are sent.
    urls: Mutex<BTreeMap<String, Vec<String>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
            seq: AtomicU64::new(0),
            urls: Mutex::default(),
        }
    }
}

impl EventBus {
    /// Whether anyone follows the stream: what only an event needs is skipped when not.
    pub fn heard(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub fn emit(&self, project: &str, change: Change) {
        if !self.heard() {
            return;
        }
        let _ = self.sender.send(Event {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            time: utc_text(now_ms()),
            project: project.to_owned(),
            change,
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Announces a project's URLs when they differ from the last announced (to a
    /// subscriber: with none, the first change it hears may repeat them).
    pub fn routes(&self, project: &str, urls: Vec<String>) {
        let mut seen = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.get(project) == Some(&urls) {
            return;
        }
        seen.insert(project.to_owned(), urls.clone());
        drop(seen);
        self.emit(project, Change::Routes { urls });
    }

    /// Forgets a project's URLs (it went down).
    pub fn forget(&self, project: &str) {
        self.urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(project);
    }
}

/// The opening of a stream: each project's instances as they are now, then `live`.
pub fn snapshot(
    projects: Vec<(String, Vec<wharf_api::InstanceStatus>)>,
    project: Option<&str>,
) -> Vec<Event> {
    let time = utc_text(now_ms());
    let event = |project: &str, change| Event {
        seq: 0,
        time: time.clone(),
        project: project.to_owned(),
        change,
    };
    let mut events: Vec<Event> = projects
        .into_iter()
        .flat_map(|(name, instances)| {
            instances
                .into_iter()
                .map(|instance| {
                    event(
                        &name,
                        Change::Instance {
                            instance: Box::new(instance),
                        },
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    events.push(event(project.unwrap_or_default(), Change::Live));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(action: &str) -> Change {
        Change::Project {
            action: action.to_owned(),
            services: Vec::new(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn subscribers_get_numbered_events_and_unchanged_routes_are_not_repeated() {
        let bus = EventBus::default();
        bus.emit("unheard", project("up"));
        let mut events = bus.subscribe();
        bus.emit("shop", project("up"));
        bus.routes("shop", vec!["http://shop.localhost:7080".to_owned()]);
        bus.routes("shop", vec!["http://shop.localhost:7080".to_owned()]);
        bus.emit("shop", project("down"));
        let first = events.recv().await.unwrap();
        assert_eq!(first.seq, 1);
        assert_eq!(first.project, "shop");
        assert!(matches!(
            events.recv().await.unwrap().change,
            Change::Routes { .. }
        ));
        let third = events.recv().await.unwrap();
        assert_eq!(third.seq, 3, "the repeated routes were sent again");
        assert_eq!(third.change, project("down"));
    }
}

//! A project's instances as wharfd reports them, kept current by following
//! `GET /v1/events` instead of asking again and again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use crate::{Change, Client, ClientError, Event, InstanceStatus};

pub struct ProjectWatch {
    events: Receiver<Event>,
    instances: BTreeMap<(String, u32), InstanceStatus>,
    /// The project was taken down (`wharf down`) while watched.
    pub down: bool,
    /// Services `stop` or `kill` took out of what should run while watched
    /// (`all_stopped`: every one of them).
    stopped: BTreeSet<String>,
    all_stopped: bool,
    /// The stream ended: wharfd stopped.
    pub daemon_gone: bool,
}

impl ProjectWatch {
    /// Follows `project`, starting from its instances as they are now.
    pub fn open(client: &Client, project: &str) -> Result<Self, ClientError> {
        // Project names are `[a-z0-9_-]`, safe in a query.
        let stream =
            client.stream::<Event>(&format!("{}/events?project={project}", crate::API_PREFIX))?;
        let (sender, events) = channel();
        std::thread::spawn(move || {
            for event in stream.map_while(Result::ok) {
                if sender.send(event).is_err() {
                    return;
                }
            }
        });
        let mut watch = Self {
            events,
            instances: BTreeMap::new(),
            down: false,
            stopped: BTreeSet::new(),
            all_stopped: false,
            daemon_gone: false,
        };
        // The snapshot first, whole, so no instance is judged on half of it.
        loop {
            match watch.events.recv() {
                Ok(Event {
                    change: Change::Live,
                    ..
                }) => break,
                Ok(event) => watch.apply(event),
                Err(_) => {
                    watch.daemon_gone = true;
                    break;
                }
            }
        }
        Ok(watch)
    }

    /// Waits up to `timeout` for a change and applies it with any that follow at once;
    /// `false` when none came.
    pub fn next(&mut self, timeout: Duration) -> bool {
        match self.events.recv_timeout(timeout) {
            Ok(event) => self.apply(event),
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Disconnected) => {
                self.daemon_gone = true;
                return true;
            }
        }
        while let Ok(event) = self.events.try_recv() {
            self.apply(event);
        }
        true
    }

    /// Whether `service` was stopped on request (`stop`, `kill`) while watched, as
    /// against stopped on its way to being recreated.
    pub fn was_stopped(&self, service: &str) -> bool {
        self.all_stopped || self.stopped.contains(service)
    }

    /// The instances, ordered by service and replica.
    pub fn instances(&self) -> Vec<&InstanceStatus> {
        self.instances.values().collect()
    }

    fn apply(&mut self, event: Event) {
        match event.change {
            Change::Instance { instance } => {
                self.instances
                    .insert((instance.service.clone(), instance.replica), *instance);
            }
            Change::Removed {
                service, replica, ..
            } => {
                self.instances.remove(&(service, replica));
            }
            Change::Project { action, services } => match action.as_str() {
                "down" => self.down = true,
                "stop" | "kill" if services.is_empty() => self.all_stopped = true,
                "stop" | "kill" => self.stopped.extend(services),
                "start" | "up" if services.is_empty() => {
                    self.all_stopped = false;
                    self.stopped.clear();
                }
                "start" | "up" => {
                    for service in &services {
                        self.stopped.remove(service);
                    }
                }
                _ => {}
            },
            Change::Routes { .. } | Change::Live => {}
        }
    }
}

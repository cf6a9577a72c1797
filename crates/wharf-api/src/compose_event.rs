//! wharfd's events as `docker compose events --json` prints the engine's: one object a
//! line with `action` (`create`, `start`, `health_status: healthy`, `kill`, `die`,
//! `stop`, `pause`, `unpause`, `destroy`), `attributes`, `id`, `service`, `time` and
//! `type`, so a script written for Compose's stream reads wharf's. wharfd sends states,
//! not actions, so what happened is read from how each instance changed; the event as
//! wharfd sent it rides along under `wharf`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::wire::{Change, Event, Health, InstanceState, InstanceStatus};

/// How each instance was when last heard of.
#[derive(Default)]
pub struct ComposeEvents {
    seen: HashMap<String, Seen>,
    /// Each instance's service and id, by name: a project's `kill` is said for each
    /// of its running instances, as the engine says it for each container.
    who: BTreeMap<String, (String, String)>,
    /// Instances a `restart` reached: their next start is said as a restart too.
    restarting: std::collections::HashSet<String>,
}

#[derive(Clone, Copy)]
struct Seen {
    state: InstanceState,
    health: Health,
    paused: bool,
    pid: Option<u32>,
}

impl ComposeEvents {
    /// Takes in how things are (the opening snapshot), saying nothing.
    pub fn note(&mut self, event: &Event) {
        self.actions(event);
    }

    /// The lines Compose would print for `event`, in order (a stop is a `kill`, then a
    /// `die` and a `stop`); a project or routes event is one line of its own `type`.
    pub fn lines(&mut self, event: &Event) -> Vec<Value> {
        let wharf = serde_json::to_value(event).unwrap_or(Value::Null);
        match &event.change {
            Change::Instance { instance } => {
                let id = instance_id(instance);
                self.actions(event)
                    .into_iter()
                    .map(|action| {
                        let mut attributes = BTreeMap::from([("name", instance.name.clone())]);
                        if action == "die" {
                            let code = instance.exit_code.unwrap_or_default();
                            attributes.insert("exitCode", code.to_string());
                        }
                        line(
                            event,
                            "container",
                            action,
                            &id,
                            &instance.service,
                            &attributes,
                            &wharf,
                        )
                    })
                    .collect()
            }
            Change::Removed { service, name, .. } => {
                let attributes = BTreeMap::from([("name", name.clone())]);
                vec![line(
                    event,
                    "container",
                    "destroy",
                    name,
                    service,
                    &attributes,
                    &wharf,
                )]
            }
            Change::Project { action, services } => {
                if action == "restart" {
                    let reached = self.running_of(services);
                    self.restarting
                        .extend(reached.into_iter().map(|(name, _, _)| name));
                }
                // A signal that does not end a process changes no state: the kill is
                // said here, for each instance it reached.
                let killed = (action == "kill").then(|| self.running_of(services));
                killed
                    .into_iter()
                    .flatten()
                    .map(|(name, service, id)| {
                        let attributes = BTreeMap::from([("name", name)]);
                        line(
                            event,
                            "container",
                            "kill",
                            &id,
                            &service,
                            &attributes,
                            &wharf,
                        )
                    })
                    .chain([line(
                        event,
                        "project",
                        action,
                        &event.project,
                        "",
                        &BTreeMap::new(),
                        &wharf,
                    )])
                    .collect()
            }
            Change::Routes { .. } => {
                vec![line(
                    event,
                    "routes",
                    "update",
                    &event.project,
                    "",
                    &BTreeMap::new(),
                    &wharf,
                )]
            }
            Change::Live => Vec::new(),
        }
    }

    /// What happened to an instance between how it was and how `event` says it is.
    fn actions(&mut self, event: &Event) -> Vec<&'static str> {
        let instance = match &event.change {
            Change::Instance { instance } => instance,
            Change::Removed { name, .. } => {
                self.seen.remove(name);
                self.who.remove(name);
                return Vec::new();
            }
            _ => return Vec::new(),
        };
        let now = Seen {
            state: instance.state,
            health: instance.health,
            paused: instance.paused,
            pid: instance.pid,
        };
        let before = self.seen.insert(instance.name.clone(), now);
        self.who.insert(
            instance.name.clone(),
            (instance.service.clone(), instance_id(instance)),
        );
        let mut said = actions(before, now);
        // The engine says a restarted container's start, then its restart.
        if said.contains(&"start") && self.restarting.remove(&instance.name) {
            said.push("restart");
        }
        said
    }

    /// The running instances of `services` (all when empty): name, service and id.
    fn running_of(&self, services: &[String]) -> Vec<(String, String, String)> {
        self.who
            .iter()
            .filter(|(name, (service, _))| {
                (services.is_empty() || services.contains(service))
                    && self
                        .seen
                        .get(*name)
                        .is_some_and(|seen| seen.state == InstanceState::Running)
            })
            .map(|(name, (service, id))| (name.clone(), service.clone(), id.clone()))
            .collect()
    }
}

fn actions(before: Option<Seen>, now: Seen) -> Vec<&'static str> {
    use InstanceState::{CrashLoop, Created, Exited, Restarting, Running, Stopped, Stopping};
    let was = before.map(|b| b.state);
    let was_running = matches!(was, Some(Running | Stopping));
    let mut said = Vec::new();
    match now.state {
        Created if was.is_none() => said.push("create"),
        // A new process in a running instance is a restart (a container's first pid
        // comes after its start: not another start).
        Running
            if !was_running
                || before
                    .is_some_and(|b| b.pid.is_some() && now.pid.is_some() && b.pid != now.pid) =>
        {
            if was.is_none() {
                said.push("create");
            }
            said.push("start");
        }
        Stopping if was == Some(Running) => said.push("kill"),
        Exited | CrashLoop | Restarting if was_running => said.push("die"),
        Stopped if was_running => said.extend(["die", "stop"]),
        Stopped if matches!(was, Some(Exited | CrashLoop | Restarting)) => said.push("stop"),
        _ => {}
    }
    if let Some(before) = before {
        if now.paused != before.paused {
            said.push(if now.paused { "pause" } else { "unpause" });
        }
        if now.state == Running && now.health != before.health {
            match now.health {
                Health::Healthy => said.push("health_status: healthy"),
                Health::Unhealthy => said.push("health_status: unhealthy"),
                Health::None | Health::Starting => {}
            }
        }
    }
    said
}

/// The engine's id of a container; a native instance's name.
fn instance_id(instance: &InstanceStatus) -> String {
    if instance.container_id.is_empty() {
        instance.name.clone()
    } else {
        instance.container_id.clone()
    }
}

fn line(
    event: &Event,
    kind: &str,
    action: &str,
    id: &str,
    service: &str,
    attributes: &BTreeMap<&str, String>,
    wharf: &Value,
) -> Value {
    json!({
        "action": action,
        "attributes": attributes,
        "id": id,
        "service": service,
        "time": event.time,
        "type": kind,
        "wharf": wharf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(state: InstanceState, health: Health, pid: Option<u32>) -> Event {
        Event {
            seq: 1,
            time: "2026-12-02T10:00:00.000Z".to_owned(),
            project: "shop".to_owned(),
            change: Change::Instance {
                instance: Box::new(InstanceStatus {
                    state,
                    health,
                    pid,
                    exit_code: (state == InstanceState::Stopped).then_some(143),
                    ..InstanceStatus::new("web", 1, "shop-web-1".to_owned(), "process")
                }),
            },
        }
    }

    #[test]
    fn a_container_whose_pid_comes_after_its_start_started_once() {
        use InstanceState::{Running, Waiting};
        let mut events = ComposeEvents::default();
        events.note(&instance(Waiting, Health::None, None));
        let starts: usize = [
            instance(Running, Health::None, None),
            instance(Running, Health::None, Some(9)),
        ]
        .iter()
        .map(|event| events.lines(event).len())
        .sum();
        assert_eq!(starts, 1);
    }

    #[test]
    fn changes_of_state_read_as_the_engines_actions() {
        use InstanceState::{Running, Stopped, Stopping, Waiting};
        let mut events = ComposeEvents::default();
        events.note(&instance(Waiting, Health::None, None));
        let mut said = Vec::new();
        for event in [
            instance(Running, Health::Starting, Some(10)),
            instance(Running, Health::Healthy, Some(10)),
            instance(Running, Health::Healthy, Some(11)),
            instance(Stopping, Health::Healthy, Some(11)),
            instance(Stopped, Health::None, None),
        ] {
            for line in events.lines(&event) {
                said.push(format!(
                    "{} {} {}",
                    line["action"].as_str().unwrap(),
                    line["service"].as_str().unwrap(),
                    line["attributes"]
                ));
            }
        }
        assert_eq!(
            said,
            [
                "start web {\"name\":\"shop-web-1\"}",
                "health_status: healthy web {\"name\":\"shop-web-1\"}",
                "start web {\"name\":\"shop-web-1\"}",
                "kill web {\"name\":\"shop-web-1\"}",
                "die web {\"exitCode\":\"143\",\"name\":\"shop-web-1\"}",
                "stop web {\"name\":\"shop-web-1\"}",
            ]
        );
        let removed = Event {
            change: Change::Removed {
                service: "web".to_owned(),
                replica: 1,
                name: "shop-web-1".to_owned(),
            },
            ..instance(Stopped, Health::None, None)
        };
        let lines = events.lines(&removed);
        assert_eq!(lines[0]["action"], "destroy");
        assert_eq!(lines[0]["wharf"]["type"], "removed");
    }

    /// A `kill` is said for each running instance it reached, as the engine says it
    /// for each container, also when the signal leaves the process running.
    #[test]
    fn a_projects_kill_is_said_for_each_running_instance() {
        use InstanceState::{Running, Stopped};
        let mut events = ComposeEvents::default();
        events.note(&instance(Running, Health::None, Some(10)));
        let mut stopped = instance(Stopped, Health::None, None);
        if let Change::Instance { instance } = &mut stopped.change {
            instance.service = "db".to_owned();
            instance.name = "shop-db-1".to_owned();
        }
        events.note(&stopped);
        let kill = |services: &[&str]| Event {
            change: Change::Project {
                action: "kill".to_owned(),
                services: services.iter().map(|s| (*s).to_owned()).collect(),
            },
            ..instance(Running, Health::None, None)
        };
        let said = |lines: Vec<Value>| -> Vec<String> {
            lines
                .iter()
                .map(|l| format!("{} {} {}", l["type"], l["action"], l["service"]))
                .collect()
        };
        assert_eq!(
            said(events.lines(&kill(&[]))),
            [
                "\"container\" \"kill\" \"web\"",
                "\"project\" \"kill\" \"\""
            ]
        );
        assert_eq!(
            said(events.lines(&kill(&["db"]))),
            ["\"project\" \"kill\" \"\""]
        );
    }

    /// A restart is said as the engine says a container's: its stop, its start, and
    /// `restart`.
    #[test]
    fn a_restart_is_said_after_the_start_it_ends_with() {
        use InstanceState::{Running, Stopped, Stopping};
        let mut events = ComposeEvents::default();
        events.note(&instance(Running, Health::None, Some(10)));
        let restart = Event {
            change: Change::Project {
                action: "restart".to_owned(),
                services: Vec::new(),
            },
            ..instance(Running, Health::None, None)
        };
        let mut said: Vec<String> = Vec::new();
        for event in [
            restart,
            instance(Stopping, Health::None, Some(10)),
            instance(Stopped, Health::None, None),
            instance(Running, Health::None, Some(11)),
            instance(Running, Health::None, Some(12)),
        ] {
            said.extend(
                events
                    .lines(&event)
                    .iter()
                    .map(|l| l["action"].as_str().unwrap().to_owned()),
            );
        }
        assert_eq!(
            said,
            [
                "restart", "kill", "die", "stop", "start", "restart", "start"
            ]
        );
    }
}

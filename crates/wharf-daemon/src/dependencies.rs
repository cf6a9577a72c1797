//! Waiting for dependencies: each `depends_on` condition judged from the statuses of
//! the dependency's instances, re-judged on every change, until all are met or a
//! required one cannot be.

use tokio::sync::watch;
use wharf_api::{Health, InstanceState, LogStream};
use wharf_plan::{Condition, ServiceSpec};

use crate::lifecycle::{Command, InstanceKey};
use crate::shared::Shared;

/// Waits until every dependency meets its condition. `Err(Some(reason))` when a
/// required one cannot, `Err(None)` when asked to stop meanwhile.
pub async fn wait_for_dependencies(
    shared: &Shared,
    key: &InstanceKey,
    spec: &ServiceSpec,
    commands: &mut watch::Receiver<Command>,
) -> Result<(), Option<String>> {
    let mut changes = shared.subscribe_changes();
    let mut warned = false;
    loop {
        let mut pending = false;
        for (name, dependency) in &spec.depends_on {
            match check(shared, &key.project, name, dependency.condition) {
                Check::Met => {}
                Check::Pending => pending = true,
                Check::Failed(reason) if dependency.required => {
                    return Err(Some(format!("dependency {name} {reason}")));
                }
                Check::Failed(reason) => {
                    if !warned {
                        shared.log(
                            key,
                            LogStream::Wharf,
                            format!("optional dependency {name} {reason}; starting anyway"),
                        );
                    }
                }
            }
        }
        if !pending {
            return Ok(());
        }
        warned = true;
        tokio::select! {
            _ = changes.changed() => {}
            asked = commands.changed() => {
                // A dropped sender: the instance was replaced or forgotten.
                if asked.is_err() || *commands.borrow_and_update() != Command::Run {
                    return Err(None);
                }
            }
        }
    }
}

enum Check {
    Met,
    Pending,
    Failed(String),
}

fn check(shared: &Shared, project: &str, service: &str, condition: Condition) -> Check {
    let instances = shared.service_statuses(project, service);
    if instances.is_empty() {
        return if shared.is_up(project, service) {
            Check::Pending
        } else {
            Check::Failed("is not running".to_owned())
        };
    }
    let mut pending = false;
    for instance in &instances {
        let verdict = match condition {
            // Made by `create`: only `start`, or an `up` that names it, runs it.
            _ if instance.state == InstanceState::Created => {
                Check::Failed("was created, not started".to_owned())
            }
            Condition::ServiceStarted => match instance.state {
                InstanceState::Waiting => Check::Pending,
                InstanceState::Exited
                    if instance.pid.is_none() && instance.started_at_ms.is_none() =>
                {
                    Check::Failed(format!("did not start: {}", instance.message))
                }
                InstanceState::Stopped => Check::Failed("was stopped".to_owned()),
                _ => Check::Met,
            },
            Condition::ServiceHealthy => match (instance.state, instance.health) {
                (InstanceState::Running, Health::Healthy) => Check::Met,
                (InstanceState::Running, Health::None) => {
                    Check::Failed("has no healthcheck, so it can never be healthy".to_owned())
                }
                (InstanceState::Running, Health::Unhealthy) => {
                    Check::Failed("is unhealthy".to_owned())
                }
                (
                    InstanceState::Waiting | InstanceState::Running | InstanceState::Restarting,
                    _,
                ) => Check::Pending,
                (_, _) => Check::Failed(format!(
                    "exited before it was healthy{}",
                    code_suffix(instance.exit_code)
                )),
            },
            Condition::ServiceCompletedSuccessfully => match (instance.state, instance.exit_code) {
                (InstanceState::Exited, Some(0)) => Check::Met,
                (
                    InstanceState::Exited | InstanceState::Stopped | InstanceState::CrashLoop,
                    code,
                ) => Check::Failed(format!(
                    "did not complete successfully{}",
                    code_suffix(code)
                )),
                _ => Check::Pending,
            },
        };
        match verdict {
            Check::Met => {}
            Check::Pending => pending = true,
            failed @ Check::Failed(_) => return failed,
        }
    }
    if pending { Check::Pending } else { Check::Met }
}

fn code_suffix(code: Option<i32>) -> String {
    code.map(|c| format!(" (exit code {c})"))
        .unwrap_or_default()
}

//! Waiting for dependencies: each `depends_on` condition judged from the statuses of
//! the dependency's instances, re-judged on every change, until all are met or a
//! required one cannot be.

use tokio::sync::watch;
use wharf_api::{LogStream, Verdict, judge};
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
                Verdict::Met => {}
                Verdict::Pending => pending = true,
                Verdict::Failed(reason) if dependency.required => {
                    return Err(Some(format!("dependency {name} {reason}")));
                }
                Verdict::Failed(reason) => {
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

/// The verdict on `service`'s instances; one that has none yet is pending while an
/// `up` wants it, and fails otherwise.
fn check(shared: &Shared, project: &str, service: &str, condition: Condition) -> Verdict {
    let instances = shared.service_statuses(project, service);
    if instances.is_empty() {
        return if shared.is_up(project, service) {
            Verdict::Pending
        } else {
            Verdict::Failed("is not running".to_owned())
        };
    }
    judge(&instances, condition)
}

//! Whether a dependency's instances meet a `depends_on` condition, judged from their
//! statuses: by wharfd before it starts a dependent, and by `run` before its one-off
//! (Compose's `run` waits on the conditions too, not on the dependencies being ready).

use wharf_plan::Condition;

use crate::{Health, InstanceState, InstanceStatus};

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Met,
    Pending,
    /// Cannot be met: why, said after the dependency's name (`did not complete
    /// successfully (exit code 5)`).
    Failed(String),
}

/// The verdict on `instances` (a service's, at least one) for `condition`.
pub fn judge<'a>(
    instances: impl IntoIterator<Item = &'a InstanceStatus>,
    condition: Condition,
) -> Verdict {
    let mut pending = false;
    for instance in instances {
        match judge_one(instance, condition) {
            Verdict::Met => {}
            Verdict::Pending => pending = true,
            failed @ Verdict::Failed(_) => return failed,
        }
    }
    if pending {
        Verdict::Pending
    } else {
        Verdict::Met
    }
}

fn judge_one(instance: &InstanceStatus, condition: Condition) -> Verdict {
    match condition {
        // Made by `create`: only `start`, or an `up` that names it, runs it.
        _ if instance.state == InstanceState::Created => {
            Verdict::Failed("was created, not started".to_owned())
        }
        // Never ran (its own dependency failed, its program was missing): said so,
        // whatever the condition, so a chain of them names where it began.
        _ if instance.never_ran() => {
            Verdict::Failed(format!("did not start: {}", instance.message))
        }
        Condition::ServiceStarted => match instance.state {
            InstanceState::Waiting => Verdict::Pending,
            InstanceState::Stopped => Verdict::Failed("was stopped".to_owned()),
            _ => Verdict::Met,
        },
        Condition::ServiceHealthy => match (instance.state, instance.health) {
            (InstanceState::Running, Health::Healthy) => Verdict::Met,
            (InstanceState::Running, Health::None) => {
                Verdict::Failed("has no healthcheck, so it can never be healthy".to_owned())
            }
            (InstanceState::Running, Health::Unhealthy) => {
                Verdict::Failed("is unhealthy".to_owned())
            }
            (InstanceState::Waiting | InstanceState::Running | InstanceState::Restarting, _) => {
                Verdict::Pending
            }
            (_, _) => Verdict::Failed(format!(
                "exited before it was healthy{}",
                code_suffix(instance.exit_code)
            )),
        },
        Condition::ServiceCompletedSuccessfully => match (instance.state, instance.exit_code) {
            (InstanceState::Exited, Some(0)) => Verdict::Met,
            (InstanceState::Exited | InstanceState::Stopped | InstanceState::CrashLoop, code) => {
                Verdict::Failed(format!(
                    "did not complete successfully{}",
                    code_suffix(code)
                ))
            }
            _ => Verdict::Pending,
        },
    }
}

fn code_suffix(code: Option<i32>) -> String {
    code.map(|c| format!(" (exit code {c})"))
        .unwrap_or_default()
}

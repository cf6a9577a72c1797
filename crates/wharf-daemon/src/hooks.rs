//! Lifecycle hooks: `post_start` commands run once an instance is started by wharf
//! (not on a restart by its restart policy, as the engine's restarts run none in
//! Compose), before it counts as started, so its dependents wait for them; `pre_stop`
//! commands run before a stop that wharf asks for. In a container they run through the
//! engine's exec; natively, beside the process, contained as it is (its cgroup and
//! marker), with its environment and working directory. Each line they print goes to
//! the service's log as it comes.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::watch;
use wharf_api::LogStream;
use wharf_engine::{Engine, ExecRequest};
use wharf_plan::{HookSpec, ServiceSpec};

use crate::lifecycle::{Command, InstanceKey};
use crate::line_reader::for_each_line;
use crate::shared::Shared;
use crate::spawn::{Containment, spawn_as};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    PostStart,
    PreStop,
}

impl Hook {
    fn name(self) -> &'static str {
        match self {
            Self::PostStart => "post_start",
            Self::PreStop => "pre_stop",
        }
    }
}

/// Where a service's hooks run.
pub enum Target<'a> {
    Process(Containment<'a>),
    Container { engine: &'a Engine, id: &'a str },
}

/// Why an instance did not get past its `post_start` hooks.
pub enum Interrupted {
    /// A hook failed: why, and its exit code when it ran.
    Failed { why: String, code: Option<i32> },
    /// Asked to stop while they ran (with the grace period asked for, if any).
    StopAsked(Option<Duration>),
    /// Sent this signal (`wharf kill`) while they ran.
    Killed(Signal),
}

/// How an instance ends whose `post_start` hooks were interrupted.
pub struct Ending {
    /// Sent to it first (`wharf kill`).
    pub signal: Option<Signal>,
    /// The stop's grace period: none for a failure, which ends it at once; the one
    /// asked for, else the service's (`None`), for a stop.
    pub grace: Option<Duration>,
    /// Why it did not start, and the code it ended with; `None` when stopped.
    pub failure: Option<(String, Option<i32>)>,
}

impl Interrupted {
    pub fn ending(self) -> Ending {
        match self {
            Self::Failed { why, code } => Ending {
                signal: None,
                grace: Some(Duration::ZERO),
                failure: Some((why, code)),
            },
            Self::StopAsked(grace) => Ending {
                signal: None,
                grace,
                failure: None,
            },
            Self::Killed(signal) => Ending {
                signal: Some(signal),
                grace: Some(Duration::ZERO),
                failure: Some((
                    format!("killed ({signal}) while its post_start hooks ran"),
                    Some(128 + signal as i32),
                )),
            },
        }
    }
}

/// `post_start`, until it is done or a stop is asked for, so a stuck hook cannot hold
/// up a stop.
pub async fn after_start(
    shared: &Shared,
    key: &InstanceKey,
    spec: &ServiceSpec,
    target: &Target<'_>,
    commands: &mut watch::Receiver<Command>,
) -> Result<(), Interrupted> {
    if spec.post_start.is_empty() {
        return Ok(());
    }
    let asked = async {
        loop {
            // A dropped sender: the instance was replaced or forgotten.
            if commands.changed().await.is_err() {
                return Interrupted::StopAsked(None);
            }
            match *commands.borrow_and_update() {
                Command::Stop(grace) => return Interrupted::StopAsked(grace),
                Command::Kill(signal) => return Interrupted::Killed(signal),
                // Nothing to pause before it counts as started.
                Command::Run | Command::Pause => {}
            }
        }
    };
    let all = async {
        for hook in &spec.post_start {
            run_one(shared, key, spec, Hook::PostStart, hook, target).await?;
        }
        Ok(())
    };
    tokio::select! {
        ran = all => ran,
        interrupted = asked => Err(interrupted),
    }
}

/// `pre_stop`, each command in turn, given together at most the stop's grace period,
/// so a stuck hook cannot hold up a stop; a failure is said in the log and the rest
/// go on, and so does the stop.
pub async fn before_stop(
    shared: &Shared,
    key: &InstanceKey,
    spec: &ServiceSpec,
    grace: Duration,
    target: &Target<'_>,
) {
    if spec.pre_stop.is_empty() {
        return;
    }
    // `-t 0` kills at once, but the hooks still get Compose's default time.
    let grace = if grace.is_zero() {
        Duration::from_secs(10)
    } else {
        grace
    };
    let all = async {
        for hook in &spec.pre_stop {
            if let Err(Interrupted::Failed { why, .. }) =
                run_one(shared, key, spec, Hook::PreStop, hook, target).await
            {
                shared.log(key, LogStream::Wharf, format!("{why}; going on"));
            }
        }
    };
    if tokio::time::timeout(grace, all).await.is_err() {
        let said = format!(
            "pre_stop did not finish within {}s; stopping anyway",
            grace.as_secs()
        );
        shared.log(key, LogStream::Wharf, said);
    }
}

async fn run_one(
    shared: &Shared,
    key: &InstanceKey,
    spec: &ServiceSpec,
    hook: Hook,
    command: &HookSpec,
    target: &Target<'_>,
) -> Result<(), Interrupted> {
    let name = hook.name();
    let shown = shown(&command.command);
    shared.log(key, LogStream::Wharf, format!("{name}: running {shown}"));
    let said = |line: String| shared.log(key, LogStream::Wharf, format!("{name}: {line}"));
    let ran = match target {
        Target::Process(containment) => natively(shared, spec, command, *containment, said).await,
        Target::Container { engine, id } => in_container(engine, id, command, said).await,
    };
    match ran {
        Ok(0) => Ok(()),
        Ok(code) => Err(Interrupted::Failed {
            why: format!("{name} {shown} exited with code {code}"),
            code: Some(code),
        }),
        Err(why) => Err(Interrupted::Failed {
            why: format!("{name} {shown}: {why}"),
            code: None,
        }),
    }
}

/// A command as a shell would take it back: each word quoted where it needs to be.
fn shown(argv: &[String]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect();
    format!("`{}`", words.join(" "))
}

async fn natively(
    shared: &Shared,
    spec: &ServiceSpec,
    hook: &HookSpec,
    containment: Containment<'_>,
    said: impl Fn(String),
) -> Result<i32, String> {
    let working_dir = if hook.working_dir.is_empty() {
        spec.working_dir.clone()
    } else {
        spec.working_dir.join(Path::new(&hook.working_dir))
    };
    if !working_dir.is_dir() {
        return Err(format!(
            "its working directory {} does not exist",
            working_dir.display()
        ));
    }
    let user = if hook.user.is_empty() {
        None
    } else {
        Some(wharf_host::users::lookup(&hook.user).map_err(|e| e.to_string())?)
    };
    let mut environment = spec.process_environment();
    environment.extend(hook.environment.clone());
    let mut child = spawn_as(&hook.command, &working_dir, &environment, containment, user)
        .map_err(|err| format!("cannot start it: {err}"))?;
    let pid = child.id();
    shared.children.adopt(pid);
    // Both outputs, each line as it comes, then the exit.
    let read = |output: Option<tokio::net::unix::pipe::Receiver>| async {
        if let Some(output) = output {
            for_each_line(output, &said).await;
        }
    };
    futures_util::future::join(read(child.stdout.take()), read(child.stderr.take())).await;
    let status = child.wait().await;
    shared.children.release(pid);
    let status = status.map_err(|err| err.to_string())?;
    // Killed by a signal: the shell's code for it.
    Ok(status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    }))
}

async fn in_container(
    engine: &Engine,
    id: &str,
    hook: &HookSpec,
    said: impl FnMut(String),
) -> Result<i32, String> {
    let env: Vec<String> = hook
        .environment
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let request = ExecRequest {
        container: id,
        command: &hook.command,
        env: &env,
        workdir: Some(hook.working_dir.as_str()).filter(|w| !w.is_empty()),
        user: Some(hook.user.as_str()).filter(|u| !u.is_empty()),
        privileged: hook.privileged,
        tty: None,
        detach: false,
    };
    let code = engine
        .exec_lines(&request, said)
        .await
        .map_err(|err| err.to_string())?;
    Ok(i32::try_from(code).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_command_is_shown_as_a_shell_would_read_it_back() {
        let argv = ["sh", "-c", "echo it's; exit 7"].map(str::to_owned);
        assert_eq!(shown(&argv), r"`sh -c 'echo it'\''s; exit 7'`");
        assert_eq!(
            shown(&["./seed.sh".to_owned(), "--all=1".to_owned()]),
            "`./seed.sh --all=1`"
        );
    }
}

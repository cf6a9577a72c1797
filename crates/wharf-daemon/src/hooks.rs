//! Lifecycle hooks: `post_start` commands run after an instance starts, before it
//! counts as started (so its dependents wait for them, as Compose's do), and
//! `pre_stop` commands run before a stop that wharf asks for. In a container they run
//! through the engine's exec; natively, beside the process, with its environment and
//! working directory. What they print goes to the service's log.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::sync::watch;
use wharf_api::LogStream;
use wharf_engine::{Engine, ExecRequest};
use wharf_plan::{HookSpec, ServiceSpec};

use crate::lifecycle::{Command, InstanceKey};
use crate::shared::Shared;

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

    fn of(self, spec: &ServiceSpec) -> &[HookSpec] {
        match self {
            Self::PostStart => &spec.post_start,
            Self::PreStop => &spec.pre_stop,
        }
    }
}

/// Where a service's hooks run.
pub enum Target<'a> {
    Process,
    Container { engine: &'a Engine, id: &'a str },
}

/// Runs `hook`'s commands in order, stopping at the first that fails; why it failed.
async fn run(
    shared: &Shared,
    key: &InstanceKey,
    spec: &ServiceSpec,
    hook: Hook,
    target: &Target<'_>,
) -> Result<(), String> {
    for command in hook.of(spec) {
        let shown = command.command.join(" ");
        let ran = match target {
            Target::Process => natively(spec, command).await,
            Target::Container { engine, id } => in_container(engine, id, command).await,
        };
        let (code, said) = ran.map_err(|why| format!("{} `{shown}`: {why}", hook.name()))?;
        for line in said.lines() {
            shared.log(key, LogStream::Wharf, format!("{}: {line}", hook.name()));
        }
        if code != 0 {
            return Err(format!("{} `{shown}` exited with code {code}", hook.name()));
        }
    }
    Ok(())
}

/// Why an instance did not get past its `post_start` hooks.
pub enum Interrupted {
    Failed(String),
    /// Asked to stop while they ran (with the grace period asked for, if any).
    StopAsked(Option<Duration>),
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
                return None;
            }
            if let Command::Stop(grace) = *commands.borrow_and_update() {
                return grace;
            }
        }
    };
    tokio::select! {
        ran = run(shared, key, spec, Hook::PostStart, target) => ran.map_err(Interrupted::Failed),
        grace = asked => Err(Interrupted::StopAsked(grace)),
    }
}

/// `pre_stop`, given at most the stop's grace period, so a stuck hook cannot hold up a
/// stop; a failure is said in the log and the stop goes on.
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
    let ran = tokio::time::timeout(grace, run(shared, key, spec, Hook::PreStop, target)).await;
    let why = match ran {
        Ok(Ok(())) => return,
        Ok(Err(why)) => why,
        Err(_) => format!("pre_stop did not finish within {}s", grace.as_secs()),
    };
    shared.log(key, LogStream::Wharf, format!("{why}; stopping anyway"));
}

async fn natively(spec: &ServiceSpec, hook: &HookSpec) -> Result<(i64, String), String> {
    let (program, arguments) = hook.command.split_first().ok_or("no command")?;
    let working_dir = if hook.working_dir.is_empty() {
        spec.working_dir.clone()
    } else {
        spec.working_dir.join(Path::new(&hook.working_dir))
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(arguments)
        .env_clear()
        .envs(spec.process_environment())
        .envs(&hook.environment)
        .current_dir(&working_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if !hook.user.is_empty() {
        let (uid, gid) = wharf_host::users::lookup(&hook.user).map_err(|e| e.to_string())?;
        command.uid(uid).gid(gid);
    }
    let output = command
        .output()
        .await
        .map_err(|err| format!("cannot start `{program}`: {err}"))?;
    let mut said = String::from_utf8_lossy(&output.stdout).into_owned();
    said.push_str(&String::from_utf8_lossy(&output.stderr));
    // Killed by a signal: the shell's code for it.
    let code = output.status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&output.status).unwrap_or(0)
    });
    Ok((i64::from(code), said))
}

async fn in_container(engine: &Engine, id: &str, hook: &HookSpec) -> Result<(i64, String), String> {
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
    engine
        .exec_captured(&request)
        .await
        .map_err(|err| err.to_string())
}

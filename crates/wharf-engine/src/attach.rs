//! A command in a container with the user's standard streams joined to it, as `docker
//! exec -i[t]` and `docker run -i[t]` join them: input passed on (its end closes the
//! command's), output and errors copied back (one stream with a terminal), the
//! terminal's window size followed, the command's exit code returned.

use std::io::{Read as _, Write as _};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    AttachContainerOptions, KillContainerOptions, ResizeContainerTTYOptions, ResizeExecOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use wharf_plan::{ContainerSpec, EngineResource};

/// A project's networks and volumes, by name.
#[derive(Default)]
pub struct ProjectResources {
    pub networks: std::collections::BTreeMap<String, EngineResource>,
    pub volumes: std::collections::BTreeMap<String, EngineResource>,
}

use crate::engine::{Engine, EngineError};
use crate::exit_wait::ExitWait;

/// What the engine says, as it says it.
type Output = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
>;
/// Where the command's standard input goes.
type Writer = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// The command's standard input, and what the end of this process's means for it.
enum Input {
    /// Closed with it: a command's input ends with the user's (`exec`, `run`).
    CloseAtEnd(Writer),
    /// Left open: an attached container's input is its own (`attach`).
    KeepOpen(Writer),
}

/// How to read the user's window size, (rows, columns), when attached to a terminal.
pub type WindowSize = fn() -> Option<(u16, u16)>;

/// What to run, where, and how.
pub struct ExecRequest<'a> {
    pub container: &'a str,
    pub command: &'a [String],
    /// `KEY=value` pairs added to the container's environment.
    pub env: &'a [String],
    pub workdir: Option<&'a str>,
    /// `user`, `user:group` or ids; `None`: the container's.
    pub user: Option<&'a str>,
    pub privileged: bool,
    /// A terminal for the command, sized as the user's window.
    pub tty: Option<WindowSize>,
    /// Started in the background: nothing attached, no exit code waited for.
    pub detach: bool,
}

impl Engine {
    /// Runs `request` attached to this process's standard streams; its exit code (0
    /// once started, when detached).
    pub async fn exec(&self, request: &ExecRequest<'_>) -> Result<i64, EngineError> {
        let tty = request.tty.is_some();
        let attach = !request.detach;
        let id = self.create_exec(request, attach, attach).await?;
        let start = StartExecOptions {
            detach: request.detach,
            tty,
            output_capacity: None,
        };
        let started = self.docker.start_exec(&id, Some(start)).await?;
        if request.detach {
            return Ok(0);
        }
        let StartExecResults::Attached { output, input } = started else {
            return Err(EngineError::Detached);
        };
        let joined = self
            .join_sized(
                Resize::Exec(id.clone()),
                request.tty,
                output,
                Some(Input::CloseAtEnd(input)),
            )
            .await;
        joined?;
        let inspected = self.docker.inspect_exec(&id).await?;
        Ok(inspected.exit_code.unwrap_or(0))
    }
}

/// A one-off container: what it runs and how it is attached.
pub struct OneOff<'a> {
    pub name: &'a str,
    pub spec: &'a ContainerSpec,
    /// The project's networks and volumes, made first if missing, as Compose's `run`
    /// makes them.
    pub resources: &'a ProjectResources,
    /// A terminal for it, sized as the user's window.
    pub tty: Option<WindowSize>,
    /// Removed by the engine once it exits (`--rm`).
    pub remove: bool,
}

impl Engine {
    /// Creates and starts a one-off container attached to this process's standard
    /// streams, as `docker run -i[t]` does; its exit code.
    pub async fn run_attached(&self, one_off: &OneOff<'_>) -> Result<i64, EngineError> {
        // Listened for from the start: a signal before the container runs is passed
        // on once it does.
        let signals = Signals::listen();
        let id = self.create_one_off(one_off, true).await?;
        let attach = AttachContainerOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
            ..AttachContainerOptions::default()
        };
        let attached = self.docker.attach_container(&id, Some(attach)).await?;
        // Taken by the engine before the start, so no early exit is missed; with
        // `--rm`, until the engine has removed it, as `docker run --rm` returns.
        let condition = if one_off.remove {
            "removed"
        } else {
            "next-exit"
        };
        let exit = ExitWait::register(self.socket(), &id, condition).await?;
        self.docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        // Interrupted or terminated, the container is too, as `docker run` passes
        // signals on; it ends, and so does this command.
        let passer = tokio::spawn(signals.pass_to(self.docker.clone(), id.clone()));
        let joined = self
            .join_sized(
                Resize::Container(id.clone()),
                one_off.tty,
                attached.output,
                Some(Input::CloseAtEnd(attached.input)),
            )
            .await;
        passer.abort();
        let code = exit.exit_code().await?;
        joined?;
        Ok(code)
    }
}

impl Engine {
    /// Creates and starts a one-off container in the background, as `docker run -d`
    /// does; its id.
    pub async fn run_detached(&self, one_off: &OneOff<'_>) -> Result<String, EngineError> {
        let id = self.create_one_off(one_off, false).await?;
        self.docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        Ok(id)
    }

    /// Creates the one-off container, after the project's networks and volumes, with
    /// its standard streams open to an attach or not.
    async fn create_one_off(
        &self,
        one_off: &OneOff<'_>,
        attach: bool,
    ) -> Result<String, EngineError> {
        for network in one_off.resources.networks.values() {
            self.ensure_network(network).await?;
        }
        for volume in one_off.resources.volumes.values() {
            self.ensure_volume(volume).await?;
        }
        let image = self.image_id(&one_off.spec.image).await?;
        let mut body = self.create_body(one_off.name, one_off.spec, 1, &image, "", None)?;
        body.tty = Some(one_off.tty.is_some());
        body.open_stdin = Some(attach);
        body.stdin_once = Some(attach);
        body.attach_stdin = Some(attach);
        body.attach_stdout = Some(attach);
        body.attach_stderr = Some(attach);
        if one_off.remove {
            // The engine removes it however it ends, even if this process is killed.
            body.host_config
                .get_or_insert_with(Default::default)
                .auto_remove = Some(true);
        }
        self.create_from(one_off.name, one_off.spec, body).await
    }
}

/// How long an attach waits, once its container ended, for the output still in flight.
const LAST_WORDS: std::time::Duration = std::time::Duration::from_millis(300);

/// Joining a running container, as `docker attach` does.
pub struct AttachRequest<'a> {
    pub container: &'a str,
    /// Pass this process's standard input on (when the container keeps its open).
    pub stdin: bool,
    /// Pass SIGINT and SIGTERM on to the container instead of ending this process.
    pub sig_proxy: bool,
    /// The keys that leave the container running (the engine's default: ctrl-p,ctrl-q).
    pub detach_keys: Option<&'a str>,
    /// The user's window, when attached to a terminal and the container has one.
    pub tty: Option<WindowSize>,
}

impl Engine {
    /// Whether the container was made with a terminal, so the user's goes raw.
    pub async fn has_tty(&self, container: &str) -> Result<bool, EngineError> {
        let inspected = self
            .docker
            .inspect_container(
                container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await?;
        Ok(inspected.config.and_then(|c| c.tty).unwrap_or(false))
    }

    /// Joins this process's standard streams to a running container until it ends or
    /// the detach keys are pressed; its exit code when it ended, else `None`.
    pub async fn attach(&self, request: &AttachRequest<'_>) -> Result<Option<i64>, EngineError> {
        let signals = request.sig_proxy.then(Signals::listen);
        let attach = AttachContainerOptions {
            stream: true,
            stdin: request.stdin,
            stdout: true,
            stderr: true,
            detach_keys: request.detach_keys.map(str::to_owned),
            ..AttachContainerOptions::default()
        };
        let attached = self
            .docker
            .attach_container(request.container, Some(attach))
            .await?;
        // Asked for once attached: a container that ends (even one that had ended
        // already) ends the attach, whatever its streams do.
        let mut exit = self
            .docker
            .wait_container(request.container, None::<WaitContainerOptions>);
        let passer = signals.map(|signals| {
            tokio::spawn(signals.pass_to(self.docker.clone(), request.container.to_owned()))
        });
        let joined = self.join_sized(
            Resize::Container(request.container.to_owned()),
            request.tty,
            attached.output,
            // The end of this input is not the container's: it keeps its own open.
            request.stdin.then_some(Input::KeepOpen(attached.input)),
        );
        tokio::pin!(joined);
        let joined = tokio::select! {
            joined = &mut joined => joined,
            // What it said last may still be on its way.
            _ = exit.next() => tokio::time::timeout(LAST_WORDS, &mut joined)
                .await
                .unwrap_or(Ok(())),
        };
        if let Some(passer) = passer {
            passer.abort();
        }
        joined?;
        // Ended, or only detached from.
        let state = self.state(request.container).await?;
        Ok((!state.running).then(|| i64::from(state.exit_code.unwrap_or(0))))
    }
}

/// SIGINT and SIGTERM, caught instead of ending this process.
struct Signals(Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>);

impl Signals {
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self(
            signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok()),
        )
    }

    /// Passes each one on to the container `id`, as `docker run` does.
    async fn pass_to(self, docker: bollard::Docker, id: String) {
        let Some((mut interrupt, mut terminate)) = self.0 else {
            return;
        };
        loop {
            let name = tokio::select! {
                _ = interrupt.recv() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
            let options = KillContainerOptions {
                signal: name.to_owned(),
            };
            let _ = docker.kill_container(&id, Some(options)).await;
        }
    }
}

impl Engine {
    /// Joins the streams (see `join_streams`), keeping `target`'s terminal the size of
    /// the user's window meanwhile when there is one.
    async fn join_sized(
        &self,
        target: Resize,
        window: Option<WindowSize>,
        output: Output,
        input: Option<Input>,
    ) -> Result<(), EngineError> {
        let resizer =
            window.map(|window| tokio::spawn(follow_window(self.docker.clone(), target, window)));
        let joined = join_streams(output, input).await;
        if let Some(resizer) = resizer {
            resizer.abort();
        }
        joined
    }
}

/// What a window change resizes.
enum Resize {
    Exec(String),
    Container(String),
}

/// Tells the engine the window's size now and on each change (SIGWINCH).
async fn follow_window(docker: bollard::Docker, target: Resize, window: WindowSize) {
    let Ok(mut changes) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return;
    };
    loop {
        if let Some((rows, columns)) = window() {
            let (h, w) = (i32::from(rows), i32::from(columns));
            let _ = match &target {
                Resize::Exec(id) => docker.resize_exec(id, ResizeExecOptions { h, w }).await,
                Resize::Container(id) => {
                    docker
                        .resize_container_tty(id, ResizeContainerTTYOptions { h, w })
                        .await
                }
            };
        }
        if changes.recv().await.is_none() {
            return;
        }
    }
}

/// Copies the output back until it ends, passing standard input on meanwhile (when
/// there is somewhere to pass it).
async fn join_streams(mut output: Output, input: Option<Input>) -> Result<(), EngineError> {
    let (mut input, close_at_end) = match input {
        None => return copy_output(&mut output).await,
        Some(Input::CloseAtEnd(writer)) => (writer, true),
        Some(Input::KeepOpen(writer)) => (writer, false),
    };
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    // A thread of its own, not the runtime's: a read of a terminal blocks until a key
    // is pressed, and must not hold the command's end up.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = [0u8; 8192];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if sender.blocking_send(buffer[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let forward = tokio::spawn(async move {
        while let Some(chunk) = receiver.recv().await {
            if input.write_all(&chunk).await.is_err() || input.flush().await.is_err() {
                return;
            }
        }
        // The end of input closes the command's standard input, unless it is kept.
        if close_at_end {
            let _ = input.shutdown().await;
        } else {
            std::future::pending::<()>().await;
        }
    });
    let copied = copy_output(&mut output).await;
    forward.abort();
    copied
}

/// Copies what the engine says to this process's output and errors until it ends.
async fn copy_output(output: &mut Output) -> Result<(), EngineError> {
    while let Some(item) = output.next().await {
        match item? {
            LogOutput::StdErr { message } => {
                let mut stderr = std::io::stderr().lock();
                stderr.write_all(&message)?;
                stderr.flush()?;
            }
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&message)?;
                stdout.flush()?;
            }
            LogOutput::StdIn { .. } => {}
        }
    }
    Ok(())
}

impl Engine {
    /// Creates the exec `request` describes, with its input and its output attached
    /// or not; its id.
    async fn create_exec(
        &self,
        request: &ExecRequest<'_>,
        input: bool,
        output: bool,
    ) -> Result<String, EngineError> {
        let options = CreateExecOptions {
            attach_stdin: Some(input),
            attach_stdout: Some(output),
            attach_stderr: Some(output),
            tty: Some(request.tty.is_some()),
            env: Some(request.env.to_vec()),
            cmd: Some(request.command.to_vec()),
            working_dir: request.workdir.map(str::to_owned),
            user: request.user.map(str::to_owned),
            privileged: Some(request.privileged),
            ..CreateExecOptions::default()
        };
        Ok(self
            .docker
            .create_exec(request.container, options)
            .await?
            .id)
    }

    /// Runs `request` with nothing attached but its output, each line of which goes to
    /// `on_line` as it comes; its exit code. For a command run on the user's behalf (a
    /// lifecycle hook), whose words go to the service's log.
    pub async fn exec_lines(
        &self,
        request: &ExecRequest<'_>,
        mut on_line: impl FnMut(String),
    ) -> Result<i64, EngineError> {
        let id = self.create_exec(request, false, true).await?;
        let StartExecResults::Attached { mut output, .. } =
            self.docker.start_exec(&id, None).await?
        else {
            return Err(EngineError::Detached);
        };
        // A partial line of each stream, until its end comes.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let emit = |pending: &mut Vec<u8>, chunk: &[u8], on_line: &mut dyn FnMut(String)| {
            pending.extend_from_slice(chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                on_line(String::from_utf8_lossy(&line[..end]).into_owned());
            }
        };
        while let Some(chunk) = output.next().await {
            match chunk? {
                LogOutput::StdErr { message } => emit(&mut err, &message, &mut on_line),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    emit(&mut out, &message, &mut on_line);
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        for rest in [out, err] {
            if !rest.is_empty() {
                on_line(String::from_utf8_lossy(&rest).into_owned());
            }
        }
        let inspected = self.docker.inspect_exec(&id).await?;
        Ok(inspected.exit_code.unwrap_or(0))
    }
}

//! The engine for commands that ask it a question or two and exit: each call runs on
//! a runtime of its own thread, so the CLI needs no async code of its own.

use bollard::models::ImageInspect;

use crate::attach::{ExecRequest, OneOff};
use crate::build_context::BuildContext;
use crate::container_image::CommitRequest;
use crate::diagnosis::EngineProblem;
use crate::engine::{Engine, EngineError};
use crate::images::BuildRequest;

pub struct BlockingEngine {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
}

impl BlockingEngine {
    /// The engine when one answers, else what is wrong with its fix.
    pub fn connect() -> Result<Self, EngineProblem> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| EngineProblem::NotAnswering {
                socket: std::path::PathBuf::new(),
                why: err.to_string(),
            })?;
        let engine = runtime.block_on(Engine::connect())?;
        Ok(Self { runtime, engine })
    }

    pub fn socket(&self) -> &std::path::Path {
        self.engine.socket()
    }

    /// Pulls `image`, telling `progress` each layer's status as it changes.
    pub fn pull(&self, image: &str, progress: impl FnMut(&str)) -> Result<(), EngineError> {
        self.runtime.block_on(self.engine.pull(image, progress))
    }

    /// What the engine knows of `image`; `None` when it has no such image.
    pub fn inspect_image(&self, image: &str) -> Result<Option<ImageInspect>, EngineError> {
        self.runtime.block_on(self.engine.inspect_image(image))
    }

    /// Builds `context` (see `Engine::build`); the image's id.
    pub fn build(
        &self,
        context: BuildContext,
        request: &BuildRequest,
        progress: impl FnMut(&str),
    ) -> Result<String, EngineError> {
        self.runtime
            .block_on(self.engine.build(context, request, progress))
    }

    /// The containers labelled as the project's, `run` ones included.
    pub fn project_containers(
        &self,
        project: &str,
    ) -> Result<Vec<crate::ProjectContainer>, EngineError> {
        self.runtime
            .block_on(self.engine.project_containers(project))
    }

    /// The projects the engine has containers of (see `Engine::compose_projects`).
    pub fn compose_projects(
        &self,
        all: bool,
    ) -> Result<Vec<wharf_api::ProjectSummary>, EngineError> {
        self.runtime.block_on(self.engine.compose_projects(all))
    }

    /// The container's processes (see `Engine::processes`).
    pub fn processes(&self, container: &str) -> Result<crate::ContainerProcesses, EngineError> {
        self.runtime.block_on(self.engine.processes(container))
    }

    /// Whether the container has a terminal (see `Engine::has_tty`).
    pub fn has_tty(&self, container: &str) -> Result<bool, EngineError> {
        self.runtime.block_on(self.engine.has_tty(container))
    }

    /// Joins a running container (see `Engine::attach`); its exit code if it ended.
    pub fn attach(&self, request: &crate::AttachRequest<'_>) -> Result<Option<i64>, EngineError> {
        self.runtime.block_on(self.engine.attach(request))
    }

    /// `image` pinned to its registry's digest (see `Engine::pin_digest`).
    pub fn pin_digest(&self, image: &str) -> Result<String, EngineError> {
        self.runtime.block_on(self.engine.pin_digest(image))
    }

    /// Pushes `image` to its registry (see `Engine::push`).
    pub fn push(&self, image: &str, progress: impl FnMut(&str)) -> Result<(), EngineError> {
        self.runtime.block_on(self.engine.push(image, progress))
    }

    /// Runs a command in a container, attached (see `Engine::exec`); its exit code.
    pub fn exec(&self, request: &ExecRequest<'_>) -> Result<i64, EngineError> {
        self.runtime.block_on(self.engine.exec(request))
    }

    /// Runs a one-off container, attached (see `Engine::run_attached`); its exit code.
    pub fn run_attached(&self, one_off: &OneOff<'_>) -> Result<i64, EngineError> {
        self.runtime.block_on(self.engine.run_attached(one_off))
    }

    /// Stops the container `name` (the signal, then SIGKILL after `grace`) and
    /// removes it.
    pub fn stop_and_remove(
        &self,
        name: &str,
        grace: std::time::Duration,
    ) -> Result<(), EngineError> {
        self.runtime.block_on(async {
            self.engine.stop(name, grace).await?;
            self.engine.remove(name).await
        })
    }

    /// Removes the volume `name` (one that is gone already is fine).
    pub fn remove_volume(&self, name: &str) {
        self.runtime.block_on(self.engine.remove_volume(name));
    }

    /// Removes the image `name`; false when there was no such image.
    pub fn remove_image(&self, name: &str) -> Result<bool, EngineError> {
        self.runtime.block_on(self.engine.remove_image(name))
    }

    /// The project's volumes, by the label Compose puts on them.
    pub fn project_volumes(&self, project: &str) -> Result<Vec<crate::ProjectVolume>, EngineError> {
        self.runtime.block_on(self.engine.project_volumes(project))
    }

    /// `path` of the container as a tar archive (see `Engine::copy_out`).
    pub fn copy_out(
        &self,
        container: &str,
        path: &str,
        into: &mut impl std::io::Write,
    ) -> Result<(), EngineError> {
        self.runtime
            .block_on(self.engine.copy_out(container, path, into))
    }

    /// Unpacks a tar archive into the container's directory `dir`.
    pub fn copy_in(
        &self,
        container: &str,
        dir: &str,
        tar: Vec<u8>,
        keep_owners: bool,
    ) -> Result<(), EngineError> {
        self.runtime
            .block_on(self.engine.copy_in(container, dir, tar, keep_owners))
    }

    /// Writes the container's file system to `into` as a tar archive.
    pub fn export(
        &self,
        container: &str,
        into: &mut impl std::io::Write,
    ) -> Result<(), EngineError> {
        self.runtime.block_on(self.engine.export(container, into))
    }

    /// Commits the container as a new image; its id.
    pub fn commit(
        &self,
        container: &str,
        request: &CommitRequest<'_>,
    ) -> Result<String, EngineError> {
        self.runtime
            .block_on(self.engine.commit(container, request))
    }

    /// Starts a one-off container in the background (see `Engine::run_detached`); its id.
    pub fn run_detached(&self, one_off: &OneOff<'_>) -> Result<String, EngineError> {
        self.runtime.block_on(self.engine.run_detached(one_off))
    }
}

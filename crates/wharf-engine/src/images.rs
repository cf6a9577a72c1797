//! Building and pushing images through the engine's API, so neither needs the docker
//! CLI: the build's context goes as a tar stream (`build_context`), the engine's
//! progress comes back line by line.

use std::collections::HashMap;

use bollard::query_parameters::{BuildImageOptions, PushImageOptions, TagImageOptions};
use futures_util::StreamExt;

use crate::build_context::BuildContext;
use crate::engine::{Engine, EngineError, reference_and_tag};
use crate::registry_auth::{all_credentials, credentials_for_image};

/// What one build makes, as `docker build`'s flags say it.
#[derive(Debug, Default)]
pub struct BuildRequest {
    /// Every name the image gets; the first is the one built.
    pub tags: Vec<String>,
    pub args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub target: String,
    pub network: String,
    /// `host:address` entries for the build's `/etc/hosts`.
    pub extra_hosts: Vec<String>,
    pub no_cache: bool,
    /// Pull newer versions of the base images first.
    pub pull: bool,
    /// The build's memory limit, in bytes (the classic builder's API takes up to 2 GiB).
    pub memory: Option<i32>,
}

/// Chunks of the context tar in flight to the engine; a few, so a slow engine holds
/// the reading of the context back instead of filling memory.
const CONTEXT_CHUNKS_IN_FLIGHT: usize = 8;
const CONTEXT_CHUNK: usize = 256 * 1024;

impl Engine {
    /// Removes the image `name` (its tag; the layers go once nothing else uses them);
    /// false when there was no such image.
    pub async fn remove_image(&self, name: &str) -> Result<bool, EngineError> {
        match self
            .docker
            .remove_image(
                name,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Builds `context` as `request` says, telling `progress` each line the engine
    /// prints; the image's id.
    pub async fn build(
        &self,
        context: BuildContext,
        request: &BuildRequest,
        mut progress: impl FnMut(&str),
    ) -> Result<String, EngineError> {
        let options = BuildImageOptions {
            dockerfile: context.dockerfile_name().to_owned(),
            t: request.tags.first().cloned(),
            buildargs: Some(request.args.clone()),
            labels: Some(request.labels.clone()),
            target: request.target.clone(),
            networkmode: (!request.network.is_empty()).then(|| request.network.clone()),
            extrahosts: (!request.extra_hosts.is_empty()).then(|| request.extra_hosts.join(",")),
            nocache: request.no_cache,
            pull: request.pull.then(|| "1".to_owned()),
            memory: request.memory,
            rm: true,
            // A failing step's container goes too, as BuildKit leaves none behind.
            forcerm: true,
            ..BuildImageOptions::default()
        };
        let (sender, receiver) = tokio::sync::mpsc::channel(CONTEXT_CHUNKS_IN_FLIGHT);
        // The tar is written on a thread of its own as the engine reads it.
        let writer = tokio::task::spawn_blocking(move || {
            let out = std::io::BufWriter::with_capacity(CONTEXT_CHUNK, ChunkSender(sender));
            context.write_tar(out)
        });
        let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|chunk| (chunk, receiver))
        });
        let mut stream = self.docker.build_image(
            options,
            Some(all_credentials()),
            Some(bollard::body_stream(body)),
        );
        let mut id = None;
        let mut failure = None;
        while let Some(info) = stream.next().await {
            match info {
                Ok(info) => {
                    if let Some(text) = &info.stream {
                        for line in text.lines().filter(|l| !l.trim().is_empty()) {
                            progress(line);
                        }
                    }
                    if let Some(found) = info.aux.and_then(|aux| aux.id) {
                        id = Some(found);
                    }
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        drop(stream);
        let written = writer
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        match (written, failure) {
            // A context that could not be read is the cause of whatever the engine said;
            // an engine that stopped reading it has said why itself.
            (Err(err), _) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                return Err(EngineError::Context(err));
            }
            (_, Some(err)) => return Err(EngineError::BuildFailed(stream_message(err))),
            (Err(err), None) => return Err(EngineError::Context(err)),
            (Ok(()), None) => {}
        }
        let id = id.ok_or_else(|| {
            EngineError::BuildFailed("the engine did not say which image it built".to_owned())
        })?;
        for tag in request.tags.iter().skip(1) {
            let (repo, tag) = reference_and_tag(tag);
            let options = TagImageOptions {
                repo: Some(repo.to_owned()),
                tag: tag.map(str::to_owned),
            };
            self.docker.tag_image(&id, Some(options)).await?;
        }
        Ok(id)
    }

    /// Pushes `image` to its registry, with the credentials `docker login` left for it,
    /// telling `progress` each layer's status as it changes.
    pub async fn push(
        &self,
        image: &str,
        mut progress: impl FnMut(&str),
    ) -> Result<(), EngineError> {
        let (name, tag) = reference_and_tag(image);
        let options = PushImageOptions {
            tag: tag.map(str::to_owned),
            ..PushImageOptions::default()
        };
        let credentials = credentials_for_image(image);
        let mut stream = self.docker.push_image(name, Some(options), credentials);
        let mut last = String::new();
        while let Some(info) = stream.next().await {
            let info = info.map_err(|err| EngineError::PushFailed {
                image: image.to_owned(),
                why: stream_message(err),
            })?;
            // The engine names the layer only in the status's own words here.
            let Some(line) = info.status else { continue };
            if line != last {
                progress(&line);
                last = line;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// `image` pinned to the digest its registry gives its tag now, as
    /// `name:tag@sha256:…` (`config --resolve-image-digests`); an image already pinned
    /// stays as it is.
    pub async fn pin_digest(&self, image: &str) -> Result<String, EngineError> {
        let (name, tag) = reference_and_tag(image);
        let Some(tag) = tag else {
            return Ok(image.to_owned());
        };
        let tagged = format!("{name}:{tag}");
        let credentials = credentials_for_image(image);
        let found = self
            .docker
            .inspect_registry_image(&tagged, credentials)
            .await
            .map_err(|err| EngineError::DigestUnknown {
                image: tagged.clone(),
                why: stream_message(err),
            })?;
        let digest = found.descriptor.digest.unwrap_or_default();
        if digest.is_empty() {
            return Err(EngineError::DigestUnknown {
                image: tagged,
                why: "the registry gave no digest".to_owned(),
            });
        }
        Ok(format!("{tagged}@{digest}"))
    }
}

/// What the engine said, without the client's wrapping.
fn stream_message(err: bollard::errors::Error) -> String {
    match err {
        bollard::errors::Error::DockerStreamError { error } => error.trim().to_owned(),
        // The engine's words (a Dockerfile it cannot parse), not the client's framing.
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            message.trim().to_owned()
        }
        other => other.to_string(),
    }
}

/// Hands each buffer the tar writer fills to the request body.
struct ChunkSender(tokio::sync::mpsc::Sender<bytes::Bytes>);

impl std::io::Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(bytes::Bytes::copy_from_slice(data))
            .map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the engine stopped reading the build context",
                )
            })?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

//! Files into and out of a container, as `docker cp` moves them: the engine's archive
//! API takes and gives tar streams.

use std::path::Path;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::StreamExt;

use crate::engine::{Engine, EngineError};

impl Engine {
    /// Writes `path` of the container, as a tar archive whose top entry is its last
    /// name, to `into`.
    pub async fn copy_out(
        &self,
        container: &str,
        path: &str,
        into: &mut impl std::io::Write,
    ) -> Result<(), EngineError> {
        let options = DownloadFromContainerOptions {
            path: path.to_owned(),
        };
        let stream = self
            .docker
            .download_from_container(container, Some(options));
        write_out(stream, into).await
    }

    /// Unpacks the tar archive `tar` into the container's directory `dir`.
    pub async fn copy_in(
        &self,
        container: &str,
        dir: &str,
        tar: Vec<u8>,
    ) -> Result<(), EngineError> {
        let options = UploadToContainerOptions {
            path: dir.to_owned(),
            ..UploadToContainerOptions::default()
        };
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
            .await?;
        Ok(())
    }
}

/// Writes what the engine streams (a tar archive) to `into`, as it comes.
pub(crate) async fn write_out(
    stream: impl futures_util::Stream<Item = Result<bytes::Bytes, bollard::errors::Error>>,
    into: &mut impl std::io::Write,
) -> Result<(), EngineError> {
    let mut stream = std::pin::pin!(stream);
    while let Some(chunk) = stream.next().await {
        into.write_all(&chunk?)?;
    }
    Ok(into.flush()?)
}

/// `source` (a file or a directory, with what is in it) as a tar archive whose one top
/// entry is named `name`.
pub fn archive(source: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    if source.is_dir() {
        builder.append_dir_all(name, source)?;
    } else {
        builder.append_path_with_name(source, name)?;
    }
    builder.into_inner()
}

//! Files into and out of a container, as `docker cp` moves them: the engine's archive
//! API takes and gives tar streams.

use std::path::Path;

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use futures_util::StreamExt;

use crate::engine::{Engine, EngineError, path_missing};

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
        write_out(stream, into).await.map_err(|err| match err {
            EngineError::Api(err) if path_missing(&err) => {
                EngineError::PathMissing(path.to_owned())
            }
            err => err,
        })
    }

    /// Unpacks the tar archive `tar` into the container's directory `dir`; with
    /// `keep_owners`, its files keep the owners the archive gives them (`cp -a`).
    pub async fn copy_in(
        &self,
        container: &str,
        dir: &str,
        tar: Vec<u8>,
        keep_owners: bool,
    ) -> Result<(), EngineError> {
        let options = UploadToContainerOptions {
            path: dir.to_owned(),
            copy_uidgid: keep_owners.then(|| "true".to_owned()),
            ..UploadToContainerOptions::default()
        };
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(|err| match err {
                err if path_missing(&err) => EngineError::PathMissing(dir.to_owned()),
                err => EngineError::Api(err),
            })
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
/// entry is named `name`; with `follow_links`, a symbolic link is archived as what it
/// points to (`cp -L`).
pub fn archive(source: &Path, name: &str, follow_links: bool) -> std::io::Result<Vec<u8>> {
    // The error names the path: "No such file or directory" alone does not say which.
    pack(source, name, follow_links)
        .map_err(|err| std::io::Error::new(err.kind(), format!("{}: {err}", source.display())))
}

fn pack(source: &Path, name: &str, follow_links: bool) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(follow_links);
    let is_dir = if follow_links {
        source.is_dir()
    } else {
        source.symlink_metadata()?.is_dir()
    };
    if is_dir {
        builder.append_dir_all(name, source)?;
    } else {
        builder.append_path_with_name(source, name)?;
    }
    builder.into_inner()
}

/// `files` as a tar archive to unpack at the container's root, each with its mode and
/// owners; the engine makes the directories they need.
pub fn files_archive(files: &[wharf_plan::ContainerFile]) -> std::io::Result<Vec<u8>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let Ok(content) = &file.content else { continue };
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(file.mode);
        header.set_uid(file.uid.unwrap_or(0).into());
        header.set_gid(file.gid.unwrap_or(0).into());
        header.set_mtime(now);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(
            &mut header,
            file.path.trim_start_matches('/'),
            content.as_bytes(),
        )?;
    }
    builder.into_inner()
}

/// Where the top entry of `tar` points, when it is a symbolic link.
pub fn top_link(tar: &[u8]) -> std::io::Result<Option<String>> {
    let mut archive = tar::Archive::new(tar);
    let Some(top) = archive.entries()?.next().transpose()? else {
        return Ok(None);
    };
    if top.header().entry_type() != tar::EntryType::Symlink {
        return Ok(None);
    }
    Ok(top
        .link_name()?
        .map(|target| target.to_string_lossy().into_owned()))
}

/// `tar` with its top entry (and what is under it) renamed `name`.
pub fn rename_top(tar: &[u8], name: &str) -> std::io::Result<Vec<u8>> {
    rewrite(tar, |path, _| {
        let mut parts = path.components();
        parts.next();
        let rest = parts.as_path();
        *path = if rest.as_os_str().is_empty() {
            name.into()
        } else {
            Path::new(name).join(rest)
        };
    })
}

/// `tar` with every entry owned by root, as a copy into a container is without
/// `cp -a`: the engine keeps whatever owners the archive names.
pub fn owned_by_root(tar: &[u8]) -> std::io::Result<Vec<u8>> {
    rewrite(tar, |_, header| {
        header.set_uid(0);
        header.set_gid(0);
        let _ = header.set_username("root");
        let _ = header.set_groupname("root");
    })
}

/// `tar` with each entry's path and header passed through `edit`.
fn rewrite(
    tar: &[u8],
    mut edit: impl FnMut(&mut std::path::PathBuf, &mut tar::Header),
) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut path = entry.path()?.into_owned();
        let mut header = entry.header().clone();
        edit(&mut path, &mut header);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data)?;
        if header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
            let target = entry
                .link_name()?
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            builder.append_link(&mut header, &path, target)?;
        } else {
            builder.append_data(&mut header, &path, data.as_slice())?;
        }
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_source_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let err = archive(&missing, "nope.txt", false).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_link_is_archived_as_itself_or_as_what_it_points_to() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.txt"), "real").unwrap();
        std::os::unix::fs::symlink("real.txt", dir.path().join("link")).unwrap();
        let as_link = archive(&dir.path().join("link"), "link", false).unwrap();
        assert_eq!(top_link(&as_link).unwrap().as_deref(), Some("real.txt"));
        let followed = archive(&dir.path().join("link"), "link", true).unwrap();
        assert_eq!(top_link(&followed).unwrap(), None);
        let renamed = rename_top(&followed, "other").unwrap();
        let mut entries = tar::Archive::new(renamed.as_slice());
        let top = entries.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(top.path().unwrap().to_string_lossy(), "other");
        let root = owned_by_root(&as_link).unwrap();
        assert_eq!(top_link(&root).unwrap().as_deref(), Some("real.txt"));
        let mut entries = tar::Archive::new(root.as_slice());
        let top = entries.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(
            (top.header().uid().unwrap(), top.header().gid().unwrap()),
            (0, 0)
        );
    }
}

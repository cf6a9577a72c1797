//! A service's secrets and configs as Compose gives them to its container: those read
//! from a file are bind-mounted (read-only), those whose text comes from a variable
//! (`environment:`) or the compose file itself (`content:`) are written into the
//! container between its creation and its start.

use std::collections::BTreeMap;

use wharf_model::{FileObject, FileReference, Service};
use wharf_plan::{ContainerFile, Mount};

/// What a file written into a container may do when the compose file does not say.
const DEFAULT_MODE: u32 = 0o444;

/// The service's secrets (under `/run/secrets/`) and configs (at `/NAME`), each where
/// its `target` says if it says.
pub fn secrets_and_configs(
    project: &wharf_model::Project,
    service: &Service,
    environment: &BTreeMap<String, String>,
) -> (Vec<Mount>, Vec<ContainerFile>) {
    let mut mounts = Vec::new();
    let mut files = Vec::new();
    let kinds = [
        (&service.secrets, &project.secrets, "/run/secrets/", false),
        (&service.configs, &project.configs, "/", true),
    ];
    for (references, defined, under, is_config) in kinds {
        let kind = if is_config { "config" } else { "secret" };
        for reference in references {
            let Some(object) = defined.get(&reference.source) else {
                continue;
            };
            let path = target(reference, under);
            if !object.file.is_empty() {
                mounts.push(Mount {
                    kind: "bind".to_owned(),
                    source: object.file.clone(),
                    target: path,
                    read_only: true,
                    options: String::new(),
                });
                continue;
            }
            let content = if !object.environment.is_empty() {
                environment
                    .get(&object.environment)
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "environment variable {:?} required by {kind} {:?} is not set",
                            object.environment,
                            name(object, reference)
                        )
                    })
            } else if is_config && !object.content.is_empty() {
                Ok(object.content.clone())
            } else {
                // External, or nothing to write (Compose skips an empty config too).
                continue;
            };
            let owners = owner(&reference.uid)
                .and_then(|uid| Ok((uid, owner(&reference.gid)?)))
                .map_err(|bad| {
                    format!(
                        "{bad:?} of {:?} is not a user or group number",
                        name(object, reference)
                    )
                });
            let (uid, gid) = owners.clone().unwrap_or_default();
            files.push(ContainerFile {
                path,
                content: owners.and(content),
                mode: reference.mode.map_or(DEFAULT_MODE, |mode| mode.0),
                uid,
                gid,
            });
        }
    }
    (mounts, files)
}

/// `under` + the source's name, an absolute `target`, or `under` + a relative one.
fn target(reference: &FileReference, under: &str) -> String {
    match reference.target.as_str() {
        "" => format!("{under}{}", reference.source),
        absolute if absolute.starts_with('/') => absolute.to_owned(),
        relative => format!("{under}{relative}"),
    }
}

fn name<'a>(object: &'a FileObject, reference: &'a FileReference) -> &'a str {
    if object.name.is_empty() {
        &reference.source
    } else {
        &object.name
    }
}

/// A `uid`/`gid` as written: none, or a number.
fn owner(written: &str) -> Result<Option<u32>, &str> {
    if written.is_empty() {
        return Ok(None);
    }
    written.parse().map(Some).map_err(|_| written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(file: &str) -> wharf_model::Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), file).unwrap();
        std::fs::write(dir.path().join("token.txt"), "t").unwrap();
        let options = wharf_manifest::LoadOptions {
            working_dir: dir.path().to_path_buf(),
            interpolate: true,
            ..Default::default()
        };
        wharf_manifest::load(&options).unwrap().project
    }

    #[test]
    fn files_are_mounted_and_the_rest_written_in() {
        let project = loaded(
            "services:\n  app:\n    image: x\n    secrets: [fromfile, {source: fromenv, target: api, uid: '1000', gid: '1001', mode: 0400}]\n    configs: [inline, {source: fromenv2, target: /etc/app.conf}, empty]\nsecrets:\n  fromfile: {file: ./token.txt}\n  fromenv: {environment: TOKEN}\nconfigs:\n  inline: {content: 'a=1'}\n  fromenv2: {environment: MISSING}\n  empty: {content: ''}\n",
        );
        let environment = BTreeMap::from([("TOKEN".to_owned(), "s3cret".to_owned())]);
        let (mounts, files) = secrets_and_configs(&project, &project.services["app"], &environment);
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].target, "/run/secrets/fromfile");
        assert!(mounts[0].read_only);
        let seen: Vec<_> = files
            .iter()
            .map(|f| (f.path.as_str(), f.content.clone(), f.mode, f.uid, f.gid))
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "/run/secrets/api",
                    Ok("s3cret".to_owned()),
                    0o400,
                    Some(1000),
                    Some(1001)
                ),
                ("/inline", Ok("a=1".to_owned()), 0o444, None, None),
                (
                    "/etc/app.conf",
                    Err(format!(
                        "environment variable \"MISSING\" required by config {:?} is not set",
                        project.configs["fromenv2"].name
                    )),
                    0o444,
                    None,
                    None
                ),
            ]
        );
        assert!(!format!("{files:?}").contains("s3cret"), "{files:?}");
    }
}

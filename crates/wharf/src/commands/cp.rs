//! `wharf cp SERVICE:SRC DEST` and `wharf cp SRC SERVICE:DEST`: files between a service
//! and this machine, as `docker compose cp` copies them. A container's files go
//! through the engine's archive API; a native service's files are this machine's,
//! relative paths taken from its working directory. Either way the copy travels as a
//! tar archive, so `-` reads or writes one, and a directory comes whole.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use wharf_api::ClientError;
use wharf_engine::{BlockingEngine, archive};
use wharf_plan::ProjectSpec;

use crate::cli::CpArgs;
use crate::daemon_client;
use crate::project_ref::{self, endpoint};
use crate::settings::Settings;

/// Where the files are: a service's (`SERVICE:PATH`) or this machine's.
enum Side<'a> {
    Service { service: &'a str, path: &'a str },
    Local(&'a str),
}

fn side(text: &str) -> Side<'_> {
    // As Docker reads it: a colon before any slash names a service; `./a:b` is a path.
    match text.split_once(':') {
        Some((service, path)) if !service.is_empty() && !service.contains('/') => {
            Side::Service { service, path }
        }
        _ => Side::Local(text),
    }
}

/// The service a copy goes to or from, when one side names one.
pub fn service_named(args: &CpArgs) -> Option<&str> {
    match (side(&args.source), side(&args.destination)) {
        (Side::Service { service, .. }, _) | (_, Side::Service { service, .. }) => Some(service),
        _ => None,
    }
}

pub fn run(settings: &Settings, args: &CpArgs) -> anyhow::Result<ExitCode> {
    // `path` is the service's side, `local` this machine's.
    let (service, path, local, inward) = match (side(&args.source), side(&args.destination)) {
        (Side::Service { service, path }, Side::Local(local)) => (service, path, local, false),
        (Side::Local(local), Side::Service { service, path }) => (service, path, local, true),
        _ => bail!(
            "cp copies between a service and this machine: one of SRC and DEST is SERVICE:PATH"
        ),
    };
    if path.is_empty() {
        bail!("{service}: names no path; write SERVICE:PATH (`{service}:/data`)");
    }
    if local.is_empty() {
        bail!("cp needs a path on this machine (`.` for here, `-` for a tar archive)");
    }
    let name = project_ref::name_defining(settings, &[service.to_owned()])?;
    let client = daemon_client::connect(&settings.paths)?;
    let spec: ProjectSpec = match client.get(&endpoint(&name, "spec")) {
        Ok(spec) => spec,
        Err(ClientError::Api { status: 404, .. }) => bail!("project {name} is not running"),
        Err(err) => return Err(err.into()),
    };
    let in_container = spec
        .services
        .get(service)
        .is_some_and(|s| s.container.is_some());
    let containers = if in_container {
        containers_for_copy(&client, &name, service, args, inward)?
    } else {
        // Natively every instance shares the working directory; one asked for must
        // still be there.
        if let Some(index) = args.index {
            project_ref::instance_of(&project_ref::instances(&client, &name)?, service, index)?;
        }
        Vec::new()
    };
    let working_dir = spec
        .services
        .get(service)
        .map(|s| s.working_dir.clone())
        .unwrap_or_default();
    // Natively a container path is the file behind the mount that holds it, else this
    // machine's own; a relative one is under the working directory.
    let service_path = |path: &str| -> anyhow::Result<PathBuf> {
        if !path.starts_with('/') {
            return Ok(working_dir.join(path));
        }
        let loaded = project_ref::load(settings)?;
        let Some(defined) = loaded.project.services.get(service) else {
            return Ok(PathBuf::from(path));
        };
        let volumes = settings.paths.project_data(&name).join("volumes");
        if let Some((mount, found)) = wharf_runtime::recipes::holding_mount(defined, &volumes, path)
        {
            // A mount `:ro` takes no copy, as the engine refuses one.
            if inward && mount.read_only {
                bail!("{path}: {service} mounts it read-only, so nothing is copied there");
            }
            return Ok(found);
        }
        if !inward && !Path::new(path).exists() {
            let mounts: Vec<String> = defined
                .volumes
                .iter()
                .filter(|m| !m.target.is_empty())
                .filter_map(|m| {
                    let host = wharf_runtime::recipes::mounted_path(defined, &volumes, &m.target)?;
                    Some(format!("{} is {}", m.target, host.display()))
                })
                .collect();
            bail!(
                "{path}: no such file here; natively {service} sees this machine's files{}",
                if mounts.is_empty() {
                    ", and mounts none".to_owned()
                } else {
                    format!(" and its mounts: {}", mounts.join(", "))
                }
            );
        }
        Ok(PathBuf::from(path))
    };
    match (inward, containers.first()) {
        // Out of a container.
        (false, Some(id)) => {
            let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
            let mut tar = Vec::new();
            engine.copy_out(id, path, &mut tar)?;
            // -L: what the link points to (relative to its directory), under its name.
            if args.follow_link
                && let Some(target) = wharf_engine::top_link(&tar)?
            {
                let link = Path::new(path);
                let target = link.parent().unwrap_or(Path::new("/")).join(target);
                let mut followed = Vec::new();
                engine.copy_out(id, &target.to_string_lossy(), &mut followed)?;
                tar = wharf_engine::rename_top(&followed, &last_name(link)?)?;
            }
            deliver(&tar, local, args.archive)
        }
        // Into containers: each one the copy goes to.
        (true, Some(_)) => {
            let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
            if local == "-" {
                let mut tar = Vec::new();
                std::io::stdin().read_to_end(&mut tar)?;
                for id in &containers {
                    engine.copy_in(id, path, tar.clone(), args.archive)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let source = Path::new(local);
            let own_name = last_name(source)?;
            // Into DEST when it is a directory there; else as DEST, in its directory.
            // Without -a the files are root's, as `docker cp` gives them.
            let packed = |name: &str| {
                let tar = archive(source, name, args.follow_link)?;
                if args.archive {
                    Ok::<_, std::io::Error>(tar)
                } else {
                    wharf_engine::owned_by_root(&tar)
                }
            };
            // Packed once for every container; the other name only when one needs it.
            let as_own = packed(&own_name)?;
            let mut as_dest = None;
            for id in &containers {
                if engine
                    .copy_in(id, path, as_own.clone(), args.archive)
                    .is_err()
                {
                    let dest = Path::new(path);
                    let dir = dest
                        .parent()
                        .map_or("/".into(), |p| p.display().to_string());
                    let tar = match &as_dest {
                        Some(tar) => tar,
                        None => as_dest.insert(packed(&last_name(dest)?)?),
                    };
                    engine.copy_in(id, &dir, tar.clone(), args.archive)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        // Natively: this machine's files, relative paths from the working directory.
        (false, None) => {
            let source = service_path(path)?;
            // The error names the path.
            let tar = archive(&source, &last_name(&source)?, args.follow_link)?;
            deliver(&tar, local, args.archive)
        }
        (true, None) => {
            let tar = if local == "-" {
                let mut tar = Vec::new();
                std::io::stdin().read_to_end(&mut tar)?;
                tar
            } else {
                let source = Path::new(local);
                archive(source, &last_name(source)?, args.follow_link)?
            };
            place(&tar, &service_path(path)?, args.archive)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The containers a copy involves, as Compose picks them: `--index`'s instance, else
/// the first to copy from and every instance to copy into (with `--all`, the service's
/// `wharf run` containers too).
fn containers_for_copy(
    client: &wharf_api::Client,
    project: &str,
    service: &str,
    args: &CpArgs,
    inward: bool,
) -> anyhow::Result<Vec<String>> {
    if let Some(index) = args.index.or((!inward).then_some(1)) {
        return Ok(vec![project_ref::container_of(
            client, project, service, index, "cp",
        )?]);
    }
    let mut ids: Vec<String> = project_ref::instances(client, project)?
        .into_iter()
        .filter(|i| i.service == service && !i.container_id.is_empty())
        .map(|i| i.container_id)
        .collect();
    if args.all {
        let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
        ids.extend(
            engine
                .project_containers(project)?
                .into_iter()
                .filter(|c| c.one_off && c.service == service)
                .map(|c| c.id),
        );
    }
    if ids.is_empty() {
        bail!("no container found for service {service:?}");
    }
    Ok(ids)
}

/// The copy, to standard output as a tar archive (`-`) or placed at `destination`
/// (keeping the archive's owners with `keep_owners`).
fn deliver(tar: &[u8], destination: &str, keep_owners: bool) -> anyhow::Result<ExitCode> {
    if destination == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(tar)?;
        stdout.flush()?;
    } else {
        place(tar, Path::new(destination), keep_owners)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn last_name(path: &Path) -> anyhow::Result<String> {
    let cleaned: PathBuf = path.components().collect();
    cleaned
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| {
            format!(
                "{}: a path that names a file or a directory",
                path.display()
            )
        })
}

/// Unpacks `tar` (one top entry) so that it lands at `dest`: inside it when it is a
/// directory, else as it, with the archive's owners when `keep_owners` (and wharf may
/// set them). Unpacked beside it first, so a broken archive leaves the destination as
/// it was.
fn place(tar: &[u8], dest: &Path, keep_owners: bool) -> anyhow::Result<()> {
    let into_dir = dest.is_dir();
    let parent = if into_dir {
        dest.to_path_buf()
    } else {
        dest.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let staging = tempfile::Builder::new()
        .prefix(".wharf-cp-")
        .tempdir_in(&parent)
        // The reason alone: the staging directory's name means nothing to the user.
        .map_err(|err| {
            let said = err.to_string();
            let reason = said.split(" at path ").next().unwrap_or(&said);
            anyhow::anyhow!("cannot write in {}: {reason}", parent.display())
        })?;
    let mut unpacked = tar::Archive::new(tar);
    unpacked.set_preserve_ownerships(keep_owners);
    unpacked
        .unpack(staging.path())
        .context("cannot unpack the copy")?;
    let top = std::fs::read_dir(staging.path())?
        .find_map(Result::ok)
        .context("the copy is empty")?
        .path();
    let target = if into_dir {
        dest.join(top.file_name().unwrap_or_default())
    } else {
        dest.to_path_buf()
    };
    move_merging(&top, &target).with_context(|| format!("cannot write {}", target.display()))
}

/// Moves `from` to `to`; a directory's entries merge into an existing one, as `cp -r`.
fn move_merging(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() && to.is_dir() {
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            move_merging(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    std::fs::rename(from, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colon_before_any_slash_names_a_service() {
        assert!(matches!(
            side("web:/etc/hosts"),
            Side::Service {
                service: "web",
                path: "/etc/hosts"
            }
        ));
        assert!(matches!(side("./a:b"), Side::Local("./a:b")));
        assert!(matches!(side("/tmp/x"), Side::Local("/tmp/x")));
        assert!(matches!(side("-"), Side::Local("-")));
    }

    #[test]
    fn a_copy_lands_inside_a_directory_or_as_the_named_path() {
        let work = tempfile::tempdir().unwrap();
        let source = work.path().join("notes.txt");
        std::fs::write(&source, "hello").unwrap();
        let tar = archive(&source, "notes.txt", false).unwrap();
        let dir = work.path().join("dir");
        std::fs::create_dir(&dir).unwrap();
        place(&tar, &dir, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "hello"
        );
        place(&tar, &work.path().join("renamed.txt"), true).unwrap();
        assert_eq!(
            std::fs::read_to_string(work.path().join("renamed.txt")).unwrap(),
            "hello"
        );
        // Nothing of the staging is left behind.
        let left: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".wharf-cp-"))
            .collect();
        assert!(left.is_empty());
        assert!(
            place(
                b"not a tar at all, not even close to 512 bytes",
                &dir.join("x"),
                false
            )
            .is_err()
        );
    }
}

//! `wharf volumes [SERVICE…]`: the project's volumes that exist, as Compose lists them
//! (the engine's, by the project's label), and the directories that stand for them
//! when services run natively.

use std::process::ExitCode;

use serde_json::json;
use wharf_engine::BlockingEngine;

use crate::cli::{ListFormat, VolumesArgs};
use crate::output::aligned_table;
use crate::project_ref;
use crate::settings::Settings;

/// One volume: (driver, name, where its data is, the file's name for it, and the
/// engine's scope and labels: `local` and none for a native one's directory).
struct Listed {
    driver: String,
    name: String,
    mountpoint: String,
    volume: String,
    scope: String,
    labels: Vec<(String, String)>,
}

pub fn run(settings: &Settings, args: &VolumesArgs) -> anyhow::Result<ExitCode> {
    let loaded = project_ref::load(settings)?;
    let project = &loaded.project;
    for service in &args.services {
        if !project.services.contains_key(service) {
            anyhow::bail!("no such service: {service}");
        }
    }
    let containers = crate::service_backends::containers(settings, &loaded, settings.backend);
    // The volumes the named services mount (all the project's when none are named),
    // and those a native service mounts, whose data is a directory of the project's.
    let mounted = |native_only: bool| -> Vec<&str> {
        project
            .services
            .iter()
            .filter(|(name, _)| args.services.is_empty() || args.services.contains(name))
            .filter(|(name, _)| !native_only || !containers.contains(*name))
            .flat_map(|(_, service)| service.volumes.iter())
            .filter(|mount| mount.kind == "volume")
            .map(|mount| mount.source.as_str())
            .collect()
    };
    let (used, used_natively) = (mounted(false), mounted(true));
    let wanted = |volume: &str| args.services.is_empty() || used.contains(&volume);
    let mut listed = Vec::new();
    if !containers.is_empty() {
        let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
        for volume in engine.project_volumes(&project.name)? {
            if wanted(&volume.volume) {
                listed.push(Listed {
                    driver: volume.driver,
                    name: volume.name,
                    mountpoint: volume.mountpoint,
                    volume: volume.volume,
                    scope: volume.scope,
                    labels: volume.labels,
                });
            }
        }
    }
    let native = settings.paths.project_data(&project.name).join("volumes");
    let mut dirs: Vec<_> = std::fs::read_dir(&native)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs {
        let volume = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(defined) = project.volumes.get(&volume)
            && used_natively.contains(&volume.as_str())
        {
            // Named as the engine would name it (`<project>_<volume>`), as Compose lists it.
            listed.push(Listed {
                driver: "local".to_owned(),
                name: defined.name.clone(),
                mountpoint: dir.display().to_string(),
                volume,
                scope: "local".to_owned(),
                labels: Vec::new(),
            });
        }
    }
    if args.quiet {
        for volume in &listed {
            println!("{}", volume.name);
        }
    } else if args.format.format == ListFormat::Json {
        for volume in &listed {
            // Compose's fields, as `docker compose volumes --format json` prints them
            // (what the engine's list does not know is `N/A` there too).
            let labels: Vec<String> = volume
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!(
                "{}",
                json!({
                    "Availability": "N/A",
                    "Driver": volume.driver,
                    "Group": "N/A",
                    "Labels": labels.join(","),
                    "Links": "N/A",
                    "Mountpoint": volume.mountpoint,
                    "Name": volume.name,
                    "Scope": volume.scope,
                    "Size": "N/A",
                    "Status": "N/A",
                    "volume": volume.volume,
                })
            );
        }
    } else {
        let mut rows = vec![["DRIVER", "VOLUME NAME", "MOUNTPOINT"].map(str::to_owned)];
        for volume in listed {
            rows.push([volume.driver, volume.name, volume.mountpoint]);
        }
        print!("{}", aligned_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

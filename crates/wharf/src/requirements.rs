//! `x-wharf.requirements`: the files whose change means a service's image or
//! environment is out of date. Their hash is recorded when wharf builds the image (as a
//! label on it) or, for a service with no image of its own, when `wharf up` starts it
//! (in the project's state directory); `wharf check --requirements` compares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wharf_api::Paths;
use wharf_engine::BlockingEngine;
use wharf_manifest::Loaded;
use wharf_model::Service;

/// The label that carries the hash on an image wharf built.
pub const IMAGE_LABEL: &str = "dev.wharf.requirements";

/// Where a service's globs are relative to: its build context, else the directory it
/// runs in natively, else the project directory.
pub fn base_dir(loaded: &Loaded, service: &Service) -> PathBuf {
    if let Some(build) = &service.build {
        return loaded.project_dir.join(build.context_dir());
    }
    let process_dir = service
        .wharf
        .process
        .as_ref()
        .and_then(|p| p.working_dir.as_ref());
    process_dir.map_or_else(
        || loaded.project_dir.clone(),
        |dir| loaded.project_dir.join(dir),
    )
}

/// The hash of the files `service`'s requirements match (names and contents), or
/// `None` when it has none or they match no file.
pub fn hash(loaded: &Loaded, service: &Service) -> anyhow::Result<Option<String>> {
    let base = base_dir(loaded, service);
    let mut files = Vec::new();
    for pattern in &service.wharf.requirements {
        files.extend(
            crate::glob::expand(&base, pattern)
                .with_context(|| format!("cannot read {}", base.display()))?,
        );
    }
    if files.is_empty() {
        return Ok(None);
    }
    files.sort();
    files.dedup();
    let mut digest = Sha256::new();
    for file in &files {
        let content = std::fs::read(base.join(file))
            .with_context(|| format!("cannot read {}", base.join(file).display()))?;
        digest.update(file.to_string_lossy().as_bytes());
        digest.update([0]);
        digest.update((content.len() as u64).to_le_bytes());
        digest.update(&content);
    }
    Ok(Some(wharf_runtime::hex(&digest.finalize())))
}

/// What the engine knows of an image wharf builds.
pub enum ImageRecord {
    Missing,
    /// There, without the label: built some other way.
    Unrecorded,
    Recorded(String),
}

/// An engine that cannot say counts the image as there, built some other way.
pub fn image_record(engine: &BlockingEngine, image: &str) -> ImageRecord {
    match engine.inspect_image(image) {
        Ok(None) => ImageRecord::Missing,
        Ok(Some(found)) => found
            .config
            .and_then(|config| config.labels)
            .and_then(|labels| labels.get(IMAGE_LABEL).cloned())
            .map_or(ImageRecord::Unrecorded, ImageRecord::Recorded),
        Err(_) => ImageRecord::Unrecorded,
    }
}

/// The hashes recorded for a project's services that have no image of their own.
pub struct RecordedHashes {
    path: PathBuf,
    pub by_service: BTreeMap<String, String>,
}

impl RecordedHashes {
    pub fn load(paths: &Paths, project: &str) -> anyhow::Result<Self> {
        let path = paths.project_state(project).join("requirements.json");
        let by_service = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is damaged; delete it", path.display()))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => return Err(err).context(format!("cannot read {}", path.display())),
        };
        Ok(Self { path, by_service })
    }

    /// Writes the hashes, replacing the file whole so a crash never leaves half of it.
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let staged = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(staged.path(), serde_json::to_vec_pretty(&self.by_service)?)?;
        staged
            .persist(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

//! The files a published project carries, as Compose lays them out: each compose file
//! as written, the files services `extends` and (with `--with-env`) the env files they
//! read, each of those under a name made from its path's SHA-256, and every mention of
//! them in the texts rewritten to that name, so the artifact reads anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use wharf_manifest::{FileReference, Loaded, ReferenceKind, file_references};
use wharf_registry::Layer;

/// The layers for `loaded`'s files. `with_env` adds the env files' contents.
pub struct PublishedFiles {
    pub layers: Vec<Layer>,
    /// The file each layer was read from, in the same order.
    pub origins: Vec<PathBuf>,
    /// The env files the services read, by service, whether published or not.
    pub env_files: BTreeMap<String, Vec<PathBuf>>,
}

pub fn published_files(loaded: &Loaded, with_env: bool) -> anyhow::Result<PublishedFiles> {
    let mut gathered = Gathered {
        loaded,
        layers: Vec::new(),
        origins: Vec::new(),
        env_files: BTreeMap::new(),
        extended: Vec::new(),
        read_env: Vec::new(),
    };
    for file in &loaded.files {
        if file.as_os_str() == "-" {
            bail!("cannot publish a compose file read from standard input: name it with -f");
        }
        gathered.add(file, None)?;
    }
    // A file extended may extend others in turn: each is published once.
    let mut done = 0;
    while let Some((path, name)) = gathered.extended.get(done).cloned() {
        gathered.add(&path, Some(name))?;
        done += 1;
    }
    if with_env {
        for (path, name) in &gathered.read_env {
            // As Compose: an env file that is not there (`required: false`) is left out.
            if let Ok(data) = std::fs::read(path) {
                gathered.layers.push(Layer::env_file(name, data));
                gathered.origins.push(path.clone());
            }
        }
    }
    Ok(PublishedFiles {
        layers: gathered.layers,
        origins: gathered.origins,
        env_files: gathered.env_files,
    })
}

struct Gathered<'a> {
    loaded: &'a Loaded,
    layers: Vec<Layer>,
    origins: Vec<PathBuf>,
    env_files: BTreeMap<String, Vec<PathBuf>>,
    /// Files extended or read, in the order first named, with their published names.
    extended: Vec<(PathBuf, String)>,
    read_env: Vec<(PathBuf, String)>,
}

impl Gathered<'_> {
    /// Adds the file at `path` as a layer: a compose file under its own name, or an
    /// extended one under `name`.
    fn add(&mut self, path: &Path, name: Option<String>) -> anyhow::Result<()> {
        let mut text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        // A compose file's paths are the project directory's; an extended file's its own.
        let base = match (&name, path.parent()) {
            (Some(_), Some(dir)) => dir,
            _ => &self.loaded.project_dir,
        };
        let outline = file_references(path, &text, &self.loaded.environment, base)?;
        if outline.local_includes {
            bail!(
                "cannot publish {}: it includes local files (`include:`), which a published project cannot carry; name them with -f instead, or publish them and include them as oci://…",
                path.display()
            );
        }
        let mut replacements: Vec<(&FileReference, String)> = Vec::new();
        for reference in &outline.references {
            let published = match reference.kind {
                ReferenceKind::Extends => {
                    // Not on this machine but loaded: a remote file, left as written.
                    if !reference.path.exists() {
                        continue;
                    }
                    hashed_name(&reference.path, "yaml", &mut self.extended)
                }
                ReferenceKind::EnvFile => {
                    self.env_files
                        .entry(reference.service.clone())
                        .or_default()
                        .push(reference.path.clone());
                    hashed_name(&reference.path, "env", &mut self.read_env)
                }
            };
            replacements.push((reference, published));
        }
        // An anchor used twice names its file once in the text: rewritten once.
        replacements.sort_by_key(|(reference, _)| std::cmp::Reverse(reference.range.start));
        replacements.dedup_by(|a, b| a.0.range == b.0.range && a.1 == b.1);
        if let Some(pair) = replacements
            .windows(2)
            .find(|pair| pair[1].0.range.end > pair[0].0.range.start)
        {
            bail!(
                "cannot publish {}: {:?} names two files in one place (an anchor used where its paths mean different files); write the paths out",
                path.display(),
                &text[pair[0].0.range.clone()]
            );
        }
        for (reference, published) in replacements {
            text.replace_range(reference.range.clone(), &published);
        }
        self.origins.push(path.to_owned());
        self.layers.push(match name {
            Some(name) => Layer::extended_file(&name, text.into_bytes()),
            None => Layer::compose_file(&base_name(path), text.into_bytes()),
        });
        Ok(())
    }
}

/// `<sha256 of the path>.<extension>`, remembered in `seen` with the path.
fn hashed_name(path: &Path, extension: &str, seen: &mut Vec<(PathBuf, String)>) -> String {
    if let Some((_, name)) = seen.iter().find(|(known, _)| known == path) {
        return name.clone();
    }
    let digest = wharf_registry::digest(path.to_string_lossy().as_bytes());
    let name = format!("{}.{extension}", digest.trim_start_matches("sha256:"));
    seen.push((path.to_owned(), name.clone()));
    name
}

fn base_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

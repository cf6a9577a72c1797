//! The loading pipeline, as named passes: discover → read → interpolate → canonicalize
//! → include → extends → merge → type → normalize.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wharf_model::Project;

use crate::canonical::{self, Form, canonicalize};
use crate::discovery::{find_files, normalize_project_name, validate_project_name};
use crate::environment::Environment;
use crate::error::{Error, Result};
use crate::interpolate::{VariableUse, interpolate_part, interpolate_tree, variables_used};
use crate::merge::{merge, strip_tags};
use crate::node::{Key, Map, Node, Value};
use crate::schema;
use crate::source::{FileRef, SourceFile, Span};
use crate::{extends, include, normalize, paths, typing, unicity, yaml};

/// What the command line and the shell say about where and how to load.
/// Fetches the project a URL names (`oci://…`) and gives the path of its local compose
/// file, or why it cannot.
#[derive(Clone)]
pub struct RemoteFiles(pub Arc<FetchRemote>);

/// The URL in, the local compose file (or why there is none) out.
pub type FetchRemote = dyn Fn(&str) -> std::result::Result<PathBuf, String> + Send + Sync;

impl std::fmt::Debug for RemoteFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteFiles")
    }
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files; empty means `COMPOSE_FILE` or discovery. `-` reads `stdin`.
    pub files: Vec<PathBuf>,
    pub project_name: Option<String>,
    pub project_directory: Option<PathBuf>,
    pub profiles: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub working_dir: PathBuf,
    /// The shell's environment.
    pub shell: BTreeMap<String, String>,
    pub interpolate: bool,
    /// What `-` reads.
    pub stdin: Option<String>,
    /// Services named on the command line: enabled whatever their profiles.
    pub services: Vec<String>,
    /// Leave `env_file` unread, as Compose does when it only hashes the configuration.
    pub keep_env_files: bool,
    /// Gather every use of a variable into [`Loaded::variables`], and type nothing: the
    /// project comes back with its name only (`config --variables`, whose files may
    /// hold a variable where a number or a size must be).
    pub collect_variables: bool,
    /// Keep the networks, volumes, secrets, configs and models no enabled service uses
    /// (`--all-resources`).
    pub all_resources: bool,
    /// Skip the checks that relate one part of the project to another: undefined
    /// references, dependency cycles, conflicting settings (`config --no-consistency`).
    pub skip_consistency: bool,
    /// Leave relative paths as written (`config --no-path-resolution`).
    pub keep_relative_paths: bool,
    /// Add none of the implicit defaults: the default network, resources' engine
    /// names, the Dockerfile's name, the dependencies links imply, a lowercase project
    /// name (`config --no-normalize`).
    pub skip_normalization: bool,
    /// `--compatibility`: Compose v1's names (`project_service_1`).
    pub compatibility: bool,
    /// Files whose relative paths resolve against their own directory, not the
    /// project's: projects fetched from a registry, as Compose reads them.
    pub self_relative: Vec<PathBuf>,
    /// How an `include` of `oci://…` is fetched; without it, such an include is an
    /// error. The loader itself reads no network.
    pub remote_files: Option<RemoteFiles>,
}

/// A loaded project and what was learnt on the way.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub files: Vec<PathBuf>,
    pub project_dir: PathBuf,
    /// The variables used for interpolation (.env overlaid by the shell).
    pub environment: BTreeMap<String, String>,
    /// Each use of a variable, when asked for (`LoadOptions::collect_variables`).
    pub variables: Vec<VariableUse>,
    /// Every profile any service names, enabled or not.
    pub profiles: BTreeSet<String>,
    /// Services the files define whose profiles are not enabled.
    pub disabled: BTreeSet<String>,
    pub warnings: Vec<String>,
}

/// What a load starts from: the files, the project's directory, the variables, each
/// file's documents as read, and the project's name.
struct Start {
    files: Vec<PathBuf>,
    project_dir: PathBuf,
    env: Environment,
    documents: Vec<(PathBuf, Vec<Node>)>,
    name: String,
}

fn start(options: &LoadOptions) -> Result<Start> {
    let shell_dir = &options.working_dir;
    let files = resolve_files(options)?;
    let project_dir = match &options.project_directory {
        Some(dir) => paths::clean(&shell_dir.join(dir)),
        None => files
            .iter()
            .find(|f| f.as_os_str() != "-")
            .and_then(|f| f.parent())
            .map_or_else(|| shell_dir.clone(), Path::to_path_buf),
    };
    let env_files = env_files(options, &project_dir);
    let env = Environment::load(&options.shell, &env_files)?;
    let documents = files
        .iter()
        .map(|path| Ok((path.clone(), read_documents(options, path)?)))
        .collect::<Result<Vec<_>>>()?;
    let name = project_name(options, &env, &documents, &project_dir)?;
    Ok(Start {
        files,
        project_dir,
        env,
        documents,
        name,
    })
}

/// The project's name alone, as [`load`] finds it: its files read, but not merged,
/// interpolated or typed (what `ps` and `logs` need to ask wharfd about the project).
pub fn load_name(options: &LoadOptions) -> Result<String> {
    start(options).map(|start| start.name)
}

pub fn load(options: &LoadOptions) -> Result<Loaded> {
    let Start {
        files,
        project_dir,
        mut env,
        documents,
        name,
    } = start(options)?;
    // As Compose: the files are interpolated knowing the project's name.
    env.set("COMPOSE_PROJECT_NAME", &name);
    let mut context = Context {
        options,
        env: &env,
        variables: Vec::new(),
        warnings: Vec::new(),
        including: Vec::new(),
        project_dir: project_dir.clone(),
    };
    let mut root = context.merge_documents(documents, &project_dir)?;
    unicity::enforce(&mut root);
    if options.collect_variables {
        return Ok(Loaded {
            project: Project {
                name,
                ..Project::default()
            },
            files,
            project_dir,
            environment: env.vars().clone(),
            variables: context.variables,
            profiles: BTreeSet::new(),
            disabled: BTreeSet::new(),
            warnings: context.warnings,
        });
    }

    let home = env.vars().get("HOME").cloned();
    if !options.keep_relative_paths {
        paths::absolutize(&mut root, &project_dir, home.as_deref());
    }
    let top = root
        .as_map_mut()
        .ok_or_else(|| Error::new("empty compose file"))?;
    if let Some(version) = top.remove("version") {
        context.warnings.push(format!(
            "{}: the attribute `version` is obsolete, it will be ignored",
            version
                .span
                .path()
                .map_or_else(|| "compose file".to_owned(), |p| p.display().to_string())
        ));
    }
    let name_span = top.get("name").map(|n| n.span.clone()).unwrap_or_default();
    top.insert(
        Key::new("name", name_span.clone()),
        Node::str(name, name_span),
    );
    schema::check(&root, options)?;
    let (project, written) = typing::type_project(root)?;
    let profiles = project
        .services
        .values()
        .flat_map(|s| s.profiles.iter().cloned())
        .collect();
    let active = active_profiles(options, &env);
    let defined: BTreeSet<String> = project.services.keys().cloned().collect();
    let mut project =
        normalize::normalize(project, &written, &active, &env, &project_dir, options)?;
    project.compatibility = options.compatibility;

    context.warnings.extend(
        env.unset_names()
            .into_iter()
            .map(|name| format!("The {name:?} variable is not set. Defaulting to a blank string.")),
    );
    let disabled = defined
        .into_iter()
        .filter(|name| !project.services.contains_key(name))
        .collect();
    Ok(Loaded {
        project,
        files,
        project_dir,
        environment: env.vars().clone(),
        variables: context.variables,
        profiles,
        disabled,
        warnings: context.warnings,
    })
}

/// `--env-file`, else `COMPOSE_ENV_FILES` (comma-separated), else `dir`'s `.env`
/// unless `COMPOSE_DISABLE_ENV_FILE` is true, as Compose chooses.
fn env_files(options: &LoadOptions, dir: &Path) -> Vec<PathBuf> {
    let shell_dir = &options.working_dir;
    let from_shell: Vec<PathBuf> = options
        .shell
        .get("COMPOSE_ENV_FILES")
        .map(|files| {
            files
                .split(',')
                .filter(|f| !f.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    let named = if options.env_files.is_empty() {
        &from_shell
    } else {
        &options.env_files
    };
    if !named.is_empty() {
        named.iter().map(|f| shell_dir.join(f)).collect()
    } else if options
        .shell
        .get("COMPOSE_DISABLE_ENV_FILE")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true"))
    {
        Vec::new()
    } else {
        Environment::default_env_files(dir)
    }
}

fn resolve_files(options: &LoadOptions) -> Result<Vec<PathBuf>> {
    let dir = &options.working_dir;
    if !options.files.is_empty() {
        return Ok(options
            .files
            .iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    f.clone()
                } else {
                    paths::clean(&dir.join(f))
                }
            })
            .collect());
    }
    // `.env` may name the files too, so it is read where they would be looked for.
    let dotenv;
    let vars = if options.shell.contains_key("COMPOSE_FILE") {
        &options.shell
    } else {
        let dir = options
            .project_directory
            .as_ref()
            .map_or_else(|| dir.clone(), |d| paths::clean(&dir.join(d)));
        dotenv = Environment::load(&options.shell, &env_files(options, &dir))?;
        dotenv.vars()
    };
    if let Some(list) = vars.get("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let separator = vars
            .get("COMPOSE_PATH_SEPARATOR")
            .map_or(":", String::as_str);
        return Ok(list
            .split(separator)
            .map(|f| paths::clean(&dir.join(f)))
            .collect());
    }
    // As Compose: `--project-directory` is also where the files are looked for.
    match &options.project_directory {
        Some(project_dir) => find_files(&paths::clean(&dir.join(project_dir))),
        None => find_files(dir),
    }
}

fn active_profiles(options: &LoadOptions, env: &Environment) -> Vec<String> {
    if !options.profiles.is_empty() {
        return options.profiles.clone();
    }
    // As Compose splits it, unset or empty is one empty name, which a service listing
    // the profile `""` has: such a service runs until profiles are chosen.
    env.vars()
        .get("COMPOSE_PROFILES")
        .map_or("", String::as_str)
        .split(',')
        .map(|p| p.trim().to_owned())
        .collect()
}

/// `-p` > `COMPOSE_PROJECT_NAME` > `name:` (the last file's that has one, its
/// variables filled before the name is known) > the project directory's name.
fn project_name(
    options: &LoadOptions,
    env: &Environment,
    documents: &[(PathBuf, Vec<Node>)],
    project_dir: &Path,
) -> Result<String> {
    if let Some(name) = &options.project_name {
        validate_project_name(name)?;
        return Ok(name.clone());
    }
    if let Some(name) = env
        .vars()
        .get("COMPOSE_PROJECT_NAME")
        .filter(|n| !n.is_empty())
    {
        validate_project_name(name)?;
        return Ok(name.clone());
    }
    let written = documents
        .iter()
        .flat_map(|(_, documents)| documents)
        .filter_map(|document| document.as_map()?.get("name"))
        // Written empty (`name: ""`), it names nothing: the directory's name follows,
        // as in Compose (one that interpolates to nothing is an error, as there).
        .rfind(|name| name.as_str() != Some(""));
    if let Some(node) = written {
        let mut node = node.clone();
        if options.interpolate {
            interpolate_part(&mut node, env, "name")?;
        }
        let name = node
            .as_str()
            .ok_or_else(|| Error::at(&node.span, "name must be a string"))?
            .to_owned();
        if options.skip_normalization {
            return Ok(name);
        }
        // Compose normalizes a `name:` from the file rather than rejecting it.
        let normalized = normalize_project_name(&name);
        validate_project_name(&normalized).map_err(|e| e.or_at(&node.span))?;
        return Ok(normalized);
    }
    let base = project_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("default");
    let name = normalize_project_name(base);
    if name.is_empty() {
        return Err(Error::new(format!(
            "cannot derive a project name from {}",
            project_dir.display()
        ))
        .with_help("set one with -p NAME or a top-level `name:`"));
    }
    Ok(name)
}

/// The state shared by the passes of one load (and the loads of its includes).
pub struct Context<'a> {
    pub options: &'a LoadOptions,
    pub env: &'a Environment,
    pub variables: Vec<VariableUse>,
    pub warnings: Vec<String>,
    /// The files being loaded, outermost first: an include of one of them is a cycle.
    pub including: Vec<PathBuf>,
    /// The project's directory, which `--no-path-resolution` rebases imported paths on.
    pub project_dir: PathBuf,
}

impl Context<'_> {
    /// What resolves the paths that included or extended `files` brought, relative to
    /// `dir`: absolute, or (`--no-path-resolution`) relative to the project directory.
    pub fn imported_paths<'a>(
        &'a self,
        dir: &'a Path,
        files: &'a [PathBuf],
    ) -> paths::Resolver<'a> {
        paths::Resolver {
            dir,
            home: self.env.vars().get("HOME").cloned(),
            rebase_on: self
                .options
                .keep_relative_paths
                .then_some((self.project_dir.as_path(), files)),
        }
    }

    /// Reads, processes and merges `files` into one canonical tree.
    pub fn load_tree(&mut self, files: &[PathBuf], project_dir: &Path) -> Result<Node> {
        let documents = files
            .iter()
            .map(|path| Ok((path.clone(), self.read_documents(path)?)))
            .collect::<Result<Vec<_>>>()?;
        self.merge_documents(documents, project_dir)
    }

    /// Processes the documents read from each file and merges them into one
    /// canonical tree.
    pub fn merge_documents(
        &mut self,
        files: Vec<(PathBuf, Vec<Node>)>,
        project_dir: &Path,
    ) -> Result<Node> {
        let paths: Vec<PathBuf> = files.iter().map(|(path, _)| path.clone()).collect();
        let mut root: Option<Node> = None;
        for (path, documents) in files {
            let path = &path;
            if self.including.contains(path) {
                let chain: Vec<String> = self
                    .including
                    .iter()
                    .chain([path])
                    .map(|p| p.display().to_string())
                    .collect();
                return Err(Error::new(format!(
                    "include cycle detected: {}",
                    chain.join(" includes ")
                )));
            }
            self.including.push(path.clone());
            let own_dir = path
                .parent()
                .filter(|_| self.options.self_relative.contains(path));
            for document in documents {
                let mut document = self.process_document(document, path, project_dir)?;
                if let Some(dir) = own_dir {
                    let home = self.env.vars().get("HOME").map(String::as_str);
                    paths::absolutize(&mut document, dir, home);
                }
                match &mut root {
                    None => root = Some(strip_tags(document)),
                    Some(base) => {
                        document.span = base.span.clone();
                        merge(base, document, &[]);
                    }
                }
            }
            self.including.pop();
        }
        root.ok_or_else(|| {
            Error::new(format!(
                "empty compose file: {}",
                paths
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    pub fn read_documents(&self, path: &Path) -> Result<Vec<Node>> {
        read_documents(self.options, path)
    }

    /// Interpolates and canonicalizes one document, then brings in its includes and
    /// resolves its `extends`.
    pub fn process_document(
        &mut self,
        mut document: Node,
        path: &Path,
        project_dir: &Path,
    ) -> Result<Node> {
        if self.options.collect_variables {
            // As Compose's: the project's `name` is not among them.
            if let Value::Map(top) = &document.value {
                top.iter()
                    .filter(|(key, _)| key.name() != "name")
                    .for_each(|(_, value)| collect_variables(value, &mut self.variables));
            }
        }
        if self.options.interpolate {
            interpolate_tree(&mut document, self.env)?;
        }
        self.warnings
            .extend(canonical::legacy_external_warnings(&document));
        canonicalize(
            &mut document,
            Form {
                normalize: !self.options.skip_normalization,
                interpolated: self.options.interpolate,
            },
        )?;
        include::apply(self, &mut document, project_dir)?;
        let file_dir = path
            .parent()
            .filter(|_| path.as_os_str() != "-")
            .unwrap_or(project_dir)
            .to_path_buf();
        extends::apply(self, &mut document, &file_dir)?;
        Ok(document)
    }
}

/// The documents of one compose file (`-` reads standard input), each a mapping.
fn read_documents(options: &LoadOptions, path: &Path) -> Result<Vec<Node>> {
    let (display, text) = if path.as_os_str() == "-" {
        (
            PathBuf::from("<stdin>"),
            options.stdin.clone().unwrap_or_default(),
        )
    } else {
        let text = SourceFile::read_text(path).map_err(|e| Error::io(path, &e))?;
        (path.to_path_buf(), text)
    };
    let file = FileRef::new(display, text);
    let documents = yaml::parse_documents(&file)?;
    for document in &documents {
        if document.as_map().is_none() {
            return Err(Error::at(
                &document.span,
                format!(
                    "the top level of a compose file must be a mapping, found {}",
                    document.kind()
                ),
            ));
        }
    }
    Ok(documents)
}

fn collect_variables(node: &Node, uses: &mut Vec<VariableUse>) {
    match &node.value {
        Value::Str(text) => {
            let _ = variables_used(text, uses);
        }
        Value::Seq(items) => items.iter().for_each(|i| collect_variables(i, uses)),
        Value::Map(map) => map.iter().for_each(|(_, v)| collect_variables(v, uses)),
        _ => {}
    }
}

/// An empty mapping node, for sections that must exist.
pub fn empty_map(span: Span) -> Node {
    Node::new(Value::Map(Map::default()), span)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as a project's compose file, loaded with `options` (variables not filled
    /// unless they say).
    fn load_text(text: &str, options: LoadOptions) -> Result<Loaded> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), text).unwrap();
        load(&LoadOptions {
            working_dir: dir.path().to_path_buf(),
            ..options
        })
    }

    /// A dependency misspelt is pointed at where it is written, with the name meant.
    #[test]
    fn a_misspelt_dependency_is_pointed_at_with_the_name_meant() {
        let err = load_text(
            "services:\n  web:\n    image: x\n    depends_on: [cahce]\n  cache:\n    image: y\n",
            LoadOptions::default(),
        )
        .unwrap_err();
        let span = err.location().unwrap();
        assert_eq!((span.line, span.col), (4, 18), "{err:?}");
        assert_eq!(err.help(), Some("did you mean \"cache\"?"));
    }

    /// `config --no-interpolate` and `--variables`: short ports stay as written (one may
    /// hold a variable, which no parse of a port could read), a variable with a `:` is
    /// one part of a volume, and nothing is checked for consistency.
    #[test]
    fn variables_left_as_written_load() {
        let loaded = load_text(
            "services:\n  db:\n    image: postgres\n    ports: [\"127.0.0.1:${DB_PORT}:5432\"]\n    volumes: [\"${DATA:-./data}:/var/lib/data\"]\n",
            LoadOptions {
                skip_consistency: true,
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let db = &loaded.project.services["db"];
        assert_eq!(db.ports[0].raw, "127.0.0.1:${DB_PORT}:5432");
        assert_eq!(
            serde_json::to_value(&db.ports[0]).unwrap(),
            "127.0.0.1:${DB_PORT}:5432"
        );
        assert_eq!(
            (db.volumes[0].kind.as_str(), db.volumes[0].source.as_str()),
            ("volume", "${DATA:-./data}")
        );
    }
}

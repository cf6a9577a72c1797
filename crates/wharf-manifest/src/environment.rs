//! The variables a project is interpolated with: the `.env` file (or `--env-file`s)
//! overlaid by the shell, which always wins.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::dotenv;
use crate::error::{Error, Result};
use crate::interpolate::Variables;
use crate::source::FileRef;

#[derive(Debug, Default)]
pub struct Environment {
    vars: BTreeMap<String, String>,
    warned: RefCell<BTreeSet<String>>,
}

impl Environment {
    pub fn new(vars: BTreeMap<String, String>) -> Self {
        Self {
            vars,
            warned: RefCell::default(),
        }
    }

    /// Reads `env_files` (each must exist) over nothing, then lays `shell` on top.
    pub fn load(shell: &BTreeMap<String, String>, env_files: &[PathBuf]) -> Result<Self> {
        let shell_env = Self::new(shell.clone());
        let mut vars = BTreeMap::new();
        for path in env_files {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
            let file = FileRef::new(path.clone(), text);
            vars.extend(dotenv::parse(&file, &shell_env)?);
        }
        vars.extend(shell.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Self::new(vars))
    }

    /// The variables one env file sets (its `${VAR}`s filled from `shell`), in order.
    pub fn read_file(
        path: &Path,
        shell: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, String)>> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, &e))?;
        let file = FileRef::new(path.to_path_buf(), text);
        Ok(dotenv::parse(&file, &Self::new(shell.clone()))?
            .into_iter()
            .collect())
    }

    /// The default `.env` of a project directory, when it exists.
    pub fn default_env_files(project_dir: &Path) -> Vec<PathBuf> {
        let path = project_dir.join(".env");
        if path.is_file() {
            vec![path]
        } else {
            Vec::new()
        }
    }

    /// Sets `name` to `value`, over what the files and the shell said.
    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_owned(), value.to_owned());
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Names of variables substituted as empty because they were not set, once each.
    pub fn unset_names(&self) -> Vec<String> {
        self.warned.borrow().iter().cloned().collect()
    }
}

impl Variables for Environment {
    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    fn unset(&self, name: &str) {
        self.warned.borrow_mut().insert(name.to_owned());
    }
}

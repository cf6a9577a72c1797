//! The command line between a recipe and its entrypoint. A recipe whose server needs
//! preparing first writes `wharf recipe NAME --key value … [-- server arguments]` as
//! the service's command; wharfd runs it, and the entrypoint reads it back here.

use std::fmt::Display;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("there is no recipe {0:?} (postgres, mariadb, nginx, rabbitmq)")]
    UnknownRecipe(String),
    #[error("--{0} is missing")]
    Missing(&'static str),
    #[error("--{key} {value:?}: {why}")]
    Invalid {
        key: &'static str,
        value: String,
        why: String,
    },
    #[error("{0:?} is not an option: options are --KEY VALUE, server arguments follow --")]
    Stray(String),
}

/// Options in the order given, repeatable, then the server's own arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    pairs: Vec<(String, String)>,
    server_args: Vec<String>,
}

impl Options {
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Display) -> Self {
        self.pairs.push((key.to_owned(), value.to_string()));
        self
    }

    #[must_use]
    pub fn with_path(self, key: &str, path: &Path) -> Self {
        self.with(key, path.display())
    }

    #[must_use]
    pub fn with_server_args(mut self, args: Vec<String>) -> Self {
        self.server_args = args;
        self
    }

    /// The service's command: `wharf recipe RECIPE`, the options, `--` and the rest.
    pub fn into_command(self, wharf: &Path, recipe: &str) -> Vec<String> {
        let mut command = vec![
            wharf.display().to_string(),
            "recipe".to_owned(),
            recipe.to_owned(),
        ];
        for (key, value) in self.pairs {
            command.extend([format!("--{key}"), value]);
        }
        if !self.server_args.is_empty() {
            command.push("--".to_owned());
            command.extend(self.server_args);
        }
        command
    }

    /// Reads what `into_command` wrote after the recipe's name.
    pub fn parse(args: &[String]) -> Result<Self, LaunchError> {
        let mut options = Self::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if arg == "--" {
                options.server_args = rest.cloned().collect();
                break;
            }
            let key = arg
                .strip_prefix("--")
                .filter(|k| !k.is_empty())
                .ok_or_else(|| LaunchError::Stray(arg.clone()))?;
            let value = rest.next().ok_or_else(|| LaunchError::Stray(arg.clone()))?;
            options.pairs.push((key.to_owned(), value.clone()));
        }
        Ok(options)
    }

    pub fn optional(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn path(&self, key: &'static str) -> Result<PathBuf, LaunchError> {
        self.optional(key)
            .map(PathBuf::from)
            .ok_or(LaunchError::Missing(key))
    }

    pub fn port(&self, key: &'static str) -> Result<u16, LaunchError> {
        let value = self.optional(key).ok_or(LaunchError::Missing(key))?;
        value.parse().map_err(|_| LaunchError::Invalid {
            key,
            value: value.to_owned(),
            why: "not a port number".to_owned(),
        })
    }

    pub fn server_args(&self) -> &[String] {
        &self.server_args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_recipe_writes_its_entrypoint_reads_back() {
        let written = Options::default()
            .with_path("data", Path::new("/v/db data"))
            .with("port", 5433)
            .with("mount", "a=b")
            .with("mount", "c=--d")
            .with_server_args(vec!["-c".to_owned(), "max_connections=9".to_owned()]);
        let command = written.into_command(Path::new("/bin/wharf"), "postgres");
        assert_eq!(&command[..3], ["/bin/wharf", "recipe", "postgres"]);
        let read = Options::parse(&command[3..]).unwrap();
        assert_eq!(read.path("data").unwrap(), Path::new("/v/db data"));
        assert_eq!(read.port("port").unwrap(), 5433);
        assert_eq!(read.all("mount"), ["a=b", "c=--d"]);
        assert_eq!(read.server_args(), ["-c", "max_connections=9"]);
        assert!(matches!(
            read.path("sockets"),
            Err(LaunchError::Missing("sockets"))
        ));
    }

    #[test]
    fn malformed_lines_are_refused() {
        let args = |a: &[&str]| a.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert!(matches!(
            Options::parse(&args(&["data"])),
            Err(LaunchError::Stray(_))
        ));
        assert!(matches!(
            Options::parse(&args(&["--data"])),
            Err(LaunchError::Stray(_))
        ));
        let bad_port = Options::parse(&args(&["--port", "x"])).unwrap();
        assert!(matches!(
            bad_port.port("port"),
            Err(LaunchError::Invalid { .. })
        ));
    }
}

//! The user's own settings, the same for every project: where checkouts go (`wharf
//! root`) and the account repos are cloned from (`wharf whoami`). Kept in
//! `config.toml` in wharf's config directory; other keys in it are left as they are.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use wharf_api::Paths;

#[derive(Debug, Default)]
pub struct UserSettings {
    file: PathBuf,
    table: toml::Table,
}

impl UserSettings {
    /// Reads the settings file; a missing one is empty settings.
    pub fn load(paths: &Paths) -> anyhow::Result<Self> {
        let file = paths.config.join("config.toml");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(err).with_context(|| format!("reading {}", file.display())),
        };
        let table = text.parse::<toml::Table>().map_err(|err| {
            let (line, column) = err
                .span()
                .map_or((1, 1), |span| line_and_column(&text, span.start));
            anyhow::anyhow!("{}:{line}:{column}: {}", file.display(), err.message())
        })?;
        for key in ["root", "user"] {
            if table.get(key).is_some_and(|value| !value.is_str()) {
                bail!("{}: `{key}` must be a string", file.display());
            }
        }
        Ok(Self { file, table })
    }

    pub fn root(&self) -> Option<PathBuf> {
        self.string("root").map(PathBuf::from)
    }

    pub fn user(&self) -> Option<&str> {
        self.string("user")
    }

    /// Sets `key` and writes the file (creating it and its directory).
    pub fn set(&mut self, key: &str, value: String) -> anyhow::Result<()> {
        self.table
            .insert(key.to_owned(), toml::Value::String(value));
        self.write()
    }

    /// Forgets `key`: back to what holds without the setting.
    pub fn unset(&mut self, key: &str) -> anyhow::Result<()> {
        self.table.remove(key);
        self.write()
    }

    fn write(&self) -> anyhow::Result<()> {
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&self.file, toml::to_string(&self.table)?)
            .with_context(|| format!("writing {}", self.file.display()))
    }

    fn string(&self, key: &str) -> Option<&str> {
        self.table.get(key).and_then(toml::Value::as_str)
    }
}

/// `~`, `~/…`, `$VAR` and `${VAR}` expanded, then made absolute against `cwd` and
/// cleaned of `.` and `..`. An unset variable is an error, not an empty string: a root
/// of `/src` by accident is worse.
pub fn expand_path(raw: &str, cwd: &Path) -> anyhow::Result<PathBuf> {
    let home = || std::env::var("HOME").context("`~` needs HOME to be set");
    let mut expanded = String::new();
    let rest = if raw == "~" {
        expanded.push_str(&home()?);
        ""
    } else if let Some(rest) = raw.strip_prefix("~/") {
        expanded.push_str(&home()?);
        expanded.push('/');
        rest
    } else {
        raw
    };
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            expanded.push(c);
            continue;
        }
        let braced = chars.next_if_eq(&'{').is_some();
        let mut name = String::new();
        while let Some(next) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(next);
        }
        if braced && chars.next() != Some('}') {
            bail!("`{raw}`: unclosed ${{");
        }
        if name.is_empty() {
            bail!("`{raw}`: `$` not followed by a variable name");
        }
        expanded.push_str(
            &std::env::var(&name).with_context(|| format!("`{raw}`: ${name} is not set"))?,
        );
    }
    // `..` and `.` resolved, as the path is shown and compared.
    Ok(wharf_manifest::clean_path(&cwd.join(expanded)))
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_and_variables_expand_and_relative_paths_become_absolute() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(
            expand_path("~/src", Path::new("/cwd")).unwrap(),
            PathBuf::from(format!("{home}/src"))
        );
        assert_eq!(
            expand_path("trees", Path::new("/cwd")).unwrap(),
            Path::new("/cwd/trees")
        );
        assert_eq!(
            expand_path("../other/./trees", Path::new("/cwd")).unwrap(),
            Path::new("/other/trees")
        );
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            expand_path("/a/${PATH}/b", Path::new("/")).unwrap(),
            PathBuf::from(format!("/a/{path}/b"))
        );
        let err = expand_path("$WHARF_TEST_SURELY_UNSET/x", Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("is not set"), "{err}");
    }

    #[test]
    fn a_broken_file_is_reported_at_its_line_and_column() {
        let home = tempfile::tempdir().unwrap();
        let paths = Paths::under(home.path());
        std::fs::create_dir_all(&paths.config).unwrap();
        std::fs::write(
            paths.config.join("config.toml"),
            "root = \"/src\"\nuser = \n",
        )
        .unwrap();
        let err = UserSettings::load(&paths).unwrap_err().to_string();
        assert!(err.contains("config.toml:2:"), "{err}");
    }
}

//! Finding the Compose files and the project's name, as `docker compose` does.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Base file names, in the order Compose prefers them.
const CANDIDATES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// Override file names, in the order Compose prefers them: the first found is merged
/// on top, whichever the base file's name.
const OVERRIDES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// Searches `start` and its parents for a Compose file; returns it and the override
/// file beside it, if any.
pub fn find_files(start: &Path) -> Result<Vec<PathBuf>> {
    for dir in start.ancestors() {
        let Some(base) = CANDIDATES
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
        else {
            continue;
        };
        let mut files = vec![base];
        if let Some(found) = OVERRIDES
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
        {
            files.push(found);
        }
        return Ok(files);
    }
    Err(Error::new(format!(
        "no Compose file found in {} or any parent directory",
        start.display()
    ))
    .with_help(format!(
        "create compose.yaml, or name files with -f (looked for {})",
        CANDIDATES.join(", ")
    )))
}

/// Lowercases and drops characters Compose does not allow in project names.
pub fn normalize_project_name(name: &str) -> String {
    let lowered: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lowered.trim_start_matches(['_', '-']).to_owned()
}

/// Checks a name given explicitly (`-p`, `name:`, `COMPOSE_PROJECT_NAME`).
pub fn validate_project_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::new(format!("invalid project name {name:?}"))
            .with_help("a project name must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_like_compose() {
        assert_eq!(normalize_project_name("My App.v2"), "myappv2");
        assert_eq!(normalize_project_name("_x-Y"), "x-y");
        assert!(validate_project_name("ok-1_x").is_ok());
        assert!(validate_project_name("Bad").is_err());
        assert!(validate_project_name("-x").is_err());
    }

    #[test]
    fn finds_files_in_parents_with_their_override() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), "services: {}").unwrap();
        std::fs::write(dir.path().join("compose.override.yml"), "services: {}").unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let files = find_files(&nested).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[1].ends_with("compose.override.yml"));
    }

    #[test]
    fn prefers_names_as_compose_does() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "docker-compose.yaml",
            "docker-compose.yml",
            "compose.override.yaml",
            "docker-compose.override.yml",
        ] {
            std::fs::write(dir.path().join(name), "services: {}").unwrap();
        }
        let files = find_files(dir.path()).unwrap();
        assert!(files[0].ends_with("docker-compose.yml"), "{files:?}");
        assert!(files[1].ends_with("compose.override.yaml"), "{files:?}");
    }
}

//! Running git: as argv, never through a shell, never prompting (parallel prompts
//! would interleave; a clone that needs credentials fails and says so instead).

use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed: apt-get install git")]
    Missing,
    #[error("git {args}: {message}")]
    Failed { args: String, message: String },
    #[error("running git: {0}")]
    Io(#[source] std::io::Error),
}

/// A `git` command in `dir` (or anywhere, for clone), prompts off.
pub fn command(dir: Option<&Path>) -> Command {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    command
        // Read-only commands must not take the index lock an editor may be holding.
        .arg("--no-optional-locks")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    command
}

/// Runs `git args` in `dir` and returns its standard output.
pub fn run(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = command(Some(dir))
        .args(args)
        .output()
        .map_err(spawn_error)?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            message: last_words(&String::from_utf8_lossy(&output.stderr)),
        })
    }
}

pub fn spawn_error(err: std::io::Error) -> GitError {
    if err.kind() == std::io::ErrorKind::NotFound {
        GitError::Missing
    } else {
        GitError::Io(err)
    }
}

/// What git said last, which is what went wrong (`fatal: …`), without its progress.
pub fn last_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter_map(|line| line.rsplit('\r').next())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with("fatal:") || line.starts_with("error:"))
        .unwrap_or(lines.len().saturating_sub(1));
    lines[start..].join("; ")
}

/// Whether `dir` is the top of a git checkout.
pub fn is_checkout(dir: &Path) -> bool {
    dir.join(".git").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fatal_line_is_what_went_wrong() {
        let stderr = "Cloning into 'x'...\rReceiving objects: 10%\nfatal: repository '/nope' does not exist\n";
        assert_eq!(
            last_words(stderr),
            "fatal: repository '/nope' does not exist"
        );
        assert_eq!(last_words("just this\n"), "just this");
    }
}

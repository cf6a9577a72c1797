//! `wharf repos exec -- CMD`: one command in every checkout at once, each one's output
//! kept together (stdout and stderr interleaved as they were written).

use std::io::Read;
use std::process::{Command, Stdio};

use crate::git;
use crate::parallel;
use crate::repo_set::RepoSpec;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    pub name: String,
    /// The exit code; `None` when it could not run or a signal ended it.
    pub code: Option<i32>,
    pub output: String,
    /// Why it did not run (not checked out, no such program).
    pub error: Option<String>,
}

pub fn run_each(repos: &[RepoSpec], argv: &[String]) -> Vec<CommandOutput> {
    parallel::map(repos, |repo| {
        let mut result = CommandOutput {
            name: repo.name.clone(),
            code: None,
            output: String::new(),
            error: None,
        };
        if !git::is_checkout(&repo.dir) {
            result.error = Some("not checked out (wharf checkout)".to_owned());
            return result;
        }
        match run(repo, argv) {
            Ok((code, output)) => {
                result.code = code;
                result.output = output;
            }
            Err(err) => result.error = Some(err.to_string()),
        }
        result
    })
}

fn run(repo: &RepoSpec, argv: &[String]) -> std::io::Result<(Option<i32>, String)> {
    let (program, arguments) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command"))?;
    let (mut reader, writer) = std::io::pipe()?;
    let mut child = Command::new(program)
        .args(arguments)
        .current_dir(&repo.dir)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .spawn()
        .map_err(|err| std::io::Error::new(err.kind(), format!("{program}: {err}")))?;
    let mut output = Vec::new();
    reader.read_to_end(&mut output)?;
    let status = child.wait()?;
    Ok((status.code(), String::from_utf8_lossy(&output).into_owned()))
}

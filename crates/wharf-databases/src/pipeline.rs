//! Programs joined by pipes (a dump and its compressor, a decompressor and the
//! loading client), waited for together: each one's error output is collected as it
//! comes, the first failing program (in the order they were started) is the news,
//! unless a broken pipe killed it, and an interruption ends them all.

use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::DbError;
use crate::server::last_words;

struct Stage {
    child: Child,
    what: String,
    stderr: JoinHandle<String>,
}

#[derive(Default)]
pub(crate) struct Pipeline {
    stages: Vec<Stage>,
}

impl Pipeline {
    /// Starts `command` as the program doing `what`; its standard streams are the
    /// caller's to set, but for the error output, which the pipeline reads.
    pub fn spawn(&mut self, command: &mut Command, what: &str) -> Result<&mut Child, DbError> {
        let mut child =
            command
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|source| DbError::Spawn {
                    program: command.get_program().to_string_lossy().into_owned(),
                    source,
                })?;
        let mut pipe = child.stderr.take().expect("piped");
        // As bytes: a server quotes the dump's own text back, whatever its encoding.
        let stderr = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        });
        self.stages.push(Stage {
            child,
            what: what.to_owned(),
            stderr,
        });
        Ok(&mut self.stages.last_mut().expect("just pushed").child)
    }

    /// Waits for every program; an interruption kills those still running.
    pub fn wait(mut self) -> Result<(), DbError> {
        let mut statuses = vec![None; self.stages.len()];
        loop {
            for (stage, status) in self.stages.iter_mut().zip(&mut statuses) {
                if status.is_none() {
                    *status = stage.child.try_wait().map_err(DbError::io(&stage.what))?;
                }
            }
            if statuses.iter().all(Option::is_some) {
                break;
            }
            if crate::interrupt::interrupted() {
                for stage in &mut self.stages {
                    let _ = stage.child.kill();
                    let _ = stage.child.wait();
                }
                return Err(DbError::Interrupted);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // A program killed by a broken pipe only says that a later one stopped reading
        // (a compressor that found the disk full): that one's failure is the news.
        let mut failures = Vec::new();
        for (stage, status) in self.stages.into_iter().zip(statuses) {
            let said = stage.stderr.join().unwrap_or_default();
            let status = status.expect("every one ended");
            if !status.success() {
                let broken_pipe = status.signal() == Some(nix::libc::SIGPIPE);
                let failure = DbError::Failed {
                    what: stage.what,
                    message: match last_words(&said) {
                        words if words.is_empty() => status.to_string(),
                        words => words,
                    },
                };
                failures.push((broken_pipe, failure));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let news = failures
            .iter()
            .position(|(broken_pipe, _)| !broken_pipe)
            .unwrap_or(0);
        Err(failures.swap_remove(news).1)
    }
}

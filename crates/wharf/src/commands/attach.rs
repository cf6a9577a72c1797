//! `wharf attach SERVICE`: this terminal joined to one running instance, as `docker
//! compose attach` joins it to a container: its output shown as it comes, input passed
//! on, SIGINT and SIGTERM passed to it (`--sig-proxy`), the detach keys leaving it
//! running. A native instance's output is followed the same way; its input is not
//! wharf's to give (wharfd starts processes with none).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use nix::sys::signal::{SigSet, Signal};
use wharf_api::{InstanceState, LogLine, ProjectWatch};
use wharf_engine::{AttachRequest, BlockingEngine, WindowSize};

use crate::cli::{Ansi, AttachArgs};
use crate::daemon_client;
use crate::log_printer::{LogPrinter, logs_path};
use crate::project_ref;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &AttachArgs) -> anyhow::Result<ExitCode> {
    let name = project_ref::name_defining(settings, std::slice::from_ref(&args.service))?;
    let client = daemon_client::connect(&settings.paths)?;
    let instances = project_ref::instances(&client, &name)?;
    let instance = project_ref::instance_of(&instances, &args.service, args.index)?;
    if instance.state != InstanceState::Running {
        bail!("{} is not running", instance.name);
    }
    if let Some(keys) = &args.detach_keys {
        check_detach_keys(keys)?;
    }
    if instance.container_id.is_empty() {
        return native(settings, &client, &name, args, instance.pid);
    }
    let engine = BlockingEngine::connect().map_err(wharf_engine::EngineError::from)?;
    let id = &instance.container_id;
    let interactive = !args.no_stdin && wharf_host::terminal::is_interactive();
    let tty = interactive && engine.has_tty(id)?;
    let raw = tty.then(wharf_host::terminal::RawMode::enter).flatten();
    let ended = engine.attach(&AttachRequest {
        container: id,
        stdin: !args.no_stdin,
        sig_proxy: args.sig_proxy,
        detach_keys: args.detach_keys.as_deref(),
        tty: tty.then_some(wharf_host::terminal::window_size as WindowSize),
    });
    drop(raw);
    match ended? {
        Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Docker's form of detach keys: comma-separated keys, each a character or `ctrl-`
/// and one of `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`.
/// How long the logs stay quiet, once the instance has ended, before `attach` ends;
/// and the longest it waits for that.
const LAST_LINES_QUIET_MS: u64 = 150;
const LAST_LINES_AT_MOST_MS: u64 = 2000;

fn check_detach_keys(keys: &str) -> anyhow::Result<()> {
    for key in keys.split(',') {
        let fine = match key.strip_prefix("ctrl-") {
            Some(rest) => {
                rest.len() == 1
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || "@[\\]^_".contains(c))
            }
            None => key.chars().count() == 1,
        };
        if !fine {
            bail!(
                "--detach-keys {keys:?}: {key:?} is not a key; write keys such as `ctrl-p,ctrl-q` or `ctrl-x,x`"
            );
        }
    }
    Ok(())
}

/// A native instance: its output from now on until it stops running, SIGINT and
/// SIGTERM passed to its process group.
fn native(
    settings: &Settings,
    client: &wharf_api::Client,
    project: &str,
    args: &AttachArgs,
    pid: Option<u32>,
) -> anyhow::Result<ExitCode> {
    let (service, index) = (args.service.clone(), args.index);
    // Blocked before any thread starts, so only the one that passes them on sees them.
    let proxied = if args.sig_proxy {
        let mut signals = SigSet::empty();
        signals.add(Signal::SIGINT);
        signals.add(Signal::SIGTERM);
        signals.thread_block().context("cannot block signals")?;
        Some(signals)
    } else {
        None
    };
    let mut watch = ProjectWatch::open(client, project)?;
    if let (Some(signals), Some(pid)) = (proxied, pid) {
        std::thread::spawn(move || {
            let group = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
            while let Ok(signal) = signals.wait() {
                let _ = nix::sys::signal::killpg(group, signal);
            }
        });
    }
    // Ends this command once the instance no longer runs, as an attach to a container
    // ends with it, with its exit code: after its last lines, which may arrive after
    // the news of its end.
    let last_line = std::sync::Arc::new(AtomicU64::new(wharf_api::now_ms()));
    let heard = std::sync::Arc::clone(&last_line);
    let watcher = std::thread::spawn(move || {
        loop {
            watch.next(Duration::from_secs(1));
            let running = watch.instances().iter().any(|i| {
                i.service == service && i.replica == index && i.state == InstanceState::Running
            });
            if !running || watch.down || watch.daemon_gone {
                let code = watch
                    .instances()
                    .iter()
                    .find(|i| i.service == service && i.replica == index)
                    .and_then(|i| i.exit_code)
                    .unwrap_or(0);
                let ended = wharf_api::now_ms();
                while wharf_api::now_ms().saturating_sub(heard.load(Ordering::Relaxed))
                    < LAST_LINES_QUIET_MS
                    && wharf_api::now_ms().saturating_sub(ended) < LAST_LINES_AT_MOST_MS
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::process::exit(code);
            }
        }
    });
    let path = logs_path(
        project,
        std::slice::from_ref(&args.service),
        Some(0),
        None,
        true,
    );
    let ansi = if settings.global.ansi == Ansi::Always {
        Ansi::Always
    } else {
        Ansi::Never
    };
    let mut lines = LogPrinter::new(ansi, false, false, false);
    for line in client.stream::<LogLine>(&path)? {
        let line = line?;
        last_line.store(wharf_api::now_ms(), Ordering::Relaxed);
        if line.replica == args.index && lines.print(&line).is_err() {
            // The reader went away (a closed pipe): not an error.
            return Ok(ExitCode::SUCCESS);
        }
    }
    // The logs end when nothing runs any more: the watcher gives the exit code.
    let _ = watcher.join();
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::check_detach_keys;

    #[test]
    fn detach_keys_are_checked_as_docker_reads_them() {
        for fine in ["ctrl-p,ctrl-q", "ctrl-x,x", "ctrl-@", "ctrl-_,a"] {
            assert!(check_detach_keys(fine).is_ok(), "{fine}");
        }
        for bad in ["bogus", "ctrl-", "ctrl-pq", "ctrl-P", "a,,b"] {
            assert!(check_detach_keys(bad).is_err(), "{bad}");
        }
    }
}

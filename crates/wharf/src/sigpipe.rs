//! SIGPIPE: output piped into `head` ends a command quietly, as with other command-line
//! tools; but a connection a registry closes mid-upload must come back as an error
//! that says why, not end the process without a word.

use nix::sys::signal::{SigHandler, Signal, signal};

/// Lets a closed standard output end the process, as a broken pipe does by default.
pub fn end_on_closed_output() {
    set(SigHandler::SigDfl);
}

/// Runs `work` with SIGPIPE ignored, so a socket the other end closed is an error of
/// the write; the disposition the process had is restored after.
pub fn as_errors_while<T>(work: impl FnOnce() -> T) -> T {
    let before = set(SigHandler::SigIgn);
    let done = work();
    if let Some(before) = before {
        set(before);
    }
    done
}

fn set(handler: SigHandler) -> Option<SigHandler> {
    // SAFETY: only the default and ignoring dispositions are installed (or the one that
    // was there put back): no handler code runs.
    #[allow(unsafe_code)]
    unsafe {
        signal(Signal::SIGPIPE, handler).ok()
    }
}

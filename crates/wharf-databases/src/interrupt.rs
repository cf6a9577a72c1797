//! Ctrl-C, SIGTERM and SIGHUP while `wharf db` works: noted instead of ending the
//! process at once, so a dump or a load can end its programs and remove what it half
//! wrote, and a copy can finish or undo its step. The programs it runs get the
//! default actions back when they start (exec resets caught signals), so Ctrl-C still
//! reaches a client such as psql.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on, the three signals are noted (`interrupted`).
pub fn catch() {
    let action = SigAction::new(SigHandler::Handler(note), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        #[allow(unsafe_code)]
        let _ = unsafe { sigaction(signal, &action) };
    }
}

/// Notes a Ctrl-C that came while a task ran: the task's runner holds it back (blocked)
/// for the task to handle, and leaves it pending for this process once the task ended.
pub fn take_held() {
    let mut held = SigSet::empty();
    held.add(Signal::SIGINT);
    let _ = held.thread_unblock();
}

/// Whether one of the signals came since `catch`.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

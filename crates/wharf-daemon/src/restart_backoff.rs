//! When a native process that exited starts again: a backoff that doubles from
//! 100 ms to 30 s, reset by a run long enough to count as working, and the crash loop
//! named when exits come too fast. Time is passed in, so the rules are tested without
//! waiting.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long resets the backoff: the service was working.
const STABLE_RUN: Duration = Duration::from_secs(10);
/// This many exits within `CRASH_WINDOW` is reported as a crash loop.
const CRASH_LOOP_EXITS: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_mins(1);

/// One instance's restart history.
pub struct RestartBackoff {
    restarts: u32,
    next_delay: Duration,
    exits: VecDeque<Instant>,
}

/// The next try after an exit.
#[derive(Debug, PartialEq, Eq)]
pub struct Retry {
    pub delay: Duration,
    /// Restarts so far, this one included.
    pub restarts: u32,
    /// Exits within the crash window, when they make a crash loop.
    pub crash_loop: Option<usize>,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        Self {
            restarts: 0,
            next_delay: FIRST_BACKOFF,
            exits: VecDeque::new(),
        }
    }
}

impl RestartBackoff {
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Records that a run which began at `started` exited at `now`.
    pub fn after_exit(&mut self, started: Instant, now: Instant) -> Retry {
        if now.duration_since(started) >= STABLE_RUN {
            self.next_delay = FIRST_BACKOFF;
        }
        self.exits.push_back(now);
        while self
            .exits
            .front()
            .is_some_and(|t| now.duration_since(*t) > CRASH_WINDOW)
        {
            self.exits.pop_front();
        }
        self.restarts += 1;
        let delay = self.next_delay;
        self.next_delay = (delay * 2).min(MAX_BACKOFF);
        Retry {
            delay,
            restarts: self.restarts,
            crash_loop: (self.exits.len() >= CRASH_LOOP_EXITS).then_some(self.exits.len()),
        }
    }
}

impl Retry {
    /// What the log and `ps` say of it; `code` is the exit code as text.
    pub fn message(&self, code: &str) -> String {
        match self.crash_loop {
            Some(exits) => format!(
                "crash loop: {exits} exits in the last {}s (last code {code}); next try in {:.1}s",
                CRASH_WINDOW.as_secs(),
                self.delay.as_secs_f64()
            ),
            None => format!(
                "{}; restarting in {:.1}s",
                wharf_api::exit_note(code),
                self.delay.as_secs_f64()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake process: each run lasts `runs[i]`, then exits at once.
    fn retries(runs: &[Duration]) -> Vec<Retry> {
        let mut backoff = RestartBackoff::default();
        let mut now = Instant::now();
        let mut retries = Vec::new();
        for run in runs {
            let started = now;
            now += *run;
            let retry = backoff.after_exit(started, now);
            now += retry.delay;
            retries.push(retry);
        }
        retries
    }

    #[test]
    fn a_crashing_process_waits_longer_each_time_and_is_named_a_crash_loop() {
        let retries = retries(&[Duration::from_millis(10); 7]);
        let delays: Vec<u128> = retries.iter().map(|r| r.delay.as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1600, 3200, 6400]);
        let loops: Vec<Option<usize>> = retries.iter().map(|r| r.crash_loop).collect();
        assert_eq!(loops, [None, None, None, None, Some(5), Some(6), Some(7)]);
        assert_eq!(retries[6].restarts, 7);
        assert_eq!(
            retries[4].message("1"),
            "crash loop: 5 exits in the last 60s (last code 1); next try in 1.6s"
        );
        assert_eq!(
            retries[0].message("1"),
            "exited with code 1; restarting in 0.1s"
        );
    }

    #[test]
    fn the_wait_stops_growing_at_thirty_seconds() {
        let last = retries(&[Duration::ZERO; 12]).pop().unwrap();
        assert_eq!(last.delay, MAX_BACKOFF);
    }

    #[test]
    fn a_run_that_worked_resets_the_wait_and_old_exits_are_forgotten() {
        let minute = Duration::from_secs(61);
        let quick = Duration::from_millis(10);
        let retries = retries(&[quick, quick, Duration::from_secs(20), quick, minute]);
        let delays: Vec<u128> = retries.iter().map(|r| r.delay.as_millis()).collect();
        assert_eq!(delays, [100, 200, 100, 200, 100]);
        assert!(retries.iter().all(|r| r.crash_loop.is_none()));
    }
}

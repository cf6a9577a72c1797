//! The wharfd control API: the one door every surface (CLI, TUI, web, proxy) uses.
//!
//! HTTP/1.1 with JSON bodies over a unix socket, versioned by path (`/v1/...`),
//! documented in `docs/api.md`. This crate holds the wire types, where the daemon's
//! files live, and a small blocking client: the CLI needs no async runtime, which keeps
//! `wharf ps` fast.

mod client;
mod paths;
mod wire;

pub use client::{Client, ClientError, LineStream};
pub use paths::{Paths, create_private_dir, write_private};
pub use wire::*;

/// The path prefix of this version of the API.
pub const API_PREFIX: &str = "/v1";

/// Milliseconds since the Unix epoch: the time base of every timestamp in the API.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

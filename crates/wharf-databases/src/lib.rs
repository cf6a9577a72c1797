//! The project's databases, for `wharf db`: what a server holds, and every change to
//! it made so that nothing is lost. A snapshot is a sealed copy beside the database in
//! the same server (the engine's own fast copy); wharf keeps what it knows of each
//! snapshot in its data directory. Whatever replaces a database (restore, load, reset,
//! drop) first turns the current one into an automatic snapshot, and builds the new
//! one beside it before swapping names, so a failure leaves the database as it was.

mod copy_notes;
mod dump_file;
mod dump_lines;
mod error;
pub mod interrupt;
mod mariadb;
mod mariadb_files;
mod mariadb_grants;
mod mariadb_objects;
mod operations;
mod pipeline;
mod postgres;
mod postgres_files;
mod server;
mod snapshots;

pub use dump_file::{DumpFormat, read_dump, write_dump};
pub use error::DbError;
pub use operations::{Databases, Listed, RepoRevisions};
pub use server::{Loader, Place, Server, ServerAccess, connect};
pub use snapshots::{Snapshot, SnapshotStore, valid_tag};

//! What this machine says: about its ports, read from `/proc` (whether a port is free
//! or answers, who holds a taken one, and where a process really listens), which the
//! CLI, the runtime's recipes and the daemon all ask; whether a PostgreSQL server takes
//! logins yet; and about the user's terminal,
//! for commands attached to a container's; and its users, for a native command run
//! as another.

pub mod cgroups;
pub mod ports;
pub mod postgres_login;
pub mod processes;
pub mod terminal;
pub mod users;

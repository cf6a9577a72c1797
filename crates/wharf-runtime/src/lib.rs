//! How a loaded Compose project becomes what wharfd runs: which backend each service
//! uses (`backend`), the lowering into a `ProjectSpec` (`lowering`) with native
//! recipes for well-known images (`recipes`) and container specs carrying Compose's
//! names, labels and config hash (`containers`, `config_hash`). It prints nothing and
//! knows no command line.

pub mod backend;
mod config_hash;
mod container_files;
mod containers;
mod data_dir;
mod lowering;
pub mod recipes;
pub mod references;
mod shell_script;
pub mod sql_quote;

pub use backend::BackendChoice;
pub use config_hash::{config_hash, hex};
pub use containers::{COMPOSE_VERSION, image_name};
pub use data_dir::create_data_dir;
pub use lowering::{
    NotNative, Unrunnable, databases, locate_program, native_ports, ports, project_spec,
};
pub use recipes::{Credentials, DatabaseEngine, DatabaseFacts};

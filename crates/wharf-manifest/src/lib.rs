//! Reads Compose files the way `docker compose` does and produces a
//! [`wharf_model::Project`]; every error points at <file:line:col>.

mod canonical;
mod compose_form;
mod compose_json;
mod de;
mod discovery;
mod dotenv;
mod environment;
mod error;
mod extends;
mod file_references;
mod go_float;
mod go_json;
mod include;
pub mod interpolate;
mod loader;
mod merge;
mod node;
mod normalize;
mod paths;
mod scalar;
mod schema;
mod shell_words;
mod short_syntax;
mod source;
mod suggest;
mod timestamp;
mod tree_path;
mod typing;
mod yaml;
mod yaml_fast;
mod yaml_scalar;
mod yaml_writer;

pub use compose_form::project_value;
pub use compose_json::project_json;
pub use environment::Environment;
pub use error::{Error, Result};
pub use file_references::{FileOutline, FileReference, ReferenceKind, file_references};
pub use go_float::format_float;
pub use go_json::{to_go_json, to_go_json_line};
pub use loader::{LoadOptions, Loaded, RemoteFiles, load};
pub use paths::clean as clean_path;
pub use shell_words::{split as split_command, split_all as split_whole_command};
pub use short_syntax::{parse_port, parse_volume};
pub use source::Span;
pub use yaml_writer::{to_yaml, yaml_shape};

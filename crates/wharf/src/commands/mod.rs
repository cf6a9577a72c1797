pub mod completion;
pub mod config;
pub mod schema;

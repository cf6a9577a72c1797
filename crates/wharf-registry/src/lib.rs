//! wharf's client of OCI registries: who the user is logged in as (`credentials`, as
//! `docker login` left it), which repository a name means (`reference`), and a Compose
//! project published as an artifact and read back (`artifact`, `publish`, `fetch`), with its images (`application`), over the distribution API
//! (`client`, `transport`, `trust`).

mod application;
mod artifact;
mod client;
mod credentials;
mod error;
mod fetch;
mod publish;
mod reference;
mod transport;
mod trust;

pub use application::{ImageCopy, publish_images};
pub use artifact::{Layer, OciVersion, digest};
pub use credentials::{Credentials, all_credentials, credentials_for, registry_of};
pub use error::RegistryError;
pub use fetch::{FetchedProject, fetch_project};
pub use publish::{Published, publish};
pub use reference::Reference;

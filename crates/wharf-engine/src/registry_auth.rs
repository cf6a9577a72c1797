//! The user's registry logins (`wharf_registry`'s reading of `docker login`'s files)
//! in the form the engine takes them with a pull, push or build.

use std::collections::HashMap;

use bollard::auth::DockerCredentials;
use wharf_registry::Credentials;

/// The login for the registry `image` names, if the user has one.
pub fn credentials_for_image(image: &str) -> Option<DockerCredentials> {
    let registry = wharf_registry::registry_of(image);
    wharf_registry::credentials_for(registry).map(|found| for_engine(registry, found))
}

/// Every login `config.json` holds inline, for a build's base images.
pub fn all_credentials() -> HashMap<String, DockerCredentials> {
    wharf_registry::all_credentials()
        .into_iter()
        .map(|(registry, found)| {
            let converted = for_engine(&registry, found);
            (registry, converted)
        })
        .collect()
}

fn for_engine(registry: &str, found: Credentials) -> DockerCredentials {
    let serveraddress = Some(registry.to_owned());
    match found {
        Credentials::Password { username, password } => DockerCredentials {
            username: Some(username),
            password: Some(password),
            serveraddress,
            ..DockerCredentials::default()
        },
        Credentials::IdentityToken(token) => DockerCredentials {
            identitytoken: Some(token),
            serveraddress,
            ..DockerCredentials::default()
        },
    }
}

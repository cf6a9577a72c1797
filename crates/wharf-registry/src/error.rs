use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{reference:?} is not a repository reference: {why}")]
    Reference { reference: String, why: String },
    #[error("cannot reach the registry {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("cannot trust the registry {host}: {reason}")]
    Untrusted { host: String, reason: String },
    #[error(
        "the registry {host} closed the connection before it answered ({reason}): a proxy in front of it may refuse requests this large"
    )]
    Cut { host: String, reason: String },
    #[error(
        "the registry {registry} asks for a login, and there is none for it: run `docker login {registry}`"
    )]
    LoginNeeded { registry: String },
    #[error("the registry {registry} refused the login: check it with `docker login {registry}`")]
    LoginRefused { registry: String },
    #[error("the registry refused {what}: {status} {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("the registry's answer to {what} makes no sense: {why}")]
    BadAnswer { what: String, why: String },
    #[error("cannot read the certificates in {}: {reason}", path.display())]
    Certificates { path: PathBuf, reason: String },
}

impl RegistryError {
    /// A client error other than a login problem: for a manifest, most likely a
    /// registry that does not know OCI 1.1's `artifactType`.
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Self::Refused { status, .. } if (400..500).contains(status) && ![401, 403, 407].contains(status))
    }
}

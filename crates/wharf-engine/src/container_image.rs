//! A container's file system kept: exported as a tar archive (`docker export`), or
//! committed as a new image (`docker commit`).

use std::io::Write;

use bollard::models::ContainerConfig;
use bollard::query_parameters::CommitContainerOptions;

use crate::engine::{Engine, EngineError};

/// What `commit` makes of a container.
#[derive(Default)]
pub struct CommitRequest<'a> {
    /// `repository[:tag]`; empty: an image with no name.
    pub reference: &'a str,
    pub author: &'a str,
    pub message: &'a str,
    /// Dockerfile instructions applied to it (`CMD ["sh"]`, `ENV A=b`).
    pub changes: &'a [String],
    /// Paused while committed, so the copy is consistent.
    pub pause: bool,
}

impl Engine {
    /// Writes the container's file system to `into` as a tar archive.
    pub async fn export(&self, container: &str, into: &mut impl Write) -> Result<(), EngineError> {
        crate::copy::write_out(self.docker.export_container(container), into).await
    }

    /// Commits the container as a new image; its id.
    pub async fn commit(
        &self,
        container: &str,
        request: &CommitRequest<'_>,
    ) -> Result<String, EngineError> {
        let (repo, tag) = split_reference(request.reference);
        let nonempty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        let options = CommitContainerOptions {
            container: Some(container.to_owned()),
            repo: nonempty(repo),
            tag: nonempty(tag),
            comment: nonempty(request.message),
            author: nonempty(request.author),
            pause: request.pause,
            changes: nonempty(&request.changes.join("\n")),
        };
        let made = self
            .docker
            .commit_container(options, ContainerConfig::default())
            .await?;
        Ok(made.id)
    }
}

/// `registry:5000/app:v1` → (`registry:5000/app`, `v1`); a colon before the last `/`
/// is a registry's port, not a tag.
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn a_tag_follows_the_last_colon_unless_it_is_a_registrys_port() {
        assert_eq!(split_reference("app:v1"), ("app", "v1"));
        assert_eq!(
            split_reference("registry:5000/app"),
            ("registry:5000/app", "")
        );
        assert_eq!(
            split_reference("registry:5000/app:v2"),
            ("registry:5000/app", "v2")
        );
        assert_eq!(split_reference(""), ("", ""));
    }
}

//! `REPOSITORY[:TAG]` or `REPOSITORY@DIGEST` as `docker push` and `docker pull` read
//! them: the registry is the first part when it looks like a host, else Docker Hub,
//! whose one-part names live under `library/`.

use std::fmt;

use crate::credentials::DOCKER_HUB;
use crate::error::RegistryError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// As written (`localhost:5000`), or `docker.io`.
    pub registry: String,
    /// The repository's path in the registry (`team/app`, `library/app`).
    pub repository: String,
    /// `latest` when none is written.
    pub tag: String,
    /// `sha256:…`, when the reference names one version by its digest.
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Self, RegistryError> {
        let invalid = |why: &str| RegistryError::Reference {
            reference: text.to_owned(),
            why: why.to_owned(),
        };
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or_default();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid("a digest is sha256: and 64 hexadecimal digits"));
                }
                (name, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        let (registry, rest) = split_host(name).unwrap_or(("docker.io", name));
        let registry = registry.to_owned();
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, tag),
            _ => (rest, "latest"),
        };
        let component_ok = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && part.as_bytes()[0].is_ascii_alphanumeric()
                && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric()
        };
        if !repository.split('/').all(component_ok) {
            return Err(invalid(
                "a repository is lowercase letters, digits and . _ - between slashes",
            ));
        }
        let tag_ok = tag.len() <= 128
            && tag
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !tag_ok {
            return Err(invalid(
                "a tag is up to 128 letters, digits, _ . and -, not starting with . or -",
            ));
        }
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        Ok(Self {
            registry,
            repository,
            tag: tag.to_owned(),
            digest,
        })
    }

    /// What the manifest is asked for by: the digest, else the tag.
    pub fn version(&self) -> &str {
        self.digest.as_deref().unwrap_or(&self.tag)
    }

    /// The host the registry's API answers on.
    pub fn api_host(&self) -> &str {
        if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// The key `docker login` files this registry's credentials under.
    pub fn login_key(&self) -> &str {
        if self.registry == "docker.io" {
            DOCKER_HUB
        } else {
            &self.registry
        }
    }
}

/// `(host, rest)` when the first part of an image or repository name looks like a host
/// (a dot, a port, or `localhost`), as Docker reads names; else it is Docker Hub's.
pub(crate) fn split_host(name: &str) -> Option<(&str, &str)> {
    name.split_once('/')
        .filter(|(first, _)| first.contains(['.', ':']) || *first == "localhost")
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.digest {
            Some(digest) => write!(f, "{}/{}@{digest}", self.registry, self.repository),
            None => write!(f, "{}/{}:{}", self.registry, self.repository, self.tag),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_the_first_part_only_when_it_looks_like_a_host() {
        let local = Reference::parse("127.0.0.1:5000/team/app:1").unwrap();
        assert_eq!(
            (
                local.registry.as_str(),
                local.repository.as_str(),
                local.tag.as_str()
            ),
            ("127.0.0.1:5000", "team/app", "1")
        );
        assert_eq!(local.api_host(), "127.0.0.1:5000");
        let hub = Reference::parse("app").unwrap();
        assert_eq!(hub.to_string(), "docker.io/library/app:latest");
        assert_eq!(hub.api_host(), "registry-1.docker.io");
        assert_eq!(hub.login_key(), DOCKER_HUB);
        assert_eq!(
            Reference::parse("localhost/team/app").unwrap().to_string(),
            "localhost/team/app:latest"
        );
        let pinned = format!("localhost:5000/app@sha256:{}", "ab".repeat(32));
        let by_digest = Reference::parse(&pinned).unwrap();
        assert_eq!(by_digest.version(), &pinned[pinned.len() - 71..]);
        assert_eq!(by_digest.to_string(), pinned);
    }

    #[test]
    fn bad_names_are_refused_with_the_rule() {
        for (text, said) in [
            ("Team/App:1", "lowercase"),
            ("team//app", "lowercase"),
            ("team/app:-x", "a tag"),
            ("team/app@sha256:abc", "64 hexadecimal digits"),
            ("", "lowercase"),
        ] {
            let err = Reference::parse(text).unwrap_err().to_string();
            assert!(err.contains(said), "{text}: {err}");
        }
    }
}

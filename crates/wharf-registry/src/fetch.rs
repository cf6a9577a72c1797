//! A published project read back: its manifest must say it is a Compose project (by
//! artifact type, or by config media type for OCI 1.0), and each layer is taken from
//! the manifest's inline data or the registry, checked against its digest. The compose
//! files come back as one text of several documents, as Compose writes them to its
//! cache; extended and env files under their published names.

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value;

use crate::artifact::{
    self, COMPOSE_EMPTY_CONFIG_MEDIA_TYPE, COMPOSE_FILE_MEDIA_TYPE, ENV_FILE_MEDIA_TYPE,
    INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, PROJECT_ARTIFACT_TYPE,
};
use crate::client::{self, Access, Session};
use crate::error::RegistryError;
use crate::reference::Reference;

#[derive(Debug)]
pub struct FetchedProject {
    /// The manifest's digest: a name for this version of the project.
    pub digest: String,
    /// The compose files, in order, as documents of one text.
    pub compose: Vec<u8>,
    /// The other files, by their plain names.
    pub files: Vec<(String, Vec<u8>)>,
}

pub fn fetch_project(reference: &Reference) -> Result<FetchedProject, RegistryError> {
    client::block_on(reference, async {
        let mut session = Session::open(reference, Access::Pull).await?;
        let bad = |why: String| RegistryError::BadAnswer {
            what: reference.to_string(),
            why,
        };
        let accepted = format!("{MANIFEST_MEDIA_TYPE}, {INDEX_MEDIA_TYPE}");
        let got = session.get_manifest(reference.version(), &accepted).await?;
        let mut digest = got.digest;
        let mut manifest: Value =
            serde_json::from_slice(&got.body).map_err(|err| bad(err.to_string()))?;
        // `publish --app` puts an index of the images in front, the project as its subject.
        if manifest["mediaType"] == INDEX_MEDIA_TYPE {
            let subject = manifest["subject"]["digest"]
                .as_str()
                .ok_or_else(|| bad("an index without a project as its subject".to_owned()))?
                .to_owned();
            let got = session.get_manifest(&subject, MANIFEST_MEDIA_TYPE).await?;
            manifest = serde_json::from_slice(&got.body).map_err(|err| bad(err.to_string()))?;
            digest = got.digest;
        }
        let artifact_type = manifest["artifactType"].as_str();
        let config_type = manifest["config"]["mediaType"].as_str();
        if artifact_type != Some(PROJECT_ARTIFACT_TYPE)
            && config_type != Some(COMPOSE_EMPTY_CONFIG_MEDIA_TYPE)
        {
            return Err(bad(format!(
                "it is not a Compose project (artifact type {}, config {})",
                artifact_type.unwrap_or("none"),
                config_type.unwrap_or("none")
            )));
        }
        let mut fetched = FetchedProject {
            digest,
            compose: Vec::new(),
            files: Vec::new(),
        };
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            let annotations = &layer["annotations"];
            let (name, is_compose) = match layer["mediaType"].as_str() {
                Some(COMPOSE_FILE_MEDIA_TYPE) => (
                    annotations["com.docker.compose.file"].as_str(),
                    annotations["com.docker.compose.extends"] != "true",
                ),
                Some(ENV_FILE_MEDIA_TYPE) => {
                    (annotations["com.docker.compose.envfile"].as_str(), false)
                }
                _ => continue,
            };
            let digest = layer["digest"]
                .as_str()
                .ok_or_else(|| bad("a layer without a digest".to_owned()))?;
            let data = match layer["data"]
                .as_str()
                .and_then(|data| base64::engine::general_purpose::STANDARD.decode(data).ok())
                .filter(|data| artifact::digest(data) == digest)
            {
                Some(inline) => inline,
                None => session.get_blob(digest).await.map(Bytes::into)?,
            };
            if is_compose {
                if !fetched.compose.is_empty() {
                    fetched.compose.extend_from_slice(b"\n---\n");
                }
                fetched.compose.extend_from_slice(&data);
                continue;
            }
            // A name is a file in the project's directory, never a path out of it.
            let name = name
                .filter(|n| !n.is_empty() && !n.contains('/') && *n != "." && *n != "..")
                .ok_or_else(|| {
                    bad(format!(
                        "a layer named {}, which is not a plain file name",
                        name.map_or_else(|| "nothing".to_owned(), |n| format!("{n:?}"))
                    ))
                })?;
            fetched.files.push((name.to_owned(), data));
        }
        if fetched.compose.is_empty() {
            return Err(bad("it has no compose file".to_owned()));
        }
        Ok(fetched)
    })?
}

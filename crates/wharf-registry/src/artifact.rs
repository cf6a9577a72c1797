//! A Compose project as an OCI artifact, byte for byte as Docker Compose writes it,
//! so `docker compose -f oci://…` reads what wharf publishes: one layer per file (the
//! compose files as written, the files they extend, the env files), each also inline
//! in the manifest; an empty config; the project's artifact type (OCI 1.1), or the
//! config's media type saying it where a registry only knows OCI 1.0.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const PROJECT_ARTIFACT_TYPE: &str = "application/vnd.docker.compose.project";
pub const COMPOSE_FILE_MEDIA_TYPE: &str = "application/vnd.docker.compose.file+yaml";
pub const ENV_FILE_MEDIA_TYPE: &str = "application/vnd.docker.compose.envfile";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// OCI 1.0 has no `artifactType`: readers fall back to the config's media type.
pub const COMPOSE_EMPTY_CONFIG_MEDIA_TYPE: &str =
    "application/vnd.docker.compose.config.empty.v1+json";
/// The Compose release whose artifacts these match, in the annotations it writes.
pub const COMPOSE_VERSION: &str = "2.40.3";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OciVersion {
    V1_0,
    V1_1,
}

#[derive(Clone, Debug)]
pub struct Layer {
    pub media_type: &'static str,
    pub data: Vec<u8>,
    pub annotations: BTreeMap<&'static str, String>,
}

impl Layer {
    /// A compose file, named `name` in the artifact.
    pub fn compose_file(name: &str, data: Vec<u8>) -> Self {
        Self::new(
            COMPOSE_FILE_MEDIA_TYPE,
            "com.docker.compose.file",
            name,
            data,
        )
    }

    /// A file a service `extends`, under its published name.
    pub fn extended_file(name: &str, data: Vec<u8>) -> Self {
        let mut layer = Self::compose_file(name, data);
        layer
            .annotations
            .insert("com.docker.compose.extends", "true".to_owned());
        layer
    }

    pub fn env_file(name: &str, data: Vec<u8>) -> Self {
        Self::new(
            ENV_FILE_MEDIA_TYPE,
            "com.docker.compose.envfile",
            name,
            data,
        )
    }

    fn new(media_type: &'static str, name_key: &'static str, name: &str, data: Vec<u8>) -> Self {
        let annotations = BTreeMap::from([
            (name_key, name.to_owned()),
            ("com.docker.compose.version", COMPOSE_VERSION.to_owned()),
        ]);
        Self {
            media_type,
            data,
            annotations,
        }
    }

    pub fn digest(&self) -> String {
        digest(&self.data)
    }

    /// The file's name in the artifact.
    pub fn name(&self) -> &str {
        self.annotations
            .get("com.docker.compose.file")
            .or_else(|| self.annotations.get("com.docker.compose.envfile"))
            .map_or("", String::as_str)
    }

    fn descriptor(&self) -> Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest(),
            "size": self.data.len(),
            "annotations": self.annotations,
            "data": base64::engine::general_purpose::STANDARD.encode(&self.data),
        })
    }
}

/// `sha256:<hex>` of `data`.
pub fn digest(data: &[u8]) -> String {
    finish_digest(Sha256::new_with_prefix(data))
}

/// `sha256:<hex>` of what `hasher` was given.
pub(crate) fn finish_digest(hasher: Sha256) -> String {
    use std::fmt::Write as _;
    hasher
        .finalize()
        .iter()
        .fold(String::from("sha256:"), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// The config blob a manifest of `version` names: `{}` under the media type that version
/// reads.
pub fn config(version: OciVersion) -> (&'static str, &'static [u8]) {
    let media_type = match version {
        OciVersion::V1_0 => COMPOSE_EMPTY_CONFIG_MEDIA_TYPE,
        OciVersion::V1_1 => EMPTY_CONFIG_MEDIA_TYPE,
    };
    (media_type, b"{}")
}

/// The manifest's bytes. `created` is the RFC 3339 time of publishing.
pub fn manifest(layers: &[Layer], version: OciVersion, created: &str) -> Vec<u8> {
    let (config_type, config_data) = config(version);
    let config = json!({
        "mediaType": config_type,
        "digest": digest(config_data),
        "size": config_data.len(),
        "data": base64::engine::general_purpose::STANDARD.encode(config_data),
    });
    let mut manifest = serde_json::Map::new();
    manifest.insert("schemaVersion".to_owned(), 2.into());
    manifest.insert("mediaType".to_owned(), MANIFEST_MEDIA_TYPE.into());
    if version == OciVersion::V1_1 {
        manifest.insert("artifactType".to_owned(), PROJECT_ARTIFACT_TYPE.into());
    }
    manifest.insert("config".to_owned(), config);
    manifest.insert(
        "layers".to_owned(),
        layers.iter().map(Layer::descriptor).collect(),
    );
    manifest.insert(
        "annotations".to_owned(),
        json!({ "org.opencontainers.image.created": created }),
    );
    serde_json::to_vec(&Value::Object(manifest)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_shaped_as_composes() {
        let layers = [Layer::compose_file(
            "compose.yaml",
            b"services: {}\n".to_vec(),
        )];
        let text =
            String::from_utf8(manifest(&layers, OciVersion::V1_1, "2026-12-02T00:34:53Z")).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
                r#""artifactType":"application/vnd.docker.compose.project","#,
                r#""config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},"#,
                r#""layers":[{"mediaType":"application/vnd.docker.compose.file+yaml","digest":"sha256:fa6ccea1ca4e3a031d9e99f25cc05db803aa9bac642c000ddab14f6d9da54b52","size":13,"#,
                r#""annotations":{"com.docker.compose.file":"compose.yaml","com.docker.compose.version":"2.40.3"},"data":"c2VydmljZXM6IHt9Cg=="}],"#,
                r#""annotations":{"org.opencontainers.image.created":"2026-12-02T00:34:53Z"}}"#
            )
        );
        let old = String::from_utf8(manifest(&layers, OciVersion::V1_0, "t")).unwrap();
        assert!(!old.contains("artifactType"), "{old}");
        assert!(
            old.contains(r#""config":{"mediaType":"application/vnd.docker.compose.config.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#),
            "{old}"
        );
    }
}

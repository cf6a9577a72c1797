//! Publishing a project: every blob first (the config, then each layer), then the
//! manifest under its tag. Without a chosen OCI version, OCI 1.1 goes first and a
//! registry that refuses it (a client error other than a login's) gets OCI 1.0, as
//! Compose does.

use bytes::Bytes;

use crate::artifact::{self, Layer, MANIFEST_MEDIA_TYPE, OciVersion};
use crate::client::{self, Access, Session};
use crate::error::RegistryError;
use crate::reference::Reference;

/// What was published.
#[derive(Debug)]
pub struct Published {
    pub version: OciVersion,
    /// The manifest's digest and size: how an index names it.
    pub digest: String,
    pub size: usize,
}

/// Publishes `layers` as the project artifact at `reference`. `created` is the RFC
/// 3339 time the manifest carries.
pub fn publish(
    reference: &Reference,
    layers: &[Layer],
    version: Option<OciVersion>,
    created: &str,
) -> Result<Published, RegistryError> {
    if reference.digest.is_some() {
        return Err(RegistryError::Reference {
            reference: reference.to_string(),
            why: "publish to a tag: a digest names what is there already".to_owned(),
        });
    }
    client::block_on(reference, async {
        let mut session = Session::open(reference, Access::Push).await?;
        for layer in layers {
            session
                .push_blob(&layer.digest(), Bytes::from(layer.data.clone()))
                .await?;
        }
        let first = version.unwrap_or(OciVersion::V1_1);
        match put(&mut session, layers, first, created).await {
            Err(err) if version.is_none() && err.is_unsupported() => {
                put(&mut session, layers, OciVersion::V1_0, created).await
            }
            done => done,
        }
    })?
}

async fn put(
    session: &mut Session,
    layers: &[Layer],
    version: OciVersion,
    created: &str,
) -> Result<Published, RegistryError> {
    let (_, config) = artifact::config(version);
    session
        .push_blob(&artifact::digest(config), Bytes::from_static(config))
        .await?;
    let manifest = artifact::manifest(layers, version, created);
    let published = Published {
        version,
        digest: artifact::digest(&manifest),
        size: manifest.len(),
    };
    let tag = session.reference().tag.clone();
    session
        .put_manifest(&tag, MANIFEST_MEDIA_TYPE, Bytes::from(manifest))
        .await?;
    Ok(published)
}

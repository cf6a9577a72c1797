//! `publish --app`: the images a project's services run, copied into the project's
//! repository, and an index naming them whose subject is the published project, as
//! Compose writes it; a registry that knows OCI 1.1's referrers finds it from the
//! project. Each image comes whole (every platform of a list, its config and layers),
//! so the repository holds everything the project needs to run.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::artifact::{
    COMPOSE_VERSION, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, PROJECT_ARTIFACT_TYPE,
};
use crate::client::{self, Access, BlobCopy, Manifest, Session};
use crate::error::RegistryError;
use crate::publish::Published;
use crate::reference::Reference;
use crate::{OciVersion, artifact};

/// Every kind of manifest an image is pushed as.
const IMAGE_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// What copying one image took: its blobs' bytes that crossed the network, and how
/// many blobs the registry mounted or the repository had already.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImageCopy {
    pub copied_bytes: u64,
    pub copied: usize,
    pub mounted: usize,
    pub present: usize,
}

/// Copies `images` into `target`'s repository (calling `copied` with each one's place
/// in `images` once it is there) and pushes, by its digest, the index of them whose
/// subject is `project`; returns the index's digest.
pub fn publish_images(
    target: &Reference,
    images: &[Reference],
    project: &Published,
    mut copied: impl FnMut(usize, &ImageCopy),
) -> Result<String, RegistryError> {
    client::block_on(target, async {
        let mut session = Session::open(target, Access::Push).await?;
        let mut manifests = Vec::with_capacity(images.len());
        for (place, image) in images.iter().enumerate() {
            let mut took = ImageCopy::default();
            manifests.push(copy_image(&mut session, image, &mut took).await?);
            copied(place, &took);
        }
        let index = index(&manifests, project);
        let digest = artifact::digest(&index);
        session
            .put_manifest(&digest, INDEX_MEDIA_TYPE, Bytes::from(index))
            .await?;
        Ok(digest)
    })?
}

/// Copies `image` into `target`'s repository: blobs first, then each manifest under
/// its digest, a list's platforms before the list. Returns the index's entry for it.
async fn copy_image(
    target: &mut Session,
    image: &Reference,
    took: &mut ImageCopy,
) -> Result<Value, RegistryError> {
    let mut source = Session::open(image, Access::Pull).await?;
    let top = source
        .get_manifest(image.version(), IMAGE_MANIFESTS)
        .await?;
    let body: Value = parse(&top, image)?;
    if let Some(platforms) = body["manifests"].as_array() {
        for platform in platforms {
            let digest = platform["digest"].as_str().unwrap_or_default();
            let one = source.get_manifest(digest, IMAGE_MANIFESTS).await?;
            copy_blobs(target, &mut source, &parse(&one, image)?, took).await?;
            target
                .put_manifest(&one.digest, &one.media_type, one.body)
                .await?;
        }
    } else {
        copy_blobs(target, &mut source, &body, took).await?;
    }
    target
        .put_manifest(&top.digest, &top.media_type, top.body.clone())
        .await?;
    // Where it came from, as containerd records it: the registry's host, without port.
    let host = image
        .registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(image.registry.as_str(), |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    Ok(json!({
        "mediaType": top.media_type,
        "digest": top.digest,
        "size": top.body.len(),
        "annotations": {
            format!("containerd.io/distribution.source.{host}"): image.repository,
        },
    }))
}

/// The config and layers one image manifest names.
async fn copy_blobs(
    target: &mut Session,
    source: &mut Session,
    manifest: &Value,
    took: &mut ImageCopy,
) -> Result<(), RegistryError> {
    let blobs = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().into_iter().flatten());
    for blob in blobs {
        let (Some(digest), Some(size)) = (blob["digest"].as_str(), blob["size"].as_u64()) else {
            return Err(RegistryError::BadAnswer {
                what: source.reference().to_string(),
                why: "a manifest names a blob without its digest and size".to_owned(),
            });
        };
        match target.copy_blob(source, digest, size).await? {
            BlobCopy::Present => took.present += 1,
            BlobCopy::Mounted => took.mounted += 1,
            BlobCopy::Copied => {
                took.copied += 1;
                took.copied_bytes += size;
            }
        }
    }
    Ok(())
}

fn parse(manifest: &Manifest, image: &Reference) -> Result<Value, RegistryError> {
    serde_json::from_slice(&manifest.body).map_err(|err| RegistryError::BadAnswer {
        what: image.to_string(),
        why: format!("its manifest is not JSON: {err}"),
    })
}

/// The index's bytes, in Compose's field order.
fn index(manifests: &[Value], project: &Published) -> Vec<u8> {
    let mut subject = json!({
        "mediaType": MANIFEST_MEDIA_TYPE,
        "digest": project.digest,
        "size": project.size,
        "annotations": { "com.docker.compose.version": COMPOSE_VERSION },
    });
    if project.version == OciVersion::V1_1 {
        subject["artifactType"] = PROJECT_ARTIFACT_TYPE.into();
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": manifests,
        "subject": subject,
        "annotations": { "com.docker.compose.version": COMPOSE_VERSION },
    });
    serde_json::to_vec(&index).unwrap_or_default()
}

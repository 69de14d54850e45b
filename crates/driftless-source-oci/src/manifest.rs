//! Media types and the image manifest, as read and written here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The config media type of Flux's artifacts.
pub const FLUX_CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.flux.config.v1+json";
/// The layer media type of Flux's artifacts: a tar+gzip of the files.
pub const FLUX_CONTENT_MEDIA_TYPE: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
/// The OCI image manifest media type.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's image manifest media type (schema 2), also accepted when reading.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The OCI image index media type (refused: an index is not an artifact).
pub const OCI_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// Docker's manifest list media type (refused like an index).
pub const DOCKER_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Generic tar+gzip layer media types read when an artifact has no Flux layer.
pub const GENERIC_LAYER_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
];

/// Annotation: where the content came from (a repository URL).
pub const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
/// Annotation: the revision of the content, e.g. `main@sha1:<commit>`.
pub const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";
/// Annotation: when the artifact was made (RFC 3339).
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// An image manifest (OCI or Docker schema 2). Fields are written in this order,
/// which keeps pushed manifests byte-for-byte reproducible.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub(crate) schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) media_type: Option<String>,
    pub(crate) config: Descriptor,
    #[serde(default)]
    pub(crate) layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) annotations: BTreeMap<String, String>,
}

/// A content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub(crate) media_type: String,
    pub(crate) digest: String,
    pub(crate) size: u64,
}

/// Only the fields that tell what kind of document a manifest is.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Probe {
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    #[serde(default)]
    pub(crate) manifests: Option<serde_json::Value>,
}

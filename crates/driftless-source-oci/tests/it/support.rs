//! Helpers: file trees, hand-made archives and artifacts pushed with raw registry
//! calls (bypassing our `push`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use driftless_source_oci::manifest::{
    FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE,
};
use driftless_source_oci::{Error, OciSource, OciSourceOptions};
use driftless_testkit::registry::Registry;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use sha2::Digest as _;

/// Writes `files` (path, content) under `dir`.
pub(crate) fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
}

/// Every file under `dir` (relative path → content), `.git` left out.
pub(crate) fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            (rel, fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

/// What the cache's `snapshots` folder holds (snapshots and leftovers alike).
pub(crate) fn cache_entries(cache: &Path) -> Vec<String> {
    match fs::read_dir(cache.join("snapshots")) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        }
        Err(_) => Vec::new(),
    }
}

/// `sha256:<hex>` of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A source for `reference` with its own cache dir.
pub(crate) fn source(reference: &str, cache: &Path) -> OciSource {
    OciSource::new(OciSourceOptions::new(reference).cache_dir(cache)).unwrap()
}

/// The crate's error inside a source error.
pub(crate) fn oci_error(error: &driftless_core::SourceError) -> &Error {
    error
        .downcast_ref::<Error>()
        .unwrap_or_else(|| panic!("not an OCI source error: {error}"))
}

/// One archive entry made by hand: the tar builder refuses the unsafe ones.
pub(crate) struct RawEntry<'a> {
    pub(crate) name: &'a str,
    pub(crate) kind: tar::EntryType,
    pub(crate) data: &'a [u8],
    pub(crate) link: Option<&'a str>,
}

impl<'a> RawEntry<'a> {
    pub(crate) fn file(name: &'a str, data: &'a [u8]) -> Self {
        Self {
            name,
            kind: tar::EntryType::Regular,
            data,
            link: None,
        }
    }

    pub(crate) fn link(name: &'a str, kind: tar::EntryType, link: &'a str) -> Self {
        Self {
            name,
            kind,
            data: b"",
            link: Some(link),
        }
    }

    pub(crate) fn special(name: &'a str, kind: tar::EntryType) -> Self {
        Self {
            name,
            kind,
            data: b"",
            link: None,
        }
    }
}

/// A tar+gzip of raw headers.
pub(crate) fn raw_tar_gz(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut tar = Vec::new();
    for entry in entries {
        let mut header = tar::Header::new_old();
        let old = header.as_old_mut();
        old.name[..entry.name.len()].copy_from_slice(entry.name.as_bytes());
        if let Some(link) = entry.link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(entry.kind);
        header.set_size(entry.data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(entry.data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// An artifact to push with raw calls.
pub(crate) struct RawArtifact {
    pub(crate) manifest_media_type: Option<String>,
    pub(crate) config_media_type: String,
    pub(crate) config: Vec<u8>,
    pub(crate) layers: Vec<(String, Vec<u8>)>,
}

impl RawArtifact {
    /// Flux's format with one content layer.
    pub(crate) fn flux(layer: Vec<u8>) -> Self {
        Self {
            manifest_media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_owned()),
            config_media_type: FLUX_CONFIG_MEDIA_TYPE.to_owned(),
            config: b"{}".to_vec(),
            layers: vec![(FLUX_CONTENT_MEDIA_TYPE.to_owned(), layer)],
        }
    }

    /// The manifest's bytes.
    pub(crate) fn manifest(&self) -> Vec<u8> {
        let descriptor = |media_type: &str, bytes: &[u8]| serde_json::json!({"mediaType": media_type, "digest": digest(bytes), "size": bytes.len()});
        let mut manifest = serde_json::json!({"schemaVersion": 2});
        if let Some(media_type) = &self.manifest_media_type {
            manifest["mediaType"] = media_type.clone().into();
        }
        manifest["config"] = descriptor(&self.config_media_type, &self.config);
        manifest["layers"] = self.layers.iter().map(|(m, b)| descriptor(m, b)).collect();
        serde_json::to_vec(&manifest).unwrap()
    }
}

/// Pushes `artifact` to `registry` as `repo:tag` with the client library's raw blob and
/// manifest calls; returns the manifest digest.
pub(crate) async fn raw_push(
    registry: &Registry,
    repo: &str,
    tag: &str,
    artifact: &RawArtifact,
) -> String {
    raw_push_manifest(
        registry,
        repo,
        tag,
        artifact,
        artifact.manifest(),
        OCI_MANIFEST_MEDIA_TYPE,
    )
    .await
}

/// Like [`raw_push`] with the manifest bytes and content type given.
pub(crate) async fn raw_push_manifest(
    registry: &Registry,
    repo: &str,
    tag: &str,
    artifact: &RawArtifact,
    manifest: Vec<u8>,
    content_type: &'static str,
) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    });
    let reference =
        oci_client::Reference::with_tag(registry.host(), repo.to_owned(), tag.to_owned());
    let auth = match registry.credentials() {
        Some((user, password)) => RegistryAuth::Basic(user.to_owned(), password.to_owned()),
        None => RegistryAuth::Anonymous,
    };
    client
        .auth(&reference, &auth, oci_client::RegistryOperation::Push)
        .await
        .unwrap();
    client
        .push_blob(
            &reference,
            artifact.config.clone(),
            &digest(&artifact.config),
        )
        .await
        .unwrap();
    for (_, layer) in &artifact.layers {
        client
            .push_blob(&reference, layer.clone(), &digest(layer))
            .await
            .unwrap();
    }
    let manifest_digest = digest(&manifest);
    client
        .push_manifest_raw(
            &reference,
            manifest,
            http::HeaderValue::from_static(content_type),
        )
        .await
        .unwrap();
    manifest_digest
}

/// A temporary directory for a cache.
pub(crate) fn cache() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("driftless-oci-cache-")
        .tempdir()
        .unwrap()
}

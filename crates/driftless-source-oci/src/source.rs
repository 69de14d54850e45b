//! [`OciSource`]: resolve and fetch OCI artifacts.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use driftless_core::{Revision, Snapshot, Source, SourceError};
use oci_client::Client;
use oci_client::secrets::RegistryAuth;
use tokio_util::sync::CancellationToken;

use crate::client::{BlobRequest, map_error, pull_blob, sha256_digest, shared_client};
use crate::manifest::{
    DOCKER_LIST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE, Descriptor, FLUX_CONTENT_MEDIA_TYPE,
    GENERIC_LAYER_MEDIA_TYPES, Manifest, OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, Probe,
};
use crate::{Auth, Error, OciReference, archive};

/// Size limits that protect against huge or malicious artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest manifest accepted, in bytes.
    pub max_manifest_size: u64,
    /// The largest config blob accepted, in bytes.
    pub max_config_size: u64,
    /// The largest (compressed) layer downloaded, in bytes.
    pub max_layer_size: u64,
    /// The most bytes a layer may expand to.
    pub max_extracted_size: u64,
    /// The most archive entries a layer may hold.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest_size: 4 << 20,
            max_config_size: 1 << 20,
            max_layer_size: 256 << 20,
            max_extracted_size: 1 << 30,
            max_entries: 100_000,
        }
    }
}

impl Limits {
    /// Sets [`max_layer_size`](Self::max_layer_size).
    #[must_use]
    pub fn max_layer_size(mut self, bytes: u64) -> Self {
        self.max_layer_size = bytes;
        self
    }

    /// Sets [`max_extracted_size`](Self::max_extracted_size).
    #[must_use]
    pub fn max_extracted_size(mut self, bytes: u64) -> Self {
        self.max_extracted_size = bytes;
        self
    }

    /// Sets [`max_entries`](Self::max_entries).
    #[must_use]
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = entries;
        self
    }
}

/// How an [`OciSource`] reaches its artifact.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OciSourceOptions {
    /// `oci://HOST/REPOSITORY[:TAG|@sha256:DIGEST]`; the tag defaults to `latest`.
    pub reference: String,
    /// A semver range (e.g. `>=1.0.0, <2`): the highest matching tag is used. The
    /// reference then names no tag.
    pub semver: Option<String>,
    /// A tag that replaces the reference's tag (like `--tag`).
    pub tag: Option<String>,
    /// A manifest digest (`sha256:<hex>`) that pins the reference (like `--digest`).
    pub digest: Option<String>,
    /// Registry credentials.
    pub auth: Auth,
    /// Allows plain HTTP to registries that are not on the loopback interface
    /// (loopback registries always use plain HTTP, as Docker does).
    pub insecure: bool,
    /// Where snapshots are kept (`<cache>/snapshots/<digest>`); a `driftless-oci`
    /// folder in the system's temporary directory when unset.
    pub cache_dir: Option<PathBuf>,
    /// The media type of the layer to extract; when unset, the Flux content layer, or
    /// else the only tar+gzip layer.
    pub layer_media_type: Option<String>,
    /// Size limits.
    pub limits: Limits,
    /// How long one resolve or fetch may take in all (default 10 minutes); the
    /// requests in flight are dropped when it passes.
    pub timeout: Duration,
    /// Cancels running operations when triggered; the requests in flight are dropped.
    pub cancel: CancellationToken,
}

impl Default for OciSourceOptions {
    fn default() -> Self {
        Self {
            reference: String::new(),
            semver: None,
            tag: None,
            digest: None,
            auth: Auth::default(),
            insecure: false,
            cache_dir: None,
            layer_media_type: None,
            limits: Limits::default(),
            timeout: DEFAULT_TIMEOUT,
            cancel: CancellationToken::new(),
        }
    }
}

/// How long a resolve or fetch may take by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

impl OciSourceOptions {
    /// Options for `reference`, otherwise default.
    pub fn new(reference: impl Into<String>) -> Self {
        Self::default().reference(reference)
    }

    /// Sets [`reference`](Self::reference).
    #[must_use]
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = reference.into();
        self
    }

    /// Sets [`semver`](Self::semver).
    #[must_use]
    pub fn semver(mut self, range: impl Into<String>) -> Self {
        self.semver = Some(range.into());
        self
    }

    /// Sets [`tag`](Self::tag).
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Sets [`digest`](Self::digest).
    #[must_use]
    pub fn digest(mut self, digest: impl Into<String>) -> Self {
        self.digest = Some(digest.into());
        self
    }

    /// Sets [`auth`](Self::auth).
    #[must_use]
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets [`insecure`](Self::insecure).
    #[must_use]
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Sets [`cache_dir`](Self::cache_dir).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sets [`layer_media_type`](Self::layer_media_type).
    #[must_use]
    pub fn layer_media_type(mut self, media_type: impl Into<String>) -> Self {
        self.layer_media_type = Some(media_type.into());
        self
    }

    /// Sets [`limits`](Self::limits).
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    #[must_use]
    pub fn cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }
}

/// What the source follows.
#[derive(Debug, Clone)]
enum Selector {
    Tag(String),
    Digest(String),
    Semver(semver::VersionReq, String),
}

/// A [`Source`] reading OCI artifacts from a registry: Flux's format, or any
/// artifact with one tar+gzip layer.
///
/// [`resolve`](Source::resolve) asks the registry for the manifest digest of the tag
/// (a `HEAD` request; for a semver range, the tag list first). [`fetch`](Source::fetch)
/// downloads manifest, config and layer, checks every digest, and extracts the layer
/// safely into `<cache>/snapshots/<digest>` (atomically: nothing is there unless all
/// went well). A snapshot already in the cache is not fetched again.
#[derive(Clone)]
pub struct OciSource {
    reference: OciReference,
    selector: Selector,
    options: OciSourceOptions,
    cache_dir: PathBuf,
}

impl std::fmt::Debug for OciSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciSource")
            .field("reference", &self.reference.to_string())
            .field("selector", &self.selector)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl OciSource {
    /// Builds a source; checks the reference and range, contacts nothing.
    pub fn new(options: OciSourceOptions) -> Result<Self, Error> {
        let mut reference: OciReference = options.reference.parse()?;
        if let Some(tag) = &options.tag {
            crate::reference::validate_tag(tag).map_err(|reason| Error::InvalidReference {
                reference: format!("{reference} (tag {tag:?})"),
                reason: reason.to_owned(),
            })?;
            reference = reference.with_tag(tag);
        }
        if let Some(digest) = &options.digest {
            crate::reference::validate_digest(digest).map_err(|reason| {
                Error::InvalidReference {
                    reference: format!("{reference} (digest {digest:?})"),
                    reason: reason.to_owned(),
                }
            })?;
            reference = reference.with_digest(digest);
        }
        let selector = match (&options.semver, reference.tag(), reference.digest()) {
            (Some(range), None, None) => {
                let req =
                    semver::VersionReq::parse(range).map_err(|source| Error::InvalidRange {
                        range: range.clone(),
                        repository: reference.repository_url(),
                        source,
                    })?;
                Selector::Semver(req, range.clone())
            }
            (Some(_), _, _) => {
                return Err(Error::InvalidReference {
                    reference: reference.to_string(),
                    reason:
                        "a semver range selects the tag: give the reference without tag or digest"
                            .to_owned(),
                });
            }
            (None, _, Some(digest)) => Selector::Digest(digest.to_owned()),
            (None, tag, None) => Selector::Tag(tag.unwrap_or("latest").to_owned()),
        };
        let cache_dir = options
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("driftless-oci"));
        Ok(Self {
            reference,
            selector,
            options,
            cache_dir,
        })
    }

    /// The parsed reference.
    pub fn reference(&self) -> &OciReference {
        &self.reference
    }

    /// Where a fetched revision's files are kept.
    /// `<cache>/snapshots/<digest hex>`, with a suffix naming the layer media type
    /// when one is chosen (another layer of the same artifact is another tree).
    pub fn snapshot_dir(&self, revision: &Revision) -> PathBuf {
        let name = match &self.options.layer_media_type {
            Some(media_type) => {
                let tag = sha256_digest(media_type.as_bytes());
                format!(
                    "{}-{}",
                    revision.hex(),
                    &tag["sha256:".len().."sha256:".len() + 12]
                )
            }
            None => revision.hex().to_owned(),
        };
        self.cache_dir.join("snapshots").join(name)
    }

    /// The client for this source's registry with its current credentials, and the
    /// credentials: read again for every fetch, so that new ones take effect.
    async fn connect(&self) -> Result<(Client, RegistryAuth), Error> {
        let auth = self
            .options
            .auth
            .for_registry(self.reference.registry())
            .await?;
        let client = shared_client(&self.reference, self.options.insecure, &auth);
        Ok((client, auth))
    }

    /// The manifest digest of `target` (a tag or digest reference): one `HEAD`.
    async fn manifest_digest(&self, target: &OciReference) -> Result<String, Error> {
        let (client, auth) = self.connect().await?;
        let digest = client
            .fetch_manifest_digest(&target.to_client(), &auth)
            .await
            .map_err(|e| map_error(e, target, self.options.insecure, "manifest"))?;
        crate::reference::validate_digest(&digest).map_err(|reason| Error::InvalidReference {
            reference: target.to_string(),
            reason: format!("the registry answered the digest {digest:?}: {reason}"),
        })?;
        Ok(digest)
    }

    /// The highest tag matching `req`.
    async fn highest_tag(&self, req: &semver::VersionReq, range: &str) -> Result<String, Error> {
        const PAGE: usize = 1000;
        let (client, auth) = self.connect().await?;
        let target = self.reference.to_client();
        let mut tags = Vec::new();
        let mut last: Option<String> = None;
        loop {
            let page = client
                .list_tags(&target, &auth, Some(PAGE), last.as_deref())
                .await
                .map_err(|e| map_error(e, &self.reference, self.options.insecure, "tag list"))?;
            let full = page.tags.len() >= PAGE;
            last = page.tags.last().cloned();
            tags.extend(page.tags);
            if !full || last.is_none() {
                break;
            }
        }
        let best = tags
            .iter()
            .filter_map(|tag| {
                let version = semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
                req.matches(&version).then_some((version, tag))
            })
            // Ties (`1.0.0` and `v1.0.0`) go to the greater tag string: deterministic.
            .max_by(|(va, ta), (vb, tb)| va.cmp(vb).then_with(|| ta.cmp(tb)));
        match best {
            Some((_, tag)) => Ok(tag.clone()),
            None => Err(Error::NoMatchingTag {
                repository: self.reference.repository_url(),
                range: range.to_owned(),
                tags: tags.len(),
            }),
        }
    }

    /// Resolves the configured reference to a revision, within the timeout and until
    /// cancelled.
    pub async fn resolve_revision(&self) -> Result<Revision, Error> {
        self.bounded("resolve", self.resolve_unbounded()).await
    }

    /// Fetches `revision` into the cache, or finds it there, within the timeout and
    /// until cancelled.
    pub async fn fetch_revision(&self, revision: &Revision) -> Result<Snapshot, Error> {
        self.bounded("fetch", self.fetch_unbounded(revision)).await
    }

    /// Runs `work` until it ends, the timeout passes or the operation is cancelled;
    /// dropping it drops the requests in flight, so nothing keeps running.
    async fn bounded<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let reference = || self.reference.to_string();
        tokio::select! {
            outcome = tokio::time::timeout(self.options.timeout, work) => {
                outcome.unwrap_or_else(|_| Err(Error::Timeout {
                    operation,
                    reference: reference(),
                    after: self.options.timeout,
                }))
            }
            () = self.options.cancel.cancelled() => Err(Error::Cancelled {
                operation,
                reference: reference(),
            }),
        }
    }

    async fn resolve_unbounded(&self) -> Result<Revision, Error> {
        let (tag, target) = match &self.selector {
            Selector::Tag(tag) => (Some(tag.clone()), self.reference.with_tag(tag)),
            Selector::Digest(_) => (
                self.reference.tag().map(str::to_owned),
                self.reference.clone(),
            ),
            Selector::Semver(req, range) => {
                let tag = self.highest_tag(req, range).await?;
                let target = self.reference.with_tag(&tag);
                (Some(tag), target)
            }
        };
        let digest = self.manifest_digest(&target).await?;
        if let Selector::Digest(wanted) = &self.selector
            && &digest != wanted
        {
            return Err(Error::DigestMismatch {
                what: "manifest",
                reference: target.to_string(),
                expected: wanted.clone(),
                actual: digest,
            });
        }
        let hex = digest.trim_start_matches("sha256:");
        let revision =
            Revision::new(tag.as_deref(), "sha256", hex).map_err(|_| Error::InvalidRevision {
                revision: digest.clone(),
            })?;
        tracing::debug!(source = %self.describe(), %revision, "resolved");
        Ok(revision)
    }

    async fn fetch_unbounded(&self, revision: &Revision) -> Result<Snapshot, Error> {
        if revision.algorithm() != "sha256" || revision.hex().len() != 64 {
            return Err(Error::InvalidRevision {
                revision: revision.to_string(),
            });
        }
        let dest = self.snapshot_dir(revision);
        if tokio::fs::metadata(&dest).await.is_ok_and(|m| m.is_dir()) {
            tracing::debug!(%revision, path = %dest.display(), "snapshot already in the cache");
            return Ok(Snapshot::new(dest, revision.clone()));
        }
        let digest = revision.digest();
        let mut target = self.reference.with_digest(&digest);
        if let Some(tag) = revision.reference() {
            target = target.with_tag(tag).with_digest(&digest);
        }
        let insecure = self.options.insecure;
        let limits = self.options.limits;

        let (client, auth) = self.connect().await?;
        let manifest = self.pull_manifest(&client, &auth, &target, &digest).await?;
        let layer = self.select_layer(&target, &manifest)?;
        pull_blob(
            &client,
            &target,
            insecure,
            &BlobRequest {
                what: "config blob",
                digest: &manifest.config.digest,
                size: manifest.config.size,
                limit: limits.max_config_size,
            },
        )
        .await?;
        let data = pull_blob(
            &client,
            &target,
            insecure,
            &BlobRequest {
                what: "layer blob",
                digest: &layer.digest,
                size: layer.size,
                limit: limits.max_layer_size,
            },
        )
        .await?;

        let snapshots = self.cache_dir.join("snapshots");
        let layer_digest = layer.digest.clone();
        let dest_for_task = dest.clone();
        tokio::task::spawn_blocking(move || {
            extract_atomically(&data, &snapshots, &dest_for_task, &layer_digest, &limits)
        })
        .await
        .map_err(Error::Task)??;
        tracing::info!(%revision, path = %dest.display(), "fetched OCI artifact");
        Ok(Snapshot::new(dest, revision.clone()))
    }

    /// Pulls the manifest by digest, checks its digest, size and media type.
    async fn pull_manifest(
        &self,
        client: &Client,
        auth: &RegistryAuth,
        target: &OciReference,
        digest: &str,
    ) -> Result<Manifest, Error> {
        let accepted = [
            OCI_MANIFEST_MEDIA_TYPE,
            DOCKER_MANIFEST_MEDIA_TYPE,
            OCI_INDEX_MEDIA_TYPE,
            DOCKER_LIST_MEDIA_TYPE,
        ];
        let (body, _) = client
            .pull_manifest_raw(&target.to_client(), auth, &accepted)
            .await
            .map_err(|e| map_error(e, target, self.options.insecure, "manifest"))?;
        if body.len() as u64 > self.options.limits.max_manifest_size {
            return Err(Error::BlobTooLarge {
                what: "manifest",
                reference: target.to_string(),
                digest: digest.to_owned(),
                limit: self.options.limits.max_manifest_size,
            });
        }
        let actual = sha256_digest(&body);
        if actual != digest {
            return Err(Error::DigestMismatch {
                what: "manifest",
                reference: target.to_string(),
                expected: digest.to_owned(),
                actual,
            });
        }
        let expected = format!("{OCI_MANIFEST_MEDIA_TYPE} or {DOCKER_MANIFEST_MEDIA_TYPE}");
        let probe: Probe =
            serde_json::from_slice(&body).map_err(|source| Error::InvalidManifest {
                reference: target.to_string(),
                source,
            })?;
        let media_type = match (probe.media_type, probe.manifests) {
            (Some(media_type), _) => media_type,
            (None, Some(_)) => OCI_INDEX_MEDIA_TYPE.to_owned(),
            (None, None) => OCI_MANIFEST_MEDIA_TYPE.to_owned(),
        };
        if media_type != OCI_MANIFEST_MEDIA_TYPE && media_type != DOCKER_MANIFEST_MEDIA_TYPE {
            return Err(Error::WrongManifestMediaType {
                reference: target.to_string(),
                media_type,
                expected,
            });
        }
        serde_json::from_slice(&body).map_err(|source| Error::InvalidManifest {
            reference: target.to_string(),
            source,
        })
    }

    /// The layer to extract: the one of the configured media type, else the first
    /// Flux content layer, else the only generic tar+gzip layer.
    fn select_layer<'m>(
        &self,
        target: &OciReference,
        manifest: &'m Manifest,
    ) -> Result<&'m Descriptor, Error> {
        let found = || {
            manifest
                .layers
                .iter()
                .map(|l| l.media_type.clone())
                .collect::<Vec<_>>()
        };
        if let Some(wanted) = &self.options.layer_media_type {
            return manifest
                .layers
                .iter()
                .find(|l| &l.media_type == wanted)
                .ok_or_else(|| Error::WrongLayerMediaType {
                    reference: target.to_string(),
                    wanted: wanted.clone(),
                    found: found(),
                });
        }
        if let Some(layer) = manifest
            .layers
            .iter()
            .find(|l| l.media_type == FLUX_CONTENT_MEDIA_TYPE)
        {
            return Ok(layer);
        }
        let generic: Vec<&Descriptor> = manifest
            .layers
            .iter()
            .filter(|l| GENERIC_LAYER_MEDIA_TYPES.contains(&l.media_type.as_str()))
            .collect();
        match generic.as_slice() {
            [layer] => Ok(layer),
            [] => Err(Error::WrongLayerMediaType {
                reference: target.to_string(),
                wanted: format!(
                    "{FLUX_CONTENT_MEDIA_TYPE} or {}",
                    GENERIC_LAYER_MEDIA_TYPES.join(" or ")
                ),
                found: found(),
            }),
            several => Err(Error::AmbiguousLayers {
                reference: target.to_string(),
                count: several.len(),
                found: found(),
            }),
        }
    }
}

/// Extracts into a fresh temporary directory next to `dest`, then renames it to
/// `dest`. On any error the temporary directory is removed and `dest` is untouched.
fn extract_atomically(
    data: &[u8],
    snapshots: &Path,
    dest: &Path,
    layer_digest: &str,
    limits: &crate::Limits,
) -> Result<(), Error> {
    std::fs::create_dir_all(snapshots)
        .map_err(|e| Error::io("creating the cache", snapshots, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".extract-")
        .tempdir_in(snapshots)
        .map_err(|e| Error::io("creating a staging directory in", snapshots, e))?;
    archive::unpack(data, staging.path(), layer_digest, limits)?;
    let staged = staging.keep();
    match std::fs::rename(&staged, dest) {
        Ok(()) => Ok(()),
        // Another fetch of the same digest finished first: its tree is the same.
        Err(_) if dest.is_dir() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staged);
            Err(Error::io("moving the extracted snapshot to", dest, e))
        }
    }
}

#[async_trait]
impl Source for OciSource {
    fn describe(&self) -> String {
        match &self.selector {
            Selector::Semver(_, range) => format!("{} (semver {range})", self.reference),
            Selector::Tag(_) | Selector::Digest(_) => self.reference.to_string(),
        }
    }

    async fn resolve(&self) -> Result<Revision, SourceError> {
        self.resolve_revision().await.map_err(into_source_error)
    }

    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError> {
        self.fetch_revision(revision)
            .await
            .map_err(into_source_error)
    }
}

fn into_source_error(error: Error) -> SourceError {
    match error {
        Error::Cancelled { .. } => SourceError::Cancelled,
        other => SourceError::from(other),
    }
}

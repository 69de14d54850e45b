//! [`push`]: a directory as an OCI artifact in Flux's format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use driftless_core::Revision;
use oci_client::RegistryOperation;

use crate::client::{map_error, sha256_digest, shared_client};
use crate::manifest::{
    ANNOTATION_CREATED, ANNOTATION_REVISION, ANNOTATION_SOURCE, Descriptor, FLUX_CONFIG_MEDIA_TYPE,
    FLUX_CONTENT_MEDIA_TYPE, Manifest, OCI_MANIFEST_MEDIA_TYPE,
};
use crate::{Auth, Error, OciReference, archive};

/// The config blob of pushed artifacts: an empty JSON object.
const CONFIG: &[u8] = b"{}";

/// How to push.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PushOptions {
    /// Registry credentials.
    pub auth: Auth,
    /// Allows plain HTTP to registries that are not on the loopback interface.
    pub insecure: bool,
    /// The `org.opencontainers.image.source` annotation; read from the git remote
    /// `origin` of the directory's checkout when unset.
    pub source: Option<String>,
    /// The `org.opencontainers.image.revision` annotation; `BRANCH@sha1:COMMIT` of the
    /// directory's checkout when unset.
    pub revision: Option<String>,
    /// The `org.opencontainers.image.created` annotation (RFC 3339); left out when
    /// unset, so that the same content always gives the same digest.
    pub created: Option<String>,
    /// Whether to read source and revision from git when they are not given.
    pub use_git: bool,
}

impl Default for PushOptions {
    fn default() -> Self {
        Self {
            auth: Auth::default(),
            insecure: false,
            source: None,
            revision: None,
            created: None,
            use_git: true,
        }
    }
}

impl PushOptions {
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

    /// Sets [`source`](Self::source).
    #[must_use]
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets [`revision`](Self::revision).
    #[must_use]
    pub fn revision(mut self, revision: impl Into<String>) -> Self {
        self.revision = Some(revision.into());
        self
    }

    /// Sets [`created`](Self::created).
    #[must_use]
    pub fn created(mut self, created: impl Into<String>) -> Self {
        self.created = Some(created.into());
        self
    }

    /// Sets [`use_git`](Self::use_git).
    #[must_use]
    pub fn use_git(mut self, use_git: bool) -> Self {
        self.use_git = use_git;
        self
    }
}

/// What [`push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pushed {
    /// `TAG@sha256:<manifest digest>`: what a source following the tag resolves to.
    pub revision: Revision,
    /// The reference pinned to the digest: `oci://HOST/REPO:TAG@sha256:…`.
    pub reference: OciReference,
    /// The layer's digest.
    pub layer_digest: String,
    /// The layer's size in bytes.
    pub layer_size: u64,
    /// The manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// An artifact built in memory, ready to push.
pub(crate) struct Artifact {
    pub(crate) layer: Vec<u8>,
    pub(crate) manifest: Vec<u8>,
    pub(crate) manifest_digest: String,
    pub(crate) layer_digest: String,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// Packs `dir` and builds the manifest: the same files and annotations always give
/// the same bytes.
pub(crate) fn build_artifact(
    dir: &Path,
    annotations: BTreeMap<String, String>,
) -> Result<Artifact, Error> {
    let layer = archive::pack(dir)?;
    let layer_digest = sha256_digest(&layer);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST_MEDIA_TYPE.to_owned()),
        config: Descriptor {
            media_type: FLUX_CONFIG_MEDIA_TYPE.to_owned(),
            digest: sha256_digest(CONFIG),
            size: CONFIG.len() as u64,
        },
        layers: vec![Descriptor {
            media_type: FLUX_CONTENT_MEDIA_TYPE.to_owned(),
            digest: layer_digest.clone(),
            size: layer.len() as u64,
        }],
        annotations: annotations.clone(),
    };
    let manifest = serde_json::to_vec(&manifest)
        .map_err(|e| Error::io("encoding the manifest", dir, e.into()))?;
    Ok(Artifact {
        manifest_digest: sha256_digest(&manifest),
        layer,
        manifest,
        layer_digest,
        annotations,
    })
}

/// Packs `dir` as an OCI artifact in Flux's format and pushes it to `reference`
/// (`oci://HOST/REPOSITORY:TAG`; the tag defaults to `latest`).
///
/// The layer is a reproducible tar+gzip of the directory (`.git` left out); the
/// manifest carries `org.opencontainers.image.source` and
/// `org.opencontainers.image.revision` (from the options, else from the git checkout
/// the directory is in, if any) and `org.opencontainers.image.created` only when
/// given. The same content and annotations always give the same digest.
pub async fn push(dir: &Path, reference: &str, options: &PushOptions) -> Result<Pushed, Error> {
    let parsed: OciReference = reference.parse()?;
    if parsed.digest().is_some() {
        return Err(Error::InvalidReference {
            reference: parsed.to_string(),
            reason: "push to a tag, not a digest".to_owned(),
        });
    }
    let tag = parsed.tag().unwrap_or("latest").to_owned();
    let target = parsed.with_tag(&tag);
    let metadata = tokio::fs::metadata(dir)
        .await
        .map_err(|e| Error::io("reading the directory to push", dir, e))?;
    if !metadata.is_dir() {
        return Err(Error::NotADirectory {
            path: dir.to_owned(),
        });
    }

    let mut annotations = BTreeMap::new();
    let git = if options.use_git && (options.source.is_none() || options.revision.is_none()) {
        git_metadata(dir).await?
    } else {
        GitMetadata::default()
    };
    if let Some(source) = options.source.clone().or(git.source) {
        annotations.insert(ANNOTATION_SOURCE.to_owned(), source);
    }
    if let Some(revision) = options.revision.clone().or(git.revision) {
        annotations.insert(ANNOTATION_REVISION.to_owned(), revision);
    }
    if let Some(created) = &options.created {
        annotations.insert(ANNOTATION_CREATED.to_owned(), created.clone());
    }

    let owned_dir: PathBuf = dir.to_owned();
    let artifact = tokio::task::spawn_blocking(move || build_artifact(&owned_dir, annotations))
        .await
        .map_err(Error::Task)??;

    let auth = options.auth.for_registry(target.registry()).await?;
    let client = shared_client(&target, options.insecure, &auth);
    let client_ref = target.to_client();
    let insecure = options.insecure;
    let target_ref = &target;
    let fail = move |what| move |e| map_error(e, target_ref, insecure, what);
    client
        .auth(&client_ref, &auth, RegistryOperation::Push)
        .await
        .map_err(fail("push"))?;
    let config_digest = sha256_digest(CONFIG);
    let blobs: [(&'static str, &[u8], &str); 2] = [
        ("layer blob", &artifact.layer, &artifact.layer_digest),
        ("config blob", CONFIG, &config_digest),
    ];
    for (what, data, digest) in blobs {
        // Content-addressed: a blob the repository has is not sent again.
        if client
            .blob_exists(&client_ref, digest)
            .await
            .map_err(fail(what))?
        {
            tracing::debug!(digest, "blob already in the repository");
            continue;
        }
        client
            .push_blob(&client_ref, data.to_vec(), digest)
            .await
            .map_err(fail(what))?;
    }
    let content_type = http::HeaderValue::from_static(OCI_MANIFEST_MEDIA_TYPE);
    client
        .push_manifest_raw(&client_ref, artifact.manifest.clone(), content_type)
        .await
        .map_err(fail("manifest"))?;

    let hex = artifact.manifest_digest.trim_start_matches("sha256:");
    let revision =
        Revision::new(Some(&tag), "sha256", hex).map_err(|_| Error::InvalidRevision {
            revision: artifact.manifest_digest.clone(),
        })?;
    tracing::info!(reference = %target, %revision, "pushed OCI artifact");
    Ok(Pushed {
        revision,
        reference: target.with_digest(&artifact.manifest_digest),
        layer_digest: artifact.layer_digest,
        layer_size: artifact.layer.len() as u64,
        annotations: artifact.annotations,
    })
}

#[derive(Debug, Default)]
struct GitMetadata {
    source: Option<String>,
    revision: Option<String>,
}

/// Runs `git -C dir ARGS`; `None` when git says no (not a checkout, no remote).
async fn git(dir: &Path, args: &[&str]) -> Result<Option<String>, Error> {
    let output = tokio::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            Ok((!text.is_empty()).then_some(text))
        }
        Ok(_) => Ok(None),
        // No git at all: the directory cannot be in a checkout we could read.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Git {
            dir: dir.to_owned(),
            reason: format!("running git: {e}"),
        }),
    }
}

/// The remote URL (without credentials) and `BRANCH@sha1:COMMIT` of the checkout
/// holding `dir`, when it is in one.
async fn git_metadata(dir: &Path) -> Result<GitMetadata, Error> {
    if git(dir, &["rev-parse", "--is-inside-work-tree"])
        .await?
        .as_deref()
        != Some("true")
    {
        return Ok(GitMetadata::default());
    }
    let source = git(dir, &["config", "--get", "remote.origin.url"])
        .await?
        .map(|url| strip_credentials(&url));
    let revision = match git(dir, &["rev-parse", "--verify", "-q", "HEAD"]).await? {
        Some(commit) => {
            let branch = git(dir, &["symbolic-ref", "-q", "--short", "HEAD"]).await?;
            Some(match branch {
                Some(branch) => format!("{branch}@sha1:{commit}"),
                None => format!("sha1:{commit}"),
            })
        }
        None => None,
    };
    Ok(GitMetadata { source, revision })
}

/// `https://user:token@host/x` → `https://host/x`: credentials never go into
/// annotations.
fn strip_credentials(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if let Some((_, host)) = authority.rsplit_once('@') {
            let slash = if rest.contains('/') { "/" } else { "" };
            return format!("{scheme}://{host}{slash}{path}");
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped_from_remote_urls() {
        assert_eq!(
            strip_credentials("https://me:tok@git.example.com/org/repo.git"),
            "https://git.example.com/org/repo.git"
        );
        assert_eq!(
            strip_credentials("https://git.example.com/org/repo.git"),
            "https://git.example.com/org/repo.git"
        );
        assert_eq!(
            strip_credentials("ssh://git@host:22/repo"),
            "ssh://host:22/repo"
        );
        assert_eq!(
            strip_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    #[test]
    fn the_manifest_is_flux_shaped_and_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a: 1\n").unwrap();
        let annotations =
            BTreeMap::from([(ANNOTATION_SOURCE.to_owned(), "https://x/y".to_owned())]);
        let one = build_artifact(dir.path(), annotations.clone()).unwrap();
        let two = build_artifact(dir.path(), annotations).unwrap();
        assert_eq!(one.manifest, two.manifest);
        assert_eq!(one.manifest_digest, two.manifest_digest);
        let json: serde_json::Value = serde_json::from_slice(&one.manifest).unwrap();
        assert_eq!(json["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(json["config"]["mediaType"], FLUX_CONFIG_MEDIA_TYPE);
        assert_eq!(json["layers"][0]["mediaType"], FLUX_CONTENT_MEDIA_TYPE);
        assert_eq!(json["annotations"][ANNOTATION_SOURCE], "https://x/y");
    }
}

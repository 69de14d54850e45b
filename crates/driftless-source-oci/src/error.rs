//! The crate's error type.

use std::path::PathBuf;

use driftless_core::SourceError;

/// Anything that can go wrong resolving, fetching or pushing an OCI artifact.
///
/// Messages name the reference, registry, digest or path at fault; they never contain
/// credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A reference that is not `oci://HOST/REPOSITORY[:TAG|@sha256:DIGEST]`.
    #[error("invalid OCI reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A semver range that does not parse.
    #[error("invalid semver range {range:?} for {repository}")]
    InvalidRange {
        /// The range as given.
        range: String,
        /// The repository it was meant for.
        repository: String,
        /// The parser's complaint.
        #[source]
        source: semver::Error,
    },
    /// No tag of the repository is a version inside the range.
    #[error("no tag of {repository} matches the semver range {range:?} ({tags} tags looked at)")]
    NoMatchingTag {
        /// `HOST/REPOSITORY`.
        repository: String,
        /// The range.
        range: String,
        /// How many tags the registry listed.
        tags: usize,
    },
    /// The tag or digest does not exist in the repository (or the repository does not).
    #[error("{reference} not found: the registry has no such tag or digest")]
    NotFound {
        /// `HOST/REPOSITORY:TAG` or `HOST/REPOSITORY@DIGEST`.
        reference: String,
    },
    /// The registry refused our credentials, or wants some and we sent none.
    #[error(
        "not authorized for {reference}: check the credentials (docker config.json, --creds, \
         username/password files)"
    )]
    Unauthorized {
        /// The reference.
        reference: String,
        /// The registry's answer.
        #[source]
        source: Box<oci_client::errors::OciDistributionError>,
    },
    /// The registry could not be reached (connection refused, DNS, TLS, timeout).
    #[error("registry {registry} unreachable over {scheme}")]
    Unreachable {
        /// `HOST[:PORT]`.
        registry: String,
        /// `http` or `https`.
        scheme: &'static str,
        /// The transport error.
        #[source]
        source: Box<oci_client::errors::OciDistributionError>,
    },
    /// Any other error the registry returned.
    #[error("registry error for {reference}")]
    Registry {
        /// The reference.
        reference: String,
        /// The client's error.
        #[source]
        source: Box<oci_client::errors::OciDistributionError>,
    },
    /// The manifest is not an image manifest (e.g. an image index) or cannot be read.
    #[error(
        "{reference}: manifest media type {media_type:?} is not supported; expected {expected}"
    )]
    WrongManifestMediaType {
        /// The reference.
        reference: String,
        /// The media type found.
        media_type: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A manifest that is not valid JSON of the expected shape.
    #[error("{reference}: invalid manifest")]
    InvalidManifest {
        /// The reference.
        reference: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// No layer of the manifest has a media type we can extract (or the one asked for).
    #[error("{reference}: no layer with media type {wanted}; the artifact has {found:?}")]
    WrongLayerMediaType {
        /// The reference.
        reference: String,
        /// The media type(s) looked for.
        wanted: String,
        /// The layer media types the manifest lists.
        found: Vec<String>,
    },
    /// Several layers would fit and none was asked for by media type.
    #[error(
        "{reference}: {count} layers of extractable media types; choose one with a layer \
         media type ({found:?})"
    )]
    AmbiguousLayers {
        /// The reference.
        reference: String,
        /// How many layers fit.
        count: usize,
        /// Their media types.
        found: Vec<String>,
    },
    /// Content whose digest is not the one it was asked for by.
    #[error("digest mismatch for {what} of {reference}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// `manifest`, `config blob` or `layer blob`.
        what: &'static str,
        /// The reference.
        reference: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A blob larger than the configured limit.
    #[error("{what} {digest} of {reference} is larger than the limit of {limit} bytes")]
    BlobTooLarge {
        /// `manifest`, `config blob` or `layer blob`.
        what: &'static str,
        /// The reference.
        reference: String,
        /// The blob's digest.
        digest: String,
        /// The limit.
        limit: u64,
    },
    /// An archive entry we refuse to extract.
    #[error("unsafe archive entry {path:?} in {digest}: {reason}")]
    UnsafeEntry {
        /// The layer digest.
        digest: String,
        /// The entry's path as written in the archive.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The archive unpacks to more than the configured limits.
    #[error("layer {digest} expands beyond the limit of {limit} {unit}")]
    ExtractLimit {
        /// The layer digest.
        digest: String,
        /// The limit.
        limit: u64,
        /// `bytes` or `entries`.
        unit: &'static str,
    },
    /// A layer that is not a readable tar+gzip archive.
    #[error("layer {digest} is not a valid tar+gzip archive")]
    Archive {
        /// The layer digest.
        digest: String,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// A revision that is not an OCI revision (`TAG@sha256:HEX` or `sha256:HEX`).
    #[error("revision {revision} is not an OCI manifest digest (sha256)")]
    InvalidRevision {
        /// The revision.
        revision: String,
    },
    /// A file that could not be read or written.
    #[error("{}: {action}", path.display())]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A credentials file that is not usable.
    #[error("credentials file {}: {reason}", path.display())]
    Credentials {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A path to push that is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// `git` failed while reading the source and revision of the pushed directory.
    #[error("reading git metadata of {}: {reason}", dir.display())]
    Git {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A background task panicked or was cancelled.
    #[error("background task failed")]
    Task(#[source] tokio::task::JoinError),
    /// A resolve or fetch took longer than the configured timeout.
    #[error("{operation} of {reference} timed out after {after:?}")]
    Timeout {
        /// `resolve` or `fetch`.
        operation: &'static str,
        /// The artifact.
        reference: String,
        /// The configured timeout.
        after: std::time::Duration,
    },
    /// A resolve or fetch was cancelled through the options' cancellation token.
    #[error("{operation} of {reference} was cancelled")]
    Cancelled {
        /// `resolve` or `fetch`.
        operation: &'static str,
        /// The artifact.
        reference: String,
    },
}

impl From<Error> for SourceError {
    fn from(error: Error) -> Self {
        SourceError::other(error)
    }
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

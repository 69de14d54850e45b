//! [`Revision`] and [`Snapshot`]: what a source fetched.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// A source revision in Flux's notation: `main@sha1:<40 hex>`, `v1.2.0@sha1:…`,
/// `latest@sha256:<digest>`, or a bare digest `sha256:…` for sources without refs.
///
/// ```
/// use driftless_core::Revision;
///
/// let rev: Revision = "main@sha1:0123456789abcdef0123456789abcdef01234567".parse()?;
/// assert_eq!(rev.reference(), Some("main"));
/// assert_eq!(rev.algorithm(), "sha1");
/// assert_eq!(rev.short(), "main@0123456789ab");
/// # Ok::<(), driftless_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Revision {
    reference: Option<String>,
    algorithm: String,
    hex: String,
}

impl Revision {
    /// Builds a revision from a reference (branch, tag…; `None` for none), a digest
    /// algorithm (`sha1`, `sha256`) and the digest in lowercase hex.
    pub fn new(reference: Option<&str>, algorithm: &str, hex: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidRevision(format!("{algorithm}:{hex}"));
        if algorithm.is_empty() || !algorithm.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid());
        }
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        Ok(Self {
            reference: reference.filter(|r| !r.is_empty()).map(str::to_owned),
            algorithm: algorithm.to_owned(),
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The branch, tag or other reference this revision was resolved from.
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// The digest algorithm, e.g. `sha1` for git commits, `sha256` for OCI manifests.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The digest in lowercase hex (a commit id for git).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The digest with its algorithm: `sha1:<hex>`.
    pub fn digest(&self) -> String {
        format!("{}:{}", self.algorithm, self.hex)
    }

    /// A short form for humans: `main@0123456789ab`.
    pub fn short(&self) -> String {
        let hex = &self.hex[..self.hex.len().min(12)];
        match &self.reference {
            Some(reference) => format!("{reference}@{hex}"),
            None => format!("{}:{hex}", self.algorithm),
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reference) = &self.reference {
            write!(f, "{reference}@")?;
        }
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

impl FromStr for Revision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (reference, digest) = match s.rsplit_once('@') {
            Some((reference, digest)) => (Some(reference), digest),
            None => (None, s),
        };
        let (algorithm, hex) = digest
            .split_once(':')
            .ok_or_else(|| Error::InvalidRevision(s.to_owned()))?;
        Self::new(reference, algorithm, hex).map_err(|_| Error::InvalidRevision(s.to_owned()))
    }
}

impl TryFrom<String> for Revision {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Revision> for String {
    fn from(revision: Revision) -> Self {
        revision.to_string()
    }
}

/// An immutable, fetched tree: a directory on disk and the revision it holds.
///
/// Sources hand out snapshots; renderers read them. A snapshot's directory is never
/// changed after it was handed out, so it can be shared (two apps on one commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    root: PathBuf,
    tree: Option<PathBuf>,
    revision: Revision,
}

impl Snapshot {
    /// A snapshot of `root` at `revision`.
    pub fn new(root: impl Into<PathBuf>, revision: Revision) -> Self {
        Self {
            root: root.into(),
            tree: None,
            revision,
        }
    }

    /// The same snapshot, as a folder of the larger `tree` (the whole repository it was
    /// taken from), which `root` must be in or below.
    #[must_use]
    pub fn within(mut self, tree: impl Into<PathBuf>) -> Self {
        self.tree = Some(tree.into());
        self
    }

    /// The directory holding the tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The whole tree `root` is part of (the repository, the artifact); `root` itself
    /// unless the source said otherwise. Renderers read files only below `root`, but a
    /// Kustomize overlay there may use kustomizations anywhere in this tree, as
    /// Kustomize does.
    pub fn tree(&self) -> &Path {
        self.tree.as_deref().unwrap_or(&self.root)
    }

    /// The revision the tree holds.
    pub fn revision(&self) -> &Revision {
        &self.revision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_form() {
        for s in [
            "main@sha1:0123456789abcdef0123456789abcdef01234567",
            "v1.2.0@sha1:0123456789abcdef0123456789abcdef01234567",
            "latest@sha256:aa",
            "sha256:ff00",
            "feature@x@sha1:ab",
        ] {
            assert_eq!(s.parse::<Revision>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "main", "main@", "main@sha1:", "main@sha1:xyz", "@:ab"] {
            assert!(s.parse::<Revision>().is_err(), "{s}");
        }
    }
}

//! The renderers' [`Error`], and [`Place`]: where an object was read.

use std::fmt;
use std::path::PathBuf;

use driftless_core::file::ReadError;
use driftless_core::{ObjectId, RenderError};

/// Where an object came from: a file (relative to the snapshot root), the document in
/// it, and the item of a `List` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file, relative to the snapshot root.
    pub path: PathBuf,
    /// 1-based index of the document in the file (empty documents count).
    pub document: usize,
    /// 1-based line where the document starts, when known (not for JSON streams).
    pub line: Option<usize>,
    /// 0-based index in the `items` of a `List` document, if the object is one.
    pub item: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} document {}", self.path.display(), self.document)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        if let Some(item) = self.item {
            write!(f, " item {item}")?;
        }
        Ok(())
    }
}

/// An error of a renderer. Paths are relative to the snapshot root, as they appear in
/// the repository.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path to render is absolute or climbs out of the snapshot with `..`.
    #[error("{}: the path must stay inside the snapshot (no absolute paths, no `..`)", path.display())]
    PathEscapesRoot {
        /// The path as given.
        path: PathBuf,
    },
    /// A symbolic link inside the snapshot points outside of it.
    #[error("{}: symlink points outside the snapshot root (to {})", path.display(), target.display())]
    SymlinkEscapesRoot {
        /// The link, relative to the snapshot root.
        path: PathBuf,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// The path to render does not exist.
    #[error("{}: no such file or directory in the snapshot", path.display())]
    NotFound {
        /// The path, relative to the snapshot root.
        path: PathBuf,
    },
    /// A file or directory could not be read.
    #[error("{}: cannot read", path.display())]
    Io {
        /// The file or directory, relative to the snapshot root.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A Helm chart (a `Chart.yaml`), which is not rendered.
    #[error("{}: Helm chart inflation is not supported; render the chart into manifests in the repository", path.display())]
    HelmChartUnsupported {
        /// The `Chart.yaml`, relative to the snapshot root.
        path: PathBuf,
    },
    /// Not a regular file (a FIFO, socket, device): never read.
    #[error("{}: not a regular file but a {kind}; only regular files are read", path.display())]
    NotAFile {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// The [`Decoder`](crate::Decoder) failed on a file.
    #[error("{}: cannot decode", path.display())]
    Decode {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file is not UTF-8 text.
    #[error("{}: not UTF-8 text", path.display())]
    NotUtf8 {
        /// The file, relative to the snapshot root.
        path: PathBuf,
    },
    /// A file is larger than [`PlainOptions::max_file_bytes`](crate::PlainOptions::max_file_bytes).
    #[error("{}: the file is {size} bytes, larger than the limit of {limit} bytes", path.display())]
    FileTooLarge {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A document is larger than
    /// [`PlainOptions::max_document_bytes`](crate::PlainOptions::max_document_bytes).
    #[error("{}: document {document} is larger than the limit of {limit} bytes", path.display())]
    DocumentTooLarge {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// 1-based index of the document.
        document: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// YAML aliases expand beyond the budget (an alias bomb) or nest too deep.
    #[error(
        "{}{}: aliases expand beyond the budget of {limit} nodes",
        path.display(),
        document.map(|d| format!(" document {d}")).unwrap_or_default()
    )]
    AliasBudget {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// 1-based index of the document, when known.
        document: Option<usize>,
        /// The budget in nodes.
        limit: usize,
        /// The details, with the position of the alias.
        #[source]
        source: Box<driftless_core::yaml::YamlError>,
    },
    /// The text is not valid YAML (or holds something Kubernetes cannot read: a
    /// duplicate key, `.inf`, a null key). The cause says what, at which position.
    #[error(
        "{}{}: invalid YAML{}",
        path.display(),
        line.map(|l| format!(":{l}:{}", column.unwrap_or(1))).unwrap_or_default(),
        document.map(|d| format!(" in document {d}")).unwrap_or_default()
    )]
    Syntax {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// 1-based index of the document, when known.
        document: Option<usize>,
        /// The parser's error: what is wrong.
        #[source]
        source: Box<driftless_core::yaml::YamlError>,
    },
    /// A JSON file that is not valid JSON.
    #[error("{}:{line}:{column}: invalid JSON", path.display())]
    Json {
        /// The file, relative to the snapshot root.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A document that is not an object: not a mapping, or without apiVersion, kind or
    /// metadata.name.
    #[error("{place}: not a valid object")]
    InvalidObject {
        /// Where the document is.
        place: Box<Place>,
        /// What is missing or wrong.
        #[source]
        source: Box<driftless_core::Error>,
    },
    /// Two documents define the same object.
    #[error("duplicate object {id}: defined in {first} and again in {second}")]
    DuplicateObject {
        /// The object's id.
        id: ObjectId,
        /// Where it was first defined.
        first: Box<Place>,
        /// Where it was defined again.
        second: Box<Place>,
    },
    /// A render mode that is not `auto`, `plain` or `kustomize`.
    #[error("unknown render mode {value:?}: expected auto, plain or kustomize")]
    UnknownRenderMode {
        /// The text given.
        value: String,
    },
    /// A Kustomize overlay could not be built; the cause names the kustomization file.
    #[error(transparent)]
    Kustomize(Box<crate::kustomize::Error>),
    /// Post-build substitution failed; the cause names the object and field.
    #[error(transparent)]
    Substitute(Box<crate::substitute::Error>),
    /// The directory is a Kustomize overlay, which this renderer does not handle.
    #[error("kustomize overlays are not supported yet: {}", path.display())]
    KustomizeUnsupported {
        /// The kustomization file, relative to the snapshot root.
        path: PathBuf,
    },
}

impl Error {
    /// The error of reading `path` with [`read_capped`](driftless_core::file::read_capped).
    pub(crate) fn from_read(path: &std::path::Path, error: ReadError) -> Self {
        let path = path.to_path_buf();
        match error {
            ReadError::Io(source) => Self::Io { path, source },
            ReadError::NotAFile { kind } => Self::NotAFile { path, kind },
            ReadError::TooLarge { size, limit } => Self::FileTooLarge { path, size, limit },
            other => Self::Io {
                path,
                source: std::io::Error::other(other),
            },
        }
    }
}

impl From<crate::substitute::Error> for Error {
    fn from(error: crate::substitute::Error) -> Self {
        Self::Substitute(Box::new(error))
    }
}

impl From<crate::kustomize::Error> for Error {
    fn from(error: crate::kustomize::Error) -> Self {
        Self::Kustomize(Box::new(error))
    }
}

impl From<Error> for RenderError {
    fn from(error: Error) -> Self {
        RenderError::other(error)
    }
}

//! Errors of the Kustomize renderer.

use std::path::{Path, PathBuf};

/// What went wrong while building a kustomization. Every variant names the file it is
/// about (a kustomization file, or a file one refers to) so the user knows what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A directory holds no kustomization file.
    #[error("{dir}: no kustomization.yaml, kustomization.yml or Kustomization in this directory")]
    MissingKustomization {
        /// The directory.
        dir: PathBuf,
    },
    /// A directory holds more than one kustomization file.
    #[error("{dir}: more than one kustomization file; keep only one")]
    MultipleKustomizations {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be read.
    #[error("{path}: cannot read")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read: missing, not a regular file, or too large.
    #[error("{path}: cannot read")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: driftless_core::file::ReadError,
    },
    /// The [`Decoder`](crate::Decoder) failed on a file.
    #[error("{path}: cannot decode")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A file is not valid YAML.
    #[error("{path}: invalid YAML")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<driftless_core::yaml::YamlError>,
    },
    /// A kustomization file has a field Kustomize does not know, or a field of the
    /// wrong type.
    #[error("{file}: invalid kustomization: {message}")]
    InvalidKustomization {
        /// The kustomization file.
        file: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A file outside the kustomization's directory (Kustomize's default load
    /// restrictor), or outside the snapshot.
    #[error(
        "{file}: {path} is not in or below {root}; Kustomize only loads files inside the kustomization's directory"
    )]
    OutsideRoot {
        /// The kustomization file that refers to the path.
        file: PathBuf,
        /// The path referred to.
        path: PathBuf,
        /// The directory it must be in.
        root: PathBuf,
    },
    /// A remote resource (git repository or URL), which is refused.
    #[error(
        "{file}: remote resource {url:?} refused: only files and directories inside the source are rendered; vendor the remote base into the repository"
    )]
    RemoteRefused {
        /// The kustomization file that refers to it.
        file: PathBuf,
        /// The remote reference.
        url: String,
    },
    /// Kustomizations that refer to each other in a loop (or to a directory that
    /// contains one already being built).
    #[error("{file}: cycle detected: {path} contains {visited}, which is already being built")]
    Cycle {
        /// The kustomization file that refers to the path.
        file: PathBuf,
        /// The directory referred to.
        path: PathBuf,
        /// The directory being built that it contains.
        visited: PathBuf,
    },
    /// A path that is neither a file nor a directory.
    #[error("{file}: {path} does not exist")]
    NotFound {
        /// The kustomization file that refers to it.
        file: PathBuf,
        /// The path referred to.
        path: PathBuf,
    },
    /// A feature that driftless does not run (Helm charts, exec or container
    /// functions, plugins).
    #[error("{file}: {feature} is not supported: {hint}")]
    Unsupported {
        /// The kustomization file.
        file: PathBuf,
        /// The feature, e.g. `helmCharts`.
        feature: String,
        /// What to do instead.
        hint: String,
    },
    /// Any other problem with what a kustomization asks for.
    #[error("{file}: {message}")]
    Kustomization {
        /// The kustomization (or referred) file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The build produced an invalid object (e.g. a patch removed its name) or two
    /// objects with one id.
    #[error("{dir}: the built objects are invalid")]
    Output {
        /// The kustomization directory, relative to the snapshot root.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: Box<driftless_core::Error>,
    },
    /// Two versions of one object (same group, kind, namespace and name): a build
    /// holds both, as Kustomize's does, but an object set (what is applied and
    /// diffed) holds one version of each object.
    #[error(
        "{dir}: {object} is built in two versions ({first} and {second}); they are one Kubernetes object, so an object set to apply can hold only one of them"
    )]
    TwoVersions {
        /// The kustomization directory, relative to the snapshot root.
        dir: PathBuf,
        /// The object, without version.
        object: String,
        /// The apiVersion met first.
        first: String,
        /// The other apiVersion.
        second: String,
    },
    /// An object that is not a valid Kubernetes object.
    #[error("{file}: invalid object")]
    InvalidObject {
        /// The file it comes from.
        file: PathBuf,
        /// The cause.
        #[source]
        source: Box<driftless_core::Error>,
    },
}

impl Error {
    /// Shows paths relative to the snapshot root, as they appear in the repository.
    pub(crate) fn relative_to(mut self, root: &Path) -> Self {
        let rel = |p: &mut PathBuf| {
            if let Ok(r) = p.strip_prefix(root) {
                *p = if r.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    r.to_path_buf()
                };
            }
        };
        match &mut self {
            Self::MissingKustomization { dir } | Self::MultipleKustomizations { dir } => rel(dir),
            Self::Read { path, .. }
            | Self::Yaml { path, .. }
            | Self::Decode { path, .. }
            | Self::File { path, .. } => {
                rel(path);
            }
            Self::Output { .. } | Self::TwoVersions { .. } => {}
            Self::InvalidKustomization { file, .. }
            | Self::RemoteRefused { file, .. }
            | Self::Unsupported { file, .. }
            | Self::Kustomization { file, .. }
            | Self::InvalidObject { file, .. } => rel(file),
            Self::OutsideRoot { file, path, .. } | Self::NotFound { file, path } => {
                rel(file);
                rel(path);
            }
            Self::Cycle {
                file,
                path,
                visited,
            } => {
                rel(file);
                rel(path);
                rel(visited);
            }
        }
        self
    }

    pub(crate) fn at(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Kustomization {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// Result of the Kustomize renderer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

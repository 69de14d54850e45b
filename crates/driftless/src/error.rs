//! The facade's error type.

use std::path::PathBuf;

use driftless_core::{ObjectId, RenderError, SourceError, TargetError};

/// An error of one reconcile, naming the stage that failed. Whatever failed, nothing
/// after it ran: a failed fetch or render applies nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Resolving or fetching the source failed.
    #[error("fetching {source_name} failed")]
    Fetch {
        /// The source, as it describes itself.
        source_name: String,
        /// The source's error.
        #[source]
        source: SourceError,
    },
    /// Rendering failed.
    #[error("rendering {} failed", path.display())]
    Render {
        /// The folder rendered, relative to the snapshot.
        path: PathBuf,
        /// The renderer's error.
        #[source]
        source: RenderError,
    },
    /// Reading from or applying to the target failed.
    #[error("{action} {target} failed")]
    Target {
        /// What was done: "reading", "applying to", "checking health on".
        action: &'static str,
        /// The target, as it describes itself.
        target: String,
        /// The target's error.
        #[source]
        source: TargetError,
    },
    /// The render was empty while prune was on: applying it would delete everything.
    #[error(
        "{} rendered no objects and prune is on: refusing to delete all {inventory} objects \
         of the inventory (allow it explicitly if that is intended)",
        path.display()
    )]
    EmptyRenderWithPrune {
        /// The folder rendered.
        path: PathBuf,
        /// How many objects the prune would have deleted.
        inventory: usize,
    },
    /// Objects did not become healthy in time.
    #[error("not healthy after {timeout:?}: {}", waiting.iter().map(|(id, why)| format!("{id} ({why})")).collect::<Vec<_>>().join(", "))]
    HealthTimeout {
        /// How long we waited.
        timeout: std::time::Duration,
        /// The objects that were not healthy, each with what it was waiting for.
        waiting: Vec<(ObjectId, String)>,
    },
    /// An object is degraded: waiting will not help.
    #[error("{id} is degraded: {message}")]
    Degraded {
        /// The object.
        id: ObjectId,
        /// What the target reports.
        message: String,
    },
    /// A source could not be opened (bad URL, options, credentials).
    #[error("cannot open source {spec}")]
    Source {
        /// The source as given.
        spec: String,
        /// The source's error.
        #[source]
        source: driftless_core::BoxError,
    },
    /// A target could not be opened (bad path, no kubeconfig, unreachable cluster).
    #[error("cannot open target {spec}")]
    OpenTarget {
        /// The target as given.
        spec: String,
        /// The target's error.
        #[source]
        source: driftless_core::BoxError,
    },
    /// A source or target specification that could not be understood.
    #[error("{0}")]
    Spec(String),
    /// The source or target kind needs a feature this build does not have.
    #[error("{what} needs driftless built with the `{feature}` feature")]
    FeatureDisabled {
        /// What was asked for.
        what: String,
        /// The feature.
        feature: &'static str,
    },
    /// A file or directory could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A local source that is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// A background task failed.
    #[error("a background task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The reconcile was cancelled (shutdown, or a newer revision) before it finished;
    /// what was applied before stays applied.
    #[error("cancelled while {stage}")]
    Cancelled {
        /// What was being done: "fetching", "rendering", "reading the target",
        /// "applying", "waiting for health".
        stage: &'static str,
    },
    /// The last render, kept between reconciles as JSON text, could not be written or
    /// read back (it was written by this process: a bug, or memory ran out).
    #[error("cannot keep or restore the last render")]
    KeptRender(#[source] serde_json::Error),
    /// A model error (invalid revision, object…).
    #[error(transparent)]
    Core(#[from] driftless_core::Error),
    /// A SOPS file could not be decrypted; the cause names the file.
    #[error(transparent)]
    Sops(#[from] driftless_sops::Error),
    /// A variable for substitution is invalid.
    #[error(transparent)]
    Substitute(#[from] driftless_render::substitute::Error),
    /// A ConfigMap or Secret that post-build reads from the cluster (variables,
    /// decryption keys) is missing, cannot be read, or holds no usable data.
    #[error("{what}: {message}")]
    PostBuildInput {
        /// The object and the setting that names it, e.g.
        /// `ConfigMap web/vars (postBuild.substituteFrom)`.
        what: String,
        /// What is wrong (never a value).
        message: String,
        /// The cause, when the cluster could not be read.
        #[source]
        source: Option<driftless_core::BoxError>,
    },
    /// A file of variables cannot be read as variables.
    #[error("{}: {message}", path.display())]
    Vars {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// An error and its causes on one line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
}

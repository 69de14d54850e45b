//! The errors of the Kubernetes target.

use std::fmt;
use std::time::Duration;

use driftless_core::{ObjectId, TargetError};

/// What went wrong talking to the Kubernetes API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable configuration: neither a kubeconfig (with the wanted context) nor an
    /// in-cluster service account.
    #[error("no Kubernetes configuration{}: {reason}", context_suffix(.context.as_deref()))]
    Config {
        /// The context asked for, if any.
        context: Option<String>,
        /// What was tried and why it failed.
        reason: String,
        /// The cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The API server does not serve this kind (is its CustomResourceDefinition installed?).
    #[error(
        "the API server does not know kind {kind} in {api_version}: install its CustomResourceDefinition or fix apiVersion/kind"
    )]
    UnknownKind {
        /// `apiVersion` asked for (a group without version when only the group is known).
        api_version: String,
        /// The kind.
        kind: String,
    },
    /// The credentials in use may not do this.
    #[error(
        "forbidden: cannot {verb} {resource}{}: {message}",
        namespace_suffix(.namespace.as_deref())
    )]
    Forbidden {
        /// The verb, e.g. `patch`, `list`, `delete`.
        verb: String,
        /// The resource, e.g. `deployments.apps`.
        resource: String,
        /// The namespace (none for cluster-scoped resources).
        namespace: Option<String>,
        /// The server's message.
        message: String,
    },
    /// Server-side apply found fields owned by another field manager.
    #[error(
        "{id}: fields owned by another manager: {}",
        FieldConflicts(.conflicts)
    )]
    Conflict {
        /// The object.
        id: Box<ObjectId>,
        /// The conflicting fields.
        conflicts: Vec<FieldConflict>,
    },
    /// The change touches a field the server does not allow to change.
    #[error(
        "{id}: field {field} is immutable ({message}); re-run with --force or annotate the object driftless.dev/force: enabled to delete and recreate it"
    )]
    Immutable {
        /// The object.
        id: Box<ObjectId>,
        /// The field, e.g. `spec.clusterIP`.
        field: String,
        /// The server's message.
        message: String,
    },
    /// The server rejected the object as invalid.
    #[error("{id}: rejected by the API server: {message}")]
    Invalid {
        /// The object.
        id: Box<ObjectId>,
        /// The server's message (naming the fields).
        message: String,
    },
    /// The ApplySet parent exists but another tool manages the set.
    #[error(
        "the ApplySet parent {parent} is managed by {tooling:?}, not driftless: choose another ApplySet name"
    )]
    ForeignApplySet {
        /// The parent object.
        parent: Box<ObjectId>,
        /// Its `applyset.kubernetes.io/tooling` annotation.
        tooling: String,
    },
    /// A desired object already belongs to another ApplySet.
    #[error(
        "{id} belongs to {owner}, not to {ours}: take it out of one of the two applications, or adopt it (KubeOptions::adopt)"
    )]
    OwnedElsewhere {
        /// The object.
        id: Box<ObjectId>,
        /// The set that owns it: its parent when found, else its id.
        owner: String,
        /// This target's set.
        ours: String,
    },
    /// An annotation driftless reads has a value it does not know.
    #[error("{id}: annotation {annotation}: {value:?} is not one of {allowed}")]
    BadAnnotation {
        /// The object.
        id: Box<ObjectId>,
        /// The annotation.
        annotation: &'static str,
        /// Its value.
        value: String,
        /// The values it may have.
        allowed: &'static str,
    },
    /// Any other failed API call.
    #[error("{verb} {resource}{}: {source}", namespace_suffix(.namespace.as_deref()))]
    Api {
        /// The verb.
        verb: String,
        /// The resource (with the object name where there is one).
        resource: String,
        /// The namespace.
        namespace: Option<String>,
        /// The cause.
        #[source]
        source: Box<kube::Error>,
    },
    /// Waiting for something took too long.
    #[error("timed out after {timeout:?} waiting until {what}")]
    Timeout {
        /// What was awaited, e.g. `CustomResourceDefinition/widgets.example.com is Established`.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// An object read from the server was not a valid object.
    #[error("{what}: the API server returned an object driftless cannot read: {source}")]
    Decode {
        /// The object or list.
        what: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Several objects failed; the others were applied.
    #[error("{} objects failed:\n{}", .0.len(), Failures(.0))]
    Several(Vec<Error>),
}

impl From<Error> for TargetError {
    fn from(error: Error) -> Self {
        TargetError::other(error)
    }
}

/// One field owned by another manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// The field, e.g. `.data.mode`.
    pub field: String,
    /// The field manager owning it, e.g. `kubectl-client-side-apply`.
    pub manager: String,
}

struct FieldConflicts<'a>(&'a [FieldConflict]);

impl fmt::Display for FieldConflicts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} (owned by {:?})", c.field, c.manager)?;
        }
        Ok(())
    }
}

struct Failures<'a>(&'a [Error]);

impl fmt::Display for Failures<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {e}")?;
        }
        Ok(())
    }
}

fn context_suffix(context: Option<&str>) -> String {
    context
        .map(|c| format!(" for context {c:?}"))
        .unwrap_or_default()
}

fn namespace_suffix(namespace: Option<&str>) -> String {
    namespace
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default()
}

impl Error {
    /// Gathers failures: none is `Ok`, one is that error, more are [`Error::Several`].
    pub(crate) fn gather(mut failures: Vec<Error>) -> Result<(), Error> {
        match failures.len() {
            0 => Ok(()),
            1 => Err(failures.remove(0)),
            _ => Err(Error::Several(failures)),
        }
    }
}

//! Errors of the core model, and the errors the plug-in traits return.

use crate::ObjectId;

/// Any error, boxed: what a user-written plug-in returns inside the trait errors.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of the core model: an invalid object, id or revision, a duplicate, bad YAML.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object lacks a required field or has one of the wrong type.
    #[error("{field} {reason}")]
    InvalidObject {
        /// The field, e.g. `metadata.name` (empty for the object itself).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A string that is not an object id (`group/Kind/namespace/name`).
    #[error("invalid object id {0:?}: expected group/Kind/namespace/name")]
    InvalidObjectId(String),
    /// A string that is not a revision (`ref@algorithm:hex` or `algorithm:hex`).
    #[error("invalid revision {0:?}: expected REF@sha1:HEX or sha256:HEX")]
    InvalidRevision(String),
    /// Two objects with the same id.
    #[error("duplicate object {0}")]
    DuplicateObject(ObjectId),
    /// YAML that could not be read or written.
    #[error(transparent)]
    Yaml(#[from] crate::yaml::YamlError),
}

/// Defines the error a plug-in trait returns: a few variants every caller can match
/// on, and `Other` for whatever the implementation (ours or a user's) reports. The
/// implementation's own error type is reachable with `downcast_ref`.
macro_rules! plugin_error {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            /// The operation was cancelled before it finished.
            #[error("cancelled")]
            Cancelled,
            /// The implementation's own error.
            #[error(transparent)]
            Other(BoxError),
        }

        impl $name {
            /// Wraps an implementation's error.
            pub fn other(error: impl Into<BoxError>) -> Self {
                Self::Other(error.into())
            }

            /// The implementation's error, if it is of type `E`.
            pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
                match self {
                    Self::Other(error) => error.downcast_ref(),
                    Self::Cancelled => None,
                }
            }
        }
    };
}

plugin_error!(
    /// The error a [`Source`](crate::Source) returns.
    SourceError
);
plugin_error!(
    /// The error a [`Renderer`](crate::Renderer) returns.
    RenderError
);
plugin_error!(
    /// The error a [`Target`](crate::Target) returns.
    TargetError
);

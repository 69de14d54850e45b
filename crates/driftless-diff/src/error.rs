//! The crate's [`Error`].

/// What can go wrong when setting up a diff. Planning itself never fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An ignore rule whose pointer is not a JSON pointer.
    #[error(
        "invalid ignore pointer {pointer:?}: write a JSON pointer such as /spec/replicas \
         (a leading '/', '~1' for '/' and '~0' for '~' inside a key)"
    )]
    InvalidIgnorePointer {
        /// The pointer as given.
        pointer: String,
        /// Why it does not parse.
        #[source]
        source: driftless_core::BoxError,
    },
}

//! The crate's [`Error`].

use std::path::PathBuf;

/// Why a file could not be decrypted, or identities could not be read. Messages name
/// the file and, for a value, its field; they never hold a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not valid in its format.
    #[error("{}: cannot read it as {format}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: &'static str,
        /// What is wrong (positions, never values).
        message: String,
    },
    /// The `sops` metadata is missing a field or has a wrong one.
    #[error("{}: invalid SOPS metadata: {message}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file uses a SOPS feature driftless does not support.
    #[error("{}: {feature} is not supported", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The feature, and what to do instead.
        feature: String,
    },
    /// The data key is wrapped only with keys other than age (OpenPGP, KMS, Vault).
    #[error(
        "{}: encrypted for {kinds} only; driftless decrypts SOPS files with age keys \
         (OpenPGP, cloud KMS and Vault are not supported): add an age recipient with \
         `sops updatekeys` or `sops -r -i --add-age`",
        path.display()
    )]
    UnsupportedKeys {
        /// The file.
        path: PathBuf,
        /// The kinds of keys found, e.g. `pgp, kms`.
        kinds: String,
    },
    /// None of the identities given can unwrap the data key.
    #[error(
        "{}: no age identity given can decrypt it (its recipients: {recipients}); \
         give the matching key with --age-identity, SOPS_AGE_KEY_FILE or SOPS_AGE_KEY",
        path.display()
    )]
    NoUsableKey {
        /// The file.
        path: PathBuf,
        /// The age recipients the file is encrypted for.
        recipients: String,
    },
    /// The MAC does not match the values: the file was changed after encryption.
    #[error(
        "{}: MAC mismatch: the file was changed after it was encrypted (edit it with `sops`)",
        path.display()
    )]
    MacMismatch {
        /// The file.
        path: PathBuf,
    },
    /// A value could not be decrypted with the file's data key.
    #[error("{}: cannot decrypt the value at {field}: {reason}", path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The field, as sops names it (`data:password`).
        field: String,
        /// Why (never the value).
        reason: String,
    },
    /// An identity file could not be read.
    #[error("cannot read the age identities in {}", path.display())]
    IdentityFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of an identity file or variable is not an age identity.
    #[error(
        "{origin}, line {line}: not an age identity (expected AGE-SECRET-KEY-1…; \
         age plugin and SSH identities are not supported)"
    )]
    Identity {
        /// Where the identities came from (a file or a variable name).
        origin: String,
        /// 1-based line.
        line: usize,
    },
}

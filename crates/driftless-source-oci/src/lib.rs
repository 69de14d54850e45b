//! OCI artifacts as a driftless [`Source`](driftless_core::Source), and [`push`] of a
//! directory as one, compatible with Flux (`flux push artifact`, OCIRepository).
//!
//! ```no_run
//! use driftless_core::Source as _;
//! use driftless_source_oci::{Auth, OciSource, OciSourceOptions, PushOptions, push};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Package a directory: a reproducible tar+gzip in Flux's format.
//! let pushed = push(
//!     std::path::Path::new("deploy"),
//!     "oci://127.0.0.1:5000/team/app:v1.0.0",
//!     &PushOptions::default(),
//! )
//! .await?;
//! println!("{}", pushed.revision); // v1.0.0@sha256:…
//!
//! // Follow the highest 1.x tag.
//! let source = OciSource::new(
//!     OciSourceOptions::new("oci://127.0.0.1:5000/team/app")
//!         .semver("^1")
//!         .auth(Auth::docker_config(None)),
//! )?;
//! let revision = source.resolve().await?;
//! let snapshot = source.fetch(&revision).await?;
//! println!("{} in {}", snapshot.revision(), snapshot.root().display());
//! # Ok(())
//! # }
//! ```
//!
//! Registries on the loopback interface (`localhost`, 127.0.0.0/8, `[::1]`) are
//! reached over plain HTTP, as Docker does; `insecure` allows plain HTTP elsewhere.
//! Every blob's digest is checked and layers are extracted safely (no absolute paths,
//! `..`, links leaving the root, devices; size limits), into the cache atomically.
//!
//! The sources and pushes of a process share their registry clients (and so their
//! connections and tokens): one client per transport, registry and set of credentials,
//! the credentials read again for every fetch. A thousand apps on one registry cost one
//! client, not a thousand (each loads the system's root certificates).

mod archive;
mod auth;
mod client;
mod error;
pub mod manifest;
mod push;
mod reference;
mod source;

pub use auth::Auth;
pub use error::Error;
pub use push::{PushOptions, Pushed, push};
pub use reference::{OciReference, SCHEME};
pub use source::{Limits, OciSource, OciSourceOptions};

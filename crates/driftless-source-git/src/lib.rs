//! A driftless [`Source`](driftless_core::Source) for git repositories, built on gix.
//!
//! [`GitSource`] follows a branch, a tag, the highest tag in a semver range, or a fixed
//! commit of a remote reached over HTTP(S), SSH, the git protocol, `file://` or a
//! local path. [`resolve`](driftless_core::Source::resolve) lists the remote's refs
//! with one request (like `git ls-remote`); [`fetch`](driftless_core::Source::fetch)
//! downloads only what the cache lacks (the first fetch is shallow) and checks the
//! commit out into an immutable snapshot shared by everything on that commit.
//!
//! ```no_run
//! use driftless_core::Source;
//! use driftless_source_git::{GitSource, GitSourceOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let source = GitSource::new(
//!     GitSourceOptions::new("https://git.example.com/org/deploy.git")
//!         .branch("main")
//!         .path("prod")
//!         .cache_dir("/var/cache/driftless/git"),
//! )?;
//! let revision = source.resolve().await?; // main@sha1:…
//! let snapshot = source.fetch(&revision).await?;
//! println!("{} in {}", snapshot.revision(), snapshot.root().display());
//! # Ok(())
//! # }
//! ```
//!
//! The cache directory holds `repos/<hash of the URL>.git` (one bare repository per
//! remote, with a lock file next to it) and `snapshots/<commit>` (checked-out trees,
//! written to a temporary folder and renamed into place). Progress of long fetches
//! is reported as `tracing` events with the target `driftless_source_git::progress`.

mod checkout;
mod error;
mod options;
mod progress;
mod refs;
mod remote;
mod source;
mod stop;
mod transport;

pub use error::{Cause, Error};
pub use options::{GitAuth, GitRef, GitSourceOptions, Secret};
pub use source::{GitSource, THREAD_NAME, is_git_url, is_local_repository};

//! [`GitSource`]: the [`Source`] implementation.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use driftless_core::{Revision, Snapshot, Source, SourceError, async_trait};
use tokio_util::sync::CancellationToken;

use crate::options::default_cache_dir;
use crate::remote::{Cache, Remote, ensure_snapshot, list_refs};
use crate::stop::Stop;
use crate::{Error, GitRef, GitSourceOptions};

/// A git repository as a driftless [`Source`]: resolves a branch, tag, semver range or
/// commit with one cheap request, and fetches commits into shared, immutable
/// snapshots under a cache directory.
///
/// Cloning is cheap; clones share their configuration.
#[derive(Debug, Clone)]
pub struct GitSource {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    remote: Remote,
    reference: GitRef,
    path: Option<PathBuf>,
    cache: Cache,
    timeout: Duration,
    cancel: CancellationToken,
}

impl GitSource {
    /// Builds a source from its options. Fails on an invalid URL, semver range, commit
    /// id or path; nothing is contacted yet.
    pub fn new(options: GitSourceOptions) -> Result<Self, Error> {
        let GitSourceOptions {
            url,
            reference,
            path,
            auth,
            cache_dir,
            connect_timeout,
            timeout,
            cancel,
        } = options;
        let remote = Remote::parse(&url, auth, connect_timeout, timeout)?;
        match &reference {
            GitRef::Semver(range) => {
                crate::refs::parse_range(range)?;
            }
            GitRef::Commit { sha, .. } => {
                if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::InvalidCommit { sha: sha.clone() });
                }
            }
            GitRef::DefaultBranch | GitRef::Branch(_) | GitRef::Tag(_) => {}
        }
        let path = path.map(|p| normalize_path(&p)).transpose()?.flatten();
        Ok(Self {
            inner: Arc::new(Inner {
                remote,
                reference,
                path,
                cache: Cache::new(cache_dir.unwrap_or_else(default_cache_dir)),
                timeout,
                cancel,
            }),
        })
    }

    /// The remote's URL, without credentials.
    pub fn url(&self) -> &str {
        self.inner.remote.display()
    }

    /// The reference this source follows.
    pub fn reference(&self) -> &GitRef {
        &self.inner.reference
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        self.inner.cache.root()
    }

    /// The newest revision of the configured reference: one request over HTTP, one
    /// exchange over the other transports (a pinned commit needs none).
    pub async fn resolve_revision(&self) -> Result<Revision, Error> {
        if let GitRef::Commit { sha, branch } = &self.inner.reference {
            return revision(branch.as_deref(), sha);
        }
        self.run("resolve", |inner, stop| {
            let refs = list_refs(&inner.remote, &inner.cache, stop)?;
            let resolved = refs.resolve(&inner.reference, inner.remote.display())?;
            let revision = revision(resolved.reference.as_deref(), &resolved.commit)?;
            tracing::debug!(remote = %inner.remote.display(), %revision, "resolved");
            Ok(revision)
        })
        .await
    }

    /// Fetches `revision` (only the objects the cache lacks) and returns its snapshot,
    /// pointing at the configured path inside it.
    pub async fn fetch_revision(&self, revision: &Revision) -> Result<Snapshot, Error> {
        if revision.algorithm() != "sha1" || revision.hex().len() != 40 {
            return Err(Error::InvalidCommit {
                sha: revision.to_string(),
            });
        }
        let revision = revision.clone();
        self.run("fetch", move |inner, stop| {
            let shown = revision.to_string();
            let root = ensure_snapshot(
                &inner.remote,
                &inner.cache,
                revision.hex(),
                revision.reference(),
                &shown,
                stop,
            )?;
            // A path selects a folder, but overlays there may use bases anywhere in the
            // checkout.
            let snapshot = match &inner.path {
                None => Snapshot::new(root, revision),
                Some(path) => {
                    Snapshot::new(select_path(inner, &root, path, &shown)?, revision).within(root)
                }
            };
            Ok(snapshot)
        })
        .await
    }

    /// Runs `f` on a thread of its own, within the timeout and until cancelled; either
    /// stops it for real (see [`Stop`]): its network reads end by the deadline, and a
    /// cancellation wakes them at once on git:// (HTTP reads end by the deadline). The
    /// thread is not a runtime thread, so a runtime shutting down (SIGTERM, the end
    /// of `main`) never waits for it.
    async fn run<T, F>(&self, operation: &'static str, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &Stop) -> Result<T, Error> + Send + 'static,
    {
        let stop = Stop::new(self.inner.timeout);
        let inner = Arc::clone(&self.inner);
        let worker_stop = stop.clone();
        let (done, result) = tokio::sync::oneshot::channel();
        let url = self.url().to_owned();
        std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let _ = done.send(f(&inner, &worker_stop));
            })
            .map_err(|source| Error::Thread {
                url: url.clone(),
                source,
            })?;
        let deadline = tokio::time::sleep(self.inner.timeout);
        tokio::select! {
            finished = result => match finished {
                Ok(Err(_)) if stop.check().is_err() => {
                    Err(self.stopped_error(operation, url, &stop))
                }
                Ok(outcome) => outcome,
                Err(_) => Err(Error::Task { url }),
            },
            () = deadline => {
                stop.trigger();
                Err(Error::Timeout { operation, url, after: self.inner.timeout })
            }
            () = self.inner.cancel.cancelled() => {
                stop.trigger();
                Err(Error::Cancelled { operation, url })
            }
        }
    }

    /// The error of an operation whose work failed because it was stopped.
    fn stopped_error(&self, operation: &'static str, url: String, stop: &Stop) -> Error {
        if stop.flag().load(Ordering::Relaxed) {
            Error::Cancelled { operation, url }
        } else {
            Error::Timeout {
                operation,
                url,
                after: self.inner.timeout,
            }
        }
    }
}

/// The name of the threads that talk to remotes.
pub const THREAD_NAME: &str = "driftless-git";

/// Whether `source` is a remote git address (`https://`, `http://`, `ssh://`,
/// `git://`, `file://` or scp-like `user@host:path`), as opposed to a local path or
/// another kind of source (`oci://`). A local path may still be a git repository;
/// [`is_local_repository`] tells.
pub fn is_git_url(source: &str) -> bool {
    use gix::bstr::ByteSlice;
    if source.starts_with("file://") {
        return true;
    }
    match gix::url::parse(source.as_bytes().as_bstr()) {
        Ok(url) => matches!(
            url.scheme,
            gix::url::Scheme::Http
                | gix::url::Scheme::Https
                | gix::url::Scheme::Ssh
                | gix::url::Scheme::Git
        ),
        Err(_) => false,
    }
}

/// Whether `path` is a local git repository (bare, or a work tree with `.git`).
pub fn is_local_repository(path: &Path) -> bool {
    gix::open_opts(path, gix::open::Options::isolated()).is_ok()
}

fn revision(reference: Option<&str>, commit: &str) -> Result<Revision, Error> {
    Revision::new(reference, "sha1", commit).map_err(|_| Error::InvalidCommit {
        sha: commit.to_owned(),
    })
}

/// Makes `path` relative and free of `.`/`..`; refuses absolute paths and paths that
/// leave the repository. `None` for the repository root.
fn normalize_path(path: &Path) -> Result<Option<PathBuf>, Error> {
    let outside = || Error::PathOutsideRepository {
        path: path.to_owned(),
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(outside)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return Err(outside());
    }
    Ok((!parts.is_empty()).then(|| parts.iter().collect()))
}

/// The folder `path` of the snapshot at `root`; it must exist and (following the
/// tree's own symlinks, all of which stay inside) be inside the snapshot.
fn select_path(inner: &Inner, root: &Path, path: &Path, revision: &str) -> Result<PathBuf, Error> {
    let not_found = || Error::PathNotFound {
        url: inner.remote.display().to_owned(),
        path: path.to_owned(),
        revision: revision.to_owned(),
    };
    let joined = root.join(path);
    let (Ok(real_root), Ok(real)) = (root.canonicalize(), joined.canonicalize()) else {
        return Err(not_found());
    };
    if !real.starts_with(&real_root) {
        return Err(Error::PathOutsideRepository {
            path: path.to_owned(),
        });
    }
    if !real.is_dir() {
        return Err(not_found());
    }
    Ok(joined)
}

#[async_trait]
impl Source for GitSource {
    fn describe(&self) -> String {
        self.url().to_owned()
    }

    async fn resolve(&self) -> Result<Revision, SourceError> {
        self.resolve_revision().await.map_err(into_source_error)
    }

    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError> {
        self.fetch_revision(revision)
            .await
            .map_err(into_source_error)
    }
}

fn into_source_error(error: Error) -> SourceError {
    match error {
        Error::Cancelled { .. } => SourceError::Cancelled,
        other => SourceError::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(
            normalize_path(Path::new("a/./b/../c")).unwrap(),
            Some(PathBuf::from("a/c"))
        );
        assert_eq!(normalize_path(Path::new(".")).unwrap(), None);
        for bad in ["../x", "a/../../x", "/etc", ".git/config"] {
            assert!(
                matches!(
                    normalize_path(Path::new(bad)),
                    Err(Error::PathOutsideRepository { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_bad_options() {
        let bad_commit = GitSourceOptions::new("https://h/r.git").commit("abc", None);
        assert!(matches!(
            GitSource::new(bad_commit),
            Err(Error::InvalidCommit { .. })
        ));
        let bad_range = GitSourceOptions::new("https://h/r.git").semver("not a range!");
        assert!(matches!(
            GitSource::new(bad_range),
            Err(Error::InvalidSemver { .. })
        ));
        let bad_path = GitSourceOptions::new("https://h/r.git").path("../up");
        assert!(matches!(
            GitSource::new(bad_path),
            Err(Error::PathOutsideRepository { .. })
        ));
    }

    #[test]
    fn tells_git_urls_from_other_sources() {
        for url in [
            "https://h/r.git",
            "http://h:8080/r",
            "ssh://git@h:2222/r.git",
            "git@github.com:org/repo.git",
            "git://h/r.git",
            "file:///srv/r.git",
        ] {
            assert!(is_git_url(url), "{url}");
        }
        for other in [
            "./deploy",
            "/srv/deploy",
            "deploy/prod",
            "oci://ghcr.io/org/app:1.0",
        ] {
            assert!(!is_git_url(other), "{other}");
        }
    }

    #[test]
    fn urls_lose_their_credentials() {
        let source = GitSource::new(GitSourceOptions::new(
            "https://alice:s3cret@example.com/org/repo.git",
        ))
        .unwrap();
        assert_eq!(source.url(), "https://example.com/org/repo.git");
        assert_eq!(source.describe(), "https://example.com/org/repo.git");
        let scp = GitSource::new(GitSourceOptions::new("git@example.com:org/repo.git")).unwrap();
        assert!(
            scp.url().contains("example.com") && scp.url().contains("org/repo.git"),
            "{}",
            scp.url()
        );
    }
}

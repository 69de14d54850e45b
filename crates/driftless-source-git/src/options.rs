//! [`GitSourceOptions`]: what to fetch, from where, with which credentials.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::Error;

/// Which reference of the remote to follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitRef {
    /// The branch the remote's `HEAD` points to.
    #[default]
    DefaultBranch,
    /// A branch, by its short name (`main`, `release/1.x`).
    Branch(String),
    /// A tag, by its short name (`v1.2.0`).
    Tag(String),
    /// The highest tag whose name (with or without a leading `v`) is a semantic version
    /// matching this range, e.g. `^1.2`, `>=1.0, <2.0` or `>=1.0 <2.0`. Pre-releases
    /// match only when the range names a pre-release of the same version.
    Semver(String),
    /// A fixed commit, by its full 40-hex id; `branch` names the branch it belongs to,
    /// for the revision string (`main@sha1:…`).
    Commit {
        /// The full commit id.
        sha: String,
        /// The branch the commit is on, if known.
        branch: Option<String>,
    },
}

impl fmt::Display for GitRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DefaultBranch => f.write_str("the default branch"),
            Self::Branch(b) => write!(f, "branch {b:?}"),
            Self::Tag(t) => write!(f, "tag {t:?}"),
            Self::Semver(r) => write!(f, "semver range {r:?}"),
            Self::Commit { sha, .. } => write!(f, "commit {sha}"),
        }
    }
}

/// Where a secret comes from. Secrets are read when they are needed (so rotated
/// files are picked up) and never appear in `Debug` output, logs or errors.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secret {
    /// The contents of a file, without a trailing newline.
    File(PathBuf),
    /// The value of an environment variable.
    Env(String),
    /// A value given directly (e.g. by an embedder that holds it already).
    Value(String),
}

impl Secret {
    /// Reads the secret.
    pub(crate) fn read(&self) -> Result<String, Error> {
        match self {
            Self::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
                .map_err(|source| Error::SecretFile {
                    path: path.clone(),
                    source,
                }),
            Self::Env(name) => {
                std::env::var(name).map_err(|_| Error::SecretEnv { name: name.clone() })
            }
            Self::Value(value) => Ok(value.clone()),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Env(name) => f.debug_tuple("Env").field(name).finish(),
            Self::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

/// How to authenticate to the remote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitAuth {
    /// No credentials. Credentials in an HTTP(S) URL (`https://user:pass@host/…`) are
    /// still used, and never shown.
    #[default]
    None,
    /// An HTTP(S) access token, sent as the password of HTTP Basic authentication
    /// with the user name `x-access-token` (accepted by GitHub, GitLab, Gitea and
    /// others).
    Token {
        /// The token.
        token: Secret,
    },
    /// HTTP(S) Basic authentication.
    Basic {
        /// The user name.
        username: Secret,
        /// The password.
        password: Secret,
    },
    /// SSH with a private key and a known_hosts file. Host keys are always checked:
    /// an unknown or changed host key fails the connection.
    Ssh {
        /// The private key file.
        key_file: PathBuf,
        /// The known_hosts file the host key must be listed in. Without one, the
        /// user's and system's known_hosts files are used.
        known_hosts_file: Option<PathBuf>,
    },
}

/// Options of a [`GitSource`](crate::GitSource): built with `Default` and setters.
///
/// ```
/// use std::time::Duration;
/// use driftless_source_git::{GitAuth, GitRef, GitSourceOptions, Secret};
///
/// let options = GitSourceOptions::new("https://git.example.com/org/deploy.git")
///     .reference(GitRef::Semver("^1.2".into()))
///     .path("prod")
///     .auth(GitAuth::Token { token: Secret::Env("GIT_TOKEN".into()) })
///     .connect_timeout(Duration::from_secs(5));
/// assert_eq!(options.url, "https://git.example.com/org/deploy.git");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GitSourceOptions {
    /// The remote: `https://…`, `http://…`, `ssh://…`, `user@host:path` (scp-like),
    /// `git://…`, `file://…` or a local path.
    pub url: String,
    /// Which reference to follow.
    pub reference: GitRef,
    /// A folder inside the repository that snapshots point at (relative, inside the
    /// repository).
    pub path: Option<PathBuf>,
    /// Credentials.
    pub auth: GitAuth,
    /// Where bare repositories and snapshots are cached. Defaults to
    /// `$XDG_CACHE_HOME/driftless/git` (or `~/.cache/driftless/git`).
    pub cache_dir: Option<PathBuf>,
    /// How long connecting to the remote may take.
    pub connect_timeout: Duration,
    /// How long one resolve or fetch may take in all.
    pub timeout: Duration,
    /// Cancels running operations when triggered.
    pub cancel: CancellationToken,
}

impl Default for GitSourceOptions {
    fn default() -> Self {
        Self {
            url: String::new(),
            reference: GitRef::DefaultBranch,
            path: None,
            auth: GitAuth::None,
            cache_dir: None,
            connect_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(600),
            cancel: CancellationToken::new(),
        }
    }
}

impl GitSourceOptions {
    /// Options for `url`, following its default branch.
    pub fn new(url: impl Into<String>) -> Self {
        Self::default().url(url)
    }

    /// Sets [`url`](Self::url).
    #[must_use]
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Sets [`reference`](Self::reference).
    #[must_use]
    pub fn reference(mut self, reference: GitRef) -> Self {
        self.reference = reference;
        self
    }

    /// Follows a branch.
    #[must_use]
    pub fn branch(self, branch: impl Into<String>) -> Self {
        self.reference(GitRef::Branch(branch.into()))
    }

    /// Follows a tag.
    #[must_use]
    pub fn tag(self, tag: impl Into<String>) -> Self {
        self.reference(GitRef::Tag(tag.into()))
    }

    /// Follows the highest tag matching a semver range.
    #[must_use]
    pub fn semver(self, range: impl Into<String>) -> Self {
        self.reference(GitRef::Semver(range.into()))
    }

    /// Pins a commit, optionally naming its branch.
    #[must_use]
    pub fn commit(self, sha: impl Into<String>, branch: Option<String>) -> Self {
        self.reference(GitRef::Commit {
            sha: sha.into(),
            branch,
        })
    }

    /// Sets [`path`](Self::path).
    #[must_use]
    pub fn path(mut self, path: impl AsRef<Path>) -> Self {
        self.path = Some(path.as_ref().to_owned());
        self
    }

    /// Sets [`auth`](Self::auth).
    #[must_use]
    pub fn auth(mut self, auth: GitAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets [`cache_dir`](Self::cache_dir).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`cancel`](Self::cancel).
    #[must_use]
    pub fn cancel(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }
}

/// The default cache directory: `$XDG_CACHE_HOME/driftless/git`, else
/// `$HOME/.cache/driftless/git`, else a folder in the temp dir.
pub(crate) fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("driftless").join("git")
}

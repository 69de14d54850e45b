//! Sources and targets named by strings, as on the command line and in the agent's
//! configuration: `./deploy`, `https://host/repo.git`, `oci://host/repo:tag`,
//! `dir:/srv/live`, `kube:prod`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use driftless_core::{Renderer, Source, Target};

use crate::{Error, LocalSource};

/// Which revision of a source to follow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SourceRef {
    /// The remote's default branch (HEAD), or `latest` for OCI.
    #[default]
    Default,
    /// A branch.
    Branch(String),
    /// A tag.
    Tag(String),
    /// The highest tag matching a semver range, e.g. `>=1.2, <2`.
    Semver(String),
    /// One commit (or OCI digest), optionally on a branch.
    Commit {
        /// The full commit id or digest.
        id: String,
        /// The branch it is on, if known.
        branch: Option<String>,
    },
}

const GIT_SCHEMES: [&str; 6] = [
    "https://",
    "http://",
    "ssh://",
    "git://",
    "file://",
    "git+ssh://",
];

/// A source named by a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A directory on this machine.
    Local(PathBuf),
    /// A git URL: `https://`, `http://`, `ssh://`, `git://`, `file://` or scp-like
    /// `user@host:path`.
    Git(String),
    /// An OCI artifact: `oci://host/repo[:tag|@digest]`.
    Oci(String),
}

impl FromStr for SourceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(Error::Spec(
                "empty source: give a path, a git URL or oci://…".into(),
            ));
        }
        if s.starts_with("oci://") {
            return Ok(Self::Oci(s.to_owned()));
        }
        if GIT_SCHEMES.iter().any(|scheme| s.starts_with(scheme)) || is_scp_like(s) {
            return Ok(Self::Git(s.to_owned()));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(Error::Spec(format!(
                "unsupported source scheme {scheme}:// in {s:?}: use a path, a git URL \
                 (https, http, ssh, git, file) or oci://"
            )));
        }
        Ok(Self::Local(PathBuf::from(s)))
    }
}

/// `user@host:path` (git's scp-like syntax), told apart from local paths.
fn is_scp_like(s: &str) -> bool {
    match s.split_once(':') {
        Some((host, _)) => host.contains('@') && !host.contains('/'),
        None => false,
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "{}", path.display()),
            Self::Git(url) | Self::Oci(url) => f.write_str(url),
        }
    }
}

/// Credentials for a source. Secrets are read from files when the source is used, so
/// they never sit in configuration or logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceAuth {
    /// Anonymous (for OCI: Docker's `config.json` credentials when it has any).
    #[default]
    None,
    /// A bearer token (git over HTTPS: sent as the password; OCI: a registry token).
    Token {
        /// The file holding the token.
        token_file: PathBuf,
    },
    /// A username and password (or access token).
    Basic {
        /// The file holding the username.
        username_file: PathBuf,
        /// The file holding the password.
        password_file: PathBuf,
    },
    /// An SSH key, with the known hosts to check the server's key against.
    Ssh {
        /// The private key file.
        key_file: PathBuf,
        /// The known_hosts file (default: the user's).
        known_hosts_file: Option<PathBuf>,
    },
    /// Docker's `config.json` credentials, from this file.
    DockerConfig {
        /// The `config.json` file.
        config_file: PathBuf,
    },
}

/// How to open a source: the revision to follow, credentials, where to cache.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SourceOptions {
    /// The revision to follow.
    pub reference: SourceRef,
    /// Credentials.
    pub auth: SourceAuth,
    /// Allow plain HTTP to OCI registries that are not on the loopback interface.
    pub insecure: bool,
    /// Where fetched repositories and snapshots are kept (default: the user's cache
    /// directory, `~/.cache/driftless`).
    pub cache_dir: Option<PathBuf>,
    /// How long one resolve or fetch of a git or OCI source may take before it is
    /// stopped (default: [`DEFAULT_FETCH_TIMEOUT`]).
    pub timeout: Option<Duration>,
}

/// How long a resolve or fetch may take when no timeout is configured.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(600);

impl SourceOptions {
    /// Sets [`reference`](Self::reference).
    #[must_use]
    pub fn reference(mut self, reference: SourceRef) -> Self {
        self.reference = reference;
        self
    }

    /// Sets [`auth`](Self::auth).
    #[must_use]
    pub fn auth(mut self, auth: SourceAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Sets [`insecure`](Self::insecure).
    #[must_use]
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.insecure = insecure;
        self
    }

    /// Sets [`cache_dir`](Self::cache_dir).
    #[must_use]
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Sets [`timeout`](Self::timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The timeout to use: the one set, or [`DEFAULT_FETCH_TIMEOUT`].
    pub fn effective_timeout(&self) -> Duration {
        self.timeout.unwrap_or(DEFAULT_FETCH_TIMEOUT)
    }

    /// The cache directory to use: the one set, or `$XDG_CACHE_HOME/driftless`, or
    /// `~/.cache/driftless`.
    pub fn effective_cache_dir(&self) -> PathBuf {
        if let Some(dir) = &self.cache_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("driftless")
    }
}

/// Opens the source a spec names.
pub fn open_source(spec: &SourceSpec, options: &SourceOptions) -> Result<Arc<dyn Source>, Error> {
    match spec {
        SourceSpec::Local(path) => {
            if options.reference != SourceRef::Default {
                return Err(Error::Spec(format!(
                    "{} is a local directory: it has no branches, tags or commits to choose",
                    path.display()
                )));
            }
            Ok(Arc::new(LocalSource::new(path)))
        }
        SourceSpec::Git(url) => git_source(url, options),
        SourceSpec::Oci(url) => oci_source(url, options),
    }
}

#[cfg(feature = "git")]
fn git_source(url: &str, options: &SourceOptions) -> Result<Arc<dyn Source>, Error> {
    use driftless_source_git::{GitAuth, GitRef, GitSource, GitSourceOptions, Secret};

    let reference = match &options.reference {
        SourceRef::Default => GitRef::DefaultBranch,
        SourceRef::Branch(branch) => GitRef::Branch(branch.clone()),
        SourceRef::Tag(tag) => GitRef::Tag(tag.clone()),
        SourceRef::Semver(range) => GitRef::Semver(range.clone()),
        SourceRef::Commit { id, branch } => GitRef::Commit {
            sha: id.clone(),
            branch: branch.clone(),
        },
    };
    let auth = match &options.auth {
        SourceAuth::None => GitAuth::None,
        SourceAuth::Token { token_file } => GitAuth::Token {
            token: Secret::File(token_file.clone()),
        },
        SourceAuth::Basic {
            username_file,
            password_file,
        } => GitAuth::Basic {
            username: Secret::File(username_file.clone()),
            password: Secret::File(password_file.clone()),
        },
        SourceAuth::Ssh {
            key_file,
            known_hosts_file,
        } => GitAuth::Ssh {
            key_file: key_file.clone(),
            known_hosts_file: known_hosts_file.clone(),
        },
        SourceAuth::DockerConfig { .. } => {
            return Err(Error::Spec(format!(
                "{url}: Docker credentials are for OCI registries, not git"
            )));
        }
    };
    let git_options = GitSourceOptions::new(url)
        .reference(reference)
        .auth(auth)
        .timeout(options.effective_timeout())
        .cache_dir(options.effective_cache_dir().join("git"));
    let source = GitSource::new(git_options).map_err(|e| Error::Source {
        spec: url.to_owned(),
        source: Box::new(e),
    })?;
    Ok(Arc::new(source))
}

#[cfg(not(feature = "git"))]
fn git_source(url: &str, _options: &SourceOptions) -> Result<Arc<dyn Source>, Error> {
    Err(Error::FeatureDisabled {
        what: format!("the git source {url}"),
        feature: "git",
    })
}

#[cfg(feature = "oci")]
fn oci_source(url: &str, options: &SourceOptions) -> Result<Arc<dyn Source>, Error> {
    use driftless_source_oci::{OciSource, OciSourceOptions};

    let mut oci_options = OciSourceOptions::new(url)
        .auth(oci_auth(&options.auth).map_err(|e| Error::Source {
            spec: url.to_owned(),
            source: Box::new(e),
        })?)
        .insecure(options.insecure)
        .timeout(options.effective_timeout())
        .cache_dir(options.effective_cache_dir().join("oci"));
    oci_options = match &options.reference {
        SourceRef::Default => oci_options,
        SourceRef::Tag(tag) => oci_options.tag(tag),
        SourceRef::Semver(range) => oci_options.semver(range),
        SourceRef::Commit { id, .. } => oci_options.digest(id),
        SourceRef::Branch(branch) => {
            return Err(Error::Spec(format!(
                "{url}: OCI artifacts have tags, not branches (--tag {branch}?)"
            )));
        }
    };
    let source = OciSource::new(oci_options).map_err(|e| Error::Source {
        spec: url.to_owned(),
        source: Box::new(e),
    })?;
    Ok(Arc::new(source))
}

/// The registry credentials that source credentials name.
#[cfg(feature = "oci")]
pub fn oci_auth(
    auth: &SourceAuth,
) -> Result<driftless_source_oci::Auth, driftless_source_oci::Error> {
    use driftless_source_oci::Auth;

    match auth {
        SourceAuth::None => Ok(Auth::docker_config(None)),
        SourceAuth::Token { token_file } => Auth::bearer_from_file(token_file),
        SourceAuth::Basic {
            username_file,
            password_file,
        } => Auth::basic_from_files(username_file, password_file),
        SourceAuth::DockerConfig { config_file } => {
            Ok(Auth::docker_config(Some(config_file.clone())))
        }
        SourceAuth::Ssh { .. } => Ok(Auth::Anonymous),
    }
}

#[cfg(not(feature = "oci"))]
fn oci_source(url: &str, _options: &SourceOptions) -> Result<Arc<dyn Source>, Error> {
    Err(Error::FeatureDisabled {
        what: format!("the OCI source {url}"),
        feature: "oci",
    })
}

/// The renderer a render mode names: `auto` (Kustomize when the folder holds a
/// kustomization file, plain YAML otherwise), `plain` or `kustomize`.
pub fn renderer(mode: driftless_render::RenderMode) -> Arc<dyn Renderer> {
    use driftless_render::{AutoRenderer, PlainRenderer, RenderMode, kustomize::KustomizeRenderer};
    match mode {
        RenderMode::Auto => Arc::new(AutoRenderer::default()),
        RenderMode::Plain => Arc::new(PlainRenderer::default()),
        RenderMode::Kustomize => Arc::new(KustomizeRenderer::default()),
    }
}

/// A target named by a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// `dir:PATH`: a directory standing for a live system.
    Dir(PathBuf),
    /// `kube` or `kube:CONTEXT`: a Kubernetes cluster from the kubeconfig (or in-cluster).
    Kube(Option<String>),
}

impl FromStr for TargetSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some(("dir", path)) if !path.is_empty() => Ok(Self::Dir(PathBuf::from(path))),
            Some(("kube", context)) if !context.is_empty() => Ok(Self::Kube(Some(context.into()))),
            None if s == "kube" => Ok(Self::Kube(None)),
            _ => Err(Error::Spec(format!(
                "unknown target {s:?}: use dir:PATH, kube or kube:CONTEXT"
            ))),
        }
    }
}

impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(path) => write!(f, "dir:{}", path.display()),
            Self::Kube(None) => f.write_str("kube"),
            Self::Kube(Some(context)) => write!(f, "kube:{context}"),
        }
    }
}

/// How to open a target.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TargetOptions {
    /// The name of the inventory the target keeps (the app name): two apps on one
    /// target never prune each other's objects.
    pub inventory_name: Option<String>,
    /// The namespace given to namespaced objects that name none (Kubernetes targets).
    pub namespace: Option<String>,
}

impl TargetOptions {
    /// Sets [`namespace`](Self::namespace).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets [`inventory_name`](Self::inventory_name).
    #[must_use]
    pub fn inventory_name(mut self, name: impl Into<String>) -> Self {
        self.inventory_name = Some(name.into());
        self
    }
}

/// Opens the target a spec names.
pub async fn open_target(
    spec: &TargetSpec,
    options: &TargetOptions,
) -> Result<Arc<dyn Target>, Error> {
    let open_error = |source: driftless_core::BoxError| Error::OpenTarget {
        spec: spec.to_string(),
        source,
    };
    match spec {
        TargetSpec::Dir(path) => {
            let target =
                driftless_target_dir::DirTarget::new(path).map_err(|e| open_error(Box::new(e)))?;
            Ok(Arc::new(target))
        }
        TargetSpec::Kube(context) => kube_target(context.as_deref(), options)
            .await
            .map_err(open_error),
    }
}

#[cfg(feature = "kube")]
async fn kube_target(
    context: Option<&str>,
    options: &TargetOptions,
) -> Result<Arc<dyn Target>, driftless_core::BoxError> {
    use driftless_target_kube::{KubeOptions, KubeTarget};

    let mut kube_options = KubeOptions::default();
    if let Some(context) = context {
        kube_options = kube_options.context(context);
    }
    if let Some(name) = &options.inventory_name {
        kube_options = kube_options.applyset(name);
    }
    if let Some(namespace) = &options.namespace {
        kube_options = kube_options.namespace(namespace);
    }
    Ok(Arc::new(KubeTarget::from_kubeconfig(kube_options).await?))
}

#[cfg(not(feature = "kube"))]
#[allow(clippy::unused_async)] // the same signature as with the feature
async fn kube_target(
    context: Option<&str>,
    _options: &TargetOptions,
) -> Result<Arc<dyn Target>, driftless_core::BoxError> {
    let spec = TargetSpec::Kube(context.map(str::to_owned));
    Err(Box::new(Error::FeatureDisabled {
        what: format!("the target {spec}"),
        feature: "kube",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_by_form() {
        let git = |s: &str| SourceSpec::Git(s.into());
        assert_eq!(
            "https://h/r.git".parse::<SourceSpec>().unwrap(),
            git("https://h/r.git")
        );
        assert_eq!(
            "git@github.com:o/r.git".parse::<SourceSpec>().unwrap(),
            git("git@github.com:o/r.git")
        );
        assert_eq!(
            "file:///srv/r".parse::<SourceSpec>().unwrap(),
            git("file:///srv/r")
        );
        assert_eq!(
            "oci://127.0.0.1:5000/app:v1".parse::<SourceSpec>().unwrap(),
            SourceSpec::Oci("oci://127.0.0.1:5000/app:v1".into())
        );
        assert_eq!(
            "./deploy".parse::<SourceSpec>().unwrap(),
            SourceSpec::Local("./deploy".into())
        );
        assert_eq!(
            "C:dir".parse::<SourceSpec>().unwrap(),
            SourceSpec::Local("C:dir".into())
        );
        assert!("s3://bucket/x".parse::<SourceSpec>().is_err());
    }

    #[test]
    fn targets_by_form() {
        assert_eq!(
            "dir:/x".parse::<TargetSpec>().unwrap(),
            TargetSpec::Dir("/x".into())
        );
        assert_eq!(
            "kube".parse::<TargetSpec>().unwrap(),
            TargetSpec::Kube(None)
        );
        assert_eq!(
            "kube:prod".parse::<TargetSpec>().unwrap(),
            TargetSpec::Kube(Some("prod".into()))
        );
        for bad in ["dir:", "kube:", "cluster", "/tmp/x"] {
            let err = bad.parse::<TargetSpec>().unwrap_err();
            assert!(err.to_string().contains("dir:PATH"), "{bad}: {err}");
        }
    }
}

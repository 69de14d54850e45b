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

impl SourceRef {
    /// The reference that the branch, tag, semver and commit settings select, as both
    /// the command line and the agent configuration name them: a commit (on the
    /// branch, when one is given), else the branch, the tag, the semver range; none of
    /// them: [`SourceRef::Default`].
    ///
    /// ```
    /// use driftless::SourceRef;
    ///
    /// assert_eq!(SourceRef::select(Some("main"), None, None, None), SourceRef::Branch("main".into()));
    /// assert_eq!(SourceRef::select(None, None, None, None), SourceRef::Default);
    /// ```
    pub fn select(
        branch: Option<&str>,
        tag: Option<&str>,
        semver: Option<&str>,
        commit: Option<&str>,
    ) -> Self {
        match (branch, tag, semver, commit) {
            (branch, _, _, Some(id)) => Self::Commit {
                id: id.to_owned(),
                branch: branch.map(str::to_owned),
            },
            (Some(branch), ..) => Self::Branch(branch.to_owned()),
            (_, Some(tag), ..) => Self::Tag(tag.to_owned()),
            (_, _, Some(range), _) => Self::Semver(range.to_owned()),
            _ => Self::Default,
        }
    }
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

impl SourceSpec {
    /// An inventory name derived from the source's full identity and the folder inside
    /// it, for apps that are not given one: `<folder>-<hash>`, e.g. `prod-1f0c6b9a2e`,
    /// where the hash is of the whole identity, so `teamA/web` and `teamB/web` (or two
    /// repositories' `prod` overlays) never share a name.
    ///
    /// The identity is, for a local directory, its canonical path joined with `path`
    /// (so `./deploy/prod` and `deploy` with the path `prod` are the same app, wherever
    /// they are run from); for a git URL, the URL without a trailing `/` or `.git`, then
    /// `//` and `path`; for an OCI artifact, the repository without tag or digest (two
    /// tags of one artifact are two versions of one app), then `//` and `path`. The
    /// same source written another way (`ssh://` instead of `https://`) is another
    /// identity. The name is 1 to 63 lowercase letters, digits and `-`: valid for
    /// every target.
    ///
    /// ```
    /// use std::path::Path;
    /// use driftless::SourceSpec;
    ///
    /// let a: SourceSpec = "https://git.example.com/teamA/deploy.git".parse()?;
    /// let b: SourceSpec = "https://git.example.com/teamB/deploy.git".parse()?;
    /// let name = a.inventory_name(Path::new("web"));
    /// assert!(name.starts_with("web-"));
    /// assert_ne!(name, b.inventory_name(Path::new("web")));
    /// # Ok::<(), driftless::Error>(())
    /// ```
    pub fn inventory_name(&self, path: &std::path::Path) -> String {
        use sha2::{Digest, Sha256};

        let folder = normalized_folder(path);
        let identity = match self {
            Self::Local(dir) => {
                let full = dir.join(&folder);
                let canonical = std::fs::canonicalize(&full)
                    .or_else(|_| std::path::absolute(&full))
                    .unwrap_or(full);
                canonical.display().to_string()
            }
            Self::Git(url) => {
                let url = url.trim_end_matches('/');
                format!("{}//{folder}", url.strip_suffix(".git").unwrap_or(url))
            }
            Self::Oci(url) => format!("{}//{folder}", oci_repository(url)),
        };
        let readable = identity
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .find(|part| !part.is_empty() && *part != ".")
            .unwrap_or_default();
        let mut readable: String = readable
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        readable = readable
            .split('-')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        readable.truncate(40);
        let readable = readable.trim_end_matches('-');
        let readable = if readable.is_empty() { "app" } else { readable };
        let hash = hex::encode(Sha256::digest(identity.as_bytes()));
        format!("{readable}-{}", &hash[..10])
    }
}

/// A folder inside a source as `a/b`: no `.`, no leading or trailing `/`.
fn normalized_folder(path: &std::path::Path) -> String {
    path.components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `oci://host[:port]/repo` of `oci://host[:port]/repo[:tag][@digest]`.
fn oci_repository(url: &str) -> &str {
    let url = url
        .split_once('@')
        .map_or(url, |(repository, _)| repository);
    let last_slash = url.rfind('/').unwrap_or(0);
    match url[last_slash..].find(':') {
        Some(colon) => &url[..last_slash + colon],
        None => url,
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

/// The files credentials are read from, as the command line (`--token-file`, …) and
/// the agent configuration (`auth: {tokenFile: …}`) name them.
///
/// When several kinds are given, the first complete one wins, in this order: an SSH
/// key, a username with a password, a token, Docker's configuration. (The agent
/// configuration allows only one kind; the command line takes some from environment
/// variables, which is why an order is needed.)
///
/// ```
/// use driftless::{SourceAuth, spec::CredentialFiles};
///
/// let files = CredentialFiles::default().token_file("/run/token").ssh_key_file("/run/id");
/// assert!(matches!(files.to_auth(), SourceAuth::Ssh { .. }));
/// assert_eq!(CredentialFiles::default().to_auth(), SourceAuth::None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialFiles {
    /// A file holding a token.
    pub token_file: Option<PathBuf>,
    /// A file holding a username (with [`password_file`](Self::password_file)).
    pub username_file: Option<PathBuf>,
    /// A file holding a password (with [`username_file`](Self::username_file)).
    pub password_file: Option<PathBuf>,
    /// An SSH private key.
    pub ssh_key_file: Option<PathBuf>,
    /// The known_hosts file to check the SSH server's key against.
    pub known_hosts_file: Option<PathBuf>,
    /// Docker's `config.json`.
    pub docker_config: Option<PathBuf>,
}

impl CredentialFiles {
    /// Sets [`token_file`](Self::token_file).
    #[must_use]
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into());
        self
    }

    /// Sets [`username_file`](Self::username_file).
    #[must_use]
    pub fn username_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.username_file = Some(path.into());
        self
    }

    /// Sets [`password_file`](Self::password_file).
    #[must_use]
    pub fn password_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.password_file = Some(path.into());
        self
    }

    /// Sets [`ssh_key_file`](Self::ssh_key_file).
    #[must_use]
    pub fn ssh_key_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssh_key_file = Some(path.into());
        self
    }

    /// Sets [`known_hosts_file`](Self::known_hosts_file).
    #[must_use]
    pub fn known_hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.known_hosts_file = Some(path.into());
        self
    }

    /// Sets [`docker_config`](Self::docker_config).
    #[must_use]
    pub fn docker_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.docker_config = Some(path.into());
        self
    }

    /// The credentials these files give, the first complete kind in the order above.
    pub fn to_auth(&self) -> SourceAuth {
        if let Some(key_file) = &self.ssh_key_file {
            return SourceAuth::Ssh {
                key_file: key_file.clone(),
                known_hosts_file: self.known_hosts_file.clone(),
            };
        }
        if let (Some(username_file), Some(password_file)) =
            (&self.username_file, &self.password_file)
        {
            return SourceAuth::Basic {
                username_file: username_file.clone(),
                password_file: password_file.clone(),
            };
        }
        if let Some(token_file) = &self.token_file {
            return SourceAuth::Token {
                token_file: token_file.clone(),
            };
        }
        match &self.docker_config {
            Some(config_file) => SourceAuth::DockerConfig {
                config_file: config_file.clone(),
            },
            None => SourceAuth::None,
        }
    }
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
    /// target never prune each other's objects. `None`: the target's default.
    pub inventory_name: Option<String>,
    /// Take over objects that another inventory holds instead of refusing to apply
    /// them.
    pub adopt: bool,
    /// The namespace given to namespaced objects that name none. `None`: the
    /// kubeconfig context's namespace for `kube`, `default` for `dir:`.
    pub namespace: Option<String>,
    /// The namespace of the inventory (`kube` targets: the ApplySet parent's). `None`:
    /// [`namespace`](Self::namespace), else `default`; never the kubeconfig context's.
    pub inventory_namespace: Option<String>,
    /// The kubeconfig file (`kube` targets). `None`: `KUBECONFIG`, `~/.kube/config` or
    /// the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (`kube` targets), for a spec that names none.
    pub context: Option<String>,
}

impl TargetOptions {
    /// Sets [`inventory_name`](Self::inventory_name).
    #[must_use]
    pub fn inventory_name(mut self, name: impl Into<String>) -> Self {
        self.inventory_name = Some(name.into());
        self
    }

    /// Sets [`adopt`](Self::adopt).
    #[must_use]
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
        self
    }

    /// Sets [`namespace`](Self::namespace).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets [`inventory_namespace`](Self::inventory_namespace).
    #[must_use]
    pub fn inventory_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.inventory_namespace = Some(namespace.into());
        self
    }

    /// Sets [`kubeconfig`](Self::kubeconfig).
    #[must_use]
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Sets [`context`](Self::context).
    #[must_use]
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

/// Opens the target a spec names.
pub async fn open_target(
    spec: &TargetSpec,
    options: &TargetOptions,
) -> Result<Arc<dyn Target>, Error> {
    Ok(open_target_in(spec, options, &crate::Clusters::new())
        .await?
        .0)
}

/// Opens the target a spec names and, for a `kube` target, the cluster behind it,
/// where post-build reads its ConfigMaps and Secrets through the target's own client.
/// A Kubernetes target shares its connection with the other targets opened through
/// `clusters` on the same kubeconfig and context.
pub async fn open_target_in(
    spec: &TargetSpec,
    options: &TargetOptions,
    clusters: &crate::Clusters,
) -> Result<(Arc<dyn Target>, Option<crate::postbuild::Cluster>), Error> {
    let open_error = |source: driftless_core::BoxError| Error::OpenTarget {
        spec: spec.to_string(),
        source,
    };
    match spec {
        TargetSpec::Dir(path) => {
            if options.kubeconfig.is_some() || options.context.is_some() {
                return Err(Error::Spec(format!(
                    "the target {spec} is a directory: a kubeconfig and its contexts are for \
                     kube targets"
                )));
            }
            let target = driftless_target_dir::DirTarget::with_options(path, dir_options(options))
                .map_err(|e| open_error(Box::new(e)))?;
            Ok((Arc::new(target), None))
        }
        TargetSpec::Kube(context) => {
            let context = match (context, &options.context) {
                (Some(named), Some(given)) if named != given => {
                    return Err(Error::Spec(format!(
                        "the target {spec} names the context {named:?}, and the context \
                         {given:?} is given too: name one"
                    )));
                }
                (Some(context), _) | (None, Some(context)) => Some(context.as_str()),
                (None, None) => None,
            };
            kube_target(context, options, clusters)
                .await
                .map_err(open_error)
        }
    }
}

/// The directory target's options from the target options.
fn dir_options(options: &TargetOptions) -> driftless_target_dir::DirTargetOptions {
    let mut dir_options = driftless_target_dir::DirTargetOptions::default().adopt(options.adopt);
    if let Some(name) = &options.inventory_name {
        dir_options = dir_options.name(name);
    }
    if let Some(namespace) = &options.namespace {
        dir_options = dir_options.namespace(namespace);
    }
    dir_options
}

#[cfg(feature = "kube")]
async fn kube_target(
    context: Option<&str>,
    options: &TargetOptions,
    clusters: &crate::Clusters,
) -> Result<(Arc<dyn Target>, Option<crate::postbuild::Cluster>), driftless_core::BoxError> {
    use driftless_target_kube::KubeOptions;

    let mut kube_options = KubeOptions::default();
    if let Some(context) = context {
        kube_options = kube_options.context(context);
    }
    if let Some(namespace) = &options.namespace {
        kube_options = kube_options.namespace(namespace);
    }
    if let Some(name) = &options.inventory_name {
        kube_options = kube_options.applyset(name);
    }
    if let Some(namespace) = &options.inventory_namespace {
        kube_options = kube_options.applyset_namespace(namespace);
    }
    kube_options = kube_options.adopt(options.adopt);
    let cluster = clusters
        .cluster(options.kubeconfig.as_deref(), context)
        .await?;
    let target = Arc::new(cluster.target(kube_options));
    let inputs = crate::postbuild::Cluster::new(Arc::clone(&target));
    Ok((target, Some(inputs)))
}

#[cfg(not(feature = "kube"))]
#[allow(clippy::unused_async)] // the same signature as with the feature
async fn kube_target(
    context: Option<&str>,
    _options: &TargetOptions,
    _clusters: &crate::Clusters,
) -> Result<(Arc<dyn Target>, Option<crate::postbuild::Cluster>), driftless_core::BoxError> {
    let spec = TargetSpec::Kube(context.map(str::to_owned));
    Err(Box::new(Error::FeatureDisabled {
        what: format!("the target {spec}"),
        feature: "kube",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
    fn inventory_names_come_from_the_whole_identity() {
        let name = |source: &str, path: &str| {
            source
                .parse::<SourceSpec>()
                .unwrap()
                .inventory_name(Path::new(path))
        };
        let web_a = name("https://h/teamA/deploy.git", "web");
        assert!(web_a.starts_with("web-"), "{web_a}");
        assert_eq!(web_a.len(), "web-".len() + 10);
        assert_ne!(web_a, name("https://h/teamB/deploy.git", "web"));
        assert_ne!(web_a, name("https://h/teamA/deploy.git", "api/web"));
        // Written another way, the same identity.
        assert_eq!(web_a, name("https://h/teamA/deploy", "./web/"));
        assert_eq!(web_a, name("https://h/teamA/deploy.git/", "web"));
        // Two tags of one artifact are one app.
        let oci = name("oci://127.0.0.1:5000/team/app:v1", "");
        assert!(oci.starts_with("app-"), "{oci}");
        assert_eq!(oci, name("oci://127.0.0.1:5000/team/app:v2", ""));
        assert_eq!(oci, name("oci://127.0.0.1:5000/team/app@sha256:abc", ""));
        assert_eq!(oci, name("oci://127.0.0.1:5000/team/app", ""));
        // A local folder, however it is reached.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("overlays/prod")).unwrap();
        let root = dir.path().display().to_string();
        let prod = name(&format!("{root}/overlays/prod"), "");
        assert!(prod.starts_with("prod-"), "{prod}");
        assert_eq!(prod, name(&format!("{root}/overlays/../overlays"), "prod"));
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(other.path().join("prod")).unwrap();
        assert_ne!(
            prod,
            name(&other.path().join("prod").display().to_string(), "")
        );
        // Always a valid name.
        for odd in ["git@h:o/R_E.P.O.git", "https://h/", "/"] {
            let n = name(odd, "");
            assert!(
                n.len() <= 63
                    && n.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
            assert!(!n.starts_with('-'), "{n}");
        }
    }

    #[test]
    fn credential_precedence_is_ssh_basic_token_docker() {
        let all = CredentialFiles::default()
            .token_file("t")
            .username_file("u")
            .password_file("p")
            .ssh_key_file("k")
            .docker_config("d");
        assert!(matches!(all.to_auth(), SourceAuth::Ssh { .. }));
        let mut files = all.clone();
        files.ssh_key_file = None;
        assert!(matches!(files.to_auth(), SourceAuth::Basic { .. }));
        files.password_file = None;
        assert!(matches!(files.to_auth(), SourceAuth::Token { .. }));
        files.token_file = None;
        assert!(matches!(files.to_auth(), SourceAuth::DockerConfig { .. }));
        files.docker_config = None;
        assert_eq!(files.to_auth(), SourceAuth::None);
    }

    #[test]
    fn references_by_precedence() {
        assert_eq!(
            SourceRef::select(Some("b"), Some("t"), None, Some("c")),
            SourceRef::Commit {
                id: "c".into(),
                branch: Some("b".into())
            }
        );
        assert_eq!(
            SourceRef::select(None, Some("t"), Some(">=1"), None),
            SourceRef::Tag("t".into())
        );
        assert_eq!(
            SourceRef::select(None, None, Some(">=1"), None),
            SourceRef::Semver(">=1".into())
        );
    }

    #[tokio::test]
    async fn target_options_reach_the_target_or_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let spec = TargetSpec::Dir(dir.path().join("live"));
        let open = |options: TargetOptions| {
            let spec = spec.clone();
            async move { open_target(&spec, &options).await.map(|_| ()) }
        };
        open(
            TargetOptions::default()
                .inventory_name("web")
                .namespace("prod"),
        )
        .await
        .unwrap();
        let err = open(TargetOptions::default().inventory_name("a/b"))
            .await
            .unwrap_err();
        assert!(format!("{err:?}").contains("InvalidName"), "{err:?}");
        let err = open(TargetOptions::default().kubeconfig("/k"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("kube targets"), "{err}");
        // Opening a directory target creates nothing.
        assert!(!dir.path().join("live").exists());

        let kube = TargetSpec::Kube(Some("a".into()));
        let err = open_target(&kube, &TargetOptions::default().context("b"))
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("name one"), "{err}");
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

//! The blocking side: talking to the remote with gix, the cache of bare repositories,
//! and snapshots. Everything here runs inside `spawn_blocking`.

use std::fs::File;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use gix::bstr::ByteSlice;
use gix::protocol::handshake::Ref;
use gix::protocol::transport::client::blocking_io::Transport;
use gix::remote::Direction;
use sha2::Digest as _;

use gix::protocol::transport::Protocol;

use crate::checkout::{CheckoutError, checkout};
use crate::error::{Cause, Failure, classify, scrub};
use crate::progress::TracingProgress;
use crate::refs::{HeadRef, RemoteRefs};
use crate::stop::Stop;
use crate::transport::{self, DeadlineHttp};
use crate::{Error, GitAuth};

/// A parsed remote: its URL without credentials, and how to authenticate.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    url: gix::Url,
    display: String,
    key: String,
    url_credentials: Option<(String, String)>,
    auth: GitAuth,
    connect_timeout: Duration,
    timeout: Duration,
}

/// Credentials read for one operation.
struct Credentials {
    /// An `Authorization` header for HTTP(S).
    http_header: Option<String>,
    /// Values to scrub from every message.
    secrets: Vec<String>,
    /// Where `ssh` writes its messages (host key and authentication failures, the
    /// remote's errors), so they end up in errors rather than on our stderr.
    ssh_stderr: Option<tempfile::NamedTempFile>,
}

impl Credentials {
    /// The last lines `ssh` wrote, if any.
    fn ssh_messages(&self) -> Option<String> {
        let file = self.ssh_stderr.as_ref()?;
        let text = std::fs::read_to_string(file.path()).ok()?;
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '@'))
            .collect();
        let start = lines.len().saturating_sub(6);
        (!lines.is_empty()).then(|| lines[start..].join(" / "))
    }
}

impl Remote {
    /// Parses `input` (a URL, scp-like address or local path).
    pub(crate) fn parse(
        input: &str,
        auth: GitAuth,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let invalid = |source: Cause| Error::InvalidUrl {
            url: scrub(input, &[]),
            source,
        };
        if input.trim().is_empty() {
            return Err(invalid(Cause::from_messages(["the URL is empty"], &[])));
        }
        let mut url = gix::url::parse(input.as_bytes().as_bstr())
            .map_err(|e| invalid(Cause::from_error(&e, &[])))?;
        let mut url_credentials = None;
        match url.scheme {
            gix::url::Scheme::Http | gix::url::Scheme::Https => {
                let user = url.set_user(None);
                let password = url.set_password(None);
                if let Some(user) = user {
                    url_credentials = Some((user, password.unwrap_or_default()));
                }
            }
            gix::url::Scheme::Ssh => {
                url.set_password(None);
            }
            gix::url::Scheme::File => {
                let cwd = std::env::current_dir().map_err(|source| Error::Io {
                    action: "read the current directory of",
                    path: PathBuf::from("."),
                    source,
                })?;
                url.canonicalize(&cwd)
                    .map_err(|e| invalid(Cause::from_error(&e, &[])))?;
            }
            gix::url::Scheme::Git => {}
            _ => {
                return Err(invalid(Cause::from_messages(
                    [format!(
                        "unsupported scheme {:?}: use https, http, ssh, git, file or a local path",
                        url.scheme.as_str()
                    )],
                    &[],
                )));
            }
        }
        let display = url.to_bstring().to_string();
        let digest = sha2::Sha256::digest(display.as_bytes());
        let key = hex::encode(&digest[..16]);
        Ok(Self {
            url,
            display,
            key,
            url_credentials,
            auth,
            connect_timeout,
            timeout,
        })
    }

    /// The URL without credentials.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    fn is_http(&self) -> bool {
        matches!(
            self.url.scheme,
            gix::url::Scheme::Http | gix::url::Scheme::Https
        )
    }

    fn credentials(&self) -> Result<Credentials, Error> {
        let basic = match &self.auth {
            GitAuth::Token { token } => Some(("x-access-token".to_owned(), token.read()?)),
            GitAuth::Basic { username, password } => Some((username.read()?, password.read()?)),
            GitAuth::None | GitAuth::Ssh { .. } => self.url_credentials.clone(),
        };
        let mut secrets = Vec::new();
        let http_header = basic.map(|(user, password)| {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            if password.is_empty() {
                secrets.push(user);
            } else {
                secrets.push(password);
            }
            secrets.push(encoded.clone());
            format!("Authorization: Basic {encoded}")
        });
        let ssh_stderr = if self.url.scheme == gix::url::Scheme::Ssh {
            Some(tempfile::NamedTempFile::new().map_err(|source| Error::Io {
                action: "create a temporary file in",
                path: std::env::temp_dir(),
                source,
            })?)
        } else {
            None
        };
        Ok(Credentials {
            http_header: http_header.filter(|_| self.is_http()),
            secrets,
            ssh_stderr,
        })
    }

    /// The `ssh` command line: host keys are always checked, never accepted blindly.
    fn ssh_command(&self, credentials: &Credentials) -> String {
        let mut command = format!(
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout={}",
            self.connect_timeout.as_secs().max(1)
        );
        if let GitAuth::Ssh {
            key_file,
            known_hosts_file,
        } = &self.auth
        {
            command.push_str(" -o IdentitiesOnly=yes -i ");
            command.push_str(&shell_quote(key_file));
            if let Some(known_hosts) = known_hosts_file {
                command.push_str(" -o UserKnownHostsFile=");
                command.push_str(&shell_quote(known_hosts));
                command.push_str(" -o GlobalKnownHostsFile=/dev/null");
            }
        }
        command.push_str(r#" "$@""#);
        if let Some(file) = &credentials.ssh_stderr {
            command.push_str(" 2>>");
            command.push_str(&shell_quote(file.path()));
        }
        command
    }

    /// Opens `path` as an isolated repository configured to talk to this remote.
    fn open_configured(
        &self,
        path: &Path,
        protocol_version: u8,
        credentials: &Credentials,
    ) -> gix::Result<gix::Repository> {
        let mut repo = gix::open_opts(path, gix::open::Options::isolated())?;
        let mut config = repo.config_snapshot_mut();
        config.append_config(
            [
                format!("protocol.version={protocol_version}"),
                format!("core.sshCommand={}", self.ssh_command(credentials)),
                "ssh.variant=ssh".to_owned(),
                "gitoxide.userAgent=driftless".to_owned(),
                format!(
                    "gitoxide.http.connectTimeout={}",
                    self.connect_timeout.as_millis()
                ),
                "http.lowSpeedLimit=1".to_owned(),
                format!("http.lowSpeedTime={}", self.timeout.as_secs().max(1)),
            ],
            gix::config::Source::Api,
        )?;
        config.commit()?;
        Ok(repo)
    }

    /// A remote for `repo` that fetches `refspecs` (and no tags).
    fn gix_remote<'r>(
        &self,
        repo: &'r gix::Repository,
        refspecs: &[String],
    ) -> gix::Result<gix::Remote<'r>> {
        repo.remote_at(self.url.clone())?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs(refspecs.iter().map(String::as_str), Direction::Fetch)
    }

    /// Connects to the remote with a transport that `stop` can stop: git:// and
    /// HTTP(S) through our own connections; `file://` and SSH through gix's.
    fn connect<'a>(
        &self,
        remote: &'a gix::Remote<'a>,
        credentials: &Credentials,
        version: Protocol,
        stop: &Stop,
    ) -> gix::Result<gix::remote::Connection<'a, 'static, 'a, Box<dyn Transport + Send>>> {
        let connection = match self.url.scheme {
            gix::url::Scheme::Git => {
                let daemon =
                    transport::connect_daemon(&self.url, version, self.connect_timeout, stop)
                        .map_err(gix::Error::from_error)?;
                remote.to_connection_with_transport(Box::new(daemon) as Box<dyn Transport + Send>)
            }
            gix::url::Scheme::Http | gix::url::Scheme::Https => {
                let http = DeadlineHttp::new(stop.clone()).connect(self.url.clone(), version);
                remote.to_connection_with_transport(Box::new(http) as Box<dyn Transport + Send>)
            }
            _ => remote.connect(Direction::Fetch)?,
        };
        let mut connection = connection
            // Credentials are sent with every request; if the server asks again they
            // were wrong, and nothing else (no helper, no prompt) is consulted.
            .with_credentials(|action| match action {
                gix::credentials::helper::Action::Get(_) => Err(gix::Error::from_error(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    "the server asked for credentials: the configured ones were rejected, or none are configured",
                ))),
                _ => Ok(None),
            });
        if self.is_http() && rustls::crypto::CryptoProvider::get_default().is_none() {
            // reqwest builds its TLS configuration from the process-wide provider
            // (even for plain HTTP, in case of redirects); install ring's unless the
            // application chose one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        if self.is_http()
            && let Some(options) = remote
                .repo()
                .transport_options(self.url.to_bstring().as_bstr(), None)?
        {
            connection =
                connection.with_transport_options(self.http_options(options, credentials, stop));
        }
        Ok(connection)
    }

    fn http_options(
        &self,
        options: Box<dyn std::any::Any>,
        credentials: &Credentials,
        stop: &Stop,
    ) -> Box<dyn std::any::Any> {
        use gix::protocol::transport::client::blocking_io::http;
        let mut options = match options.downcast::<http::Options>() {
            Ok(options) => *options,
            Err(other) => return other,
        };
        if let Some(header) = &credentials.http_header {
            options.extra_headers.push(header.clone());
        }
        let connect_timeout = self.connect_timeout;
        let stop = stop.clone();
        let backend = http::reqwest::Options {
            // reqwest's blocking client waits at most this long for a response and for
            // each chunk of a body, so its thread ends near the deadline even when
            // the server stays silent.
            configure_client: Some(Box::new(move |builder| {
                let wait = stop.remaining().max(Duration::from_millis(1));
                Ok(builder
                    .connect_timeout(connect_timeout.min(wait))
                    .timeout(wait))
            })),
            configure_request: None,
        };
        options.backend = Some(Arc::new(Mutex::new(backend)));
        options.connect_timeout = Some(connect_timeout);
        Box::new(options)
    }

    /// Turns a transport failure into the error that tells the user what to fix,
    /// judged on its typed causes (see [`classify`]).
    fn classify(&self, error: &gix::Error, credentials: &Credentials) -> Error {
        let source = cause(error, credentials);
        let url = self.display.clone();
        match classify(error, credentials.ssh_messages().as_deref()) {
            Failure::Authentication => Error::Authentication { url, source },
            Failure::NotFound => Error::RepositoryNotFound { url, source },
            Failure::UnknownCommit | Failure::Other => Error::Remote { url, source },
        }
    }
}

/// The cause of a transport error, with what `ssh` said appended.
fn cause(error: &gix::Error, credentials: &Credentials) -> Cause {
    let cause = Cause::from_gix(error, &credentials.secrets);
    match credentials.ssh_messages() {
        Some(messages) => cause.with_innermost(&format!("ssh: {messages}"), &credentials.secrets),
        None => cause,
    }
}

/// Quotes a path for `sh`.
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

/// The cache directory: one bare repository per remote, snapshots by commit.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
}

impl Cache {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn repos(&self) -> PathBuf {
        self.root.join("repos")
    }

    pub(crate) fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub(crate) fn snapshot(&self, commit: &str) -> PathBuf {
        self.snapshots().join(commit)
    }

    fn repo_path(&self, remote: &Remote) -> PathBuf {
        self.repos().join(format!("{}.git", remote.key))
    }

    fn lock_path(&self, remote: &Remote) -> PathBuf {
        self.repos().join(format!("{}.lock", remote.key))
    }

    /// A repository used only to list remote refs: it never holds objects, so it is
    /// shared by all remotes and never locked.
    fn ls_remote_repo(&self) -> Result<PathBuf, Error> {
        let path = self.root.join("ls-remote.git");
        if path.exists() {
            if gix::open_opts(&path, gix::open::Options::isolated()).is_ok() {
                return Ok(path);
            }
            // Corrupt: move it aside atomically, so a concurrent resolve that just
            // opened a good one is not disturbed, then delete it.
            discard(&path)?;
        }
        init_bare_atomically(&self.root, &path)?;
        Ok(path)
    }
}

/// Moves `path` to a unique name next to it and deletes it there.
fn discard(path: &Path) -> Result<(), Error> {
    let parent = path.parent().unwrap_or(path);
    let trash = tempfile::Builder::new()
        .prefix(".trash-")
        .tempdir_in(parent)
        .map_err(|source| Error::Io {
            action: "create a temporary folder in",
            path: parent.to_owned(),
            source,
        })?;
    let target = trash.path().join("repo");
    match std::fs::rename(path, &target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            action: "move the corrupt cached repository away from",
            path: path.to_owned(),
            source,
        }),
    }
    // `trash` is deleted with its contents when dropped.
}

fn mkdirs(path: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        action: "create the folder",
        path: path.to_owned(),
        source,
    })
}

/// Initializes a bare repository in a temporary folder next to `path` and renames it
/// into place, so no half-initialized repository is ever seen. Losing a race to
/// another process is fine.
fn init_bare_atomically(parent: &Path, path: &Path) -> Result<(), Error> {
    mkdirs(parent)?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-init-")
        .tempdir_in(parent)
        .map_err(|source| Error::Io {
            action: "create a temporary folder in",
            path: parent.to_owned(),
            source,
        })?;
    gix::init_bare(tmp.path()).map_err(|e| Error::Io {
        action: "initialize a git repository in",
        path: tmp.path().to_owned(),
        source: std::io::Error::other(Cause::from_gix(&e, &[])),
    })?;
    match std::fs::rename(tmp.path(), path) {
        Ok(()) => {
            let _ = tmp.keep();
            Ok(())
        }
        Err(_) if path.is_dir() => Ok(()),
        Err(source) => Err(Error::Io {
            action: "rename into place",
            path: path.to_owned(),
            source,
        }),
    }
}

/// Lists the remote's branches, tags and HEAD: one request over HTTP (protocol v1's
/// ref advertisement), one exchange over the other transports.
pub(crate) fn list_refs(remote: &Remote, cache: &Cache, stop: &Stop) -> Result<RemoteRefs, Error> {
    let credentials = remote.credentials()?;
    let path = cache.ls_remote_repo()?;
    let repo = remote
        .open_configured(&path, 1, &credentials)
        .map_err(|e| Error::Cache {
            url: remote.display.clone(),
            path: path.clone(),
            source: Cause::from_gix(&e, &credentials.secrets),
        })?;
    let start = Instant::now();
    let specs = [
        "+refs/heads/*:refs/remotes/origin/*".to_owned(),
        "+refs/tags/*:refs/tags/*".to_owned(),
    ];
    let listed = remote
        .gix_remote(&repo, &specs)
        .and_then(|r| {
            let connection = remote.connect(&r, &credentials, Protocol::V1, stop)?;
            connection.ref_map(
                TracingProgress::new(&remote.display, "list refs"),
                gix::remote::ref_map::Options::default(),
            )
        })
        .map_err(|e| remote.classify(&e, &credentials))?;
    let (ref_map, _handshake) = listed;
    let mut refs = RemoteRefs::default();
    for r in &ref_map.remote_refs {
        match r {
            Ref::Direct {
                full_ref_name,
                object,
            }
            | Ref::Peeled {
                full_ref_name,
                object,
                ..
            } => insert_ref(
                &mut refs,
                full_ref_name.to_str_lossy().as_ref(),
                object.to_hex().to_string(),
            ),
            Ref::Symbolic {
                full_ref_name,
                target,
                object,
                ..
            } => {
                let name = full_ref_name.to_str_lossy();
                if name == "HEAD" {
                    let target = target.to_str_lossy();
                    refs.head = Some(match target.strip_prefix("refs/heads/") {
                        Some(branch) => HeadRef::Branch(branch.to_owned()),
                        None => HeadRef::Detached(object.to_hex().to_string()),
                    });
                } else {
                    insert_ref(&mut refs, &name, object.to_hex().to_string());
                }
            }
            Ref::Unborn { .. } => {}
        }
    }
    if refs.head.is_none()
        && let Some(head) = ref_map.remote_refs.iter().find_map(|r| match r {
            Ref::Direct {
                full_ref_name,
                object,
            } if full_ref_name == "HEAD" => Some(object.to_hex().to_string()),
            _ => None,
        })
    {
        refs.head = Some(HeadRef::Detached(head));
    }
    tracing::debug!(
        remote = %remote.display,
        branches = refs.branches.len(),
        tags = refs.tags.len(),
        elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        "listed remote refs"
    );
    Ok(refs)
}

fn insert_ref(refs: &mut RemoteRefs, full_name: &str, commit: String) {
    if let Some(branch) = full_name.strip_prefix("refs/heads/") {
        refs.branches.insert(branch.to_owned(), commit);
    } else if let Some(tag) = full_name.strip_prefix("refs/tags/") {
        refs.tags.insert(tag.to_owned(), commit);
    }
}

/// Makes sure `<cache>/snapshots/<commit>` holds the tree of `commit`, fetching what is
/// missing, and returns its path.
pub(crate) fn ensure_snapshot(
    remote: &Remote,
    cache: &Cache,
    commit: &str,
    reference: Option<&str>,
    revision: &str,
    stop: &Stop,
) -> Result<PathBuf, Error> {
    let snapshot = cache.snapshot(commit);
    if snapshot.is_dir() {
        tracing::debug!(remote = %remote.display, %revision, "snapshot already cached");
        return Ok(snapshot);
    }
    let id = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|_| Error::InvalidCommit {
        sha: commit.to_owned(),
    })?;
    mkdirs(&cache.repos())?;
    mkdirs(&cache.snapshots())?;
    let _lock = lock(&cache.lock_path(remote))?;
    // Another fetch of the same commit may have finished while we waited.
    if snapshot.is_dir() {
        return Ok(snapshot);
    }
    let credentials = remote.credentials()?;
    let repo_path = cache.repo_path(remote);
    for attempt in 0..2 {
        let repo = open_cached(remote, &repo_path, &credentials)?;
        if !repo.has_object(id) {
            fetch_commit(remote, &repo, id, reference, revision, &credentials, stop)?;
        }
        let repo = remote
            .open_configured(&repo_path, 2, &credentials)
            .map_err(|e| Error::Cache {
                url: remote.display.clone(),
                path: repo_path.clone(),
                source: Cause::from_gix(&e, &credentials.secrets),
            })?;
        if !repo.has_object(id) {
            return Err(Error::CommitNotFound {
                url: remote.display.clone(),
                sha: commit.to_owned(),
                source: None,
            });
        }
        match write_snapshot(&repo, id, cache, &snapshot, revision) {
            Ok(()) => return Ok(snapshot),
            Err(CheckoutError::Objects(cause)) if attempt == 0 => {
                tracing::warn!(
                    remote = %remote.display,
                    path = %repo_path.display(),
                    error = %cause.chain(),
                    "cached repository is corrupt; rebuilding it"
                );
                discard(&repo_path)?;
            }
            Err(CheckoutError::Objects(cause)) => {
                return Err(Error::Cache {
                    url: remote.display.clone(),
                    path: repo_path,
                    source: cause,
                });
            }
            Err(CheckoutError::Refused(e) | CheckoutError::Io(e)) => return Err(e),
        }
    }
    Err(Error::Cache {
        url: remote.display.clone(),
        path: repo_path,
        source: Cause::from_messages(
            ["the repository stayed unreadable after it was rebuilt"],
            &[],
        ),
    })
}

/// An exclusive lock on `path`, released when the file is dropped.
fn lock(path: &Path) -> Result<File, Error> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| Error::Io {
            action: "open the lock file",
            path: path.to_owned(),
            source,
        })?;
    file.lock().map_err(|source| Error::Io {
        action: "lock",
        path: path.to_owned(),
        source,
    })?;
    Ok(file)
}

/// Opens the cached bare repository, creating it, or rebuilding it when it cannot be
/// opened or one of its refs points to an unreadable commit.
fn open_cached(
    remote: &Remote,
    path: &Path,
    credentials: &Credentials,
) -> Result<gix::Repository, Error> {
    if path.exists() {
        match remote.open_configured(path, 2, credentials) {
            Ok(repo) if refs_are_readable(&repo) => return Ok(repo),
            Ok(_) => {
                tracing::warn!(remote = %remote.display, path = %path.display(), "cached repository has unreadable commits; rebuilding it");
            }
            Err(e) => {
                tracing::warn!(
                    remote = %remote.display,
                    path = %path.display(),
                    error = %Cause::from_gix(&e, &credentials.secrets).chain(),
                    "cached repository cannot be opened; rebuilding it"
                );
            }
        }
        discard(path)?;
    }
    let parent = path.parent().unwrap_or(path);
    init_bare_atomically(parent, path)?;
    remote
        .open_configured(path, 2, credentials)
        .map_err(|e| Error::Cache {
            url: remote.display.clone(),
            path: path.to_owned(),
            source: Cause::from_gix(&e, &credentials.secrets),
        })
}

/// Whether every ref we wrote points to a commit that can be read.
fn refs_are_readable(repo: &gix::Repository) -> bool {
    let Ok(platform) = repo.references() else {
        return false;
    };
    let Ok(refs) = platform.prefixed("refs/driftless/") else {
        return false;
    };
    for reference in refs {
        let Ok(reference) = reference else {
            return false;
        };
        let Some(id) = reference.target().try_id().map(ToOwned::to_owned) else {
            continue;
        };
        if repo.find_commit(id).and_then(|c| c.tree_id()).is_err() {
            return false;
        }
    }
    true
}

/// The local ref that records what was fetched for `reference`, so later fetches can
/// tell the server what we have.
fn local_ref(reference: Option<&str>, commit: gix::ObjectId) -> String {
    match reference {
        Some(r)
            if !r.is_empty()
                && r.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/')
                })
                && !r.contains("..")
                && !r.contains("//")
                && !r.starts_with(['/', '.', '-'])
                && !r.ends_with(['/', '.'])
                && !Path::new(r)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("lock")) =>
        {
            format!("refs/driftless/refs/{r}")
        }
        _ => format!("refs/driftless/commits/{commit}"),
    }
}

/// Fetches `commit` (depth 1) into the cached repository. Objects the repository has
/// already are not downloaded again.
fn fetch_commit(
    remote: &Remote,
    repo: &gix::Repository,
    commit: gix::ObjectId,
    reference: Option<&str>,
    revision: &str,
    credentials: &Credentials,
    stop: &Stop,
) -> Result<(), Error> {
    let start = Instant::now();
    tracing::info!(remote = %remote.display, %revision, "fetching");
    let spec = format!("+{commit}:{}", local_ref(reference, commit));
    let depth = NonZeroU32::MIN;
    let outcome = remote.gix_remote(repo, &[spec]).and_then(|r| {
        remote
            .connect(&r, credentials, Protocol::V2, stop)?
            .prepare_fetch(
                TracingProgress::new(&remote.display, "negotiate"),
                gix::remote::ref_map::Options::default(),
            )?
            .with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(depth))
            .receive(TracingProgress::new(&remote.display, "fetch"), stop.flag())
    });
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            if classify(&e, credentials.ssh_messages().as_deref()) == Failure::UnknownCommit {
                return Err(Error::CommitNotFound {
                    url: remote.display.clone(),
                    sha: commit.to_string(),
                    source: Some(cause(&e, credentials)),
                });
            }
            return Err(match remote.classify(&e, credentials) {
                Error::Remote { url, source } => Error::Fetch {
                    url,
                    what: revision.to_owned(),
                    source,
                },
                other => other,
            });
        }
    };
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &outcome.status {
        gix::remote::fetch::Status::Change {
            write_pack_bundle, ..
        } => {
            let objects = write_pack_bundle.index.num_objects;
            let bytes = write_pack_bundle
                .data_path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len());
            tracing::info!(remote = %remote.display, %revision, objects, bytes, elapsed_ms, "fetched");
        }
        gix::remote::fetch::Status::NoPackReceived { .. } => {
            tracing::info!(remote = %remote.display, %revision, elapsed_ms, "fetched (nothing new)");
        }
    }
    Ok(())
}

/// How old a temporary folder must be before it is taken for the leftover of a
/// crashed process.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes temporary folders that crashed processes left in `dir`.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if stale {
            tracing::debug!(path = %entry.path().display(), "removing a stale temporary folder");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Checks `commit` out into a temporary folder next to `snapshot` and renames it into
/// place.
fn write_snapshot(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    cache: &Cache,
    snapshot: &Path,
    revision: &str,
) -> Result<(), CheckoutError> {
    let start = Instant::now();
    let snapshots = cache.snapshots();
    remove_stale_temporaries(&snapshots);
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&snapshots)
        .map_err(|source| {
            CheckoutError::Io(Error::Io {
                action: "create a temporary folder in",
                path: snapshots.clone(),
                source,
            })
        })?;
    let files = checkout(repo, commit, tmp.path(), revision)?;
    match std::fs::rename(tmp.path(), snapshot) {
        Ok(()) => {
            let _ = tmp.keep();
        }
        // Someone else put the same commit in place first: theirs is identical.
        Err(_) if snapshot.is_dir() => {}
        Err(source) => {
            return Err(CheckoutError::Io(Error::Io {
                action: "rename into place",
                path: snapshot.to_owned(),
                source,
            }));
        }
    }
    tracing::info!(
        %revision,
        files,
        elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        "checked out"
    );
    Ok(())
}

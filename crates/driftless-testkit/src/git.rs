//! Git fixtures: repositories built by running the real `git` in temp dirs, and the
//! servers that serve them on 127.0.0.1: `git daemon`, smart HTTP through
//! `git http-backend` (CGI) behind a small HTTP server that counts requests, and
//! Debian's `sshd`.
//!
//! ```no_run
//! use driftless_testkit::git::{GitHttp, GitServerRoot};
//!
//! let root = GitServerRoot::new();
//! let repo = root.create_repo("app");
//! repo.write("deploy/cm.yaml", "kind: ConfigMap\n");
//! let sha = repo.commit("first");
//! repo.push();
//! let http = GitHttp::start(root.path());
//! let url = http.url("app");
//! assert!(url.starts_with("http://127.0.0.1:"));
//! assert_eq!(sha.len(), 40);
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use tempfile::TempDir;

use crate::{ChildGuard, free_port, require_program, wait_for_port};

const GIT_HINT: &str = "install git (apt-get install -y git)";
const SSHD: &str = "/usr/sbin/sshd";
const SSHD_HINT: &str = "install openssh-server (apt-get install -y openssh-server)";

/// Runs `git` with `args` in `dir`, isolated from the user's and system's config;
/// panics with git's output if it fails. Returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let program = require_program("git", GIT_HINT);
    let output = Command::new(program)
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A folder of bare repositories (`<name>.git`) that the servers export.
#[derive(Debug)]
pub struct GitServerRoot {
    dir: TempDir,
}

impl Default for GitServerRoot {
    fn default() -> Self {
        Self::new()
    }
}

impl GitServerRoot {
    /// An empty root in a temp dir.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create a temp dir"),
        }
    }

    /// The folder holding the bare repositories.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Creates the bare repository `<name>.git` (default branch `main`) and a work
    /// repository whose `origin` it is.
    pub fn create_repo(&self, name: &str) -> WorkRepo {
        let bare = self.path().join(format!("{name}.git"));
        std::fs::create_dir_all(&bare).expect("create the bare repository folder");
        git(
            &bare,
            &["init", "--bare", "--quiet", "--initial-branch=main"],
        );
        let work_dir = tempfile::tempdir().expect("create a temp dir");
        let work = work_dir.path().to_owned();
        git(&work, &["init", "--quiet", "--initial-branch=main"]);
        git(&work, &["remote", "add", "origin", &bare.to_string_lossy()]);
        WorkRepo {
            _dir: work_dir,
            work,
            bare,
        }
    }
}

/// A work repository to author commits in, pushed to its bare repository.
#[derive(Debug)]
pub struct WorkRepo {
    _dir: TempDir,
    work: PathBuf,
    bare: PathBuf,
}

impl WorkRepo {
    /// The work tree.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// The bare repository the servers export.
    pub fn bare(&self) -> &Path {
        &self.bare
    }

    /// Runs git in the work tree.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// Writes a file (creating folders).
    pub fn write(&self, path: &str, contents: &str) -> &Self {
        let file = self.work.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(file, contents).expect("write a file");
        self
    }

    /// Creates a symlink at `path` pointing to `target`.
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let link = self.work.join(path);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::os::unix::fs::symlink(target, link).expect("create a symlink");
        self
    }

    /// Removes a file.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.work.join(path)).expect("remove a file");
        self
    }

    /// Commits everything and returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.head()
    }

    /// The commit `HEAD` points to.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Creates and switches to a new branch.
    pub fn branch(&self, name: &str) -> &Self {
        self.git(&["switch", "--quiet", "-c", name]);
        self
    }

    /// Switches to an existing branch.
    pub fn switch(&self, name: &str) -> &Self {
        self.git(&["switch", "--quiet", name]);
        self
    }

    /// Tags `HEAD` with a lightweight tag.
    pub fn tag(&self, name: &str) -> &Self {
        self.git(&["tag", name]);
        self
    }

    /// Tags `HEAD` with an annotated tag.
    pub fn annotated_tag(&self, name: &str) -> &Self {
        self.git(&["tag", "-a", name, "-m", name]);
        self
    }

    /// Pushes every branch and tag to the bare repository (forced, deleted refs
    /// removed) and points its `HEAD` at `main`.
    pub fn push(&self) -> &Self {
        self.git(&[
            "push",
            "--quiet",
            "--force",
            "--prune",
            "origin",
            "refs/heads/*:refs/heads/*",
            "refs/tags/*:refs/tags/*",
        ]);
        git(&self.bare, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        self
    }

    /// Points the bare repository's `HEAD` at `branch`.
    pub fn set_default_branch(&self, branch: &str) -> &Self {
        git(
            &self.bare,
            &["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")],
        );
        self
    }
}

/// `git daemon` serving a [`GitServerRoot`] on 127.0.0.1.
#[derive(Debug)]
pub struct GitDaemon {
    _child: ChildGuard,
    port: u16,
}

impl GitDaemon {
    /// Starts the daemon, exporting every repository below `base`.
    pub fn start(base: &Path) -> Self {
        let program = require_program("git", GIT_HINT);
        let port = free_port();
        let child = ChildGuard::spawn_group(
            Command::new(program)
                .args([
                    "daemon",
                    "--export-all",
                    "--reuseaddr",
                    "--informative-errors",
                    "--listen=127.0.0.1",
                    &format!("--port={port}"),
                    &format!("--base-path={}", base.display()),
                    &base.display().to_string(),
                ])
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("start git daemon");
        wait_for_port(port, Duration::from_secs(10));
        Self {
            _child: child,
            port,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}.git", self.port)
    }
}

/// One request the HTTP fixture served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path, e.g. `/app.git/info/refs`.
    pub path: String,
    /// The query string, e.g. `service=git-upload-pack`.
    pub query: String,
    /// The response status.
    pub status: u16,
    /// The size of the response body in bytes.
    pub response_bytes: usize,
}

/// Smart HTTP: `git http-backend` behind a small HTTP server on 127.0.0.1. It records
/// every request (to count round trips and bytes) and can require Basic auth.
pub struct GitHttp {
    server: Arc<tiny_http::Server>,
    port: u16,
    log: Arc<Mutex<Vec<HttpRequest>>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for GitHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHttp")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl GitHttp {
    /// Serves every repository below `base`, without authentication.
    pub fn start(base: &Path) -> Self {
        Self::start_with(base, None)
    }

    /// Serves every repository below `base` to clients that send HTTP Basic
    /// credentials `username:password`; others get 401.
    pub fn start_with_basic_auth(base: &Path, username: &str, password: &str) -> Self {
        Self::start_with(base, Some(format!("{username}:{password}")))
    }

    fn start_with(base: &Path, credentials: Option<String>) -> Self {
        let backend = PathBuf::from("/usr/lib/git-core/git-http-backend");
        assert!(
            backend.is_file(),
            "`git http-backend` is not installed at {}; {GIT_HINT}",
            backend.display()
        );
        let server = Arc::new(
            tiny_http::Server::http("127.0.0.1:0").expect("bind the HTTP server on 127.0.0.1"),
        );
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let expected = credentials.map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        });
        let workers = (0..4)
            .map(|_| {
                let server = Arc::clone(&server);
                let log = Arc::clone(&log);
                let stop = Arc::clone(&stop);
                let base = base.to_owned();
                let backend = backend.clone();
                let expected = expected.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Ok(request) = server.recv() else {
                            break;
                        };
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        serve_cgi(request, &base, &backend, expected.as_deref(), &log);
                    }
                })
            })
            .collect();
        Self {
            server,
            port,
            log,
            stop,
            workers,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of repository `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}.git", self.port)
    }

    /// The requests served so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.log.lock().expect("request log lock").clone()
    }

    /// Forgets the requests served so far.
    pub fn clear_requests(&self) {
        self.log.lock().expect("request log lock").clear();
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for _ in &self.workers {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Runs one request through `git http-backend` and answers it. The request is logged
/// before the answer goes out, so a client that saw the answer also sees the entry.
fn serve_cgi(
    mut request: tiny_http::Request,
    base: &Path,
    backend: &Path,
    expected_auth: Option<&str>,
    log: &Mutex<Vec<HttpRequest>>,
) {
    let record = |entry: HttpRequest| log.lock().expect("request log lock").push(entry);
    let method = request.method().as_str().to_owned();
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let (path, query) = (path.to_owned(), query.to_owned());
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_owned())
    };
    let mut entry = HttpRequest {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        status: 500,
        response_bytes: 0,
    };
    if let Some(expected) = expected_auth
        && header("Authorization").as_deref() != Some(expected)
    {
        entry.status = 401;
        record(entry);
        let response = tiny_http::Response::from_string("authentication required")
            .with_status_code(401)
            .with_header(
                tiny_http::Header::from_bytes("WWW-Authenticate", "Basic realm=\"git\"")
                    .expect("a valid header"),
            );
        let _ = request.respond(response);
        return;
    }
    let content_type = header("Content-Type").unwrap_or_default();
    let git_protocol = header("Git-Protocol").unwrap_or_default();
    let content_encoding = header("Content-Encoding").unwrap_or_default();
    let mut body = Vec::new();
    if request.as_reader().read_to_end(&mut body).is_err() {
        entry.status = 400;
        record(entry);
        let _ = request.respond(tiny_http::Response::empty(400));
        return;
    }
    let mut child = Command::new(backend)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", base)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("GIT_PROTOCOL", git_protocol)
        .env("HTTP_CONTENT_ENCODING", content_encoding)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env(
            "REMOTE_USER",
            if expected_auth.is_some() { "user" } else { "" },
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start git http-backend");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut output = Vec::new();
    let _ = child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_end(&mut output);
    let _ = writer.join();
    let _ = child.wait();

    let (status, headers, body) = parse_cgi(&output);
    entry.status = status;
    entry.response_bytes = body.len();
    let length = body.len();
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(status),
        headers,
        std::io::Cursor::new(body),
        Some(length),
        None,
    );
    record(entry);
    let _ = request.respond(response);
}

/// Splits CGI output into status, headers and body.
fn parse_cgi(output: &[u8]) -> (u16, Vec<tiny_http::Header>, Vec<u8>) {
    // CGI output: headers, a blank line, the body.
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((output.len(), output.len()));
    let head = String::from_utf8_lossy(&output[..split.0]).into_owned();
    let body = output[split.1..].to_vec();
    let mut status = 200u16;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("Status") {
            status = value
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(500);
        } else if let Ok(h) = tiny_http::Header::from_bytes(name.trim(), value) {
            headers.push(h);
        }
    }
    (status, headers, body)
}

/// Debian's `sshd` on a loopback port, with a generated host key, a client key it
/// accepts, and a known_hosts file listing its host key.
#[derive(Debug)]
pub struct GitSshd {
    _child: ChildGuard,
    dir: TempDir,
    port: u16,
    user: String,
}

impl GitSshd {
    /// Starts `sshd` (as the current user, which must be root to log in as itself
    /// with sshd's privilege separation). Panics with an install hint if
    /// openssh-server is missing.
    pub fn start() -> Self {
        assert!(
            Path::new(SSHD).is_file(),
            "`sshd` is not installed at {SSHD}; {SSHD_HINT}"
        );
        let keygen = require_program(
            "ssh-keygen",
            "install openssh-client (apt-get install -y openssh-client)",
        );
        let dir = tempfile::tempdir().expect("create a temp dir");
        let d = dir.path();
        for key in [
            "host_key",
            "client_key",
            "other_client_key",
            "other_host_key",
        ] {
            let status = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(d.join(key))
                .stdout(Stdio::null())
                .status()
                .expect("run ssh-keygen");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .expect("write authorized_keys");
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".to_owned());
        // sshd refuses to start without its privilege separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
             StrictModes no\nUsePAM no\nAllowUsers {user}\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("write sshd_config");
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).expect("read the host key");
        let other_host_key =
            std::fs::read_to_string(d.join("other_host_key.pub")).expect("read a host key");
        let entry = |key: &str| {
            let mut parts = key.split_whitespace();
            let (kind, data) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            format!("[127.0.0.1]:{port} {kind} {data}\n")
        };
        std::fs::write(d.join("known_hosts"), entry(&host_key)).expect("write known_hosts");
        std::fs::write(d.join("wrong_known_hosts"), entry(&other_host_key))
            .expect("write known_hosts");
        let child = ChildGuard::spawn_group(
            Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(d.join("sshd_config"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("start sshd");
        wait_for_port(port, Duration::from_secs(10));
        Self {
            _child: child,
            dir,
            port,
            user,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `ssh://` URL of the repository at `path` (absolute).
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }

    /// The private key sshd accepts.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A private key sshd does not accept.
    pub fn wrong_client_key(&self) -> PathBuf {
        self.dir.path().join("other_client_key")
    }

    /// A known_hosts file listing sshd's host key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// A known_hosts file listing a different key for sshd's address.
    pub fn wrong_known_hosts(&self) -> PathBuf {
        self.dir.path().join("wrong_known_hosts")
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers: for
/// timeout tests.
#[derive(Debug)]
pub struct SilentServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Default for SilentServer {
    fn default() -> Self {
        Self::start()
    }
}

impl SilentServer {
    /// Starts the server.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let port = listener.local_addr().expect("a local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A TCP server on 127.0.0.1 that answers at once and then sends one byte a second,
/// forever: for deadline tests, where a per-read timeout never fires. Over HTTP it
/// sends a `200 OK` with the given content type and trickles the body; over git://
/// it trickles a packet line that never ends.
#[derive(Debug)]
pub struct TrickleServer {
    port: u16,
    stop: Arc<AtomicBool>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl TrickleServer {
    /// An HTTP server answering every request with `200 OK`, `content_type`, and a body
    /// trickled one byte a second.
    pub fn http(content_type: &str) -> Self {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\n\
             Connection: close\r\n\r\n"
        );
        Self::start(head.into_bytes())
    }

    /// A git daemon stand-in that trickles a never-ending packet line.
    pub fn git() -> Self {
        Self::start(Vec::new())
    }

    fn start(head: Vec<u8>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("make the listener non-blocking");
        let port = listener.local_addr().expect("a local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (flag, workers) = (Arc::clone(&stop), Arc::clone(&threads));
        let acceptor = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (flag, head) = (Arc::clone(&flag), head.clone());
                        let worker = std::thread::spawn(move || trickle(stream, &head, &flag));
                        workers.lock().expect("worker list").push(worker);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            port,
            stop,
            threads,
            acceptor: Some(acceptor),
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Reads the request, sends `head`, then a packet line of the largest length one byte
/// a second until the client leaves or the server stops.
fn trickle(mut stream: TcpStream, head: &[u8], stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.read(&mut [0; 4096]);
    if stream.write_all(head).is_err() {
        return;
    }
    let body = b"fff0".iter().copied().chain(std::iter::repeat(b'a'));
    for byte in body {
        if stream.write_all(&[byte]).is_err() {
            return;
        }
        for _ in 0..20 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TrickleServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let workers = std::mem::take(&mut *self.threads.lock().expect("worker list"));
        for worker in workers {
            let _ = worker.join();
        }
    }
}

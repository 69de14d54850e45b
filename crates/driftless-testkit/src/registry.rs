//! An OCI registry on 127.0.0.1: Debian's `docker-registry` (the CNCF distribution
//! registry) with filesystem storage in a temporary directory, optionally behind
//! htpasswd basic authentication.
//!
//! ```no_run
//! let registry = driftless_testkit::registry::Registry::start();
//! assert!(registry.host().starts_with("127.0.0.1:"));
//! ```

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::{ChildGuard, free_port, require_program, wait_for_port};

/// How to install the registry when it is missing.
pub const INSTALL_HINT: &str = "install docker-registry (apt-get install -y docker-registry)";

/// A running registry; stopped and its storage removed when dropped.
#[derive(Debug)]
pub struct Registry {
    // Field order matters: the process stops before its directory is removed.
    _child: ChildGuard,
    dir: TempDir,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Registry {
    /// Starts a registry that accepts anonymous pulls and pushes.
    pub fn start() -> Self {
        Self::launch(None)
    }

    /// Starts a registry that requires HTTP basic authentication with `username` and
    /// `password` (an htpasswd file with a bcrypt hash, as the registry wants).
    pub fn start_with_htpasswd(username: &str, password: &str) -> Self {
        Self::launch(Some((username.to_owned(), password.to_owned())))
    }

    fn launch(credentials: Option<(String, String)>) -> Self {
        let program = require_program("docker-registry", INSTALL_HINT);
        let dir = tempfile::Builder::new()
            .prefix("driftless-registry-")
            .tempdir()
            .expect("create the registry's temporary directory");
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).expect("create the registry's storage directory");
        let port = free_port();

        let mut config = String::new();
        writeln!(config, "version: 0.1").expect("write to a String");
        writeln!(
            config,
            "log:\n  level: info\n  accesslog:\n    disabled: false"
        )
        .expect("write to a String");
        writeln!(
            config,
            "storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true",
            storage.display()
        )
        .expect("write to a String");
        writeln!(config, "http:\n  addr: 127.0.0.1:{port}").expect("write to a String");
        if let Some((username, password)) = &credentials {
            let hash = bcrypt::hash_with_result(password, 4)
                .expect("bcrypt-hash the test password")
                .format_for_version(bcrypt::Version::TwoA);
            let htpasswd = dir.path().join("htpasswd");
            fs::write(&htpasswd, format!("{username}:{hash}\n")).expect("write htpasswd");
            writeln!(
                config,
                "auth:\n  htpasswd:\n    realm: driftless-test\n    path: {}",
                htpasswd.display()
            )
            .expect("write to a String");
        }
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, config).expect("write the registry's config.yml");

        let log = fs::File::create(dir.path().join("registry.log")).expect("create registry.log");
        let log_err = log.try_clone().expect("clone the registry.log handle");
        let child = ChildGuard::spawn_group(
            Command::new(program)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err),
        )
        .expect("start docker-registry");
        wait_for_port(port, Duration::from_secs(20));
        Self {
            _child: child,
            dir,
            port,
            credentials,
        }
    }

    /// The port the registry listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `oci://127.0.0.1:<port>/<repository>`.
    pub fn url(&self, repository: &str) -> String {
        format!("oci://{}/{repository}", self.host())
    }

    /// The username and password the registry requires, if it requires any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.as_str()))
    }

    /// The registry's filesystem storage root.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// Where the registry keeps the content of the blob `digest` (`sha256:<hex>`), so a
    /// test can tamper with it.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let (algorithm, hex) = digest
            .split_once(':')
            .expect("a digest has the form algorithm:hex");
        self.storage_dir()
            .join("docker/registry/v2/blobs")
            .join(algorithm)
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log (requests and errors), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// The temporary directory holding config, storage and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

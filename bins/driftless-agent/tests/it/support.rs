//! Starting agents and talking to them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use driftless_testkit::ChildGuard;
use serde_json::Value;

pub(crate) const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: web\ndata:\n  mode: fast\n";

/// A work dir with sources, targets, state, and the agent's configuration.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) port: u16,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            port: driftless_testkit::free_port(),
        }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub(crate) fn write(&self, relative: &str, contents: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub(crate) fn read(&self, relative: &str) -> Option<String> {
        std::fs::read_to_string(self.path(relative)).ok()
    }

    /// Writes `agent.yaml` with `apps` (YAML list items, indented by two spaces).
    pub(crate) fn config(&self, apps: &str) -> PathBuf {
        self.config_with(apps, "")
    }

    pub(crate) fn config_with(&self, apps: &str, extra: &str) -> PathBuf {
        let text = format!(
            "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{}\n\
             stateDir: {}\n{extra}apps:\n{apps}",
            self.port,
            self.path("state").display()
        );
        let path = self.path("agent.yaml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// One app item reading `src/<name>` into `live/<name>`.
    pub(crate) fn app(&self, name: &str, extra: &str) -> String {
        format!(
            "  - name: {name}\n    source: {{url: {}}}\n    target: dir:{}\n{extra}",
            self.path(&format!("src/{name}")).display(),
            self.path(&format!("live/{name}")).display()
        )
    }

    pub(crate) fn start(&self) -> Agent {
        Agent::start(&self.path("agent.yaml"), self.port)
    }

    /// Starts the agent with extra arguments.
    pub(crate) fn start_with(&self, args: &[&str]) -> Agent {
        Agent::start_with(&self.path("agent.yaml"), self.port, args)
    }

    /// What the agent started by [`start`](Self::start) logged so far.
    pub(crate) fn log(&self) -> String {
        self.read(&format!("agent.{}.log", self.port))
            .unwrap_or_default()
    }
}

/// The root of this checkout.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn agent_command(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftless-agent"));
    command
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    command
}

/// A running agent, killed when dropped.
pub(crate) struct Agent {
    pub(crate) child: ChildGuard,
    pub(crate) base: String,
    http: reqwest::blocking::Client,
    /// The API token the agent uses (the one it made in its state directory).
    token: Option<String>,
}

impl Agent {
    pub(crate) fn start(config: &Path, port: u16) -> Self {
        Self::start_with(config, port, &[])
    }

    pub(crate) fn start_with(config: &Path, port: u16, args: &[&str]) -> Self {
        let log = std::fs::File::create(config.with_extension(format!("{port}.log"))).unwrap();
        let child = agent_command(config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let agent = Self {
            child: ChildGuard(child),
            base: format!("http://127.0.0.1:{port}"),
            // No pooled connections: the agent closes a connection after refusing an
            // oversized body, and a reused one would fail the next request.
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            token: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = agent.http.get(format!("{}/readyz", agent.base)).send()
                && response.status() == 200
            {
                let token = driftless_runtime::config::AgentConfig::load(config)
                    .ok()
                    .and_then(|c| c.client_token().ok());
                return Self { token, ..agent };
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not become ready: see {}",
                config.with_extension(format!("{port}.log")).display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.0.id()
    }

    pub(crate) fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().unwrap()
    }

    pub(crate) fn text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    pub(crate) fn post(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .body(body.to_owned());
        // API mutations carry the token and a JSON content type, as the CLI sends them.
        if path.starts_with("/api/")
            && let Some(token) = &self.token
        {
            request = request
                .bearer_auth(token)
                .header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    pub(crate) fn app(&self, name: &str) -> Value {
        self.get(&format!("/api/v1/apps/{name}"))
    }

    pub(crate) fn history(&self, name: &str) -> Vec<Value> {
        self.get(&format!("/api/v1/apps/{name}/history"))
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits until `name` has at least `count` syncs recorded; returns them.
    pub(crate) fn wait_syncs(&self, name: &str, count: usize) -> Vec<Value> {
        wait_for(
            &format!("{count} syncs of {name}"),
            Duration::from_secs(30),
            || {
                let history = self.history(name);
                (history.len() >= count).then_some(history)
            },
        )
    }

    /// The value of a metric line starting with `prefix`, if present.
    pub(crate) fn metric(&self, prefix: &str) -> Option<f64> {
        self.text("/metrics")
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    pub(crate) fn kill9(mut self) {
        self.child.0.kill().unwrap();
        self.child.0.wait().unwrap();
    }
}

/// Polls `check` every 50 ms until it returns a value, or panics naming `what`.
pub(crate) fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// HMAC-SHA256 of `body` under `secret`, hex, computed by `openssl` (an implementation
/// independent of the agent's).
pub(crate) fn hmac_hex(body: &str, secret: &str) -> String {
    driftless_testkit::require_program("openssl", "install it with `apt-get install openssl`");
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

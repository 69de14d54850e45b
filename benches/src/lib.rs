//! Shared helpers for the benchmarks in `benches/benches/`.
//!
//! Every benchmark measures driftless and the reference tool (git, kubectl, …) on the
//! same input in the same run, so the ratio is what matters, not the machine.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command to completion and returns how long it took; panics if it fails,
/// so a broken reference run never looks fast.
#[allow(clippy::missing_panics_doc)] // benchmarks fail loudly by design
pub fn time_command(command: &mut Command) -> Duration {
    let start = Instant::now();
    let output = command.output().expect("start the reference command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    start.elapsed()
}

/// Writes `content` at `path` below `root`, creating folders.
#[allow(clippy::missing_panics_doc, clippy::unwrap_used)]
pub fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Writes the Kustomize benchmark tree with `n` services below `root` (the tree of
/// `benches/kustomize.rs`); the overlay to build is `overlays/prod`.
#[allow(
    clippy::missing_panics_doc,
    clippy::too_many_lines,
    clippy::unwrap_used,
    clippy::format_push_string
)] // benchmark setup fails loudly
pub fn kustomize_tree(root: &Path, n: usize) {
    let mut base = String::from("resources:\n");
    for i in 0..n {
        let svc = format!("svc-{i:03}");
        writeln!(base, "- {svc}").unwrap();
        write(
            root,
            &format!("base/{svc}/kustomization.yaml"),
            &format!(
                "resources:\n- deployment.yaml\n- service.yaml\n- serviceaccount.yaml\n- hpa.yaml\nconfigMapGenerator:\n- name: {svc}-config\n  literals:\n  - SERVICE={svc}\n  - LOG_LEVEL=info\n  - PORT=8080\n"
            ),
        );
        write(
            root,
            &format!("base/{svc}/deployment.yaml"),
            &format!(
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {svc}
  labels:
    app: {svc}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {svc}
  template:
    metadata:
      labels:
        app: {svc}
    spec:
      serviceAccountName: {svc}
      containers:
      - name: app
        image: registry.example.com/shop/{svc}:1.0.{i}
        ports:
        - containerPort: 8080
          name: http
        envFrom:
        - configMapRef:
            name: {svc}-config
        resources:
          requests:
            cpu: 50m
            memory: 64Mi
"
            ),
        );
        write(
            root,
            &format!("base/{svc}/service.yaml"),
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\nspec:\n  selector:\n    app: {svc}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n"
            ),
        );
        write(
            root,
            &format!("base/{svc}/serviceaccount.yaml"),
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {svc}\n"),
        );
        write(
            root,
            &format!("base/{svc}/hpa.yaml"),
            &format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {svc}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {svc}\n  minReplicas: 1\n  maxReplicas: 4\n"
            ),
        );
    }
    write(root, "base/kustomization.yaml", &base);

    let mut prod = String::from(
        "resources:
- ../../base
namespace: shop-prod
namePrefix: prod-
labels:
- pairs:
    env: prod
  includeSelectors: true
commonAnnotations:
  owner: platform
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: app
            env:
            - name: ENVIRONMENT
              value: prod
            resources:
              limits:
                memory: 256Mi
images:
",
    );
    for i in 0..n {
        let svc = format!("svc-{i:03}");
        writeln!(
            prod,
            "- name: registry.example.com/shop/{svc}\n  newTag: 2.0.{i}"
        )
        .unwrap();
    }
    prod.push_str("replicas:\n");
    for i in 0..n {
        writeln!(prod, "- name: svc-{i:03}\n  count: {}", 2 + i % 3).unwrap();
    }
    prod.push_str("configMapGenerator:\n");
    for i in 0..n {
        writeln!(
            prod,
            "- name: svc-{i:03}-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL=warn"
        )
        .unwrap();
    }
    write(root, "overlays/prod/kustomization.yaml", &prod);
}

/// The `driftless-agent` binary of the profile this benchmark was built with (next to
/// its target directory), built first: always, so that a benchmark never measures an
/// agent older than the code (cargo does nothing when it is up to date).
#[allow(clippy::missing_panics_doc, clippy::unwrap_used)] // benchmark setup fails loudly
pub fn agent_binary() -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_agent).clone()
}

#[allow(clippy::unwrap_used)] // benchmark setup fails loudly
fn build_agent() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<bench>-<hash>
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The workspace's binaries with every feature: the build `scripts/test.sh` makes
    // before it runs the benchmarks, so that there it is up to date already.
    build.args(["build", "-q", "--workspace", "--all-features", "--bins"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "building driftless-agent failed");
    let binary = profile_dir.join("driftless-agent");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// A running `driftless-agent`, killed and reaped when dropped.
#[derive(Debug)]
pub struct AgentProcess {
    child: std::process::Child,
    port: u16,
}

impl AgentProcess {
    /// Starts the agent on `config` (which must listen on `127.0.0.1:port`) with
    /// `RUST_LOG=warn` and the given environment, its log in `log`; returns once the
    /// HTTP API accepts connections.
    #[allow(clippy::missing_panics_doc, clippy::unwrap_used)] // benchmark setup fails loudly
    pub fn start(config: &Path, port: u16, env: &[(&str, &std::ffi::OsStr)], log: &Path) -> Self {
        let mut command = Command::new(agent_binary());
        command
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        let child = command.spawn().unwrap();
        let mut agent = Self { child, port };
        agent.wait_for_port(log);
        agent
    }

    /// Waits until the agent listens; fails with its log when it exits or never does.
    fn wait_for_port(&mut self, log: &Path) {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = self.child.try_wait().ok().flatten();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the agent does not listen on {addr} ({}); its log:\n{}",
                exited.map_or_else(|| "after 60 s".to_owned(), |s| s.to_string()),
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The statuses of every app (`GET /api/v1/apps`).
    #[allow(clippy::missing_panics_doc)] // benchmark fails loudly
    pub fn statuses(&self) -> Vec<serde_json::Value> {
        let body = http_request(self.port, "GET", "/api/v1/apps", &[], "");
        serde_json::from_str(&body).expect("the agent's app list is JSON")
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmRSS:")
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to `127.0.0.1:port`; returns the body (chunked or not).
#[allow(clippy::missing_panics_doc, clippy::unwrap_used)] // benchmark fails loudly
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        writeln!(request, "{name}: {value}\r").unwrap();
    }
    write!(
        request,
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let (head, rest) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// A field of `/proc/<pid>/status` in KiB (e.g. `VmHWM:`); 0 when unreadable.
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// KiB in MiB, for printing.
#[allow(clippy::cast_precision_loss)] // memory sizes are far below 2^52 KiB
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Polls `done` every 100 ms until it holds; panics after `timeout` with `what`.
#[allow(clippy::missing_panics_doc)] // benchmark fails loudly
pub fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

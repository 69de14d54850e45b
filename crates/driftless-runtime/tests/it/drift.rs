//! Drift noticed by watching and corrected at once, with a 1 h interval that never
//! fires during a test: hand edits of a directory target; patches, label changes and
//! deletions on the real API server; a watch that outlives an API server restart; and
//! no reconcile started by our own writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless::render::AutoRenderer;
use driftless::target_kube::{KubeOptions, KubeTarget};
use driftless::{LocalSource, Pipeline};
use driftless_runtime::history::History;
use driftless_runtime::{Agent, AgentBuilder, AppOptions};
use driftless_testkit::kube::{TestNamespace, kubectl_command};
use tokio_util::sync::CancellationToken;

use crate::support::{CM, Dirs, live_cm};

const HOUR: Duration = Duration::from_secs(3600);

/// A running agent; cancelled (its loops and watches stopped) when dropped.
struct Running {
    agent: Arc<Agent>,
    stop: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Running {
    /// Runs one app with a 1 h interval (its history in `state`) and waits for its
    /// first reconcile.
    async fn start(pipeline: Pipeline, state: &Path) -> Self {
        let stop = CancellationToken::new();
        let agent = AgentBuilder::new()
            .app("web", pipeline, AppOptions::default().interval(HOUR))
            .history(History::open(state).unwrap())
            .shutdown(stop.clone())
            .build()
            .unwrap();
        let agent = Arc::new(agent);
        tokio::spawn(Arc::clone(&agent).run());
        let running = Self { agent, stop };
        running.wait_for_syncs(1).await;
        running
    }

    /// How many reconciles the app has finished (the history folds consecutive no-op
    /// passes into one record that counts them).
    fn syncs(&self) -> u64 {
        let status = self.agent.status("web").unwrap();
        status.last_sync.map_or(0, |s| s.id + s.count - 1)
    }

    async fn wait_for_syncs(&self, at_least: u64) {
        wait_for(Duration::from_secs(60), || self.syncs() >= at_least).await;
    }
}

/// Polls `done` every 20 ms until it holds; panics after `timeout`. Returns how long it
/// took.
async fn wait_for(timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "not done within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn a_hand_edit_of_a_directory_target_is_undone_at_once() {
    let dirs = Dirs::new();
    let running = Running::start(dirs.app("web"), &dirs.path("state")).await;
    let file = live_cm(&dirs.path("live/web"));
    let applied = std::fs::read_to_string(&file).unwrap();

    std::fs::write(&file, applied.replace("mode: fast", "mode: edited")).unwrap();
    wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&file).is_ok_and(|t| t == applied)
    })
    .await;

    std::fs::remove_file(&file).unwrap();
    wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&file).is_ok_and(|t| t == applied)
    })
    .await;
    // Startup, the edit, the deletion; our own writes started nothing.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(running.syncs(), 3);
}

/// A pipeline from a local folder holding `CM` to the namespace `ns` of the server of
/// `kubeconfig`.
async fn kube_app(dirs: &Dirs, ns: &str, kubeconfig: &Path) -> Pipeline {
    let src = dirs.path("src/web");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("cm.yaml"),
        CM.replace("namespace: web", &format!("namespace: {ns}")),
    )
    .unwrap();
    let options = KubeOptions::default()
        .kubeconfig(kubeconfig)
        .namespace(ns)
        .applyset(format!("web-{ns}"))
        .applyset_namespace(ns);
    let target = KubeTarget::from_kubeconfig(options).await.unwrap();
    Pipeline::new(LocalSource::new(&src), AutoRenderer::default(), target)
}

fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let output = kubectl_command()
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn field(kubeconfig: &Path, ns: &str, path: &str) -> Option<String> {
    let output = kubectl_command()
        .env("KUBECONFIG", kubeconfig)
        .args(["-n", ns, "get", "configmap", "settings", "-o"])
        .arg(format!("jsonpath={path}"))
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

const MODE: &str = "{.data.mode}";
const PART_OF: &str = "{.metadata.labels.applyset\\.kubernetes\\.io/part-of}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_drift_by_patch_label_and_delete_is_corrected_without_the_interval() {
    let ns = TestNamespace::new("drift");
    let kubeconfig = driftless_testkit::kube::kubeconfig();
    let dirs = Dirs::new();
    let running = Running::start(
        kube_app(&dirs, ns.name(), &kubeconfig).await,
        &dirs.path("state"),
    )
    .await;
    let k = |args: &[&str]| kubectl(&kubeconfig, args);
    let field = |path: &str| field(&kubeconfig, ns.name(), path);
    let member = field(PART_OF).unwrap();
    assert!(!member.is_empty());

    k(&[
        "-n",
        ns.name(),
        "patch",
        "configmap",
        "settings",
        "-p",
        r#"{"data":{"mode":"slow"}}"#,
    ]);
    wait_for(Duration::from_secs(10), || {
        field(MODE).as_deref() == Some("fast")
    })
    .await;

    k(&["-n", ns.name(), "label", "configmap", "settings", "extra=1"]);
    wait_for(Duration::from_secs(10), || {
        field("{.metadata.labels.extra}").as_deref() == Some("")
    })
    .await;

    // Out of the set: the watch sees it leave the selection.
    k(&[
        "-n",
        ns.name(),
        "label",
        "configmap",
        "settings",
        "applyset.kubernetes.io/part-of-",
    ]);
    wait_for(Duration::from_secs(10), || {
        field(PART_OF) == Some(member.clone())
    })
    .await;

    k(&["-n", ns.name(), "delete", "configmap", "settings"]);
    wait_for(Duration::from_secs(10), || {
        field(MODE).as_deref() == Some("fast")
    })
    .await;
    // Each change was one reconcile (the startup one first).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(running.syncs(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_writes_start_no_reconcile() {
    let ns = TestNamespace::new("drift-quiet");
    let kubeconfig = driftless_testkit::kube::kubeconfig();
    let dirs = Dirs::new();
    let running = Running::start(
        kube_app(&dirs, ns.name(), &kubeconfig).await,
        &dirs.path("state"),
    )
    .await;
    // A correction writes twice (kubectl's fields taken over, then the apply): neither
    // may come back as drift. Quiet for 10 s after it (with a 1 h interval, any further
    // reconcile would be a loop).
    kubectl(
        &kubeconfig,
        &[
            "-n",
            ns.name(),
            "patch",
            "configmap",
            "settings",
            "-p",
            r#"{"data":{"mode":"slow"}}"#,
        ],
    );
    running.wait_for_syncs(2).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(running.syncs(), 2);
    assert_eq!(field(&kubeconfig, ns.name(), MODE).as_deref(), Some("fast"));
}

/// A test API server of its own (this test restarts it), stopped when dropped.
struct OwnServer {
    kubeconfig: PathBuf,
    restarted: Option<Child>,
}

impl OwnServer {
    fn start() -> Self {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kube-testserver/start.sh");
        let output = Command::new("bash")
            .arg(script)
            .env("KTS_CONTROLLERS", "")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "start.sh: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let kubeconfig = PathBuf::from(String::from_utf8(output.stdout).unwrap().trim());
        Self {
            kubeconfig,
            restarted: None,
        }
    }

    fn dir(&self) -> PathBuf {
        self.kubeconfig.parent().unwrap().to_owned()
    }

    /// Stops kube-apiserver and starts it again with the same command line (same port,
    /// same etcd), waiting until it is ready.
    fn restart_apiserver(&mut self) {
        let pid_file = self.dir().join("apiserver.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_owned();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let mut args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let program = args.remove(0);
        // Killed, as a crash or a node loss would: the watch sees its connection drop.
        assert!(
            Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap()
                .success()
        );
        let gone = Instant::now();
        while running(&pid) {
            assert!(
                gone.elapsed() < Duration::from_secs(30),
                "kube-apiserver did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = std::fs::File::create(self.dir().join("apiserver-restarted.log")).unwrap();
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(program)
                .args(&args)
                .stdout(log.try_clone().unwrap())
                .stderr(log),
            0,
        )
        .spawn()
        .unwrap();
        // stop.sh stops what the pid file names.
        std::fs::write(&pid_file, child.id().to_string()).unwrap();
        self.restarted = Some(child);
        let ready = Instant::now();
        loop {
            let up = kubectl_command()
                .env("KUBECONFIG", &self.kubeconfig)
                .args(["get", "--raw", "/readyz"])
                .output()
                .is_ok_and(|o| o.status.success());
            if up {
                break;
            }
            assert!(
                ready.elapsed() < Duration::from_secs(90),
                "kube-apiserver not ready again"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Whether the process `pid` runs (a zombie left for a parent that does not reap it
/// runs no more).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit(')').next().unwrap_or("").trim_start();
        !state.starts_with('Z') && !state.starts_with('X')
    })
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kube-testserver/stop.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg(&self.kubeconfig)
            .status();
        if let Some(mut child) = self.restarted.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_resumes_after_an_api_server_restart() {
    let mut server = OwnServer::start();
    let kubeconfig = server.kubeconfig.clone();
    kubectl(&kubeconfig, &["create", "namespace", "drift-restart"]);
    let dirs = Dirs::new();
    let running = Running::start(
        kube_app(&dirs, "drift-restart", &kubeconfig).await,
        &dirs.path("state"),
    )
    .await;
    let patch = |mode: String| {
        kubectl(
            &kubeconfig,
            &[
                "-n",
                "drift-restart",
                "patch",
                "configmap",
                "settings",
                "-p",
                &format!(r#"{{"data":{{"mode":"{mode}"}}}}"#),
            ],
        )
    };
    patch("before".into());
    wait_for(Duration::from_secs(10), || {
        field(&kubeconfig, "drift-restart", MODE).as_deref() == Some("fast")
    })
    .await;

    tokio::task::block_in_place(|| server.restart_apiserver());
    patch("after".into());
    // The watch waits at most 10 s between attempts while the server is away.
    wait_for(Duration::from_secs(30), || {
        field(&kubeconfig, "drift-restart", MODE).as_deref() == Some("fast")
    })
    .await;
    // The sync is recorded just after the object is corrected; then nothing more runs.
    running.wait_for_syncs(3).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(running.syncs(), 3);
    drop(running);
}

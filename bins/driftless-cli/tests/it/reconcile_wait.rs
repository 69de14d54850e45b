//! `driftless reconcile APP --wait --timeout D` against an agent run in this process
//! (the `driftless-runtime` library, as embedders run it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use driftless::core::{
    ApplyOptions, ApplyReport, Health, HealthReport, LiveState, ObjectId, ObjectSet, Plan, Target,
    TargetError, async_trait,
};
use driftless::render::AutoRenderer;
use driftless::target_dir::DirTarget;
use driftless::{LocalSource, Pipeline, PipelineOptions};
use driftless_runtime::{AgentBuilder, AppOptions, server};
use tokio_util::sync::CancellationToken;

use crate::{driftless, stderr, stdout};

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: web\ndata:\n  mode: fast\n";

/// A directory target whose objects become healthy only when `healthy` is set.
struct Gated {
    dir: DirTarget,
    healthy: Arc<AtomicBool>,
}

#[async_trait]
impl Target for Gated {
    fn describe(&self) -> String {
        self.dir.describe()
    }

    async fn live(&self, desired: &ObjectSet) -> Result<LiveState, TargetError> {
        self.dir.live(desired).await
    }

    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, TargetError> {
        self.dir.apply(plan, options).await
    }

    async fn health(&self, ids: &[ObjectId]) -> Result<HealthReport, TargetError> {
        let health = if self.healthy.load(Ordering::Relaxed) {
            Health::Healthy
        } else {
            Health::Progressing("rolling out".into())
        };
        Ok(ids.iter().map(|id| (id.clone(), health.clone())).collect())
    }
}

/// The agent's API token.
const TOKEN: &str = "reconcile-wait-token";

/// An agent with app `web` (a local directory), served on 127.0.0.1; stops when dropped.
struct InProcessAgent {
    address: String,
    shutdown: CancellationToken,
    runtime: Option<tokio::runtime::Runtime>,
}

impl InProcessAgent {
    fn start(src: &std::path::Path, live: &std::path::Path, healthy: Arc<AtomicBool>) -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let shutdown = CancellationToken::new();
        let target = Gated {
            dir: DirTarget::new(live).unwrap(),
            healthy,
        };
        let pipeline = Pipeline::new(LocalSource::new(src), AutoRenderer::default(), target)
            .with_options(
                PipelineOptions::default().health_timeout(Some(Duration::from_secs(600))),
            );
        let agent = Arc::new(
            AgentBuilder::new()
                .app(
                    "web",
                    pipeline,
                    AppOptions::default().interval(Duration::from_secs(3600)),
                )
                .api_auth(driftless_runtime::auth::ApiAuth::new().token(TOKEN))
                .shutdown(shutdown.clone())
                .build()
                .unwrap(),
        );
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(server::serve_on(Arc::clone(&agent), listener));
        runtime.spawn(agent.run());
        Self {
            address,
            shutdown,
            runtime: Some(runtime),
        }
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

#[test]
fn reconcile_wait_reports_the_result_of_the_reconcile_it_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("cm.yaml"), CM).unwrap();
    let healthy = Arc::new(AtomicBool::new(true));
    let agent = InProcessAgent::start(&src, &dir.path().join("live"), Arc::clone(&healthy));
    let d = dir.path();
    let token_file = d.join("api-token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let token_file = token_file.display().to_string();
    let wait = |timeout: &str| {
        driftless(
            d,
            &[
                "reconcile",
                "web",
                "--wait",
                "--timeout",
                timeout,
                "--agent",
                &agent.address,
                "--token-file",
                &token_file,
            ],
        )
    };

    // The change made just before asking is what the answer reports.
    std::fs::write(src.join("cm.yaml"), CM.replace("fast", "slow")).unwrap();
    let out = wait("30s");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("web: sha256:"), "{}", stdout(&out));
    let live = std::fs::read_to_string(d.join("live/web/core_ConfigMap/settings.yaml")).unwrap();
    assert!(live.contains("mode: slow"), "{live}");

    // A failed reconcile: exit 1 with the error.
    std::fs::write(src.join("cm.yaml"), "kind: [").unwrap();
    let out = wait("30s");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("web: failed: rendering"),
        "{}",
        stdout(&out)
    );

    // Not done in time: non-zero, saying so.
    std::fs::write(src.join("cm.yaml"), CM).unwrap();
    healthy.store(false, Ordering::Relaxed);
    let out = wait("1s");
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("did not end within 1s"),
        "{}",
        stderr(&out)
    );
}

//! Waiting for health: `Progressing` while waiting, and a newer revision cancels the
//! wait instead of stalling behind it.

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
use driftless_runtime::{AgentBuilder, AppOptions};
use tokio_util::sync::CancellationToken;

use crate::support::{CM, Dirs, live_cm, wait_until};

/// A directory whose objects are healthy only once `healthy` is set, like a Deployment
/// that takes its time.
struct SlowToBecomeHealthy {
    dir: DirTarget,
    healthy: Arc<AtomicBool>,
}

#[async_trait]
impl Target for SlowToBecomeHealthy {
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

#[tokio::test]
async fn a_newer_revision_cancels_a_health_wait_in_progress() {
    let dirs = Dirs::new();
    let src = dirs.path("src/web");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("cm.yaml"), CM).unwrap();
    let live = dirs.path("live/web");
    let healthy = Arc::new(AtomicBool::new(false));
    let target = SlowToBecomeHealthy {
        dir: DirTarget::new(&live).unwrap(),
        healthy: Arc::clone(&healthy),
    };
    let pipeline = Pipeline::new(LocalSource::new(&src), AutoRenderer::default(), target)
        .with_options(PipelineOptions::default().health_timeout(Some(Duration::from_secs(600))));
    let shutdown = CancellationToken::new();
    let agent = Arc::new(
        AgentBuilder::new()
            .app(
                "web",
                pipeline,
                AppOptions::default().interval(Duration::from_millis(200)),
            )
            .shutdown(shutdown.clone())
            .build()
            .unwrap(),
    );
    let loops = tokio::spawn(Arc::clone(&agent).run());
    wait_until("the app to wait for health", || {
        let status = agent.status("web").unwrap();
        status.reconciling
            && status
                .ready_condition()
                .is_some_and(|c| c.reason == "Progressing" && c.status == "Unknown")
    })
    .await;
    assert!(
        std::fs::read_to_string(live_cm(&live))
            .unwrap()
            .contains("mode: fast")
    );

    // A new revision while the first one waits (for up to 10 minutes): it is applied
    // within moments, not after the wait.
    std::fs::write(src.join("cm.yaml"), CM.replace("fast", "slow")).unwrap();
    wait_until("the newer revision to be applied", || {
        std::fs::read_to_string(live_cm(&live)).is_ok_and(|t| t.contains("mode: slow"))
    })
    .await;
    healthy.store(true, Ordering::Relaxed);
    wait_until("the app to be ready", || agent.status("web").unwrap().ready).await;
    shutdown.cancel();
    loops.await.unwrap();
}

#[tokio::test]
async fn shutdown_cancels_a_health_wait_at_once() {
    let dirs = Dirs::new();
    let src = dirs.path("src/web");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("cm.yaml"), CM).unwrap();
    let target = SlowToBecomeHealthy {
        dir: DirTarget::new(dirs.path("live/web")).unwrap(),
        healthy: Arc::new(AtomicBool::new(false)),
    };
    let pipeline = Pipeline::new(LocalSource::new(&src), AutoRenderer::default(), target)
        .with_options(PipelineOptions::default().health_timeout(Some(Duration::from_secs(600))));
    let shutdown = CancellationToken::new();
    let agent = Arc::new(
        AgentBuilder::new()
            .app("web", pipeline, AppOptions::default())
            .shutdown(shutdown.clone())
            .build()
            .unwrap(),
    );
    let loops = tokio::spawn(Arc::clone(&agent).run());
    wait_until("the app to wait for health", || {
        agent
            .status("web")
            .unwrap()
            .ready_condition()
            .is_some_and(|c| c.reason == "Progressing")
    })
    .await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), loops)
        .await
        .expect("the loops stop within seconds")
        .unwrap();
}

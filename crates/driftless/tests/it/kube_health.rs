//! The pipeline owns the health deadline: on the test API server (which runs no
//! controllers, so a Deployment never becomes available) a 5 s `health_timeout` fails
//! after about 5 s, naming the object and what it waits for.

use std::time::{Duration, Instant};

use driftless::render::AutoRenderer;
use driftless::target_kube::{KubeOptions, KubeTarget};
use driftless::{Error, LocalSource, Pipeline, PipelineOptions};
use driftless_testkit::kube::{TestNamespace, kubeconfig};

#[tokio::test]
async fn a_health_timeout_of_5s_fails_after_5s_with_the_reason() {
    let ns = TestNamespace::new("health-deadline");
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n",
    )
    .unwrap();
    let target = KubeTarget::from_kubeconfig(
        KubeOptions::default()
            .kubeconfig(kubeconfig())
            .namespace(ns.name())
            .applyset("web"),
    )
    .await
    .unwrap();
    let pipeline = Pipeline::new(
        LocalSource::new(repo.path()),
        AutoRenderer::default(),
        target,
    )
    .with_options(PipelineOptions::default().health_timeout(Some(Duration::from_secs(5))));
    let started = Instant::now();
    let err = pipeline.reconcile().await.unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(9),
        "took {took:?}"
    );
    let Error::HealthTimeout { timeout, waiting } = &err else {
        panic!("expected a health timeout, got {err}");
    };
    assert_eq!(*timeout, Duration::from_secs(5));
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].0.name(), "web");
    let message = err.to_string();
    assert!(
        message.starts_with("not healthy after 5s: apps/Deployment/")
            && message.contains("generation"),
        "{message}"
    );
}

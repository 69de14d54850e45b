//! Health: rollouts, Jobs, PVCs and Ready conditions, driven by patching `status`
//! through the status subresource (the test server runs no workload controllers).

use std::time::Duration;

use driftless_core::{ApplyOptions, Health, ObjectId, Target};
use driftless_testkit::kube::TestNamespace;
use serde_json::json;

use crate::support::{config_map, objects, reconcile, target};

#[tokio::test]
async fn health_follows_status() {
    let ns = TestNamespace::new("health");
    let target = target(&ns, "health").await;
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}},
        },
    });
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "busybox"}]}}},
    });
    let pvc = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    });
    let (plan, _) = reconcile(
        &target,
        objects([deployment, job, pvc, config_map("plain", json!({}))]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    let mut ids: Vec<ObjectId> = plan.changes.iter().map(|c| c.id.clone()).collect();
    ids.push(ObjectId::new("", "ConfigMap", Some(ns.name()), "missing"));

    let report = target.health(&ids).await.unwrap();
    let n = ns.name();
    let at = |s: &str| report[&s.parse::<ObjectId>().unwrap()].clone();
    assert!(matches!(
        at(&format!("apps/Deployment/{n}/web")),
        Health::Progressing(_)
    ));
    assert!(matches!(
        at(&format!("batch/Job/{n}/once")),
        Health::Progressing(_)
    ));
    assert!(matches!(
        at(&format!("/PersistentVolumeClaim/{n}/data")),
        Health::Progressing(_)
    ));
    assert_eq!(at(&format!("/ConfigMap/{n}/plain")), Health::Healthy);
    assert_eq!(
        at(&format!("/ConfigMap/{n}/missing")),
        Health::Degraded("not found".into())
    );

    // The rollout finishes, the job completes, the claim binds.
    ns.kubectl(&["patch", "deployment", "web", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2}}"#]);
    ns.kubectl(&["patch", "job", "once", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"succeeded":1,"conditions":[{"type":"Complete","status":"True","lastProbeTime":"2024-01-01T00:00:00Z","lastTransitionTime":"2024-01-01T00:00:00Z"}]}}"#]);
    ns.kubectl(&[
        "patch",
        "pvc",
        "data",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Bound"}}"#,
    ]);

    let report = target.health(&ids[..3]).await.unwrap();
    assert!(
        report.values().all(|h| *h == Health::Healthy),
        "{report:#?}"
    );
}

#[tokio::test]
async fn health_looks_once_and_leaves_the_deadline_to_the_caller() {
    let ns = TestNamespace::new("health-once");
    let target = target(&ns, "once").await;
    let pvc = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "later"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    });
    reconcile(&target, objects([pvc]), ApplyOptions::default())
        .await
        .unwrap();
    let id = ObjectId::new("", "PersistentVolumeClaim", Some(ns.name()), "later");
    let started = std::time::Instant::now();
    let report = target.health(std::slice::from_ref(&id)).await.unwrap();
    assert!(
        matches!(&report[&id], Health::Progressing(m) if m.contains("Pending")),
        "{report:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    ns.kubectl(&[
        "patch",
        "pvc",
        "later",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Bound"}}"#,
    ]);
    let report = target.health(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(report[&id], Health::Healthy);
}

//! Immutable fields: reported naming object and field; recreated with --force or the
//! `driftless.dev/force: enabled` annotation.

use driftless_core::ApplyOptions;
use driftless_target_kube::Error;
use driftless_testkit::kube::TestNamespace;
use serde_json::{Value, json};

use crate::support::{get, objects, reconcile, target};

fn job(image: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": image}],
        }}},
    })
}

#[tokio::test]
async fn job_template_change_is_reported_then_recreated_with_force() {
    let ns = TestNamespace::new("immutable-job");
    let target = target(&ns, "jobs").await;
    reconcile(
        &target,
        objects([job("busybox:1")]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    let uid = get(&ns, "job", "migrate").unwrap()["metadata"]["uid"].clone();

    let err = reconcile(
        &target,
        objects([job("busybox:2")]),
        ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("batch/Job/{}/migrate", ns.name())),
        "{msg}"
    );
    assert!(msg.contains("spec.template"), "{msg}");
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::Immutable { field, .. }) if field == "spec.template")
    );

    // A dry run with --force says it would update, and changes nothing.
    reconcile(
        &target,
        objects([job("busybox:2")]),
        ApplyOptions::default().force(true).dry_run(true),
    )
    .await
    .unwrap();
    assert_eq!(get(&ns, "job", "migrate").unwrap()["metadata"]["uid"], uid);

    let (_, report) = reconcile(
        &target,
        objects([job("busybox:2")]),
        ApplyOptions::default().force(true),
    )
    .await
    .unwrap();
    assert_eq!(report.updated.len(), 1);
    let live = get(&ns, "job", "migrate").unwrap();
    assert_ne!(live["metadata"]["uid"], uid, "recreated");
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:2"
    );
}

#[tokio::test]
async fn service_cluster_ip_change_is_recreated_when_annotated() {
    let ns = TestNamespace::new("immutable-svc");
    let target = target(&ns, "svc").await;
    let service = |ip: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "annotations": {"driftless.dev/force": "enabled"}},
            "spec": {"clusterIP": ip, "ports": [{"port": 5432, "protocol": "TCP"}]},
        })
    };
    // Two addresses of the test server's range (10.0.0.0/16), drawn at random so that
    // Services other tests create at the same time are very unlikely to hold them.
    let random = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let third = 10 + random % 200;
    let fourth = 1 + (random >> 8) % 250;
    let (first, second) = (
        format!("10.0.{third}.{fourth}"),
        format!("10.0.{}.{fourth}", third + 1),
    );
    reconcile(&target, objects([service(&first)]), ApplyOptions::default())
        .await
        .unwrap();
    let (_, report) = reconcile(
        &target,
        objects([service(&second)]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.updated.len(), 1);
    assert_eq!(
        get(&ns, "service", "db").unwrap()["spec"]["clusterIP"],
        json!(second)
    );
}

//! The whole loop with the real differ: live → plan (driftless-diff) → apply.

use driftless_core::{ApplyOptions, ApplyReport, ObjectSet, Target};
use driftless_diff::{DiffOptions, plan};
use driftless_target_dir::DirTarget;
use serde_json::json;

use crate::common::{listing, obj, read_object, set};

async fn reconcile(target: &DirTarget, desired: &ObjectSet) -> ApplyReport {
    let live = target.live(desired).await.unwrap();
    let plan = plan(desired, &live, &DiffOptions::default());
    target
        .apply(&plan, &ApplyOptions::default().prune(true))
        .await
        .unwrap()
}

fn deployment(replicas: u32, extra: Option<(&str, &str)>) -> driftless_core::Object {
    let mut labels = json!({"app": "api"});
    if let Some((key, value)) = extra {
        labels[key] = json!(value);
    }
    obj(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "web", "labels": labels},
        "spec": {"replicas": replicas},
    }))
}

#[tokio::test]
async fn drift_is_put_back_and_live_only_fields_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let desired = set([deployment(3, Some(("tier", "backend")))]);
    let id = desired.ids().next().unwrap().clone();
    let path = target.object_path(&id).unwrap();
    assert_eq!(
        reconcile(&target, &desired).await.created,
        std::slice::from_ref(&id)
    );

    // Nothing changed: nothing written.
    let before = listing(dir.path());
    assert_eq!(
        reconcile(&target, &desired).await.unchanged,
        std::slice::from_ref(&id)
    );
    assert_eq!(listing(dir.path()), before);

    // A field we set, edited by hand, is drift and put back.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("replicas: 3", "replicas: 1")).unwrap();
    assert_eq!(
        reconcile(&target, &desired).await.updated,
        std::slice::from_ref(&id)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // A field only the live file has (a status, another tool's annotation) is not.
    let edited = format!("{text}status:\n  readyReplicas: 3\n");
    std::fs::write(&path, &edited).unwrap();
    assert_eq!(
        reconcile(&target, &desired).await.unchanged,
        std::slice::from_ref(&id)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);

    // A field we applied before and no longer desire is removed.
    let without_tier = set([deployment(3, None)]);
    assert_eq!(
        reconcile(&target, &without_tier).await.updated,
        std::slice::from_ref(&id)
    );
    assert_eq!(read_object(&path), deployment(3, None));
}

#[tokio::test]
async fn objects_no_longer_desired_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = crate::common::cm(Some("web"), "a", "1");
    let b = crate::common::cm(None, "b", "1");
    reconcile(&target, &set([a.clone(), b.clone()])).await;
    let report = reconcile(&target, &set([a.clone()])).await;
    assert_eq!(report.unchanged, [a.id()]);
    assert_eq!(report.pruned, [b.id()]);
    assert_eq!(
        crate::common::files(dir.path()),
        ["web/core_ConfigMap/a.yaml"]
    );
}

//! A dry run goes through the server (`dryRun=All`) and persists nothing.

use driftless_core::ApplyOptions;
use driftless_testkit::kube::TestNamespace;
use serde_json::json;

use crate::support::{config_map, get, objects, reconcile, target};

#[tokio::test]
async fn dry_run_persists_nothing() {
    let ns = TestNamespace::new("dry-run");
    let target = target(&ns, "dry").await;
    let (_, report) = reconcile(
        &target,
        objects([config_map("a", json!({"k": "v"}))]),
        ApplyOptions::default().dry_run(true),
    )
    .await
    .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.created.len(), 1);
    assert!(get(&ns, "configmap", "a").is_none());
    assert!(get(&ns, "secret", "applyset-dry").is_none());

    reconcile(
        &target,
        objects([
            config_map("a", json!({"k": "v"})),
            config_map("b", json!({})),
        ]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    let before = get(&ns, "configmap", "a").unwrap();
    let (_, report) = reconcile(
        &target,
        objects([config_map("a", json!({"k": "changed"}))]),
        ApplyOptions::default().dry_run(true).prune(true),
    )
    .await
    .unwrap();
    assert_eq!(report.updated.len(), 1);
    assert_eq!(report.pruned.len(), 1);
    assert_eq!(get(&ns, "configmap", "a").unwrap(), before);
    assert!(get(&ns, "configmap", "b").is_some());

    // A server-side rejection shows up in a dry run too.
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}});
    let err = reconcile(
        &target,
        objects([bad]),
        ApplyOptions::default().dry_run(true),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Bad_Name"), "{err}");
}

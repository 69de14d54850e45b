//! Prune deletes previous members only: never foreign objects, never objects annotated
//! `driftless.dev/prune: disabled`.

use driftless_core::ApplyOptions;
use driftless_testkit::kube::TestNamespace;
use serde_json::json;

use crate::support::{config_map, get, ids, objects, reconcile, target};

#[tokio::test]
async fn prune_spares_foreign_and_disabled_objects() {
    let ns = TestNamespace::new("prune");
    let other = TestNamespace::new("prune-other");
    let target = target(&ns, "prune").await;
    let mut keep = config_map("keep", json!({}));
    keep["metadata"]["annotations"] = json!({"driftless.dev/prune": "disabled"});
    let mut elsewhere = config_map("elsewhere", json!({}));
    elsewhere["metadata"]["namespace"] = json!(other.name());
    reconcile(
        &target,
        objects([
            config_map("stay", json!({})),
            config_map("old", json!({})),
            keep,
            elsewhere,
        ]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    let parent = get(&ns, "secret", "applyset-prune").unwrap();
    assert_eq!(
        parent["metadata"]["annotations"]["applyset.kubernetes.io/additional-namespaces"],
        json!(other.name())
    );
    // Objects we never applied, one with a name we used to use elsewhere.
    ns.kubectl(&["create", "configmap", "foreign", "--from-literal=a=b"]);
    other.kubectl(&["create", "configmap", "old", "--from-literal=a=b"]);

    // Without --prune nothing is deleted.
    let (plan, report) = reconcile(
        &target,
        objects([config_map("stay", json!({}))]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(plan.summary().prune, 3, "{plan:#?}");
    assert!(report.pruned.is_empty());
    assert!(get(&ns, "configmap", "old").is_some());

    let (_, report) = reconcile(
        &target,
        objects([config_map("stay", json!({}))]),
        ApplyOptions::default().prune(true),
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&report.pruned),
        [
            format!("/ConfigMap/{}/old", ns.name()),
            format!("/ConfigMap/{}/elsewhere", other.name()),
        ]
    );
    assert_eq!(
        ids(&report.prune_skipped),
        [format!("/ConfigMap/{}/keep", ns.name())]
    );
    assert!(get(&ns, "configmap", "old").is_none());
    assert!(get(&other, "configmap", "elsewhere").is_none());
    assert!(get(&ns, "configmap", "keep").is_some());
    assert!(get(&ns, "configmap", "foreign").is_some());
    assert!(get(&other, "configmap", "old").is_some());
    assert!(get(&ns, "configmap", "stay").is_some());

    // The parent no longer names the other namespace.
    let parent = get(&ns, "secret", "applyset-prune").unwrap();
    assert!(
        parent["metadata"]["annotations"]
            .get("applyset.kubernetes.io/additional-namespaces")
            .is_none(),
        "{parent:#}"
    );
}

//! A CustomResourceDefinition and its objects in one pass; unknown kinds.

use std::time::{Duration, Instant};

use driftless_core::{ApplyOptions, ObjectSet, Target};
use driftless_testkit::kube::{TestNamespace, kubectl, unique_name};
use serde_json::json;

use crate::support::{get, ids, objects, reconcile, target};

#[tokio::test]
async fn crd_and_custom_resources_apply_in_one_pass() {
    let ns = TestNamespace::new("crd");
    let group = format!("{}.example.com", unique_name("g", "crd"));
    let crd_name = format!("widgets.{group}");
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"size": {"type": "integer", "minimum": 1}}}
                }}}
            }]
        }
    });
    let widget = json!({
        "apiVersion": format!("{group}/v1"),
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    });
    // The custom resource comes first in the repository; the CRD still goes first.
    let desired = || objects([widget.clone(), crd.clone()]);
    let target = target(&ns, "crd").await;

    let prepared = target.prepare(desired()).await.unwrap();
    let w = prepared.iter().find(|o| o.kind() == "Widget").unwrap();
    assert_eq!(
        w.namespace(),
        Some(ns.name()),
        "scope comes from the CRD being applied"
    );

    let (_, report) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        ids(&report.created),
        [
            format!("apiextensions.k8s.io/CustomResourceDefinition//{crd_name}"),
            format!("{group}/Widget/{}/w1", ns.name()),
        ]
    );
    let live = get(&ns, &format!("widgets.{group}"), "w1").expect("the widget exists");
    assert_eq!(live["spec"]["size"], 3);

    let (plan, _) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{plan:#?}");

    // Pruning everything deletes the widget, then its CRD.
    let (_, report) = reconcile(
        &target,
        ObjectSet::new(),
        ApplyOptions::default().prune(true),
    )
    .await
    .unwrap();
    assert_eq!(report.pruned.len(), 2, "{report:?}");
    assert_eq!(
        report.pruned[0].kind(),
        "Widget",
        "objects before their CRD"
    );
    // The server removes a deleted CRD once its custom resources are cleaned up, a
    // moment later (its `customresourcecleanup` finalizer).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let crds = kubectl(&["get", "crd", "-o", "name"]);
        if !crds.contains(&crd_name) {
            break;
        }
        assert!(Instant::now() < deadline, "still there after 30 s: {crds}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_unknown_kind_is_an_error_naming_it() {
    let ns = TestNamespace::new("unknown-kind");
    let target = target(&ns, "unknown").await;
    let desired = objects([json!({
        "apiVersion": "gadgets.example.invalid/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
    })]);
    let err = target.prepare(desired).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("Gadget") && msg.contains("gadgets.example.invalid/v1"),
        "{msg}"
    );
    let err = err
        .downcast_ref::<driftless_target_kube::Error>()
        .expect("the target's own error");
    assert!(matches!(
        err,
        driftless_target_kube::Error::UnknownKind { .. }
    ));
}

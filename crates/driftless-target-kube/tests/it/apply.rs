//! Applying, the no-op reconcile, drift correction and the ApplySet as kubectl sees it.

use driftless_core::{Action, ApplyOptions, Target};
use driftless_testkit::kube::{TestNamespace, kubectl_command};
use serde_json::json;

use crate::support::{config_map, get, ids, names, objects, reconcile, target};

fn service(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
    })
}

#[tokio::test]
async fn creates_then_a_no_op_reconcile_writes_nothing() {
    let ns = TestNamespace::new("noop");
    let desired = || {
        objects([
            config_map("a", json!({"k": "1"})),
            config_map("b", json!({"k": "2"})),
            service("web"),
        ])
    };
    let target = target(&ns, "noop").await;
    let (_, report) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    let n = ns.name();
    assert_eq!(
        ids(&report.created),
        [
            format!("/ConfigMap/{n}/a"),
            format!("/ConfigMap/{n}/b"),
            format!("/Service/{n}/web")
        ]
    );
    let versions = ns.kubectl(&[
        "get",
        "cm,svc",
        "-o",
        "jsonpath={.items[*].metadata.resourceVersion}",
    ]);

    // A new target (fresh counters) reconciling the same objects writes nothing and
    // reads a handful of times: the parent, discovery, one list per kind.
    let again = crate::support::target(&ns, "noop").await;
    let (plan, report) = reconcile(&again, desired(), ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{plan:#?}");
    assert_eq!(report.unchanged.len(), 3);
    assert!(report.created.is_empty() && report.updated.is_empty() && report.pruned.is_empty());
    let counts = again.request_counts();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert!(counts.reads <= 6, "{counts:?}");
    assert_eq!(
        ns.kubectl(&[
            "get",
            "cm,svc",
            "-o",
            "jsonpath={.items[*].metadata.resourceVersion}"
        ]),
        versions
    );
}

#[tokio::test]
async fn kubectl_reads_the_applyset() {
    let ns = TestNamespace::new("kubectl-applyset");
    let target = target(&ns, "shop").await;
    reconcile(
        &target,
        objects([
            config_map("one", json!({})),
            config_map("two", json!({})),
            service("front"),
        ]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    let id = target.applyset_id().to_owned();
    let selector = format!("applyset.kubernetes.io/part-of={id}");
    assert_eq!(names(&ns, "configmaps", &selector), ["one", "two"]);
    assert_eq!(names(&ns, "services", &selector), ["front"]);

    let parent = get(&ns, "secret", "applyset-shop").expect("the parent exists");
    assert_eq!(
        parent["metadata"]["labels"]["applyset.kubernetes.io/id"],
        json!(id)
    );
    let annotations = &parent["metadata"]["annotations"];
    assert_eq!(
        annotations["applyset.kubernetes.io/tooling"],
        "driftless/v0.1"
    );
    assert_eq!(
        annotations["applyset.kubernetes.io/contains-group-kinds"],
        "ConfigMap,Service"
    );
    assert!(
        annotations
            .get("applyset.kubernetes.io/additional-namespaces")
            .is_none()
    );

    // kubectl computes the same id for this parent and finds our members: handed over
    // to kubectl (its tooling name on the parent), its applyset prune deletes what
    // its manifest no longer holds.
    ns.kubectl(&[
        "annotate",
        "secret",
        "applyset-shop",
        "--overwrite",
        "applyset.kubernetes.io/tooling=kubectl/v1.32",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n",
    )
    .unwrap();
    let out = kubectl_command()
        .env("KUBECTL_APPLYSET", "true")
        .args([
            "apply",
            "-n",
            ns.name(),
            "--server-side",
            "--force-conflicts",
            "--prune",
        ])
        .args(["--applyset=secret/applyset-shop", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("configmap/two pruned") && stdout.contains("service/front pruned"),
        "{stdout}"
    );
    assert_eq!(names(&ns, "configmaps", &selector), ["one"]);

    // Now kubectl manages the set: driftless leaves it alone.
    let err = reconcile(
        &target,
        objects([config_map("one", json!({}))]),
        ApplyOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("managed by \"kubectl/"), "{err}");
}

#[tokio::test]
async fn drift_made_with_kubectl_is_put_back() {
    let ns = TestNamespace::new("drift");
    let target = target(&ns, "drift").await;
    let desired = || {
        objects([
            config_map("settings", json!({"mode": "fast", "size": "10"})),
            config_map("gone", json!({"x": "y"})),
        ])
    };
    reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();

    // Someone removes a key and deletes an object.
    ns.kubectl(&[
        "patch",
        "configmap",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/size"}]"#,
    ]);
    ns.kubectl(&["delete", "configmap", "gone"]);
    let (plan, report) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    let actions: Vec<&str> = plan.changes.iter().map(|c| c.action.name()).collect();
    assert_eq!(actions, ["update", "create"]);
    assert_eq!(report.updated.len() + report.created.len(), 2);
    let settings = get(&ns, "configmap", "settings").unwrap();
    assert_eq!(settings["data"], json!({"mode": "fast", "size": "10"}));
    assert!(get(&ns, "configmap", "gone").is_some());

    // Someone changes a value we own: the plan shows the field, and applying takes it
    // back from the manager that changed it, with no flag.
    ns.kubectl(&[
        "patch",
        "configmap",
        "settings",
        "--type=merge",
        "-p",
        r#"{"data":{"mode":"slow"}}"#,
    ]);
    let desired_set = target.prepare(desired()).await.unwrap();
    let live = target.live(&desired_set).await.unwrap();
    let plan = driftless_diff::plan(&desired_set, &live, &driftless_diff::DiffOptions::default());
    let Action::Update { fields, .. } = &plan.changes[0].action else {
        panic!("expected an update: {plan:#?}");
    };
    assert_eq!(fields.len(), 1, "{fields:#?}");
    assert_eq!(fields[0].path, "/data/mode");
    assert_eq!(fields[0].live, Some(json!("slow")));
    target.apply(&plan, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        get(&ns, "configmap", "settings").unwrap()["data"]["mode"],
        "fast"
    );
}

#[tokio::test]
async fn a_field_we_no_longer_set_is_removed() {
    let ns = TestNamespace::new("removed-field");
    let target = target(&ns, "fields").await;
    reconcile(
        &target,
        objects([config_map("c", json!({"a": "1", "b": "2"}))]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    let (plan, _) = reconcile(
        &target,
        objects([config_map("c", json!({"a": "1"}))]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(plan.summary().update, 1, "{plan:#?}");
    assert_eq!(
        get(&ns, "configmap", "c").unwrap()["data"],
        json!({"a": "1"})
    );
}

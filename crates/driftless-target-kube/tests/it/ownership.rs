//! Who owns which field: `driftless.dev/ssa` policies, ignore rules for fields a
//! controller owns, and objects first applied with client-side `kubectl apply`.

use driftless_core::{ApplyOptions, ObjectSet, Target};
use driftless_diff::{DiffOptions, IgnoreRule};
use driftless_testkit::kube::TestNamespace;
use serde_json::{Value, json};

use crate::support::{app, config_map, get, objects, plan_with, reconcile, reconcile_with, target};

fn annotated(name: &str, policy: &str) -> Value {
    let mut value = config_map(name, json!({"a": "1"}));
    value["metadata"]["annotations"] = json!({"driftless.dev/ssa": policy});
    value
}

#[tokio::test]
async fn merge_if_not_present_and_ignore_are_honoured() {
    let ns = TestNamespace::new("ssa-policies");
    ns.kubectl(&["create", "configmap", "hands-off", "--from-literal=a=0"]);
    let desired = || {
        objects([
            config_map("plain", json!({"a": "1"})),
            annotated("merge", "Merge"),
            annotated("create-only", "IfNotPresent"),
            annotated("hands-off", "Ignore"),
            annotated("never-made", "Ignore"),
        ])
    };
    let target = target(&ns, "policies").await;
    reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        get(&ns, "configmap", "hands-off").unwrap()["data"]["a"],
        "0"
    );
    assert!(get(&ns, "configmap", "never-made").is_none());

    for name in ["plain", "merge", "create-only", "hands-off"] {
        ns.kubectl(&[
            "label",
            "configmap",
            name,
            "added=by-kubectl",
            "--overwrite",
        ]);
        ns.kubectl(&["patch", "configmap", name, "-p", r#"{"data":{"a":"2"}}"#]);
    }
    let (plan, _) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    let summary = plan.summary();
    assert_eq!(summary.update, 2, "plain and merge: {plan:#?}");

    let cm = |name: &str| get(&ns, "configmap", name).unwrap();
    // Override (the default): Git's value back, kubectl's label gone.
    assert_eq!(cm("plain")["data"]["a"], "1");
    assert!(cm("plain")["metadata"]["labels"].get("added").is_none());
    // Merge: Git's value back, the label someone else added stays.
    assert_eq!(cm("merge")["data"]["a"], "1");
    assert_eq!(cm("merge")["metadata"]["labels"]["added"], "by-kubectl");
    // IfNotPresent: left as it is, but made again when deleted.
    assert_eq!(cm("create-only")["data"]["a"], "2");
    // Ignore: never touched.
    assert_eq!(cm("hands-off")["data"]["a"], "2");
    assert!(get(&ns, "configmap", "never-made").is_none());

    ns.kubectl(&["delete", "configmap", "create-only"]);
    reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(cm("create-only")["data"]["a"], "1");
    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    // Nothing to do, not even for the ignored object that does not exist.
    assert!(!plan.has_changes(), "{plan:#?}");
}

#[tokio::test]
async fn replicas_owned_by_an_autoscaler_are_left_alone_with_an_ignore_rule() {
    let ns = TestNamespace::new("hpa-replicas");
    let podinfo = |image: &str| -> ObjectSet {
        let mut set = ObjectSet::new();
        for mut object in app("podinfo.yaml", &ns) {
            if object.kind() == "Deployment" {
                object.as_value_mut()["spec"]["template"]["spec"]["containers"][0]["image"] =
                    json!(image);
            }
            set.insert(object).unwrap();
        }
        set
    };
    let target = target(&ns, "hpa").await;
    reconcile(&target, podinfo("podinfo:6.5.0"), ApplyOptions::default())
        .await
        .unwrap();
    // The autoscaler (its own field manager) scales the Deployment.
    ns.kubectl(&[
        "patch",
        "deployment",
        "podinfo",
        "--field-manager=horizontal-pod-autoscaler",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    let ignore = DiffOptions::default().ignore(
        IgnoreRule::new("/spec/replicas")
            .unwrap()
            .group("apps")
            .kind("Deployment"),
    );
    let plan = plan_with(&target, podinfo("podinfo:6.5.0"), &ignore)
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{plan:#?}");
    // A real change elsewhere is applied, and replicas stay the autoscaler's.
    reconcile_with(
        &target,
        podinfo("podinfo:6.5.1"),
        ApplyOptions::default(),
        &ignore,
    )
    .await
    .unwrap();
    let deployment = get(&ns, "deployment", "podinfo").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 4);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "podinfo:6.5.1"
    );
    // Without the rule, Git wins.
    reconcile(&target, podinfo("podinfo:6.5.1"), ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(
        get(&ns, "deployment", "podinfo").unwrap()["spec"]["replicas"],
        2
    );
}

#[tokio::test]
async fn client_side_applied_objects_are_migrated_and_dropped_fields_removed() {
    let ns = TestNamespace::new("csa-migration");
    // First applied with client-side `kubectl apply` (Flux issue #486's starting point).
    let out = ns.kubectl_output(
        &["apply", "-f", "-"],
        Some(concat!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\n  labels:\n    team: old\n",
            "data:\n  a: \"1\"\n  b: \"2\"\n---\n",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n",
            "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n",
            "    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n",
            "        env:\n        - {name: KEEP, value: \"1\"}\n        - {name: DROP, value: \"2\"}\n",
        )),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Git drops `b`, the label and the DROP variable.
    let desired = || {
        objects([
            config_map("legacy", json!({"a": "1"})),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                        {"name": "web", "image": "nginx:1.25", "env": [{"name": "KEEP", "value": "1"}]},
                    ]}}},
            }),
        ])
    };
    let target = target(&ns, "migrate").await;
    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    let text = driftless_diff::render_human(&plan, &driftless_diff::HumanOptions::default());
    assert!(text.contains("-  b: \"2\""), "{text}");
    assert!(text.contains("- name: DROP"), "{text}");
    target.apply(&plan, &ApplyOptions::default()).await.unwrap();

    let legacy = get(&ns, "configmap", "legacy").unwrap();
    assert_eq!(legacy["data"], json!({"a": "1"}));
    let labels = legacy["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(!labels.contains_key("team"), "{legacy:#}");
    let annotations = legacy["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        !annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"),
        "{legacy:#}"
    );
    let web = get(&ns, "deployment", "web").unwrap();
    assert_eq!(
        web["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "KEEP", "value": "1"}])
    );
    let managed = ns.kubectl(&[
        "get",
        "configmap",
        "legacy",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    assert!(!managed.contains("kubectl-client-side-apply"), "{managed}");

    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{plan:#?}");
}

//! A realistic reconcile: a Deployment whose replicas and image changed and which lost a
//! label we applied before, a new ConfigMap, a Service to prune, a Service that only
//! differs by server defaults, and a live object that is not ours.

use driftless_core::{Action, LiveObject, LiveState, Object, ObjectSet};
use driftless_diff::{DiffOptions, HumanOptions, IgnoreRule, plan, render_human, render_json};
use serde_json::{Value, json};

fn object(value: Value) -> Object {
    Object::new(value).unwrap()
}

fn desired() -> ObjectSet {
    ObjectSet::try_from(vec![
        object(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "web", "labels": {"app": "api"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "api"}},
                "template": {
                    "metadata": {"labels": {"app": "api"}},
                    "spec": {"containers": [{
                        "name": "api",
                        "image": "registry.example.com/api:1.5.0",
                        "ports": [{"containerPort": 8080}],
                    }]},
                },
            },
        })),
        object(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "web"},
            "data": {"LOG_LEVEL": "info", "FEATURES": "search,export"},
        })),
        object(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": "web"},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]},
        })),
    ])
    .unwrap()
}

/// What we applied last time: two replicas, the old image, and a `tier` label.
fn deployment_applied() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "web", "labels": {"app": "api", "tier": "backend"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{
                    "name": "api",
                    "image": "registry.example.com/api:1.4.2",
                    "ports": [{"containerPort": 8080}],
                }]},
            },
        },
    })
}

fn live() -> LiveState {
    let mut deployment = deployment_applied();
    // What the server added: metadata, status and defaults.
    deployment["metadata"]["uid"] = json!("6f1c2a9e-0d4b-4f55-9a43-9d3f1b2c7e10");
    deployment["metadata"]["resourceVersion"] = json!("48213");
    deployment["metadata"]["generation"] = json!(4);
    deployment["metadata"]["creationTimestamp"] = json!("2024-05-01T10:00:00Z");
    deployment["metadata"]["managedFields"] =
        json!([{"manager": "driftless", "operation": "Apply"}]);
    deployment["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "4"});
    deployment["spec"]["progressDeadlineSeconds"] = json!(600);
    deployment["spec"]["revisionHistoryLimit"] = json!(10);
    deployment["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    let container = &mut deployment["spec"]["template"]["spec"]["containers"][0];
    container["imagePullPolicy"] = json!("IfNotPresent");
    container["terminationMessagePath"] = json!("/dev/termination-log");
    container["resources"] = json!({});
    container["ports"][0]["protocol"] = json!("TCP");
    deployment["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
    deployment["status"] = json!({"replicas": 2, "readyReplicas": 2, "observedGeneration": 4});

    let service_applied = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api", "namespace": "web"},
        "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]},
    });
    let mut service = service_applied.clone();
    service["metadata"]["uid"] = json!("0a7d3c55-1b2e-4c3f-8d9e-5f6a7b8c9d0e");
    service["spec"]["clusterIP"] = json!("10.96.12.7");
    service["spec"]["type"] = json!("ClusterIP");
    service["spec"]["sessionAffinity"] = json!("None");
    service["spec"]["ports"][0]["protocol"] = json!("TCP");
    service["status"] = json!({"loadBalancer": {}});

    let old_service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api-legacy", "namespace": "web", "resourceVersion": "1200"},
        "spec": {"selector": {"app": "api-legacy"}, "ports": [{"port": 80}], "clusterIP": "10.96.3.3"},
    });
    // Live, but never applied by us: never pruned.
    let foreign = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": "web"},
        "data": {"ca.crt": "..."},
    });

    let mut live = LiveState::default();
    for (value, applied) in [
        (deployment, Some(deployment_applied())),
        (service, Some(service_applied)),
        (old_service.clone(), Some(old_service)),
        (foreign, None),
    ] {
        let object = object(value);
        live.objects.insert(
            object.id(),
            LiveObject {
                object,
                last_applied: applied.map(self::object),
                predicted: None,
            },
        );
    }
    live.inventory.extend(
        [
            "apps/Deployment/web/api",
            "/Service/web/api",
            "/Service/web/api-legacy",
            // Applied once, deleted by someone since: nothing to prune.
            "/Secret/web/old-token",
        ]
        .map(|id| id.parse().unwrap()),
    );
    live
}

#[test]
fn plan_json_snapshot() {
    let plan = plan(&desired(), &live(), &DiffOptions::default());
    insta::assert_yaml_snapshot!("realistic_plan_json", render_json(&plan));
}

#[test]
fn plan_human_snapshot() {
    let plan = plan(&desired(), &live(), &DiffOptions::default());
    // Plain text: the snapshot file reads like the terminal.
    insta::assert_snapshot!(
        "realistic_plan_human",
        render_human(&plan, &HumanOptions::default())
    );
}

#[test]
fn plan_actions_and_fields() {
    let plan = plan(&desired(), &live(), &DiffOptions::default());
    let actions: Vec<(String, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.id.to_string(), c.action.name()))
        .collect();
    assert_eq!(
        actions,
        [
            ("apps/Deployment/web/api".to_owned(), "update"),
            ("/ConfigMap/web/settings".to_owned(), "create"),
            ("/Service/web/api".to_owned(), "unchanged"),
            ("/Service/web/api-legacy".to_owned(), "prune"),
        ]
    );
    let Action::Update {
        fields,
        live,
        patch,
        ..
    } = &plan.changes[0].action
    else {
        panic!("expected an update");
    };
    let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/metadata/labels/tier",
            "/spec/replicas",
            "/spec/template/spec/containers/0/image",
        ]
    );
    assert_eq!(fields[0].desired, None);
    // The patched live object keeps the server's defaults and agrees with desired.
    let mut patched = live.as_value().clone();
    json_patch::patch(&mut patched, patch).unwrap();
    assert_eq!(patched["spec"]["replicas"], 3);
    assert_eq!(patched["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(patched["metadata"]["labels"], json!({"app": "api"}));
    assert_eq!(
        patched["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
}

#[test]
fn ignore_rules_hide_fields() {
    let options = DiffOptions::default()
        .ignore(
            IgnoreRule::new("/spec/replicas")
                .unwrap()
                .group("apps")
                .kind("Deployment"),
        )
        .ignore(IgnoreRule::new("/metadata/labels").unwrap().name("api"));
    let plan = plan(&desired(), &live(), &options);
    let Action::Update { fields, patch, .. } = &plan.changes[0].action else {
        panic!("expected an update");
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].path, "/spec/template/spec/containers/0/image");
    assert_eq!(patch.0.len(), 1);
}
